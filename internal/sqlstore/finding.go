package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

const updateColumns = `u.id, u.source, u.vendor_id, u.package, u.title, u.product, u.version, u.classification, u.vendor_classification,
	u.vendor_severity, u.advisory, u.kbs, u.cves, u.cvss, u.known_exploited, u.release_date, u.reboot_required, u.size, u.supersedes, u.first_seen`

func scanUpdate(s interface{ Scan(...any) error }, extra ...any) (*patch.Update, error) {
	var (
		u               patch.Update
		kbs, cves, sups string
		rel             sql.NullInt64
		first           int64
	)
	dest := []any{&u.ID, &u.Source, &u.VendorID, &u.Package, &u.Title, &u.Product, &u.Version, &u.Classification, &u.VendorClassification,
		&u.VendorSeverity, &u.Advisory, &kbs, &cves, &u.CVSS, &u.KnownExploited, &rel, &u.RebootRequired, &u.Size, &sups, &first}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	for _, j := range []struct {
		s   string
		dst *[]string
	}{{kbs, &u.KBs}, {cves, &u.CVEs}, {sups, &u.Supersedes}} {
		if err := fromJSON(j.s, j.dst); err != nil {
			return nil, err
		}
		if *j.dst == nil {
			*j.dst = []string{}
		}
	}
	u.ReleaseDate, u.FirstSeen = fromNullMS(rel), fromMS(first)
	return &u, nil
}

const findingColumns = `f.id, f.client_id, f.asset_id, f.update_id, f.installed_version, f.state, f.resolution, f.first_seen, f.last_seen,
	f.resolved_at, f.sla_anchor, f.superseded_by, f.tier, f.emergency, f.approval, f.due_at, f.sla_status, f.exception_id, f.evaluated_at`

func scanFinding(s interface{ Scan(...any) error }, extra ...any) (*patch.Finding, error) {
	var (
		f                         patch.Finding
		first, last, anchor       int64
		resolved, due, evaluated  sql.NullInt64
		supersededBy, exceptionID sql.NullString
	)
	dest := []any{&f.ID, &f.ClientID, &f.AssetID, &f.UpdateID, &f.InstalledVersion, &f.State, &f.Resolution, &first, &last,
		&resolved, &anchor, &supersededBy, &f.Tier, &f.Emergency, &f.Approval, &due, &f.SLAStatus, &exceptionID, &evaluated}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	f.FirstSeen, f.LastSeen, f.SLAAnchor = fromMS(first), fromMS(last), fromMS(anchor)
	f.ResolvedAt, f.DueAt, f.EvaluatedAt = fromNullMS(resolved), fromNullMS(due), fromNullMS(evaluated)
	f.SupersededBy, f.ExceptionID = patch.FindingID(supersededBy.String), exceptionID.String
	return &f, nil
}

// upsertUpdate stores a catalog entry (refreshing its metadata) and
// returns its id.
func (tx *Tx) upsertUpdate(ctx context.Context, u *patch.Update) (patch.UpdateID, error) {
	if u.KBs == nil {
		u.KBs = []string{}
	}
	if u.CVEs == nil {
		u.CVEs = []string{}
	}
	if u.Supersedes == nil {
		u.Supersedes = []string{}
	}
	var id string
	err := tx.queryRow(ctx, `INSERT INTO updates (id, source, vendor_id, package, title, product, version, classification, vendor_classification,
			vendor_severity, advisory, kbs, cves, cvss, known_exploited, release_date, reboot_required, size, supersedes, first_seen)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (source, vendor_id) DO UPDATE SET package = excluded.package, title = excluded.title, product = excluded.product,
			version = excluded.version, classification = excluded.classification, vendor_classification = excluded.vendor_classification,
			vendor_severity = excluded.vendor_severity, advisory = excluded.advisory, kbs = excluded.kbs, cves = excluded.cves,
			cvss = excluded.cvss, known_exploited = excluded.known_exploited, release_date = excluded.release_date,
			reboot_required = excluded.reboot_required, size = excluded.size, supersedes = excluded.supersedes
		RETURNING id`,
		patch.NewID(patch.PrefixUpdate, tx.now), string(u.Source), u.VendorID, u.Package, u.Title, u.Product, u.Version, u.Classification, u.VendorClassification,
		u.VendorSeverity, u.Advisory, mustJSON(u.KBs), mustJSON(u.CVEs), u.CVSS, u.KnownExploited, nullMS(u.ReleaseDate), u.RebootRequired, u.Size,
		mustJSON(u.Supersedes), ms(tx.now)).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("upsert update %s %s: %w", u.Source, u.VendorID, err)
	}
	return patch.UpdateID(id), nil
}

// openFinding is an open finding with the catalog facts RecordScan needs.
type openFinding struct {
	f       *patch.Finding
	source  patch.UpdateSource
	pkg     string
	matched bool
}

// RecordScan applies one scan to an asset's findings.
func (db *DB) RecordScan(ctx context.Context, s patch.ScanResult) (patch.ScanOutcome, error) {
	var out patch.ScanOutcome
	err := db.inTx(ctx, func(tx *Tx) error {
		asset, err := tx.assetForUpdate(ctx, s.AssetID)
		if err != nil {
			return err
		}
		out, err = tx.recordScan(ctx, asset, s)
		return err
	})
	return out, err
}

// recordScan applies one scan to the findings of an asset the transaction
// has loaded (and locked). RecordScan and agent check-ins share it.
func (tx *Tx) recordScan(ctx context.Context, asset *patch.Asset, s patch.ScanResult) (patch.ScanOutcome, error) {
	out := patch.ScanOutcome{}
	err := func() error {
		at := s.At.UTC().Truncate(1e6)
		if at.IsZero() {
			at = tx.now
		}
		open, err := tx.openFindings(ctx, asset.ID)
		if err != nil {
			return err
		}
		byUpdate := map[patch.UpdateID]*openFinding{}
		for _, o := range open {
			byUpdate[o.f.UpdateID] = o
		}
		var refreshed []any
		type fresh struct {
			id     patch.FindingID
			source patch.UpdateSource
			pkg    string
			anchor int64
		}
		var opened []fresh
		var events []patch.EvidenceEvent
		event := func(typ string, f patch.FindingID, u patch.UpdateID, details map[string]string) {
			details["finding"] = string(f)
			events = append(events, patch.EvidenceEvent{ClientID: asset.ClientID, Type: typ,
				Subject: patch.EvidenceSubject{AssetID: asset.ID, UpdateID: u}, Details: details})
		}
		for i := range s.Missing {
			m := &s.Missing[i]
			uid, err := tx.upsertUpdate(ctx, &m.Update)
			if err != nil {
				return err
			}
			if o := byUpdate[uid]; o != nil {
				o.matched = true
				if o.f.InstalledVersion != m.InstalledVersion {
					if _, err := tx.exec(ctx, `UPDATE findings SET installed_version = $2 WHERE id = $1`, string(o.f.ID), m.InstalledVersion); err != nil {
						return fmt.Errorf("update finding: %w", err)
					}
				}
				refreshed = append(refreshed, string(o.f.ID))
				continue
			}
			id := patch.FindingID(patch.NewID(patch.PrefixFinding, tx.now))
			if _, err := tx.exec(ctx, `INSERT INTO findings (id, client_id, asset_id, update_id, installed_version, state, first_seen, last_seen, sla_anchor)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)`,
				string(id), string(asset.ClientID), string(asset.ID), string(uid), m.InstalledVersion, string(patch.FindingOpen), ms(at)); err != nil {
				return fmt.Errorf("insert finding: %w", err)
			}
			byUpdate[uid] = &openFinding{f: &patch.Finding{ID: id}, matched: true}
			opened = append(opened, fresh{id: id, source: m.Source, pkg: m.Package, anchor: ms(at)})
			out.Opened = append(out.Opened, id)
			event(patch.EventDetected, id, uid, map[string]string{"source": string(m.Source), "package": m.Package,
				"version": m.Version, "installed_version": m.InstalledVersion, "scanned_at": at.Format(time.RFC3339Nano)})
		}
		if len(refreshed) > 0 {
			ph := make([]string, len(refreshed))
			for i := range refreshed {
				ph[i] = fmt.Sprintf("$%d", i+2)
			}
			if _, err := tx.exec(ctx, `UPDATE findings SET last_seen = $1 WHERE id IN (`+strings.Join(ph, ", ")+`)`, append([]any{ms(at)}, refreshed...)...); err != nil {
				return fmt.Errorf("refresh findings: %w", err)
			}
		}
		// Close the open findings of scanned sources that were not reported.
		for _, o := range open {
			if o.matched || !slices.Contains(s.Sources, o.source) {
				continue
			}
			succ := slices.IndexFunc(opened, func(n fresh) bool { return n.source == o.source && n.pkg == o.pkg && o.pkg != "" })
			if succ >= 0 {
				if _, err := tx.exec(ctx, `UPDATE findings SET state = $2, resolution = $3, resolved_at = $4, superseded_by = $5 WHERE id = $1`,
					string(o.f.ID), string(patch.FindingResolved), string(patch.ResolvedSuperseded), ms(at), string(opened[succ].id)); err != nil {
					return fmt.Errorf("supersede finding: %w", err)
				}
				// The successor inherits the SLA clock.
				if anchor := ms(o.f.SLAAnchor); anchor < opened[succ].anchor {
					opened[succ].anchor = anchor
					if _, err := tx.exec(ctx, `UPDATE findings SET sla_anchor = $2 WHERE id = $1`, string(opened[succ].id), anchor); err != nil {
						return fmt.Errorf("carry SLA anchor: %w", err)
					}
				}
				out.Superseded = append(out.Superseded, o.f.ID)
				event(patch.EventSuperseded, o.f.ID, o.f.UpdateID, map[string]string{"superseded_by": string(opened[succ].id)})
				continue
			}
			if _, err := tx.exec(ctx, `UPDATE findings SET state = $2, resolution = $3, resolved_at = $4 WHERE id = $1`,
				string(o.f.ID), string(patch.FindingResolved), string(patch.ResolvedVerified), ms(at)); err != nil {
				return fmt.Errorf("resolve finding: %w", err)
			}
			out.Verified = append(out.Verified, o.f.ID)
			event(patch.EventVerified, o.f.ID, o.f.UpdateID, map[string]string{"source": string(o.source), "package": o.pkg,
				"scanned_at": at.Format(time.RFC3339Nano)})
		}
		out.StillOpen = len(s.Missing) - len(out.Opened)
		if err := tx.appendEvidence(ctx, events...); err != nil {
			return err
		}
		return tx.recordScanStatus(ctx, asset, at, s)
	}()
	return out, err
}

func (tx *Tx) openFindings(ctx context.Context, asset patch.AssetID) ([]*openFinding, error) {
	rows, err := tx.query(ctx, `SELECT `+findingColumns+`, u.source, u.package FROM findings f JOIN updates u ON u.id = f.update_id
		WHERE f.asset_id = $1 AND f.state = 'open' ORDER BY f.id`, string(asset))
	if err != nil {
		return nil, fmt.Errorf("query open findings: %w", err)
	}
	defer rows.Close()
	var out []*openFinding
	for rows.Next() {
		o := &openFinding{}
		f, err := scanFinding(rows, &o.source, &o.pkg)
		if err != nil {
			return nil, fmt.Errorf("scan finding: %w", err)
		}
		o.f = f
		out = append(out, o)
	}
	return out, rows.Err()
}

func (tx *Tx) recordScanStatus(ctx context.Context, asset *patch.Asset, at time.Time, s patch.ScanResult) error {
	counts := map[patch.UpdateSource]int{}
	for _, m := range s.Missing {
		counts[m.Source]++
	}
	for _, src := range s.Sources {
		if _, err := tx.exec(ctx, `INSERT INTO scan_status (asset_id, client_id, source, last_attempt, last_success, last_error, missing)
			VALUES ($1, $2, $3, $4, $4, '', $5)
			ON CONFLICT (asset_id, source) DO UPDATE SET last_attempt = excluded.last_attempt, last_success = excluded.last_success,
				last_error = '', missing = excluded.missing`,
			string(asset.ID), string(asset.ClientID), string(src), ms(at), counts[src]); err != nil {
			return fmt.Errorf("record scan status: %w", err)
		}
	}
	for src, msg := range s.Failed {
		if _, err := tx.exec(ctx, `INSERT INTO scan_status (asset_id, client_id, source, last_attempt, last_error)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (asset_id, source) DO UPDATE SET last_attempt = excluded.last_attempt, last_error = excluded.last_error`,
			string(asset.ID), string(asset.ClientID), string(src), ms(at), truncate(msg, 2000)); err != nil {
			return fmt.Errorf("record scan failure: %w", err)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// FindFindings lists findings in scope, oldest first.
func (db *DB) FindFindings(ctx context.Context, f patch.FindingFilter) ([]*patch.Finding, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("f.client_id", scope)
	if f.ID != nil {
		c.add("f.id = ?", string(*f.ID))
	}
	if f.ClientID != nil {
		c.add("f.client_id = ?", string(*f.ClientID))
	}
	if f.AssetID != nil {
		c.add("f.asset_id = ?", string(*f.AssetID))
	}
	if f.UpdateID != nil {
		c.add("f.update_id = ?", string(*f.UpdateID))
	}
	if f.State != nil {
		c.add("f.state = ?", string(*f.State))
	}
	if f.Source != nil {
		c.add("u.source = ?", string(*f.Source))
	}
	if f.Tier != nil {
		c.add("f.tier = ?", *f.Tier)
	}
	if f.SLAStatus != nil {
		c.add("f.sla_status = ?", string(*f.SLAStatus))
	}
	if f.ResolvedSince != nil {
		c.add("f.resolved_at >= ?", ms(*f.ResolvedSince))
	}
	where := c.where()
	from := ` FROM findings f JOIN updates u ON u.id = f.update_id`
	q := `SELECT ` + findingColumns + `, ` + updateColumns + `, COUNT(*) OVER ()` + from + where + ` ORDER BY f.sla_anchor, f.id` + c.page(f.Limit, f.Offset)
	rows, err := db.read.QueryContext(ctx, q, c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query findings: %w", err))
	}
	defer rows.Close()
	var out []*patch.Finding
	total := 0
	for rows.Next() {
		var fi *patch.Finding
		u, err := scanUpdate(rowPrefix{rows: rows, prefix: 19, into: &fi}, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan finding: %w", err))
		}
		if f.WithUpdate {
			fi.Update = u
		}
		out = append(out, fi)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read findings: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "findings f JOIN updates u ON u.id = f.update_id", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// rowPrefix scans a row whose first prefix columns are a finding and the
// rest whatever the caller scans.
type rowPrefix struct {
	rows   *sql.Rows
	prefix int
	into   **patch.Finding
}

func (r rowPrefix) Scan(dest ...any) error {
	var err error
	*r.into, err = scanFinding(multiScan{rows: r.rows, rest: dest})
	return err
}

// multiScan appends the rest of the destinations to a scan.
type multiScan struct {
	rows *sql.Rows
	rest []any
}

func (m multiScan) Scan(dest ...any) error { return m.rows.Scan(append(dest, m.rest...)...) }

// FindUpdates lists catalog entries.
func (db *DB) FindUpdates(ctx context.Context, f patch.UpdateFilter) ([]*patch.Update, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	if f.ID != nil {
		c.add("u.id = ?", string(*f.ID))
	}
	if f.Source != nil {
		c.add("u.source = ?", string(*f.Source))
	}
	if f.VendorID != nil {
		c.add("u.vendor_id = ?", *f.VendorID)
	}
	if f.Query != nil && *f.Query != "" {
		p := likePattern(*f.Query)
		c.add(`(LOWER(u.title) LIKE ? ESCAPE '\' OR LOWER(u.package) LIKE ? ESCAPE '\' OR LOWER(u.advisory) LIKE ? ESCAPE '\' OR LOWER(u.kbs) LIKE ? ESCAPE '\' OR LOWER(u.cves) LIKE ? ESCAPE '\')`, p, p, p, p, p)
	}
	// Client-scoped callers see only updates relevant to their client.
	client := f.ClientID
	if !scope.All {
		client = &scope.ClientID
		if f.ClientID != nil && *f.ClientID != scope.ClientID {
			return nil, 0, nil
		}
	}
	if client != nil {
		c.add("EXISTS (SELECT 1 FROM findings f WHERE f.update_id = u.id AND f.client_id = ? AND f.state = 'open')", string(*client))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+updateColumns+`, COUNT(*) OVER () FROM updates u`+where+` ORDER BY u.first_seen DESC, u.id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query updates: %w", err))
	}
	defer rows.Close()
	var out []*patch.Update
	total := 0
	for rows.Next() {
		u, err := scanUpdate(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan update: %w", err))
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read updates: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "updates u", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// FindScanStatus returns the per-source scan status of an asset.
func (db *DB) FindScanStatus(ctx context.Context, asset patch.AssetID) ([]*patch.ScanStatus, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	var c conds
	c.scope("client_id", scope)
	c.add("asset_id = ?", string(asset))
	rows, err := db.read.QueryContext(ctx, `SELECT asset_id, source, last_attempt, last_success, last_error, missing FROM scan_status`+c.where()+` ORDER BY source`, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query scan status: %w", err))
	}
	defer rows.Close()
	var out []*patch.ScanStatus
	for rows.Next() {
		var (
			s       patch.ScanStatus
			attempt int64
			success sql.NullInt64
		)
		if err := rows.Scan(&s.AssetID, &s.Source, &attempt, &success, &s.LastError, &s.Missing); err != nil {
			return nil, db.classify(fmt.Errorf("scan scan status: %w", err))
		}
		s.LastAttempt, s.LastSuccess = fromMS(attempt), fromNullMS(success)
		out = append(out, &s)
	}
	return out, db.classify(rows.Err())
}
