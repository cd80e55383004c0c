package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

// FindOSBaselines returns a client's OS baselines in their stored order.
func (db *DB) FindOSBaselines(ctx context.Context, client patch.ClientID) ([]patch.OSBaseline, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !scope.Allows(client) {
		return nil, notFound("Client", client)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT family, name_match, min_version, note FROM os_baselines WHERE client_id = $1 ORDER BY position`, string(client))
	if err != nil {
		return nil, db.classify(fmt.Errorf("query baselines: %w", err))
	}
	defer rows.Close()
	out := []patch.OSBaseline{}
	for rows.Next() {
		var b patch.OSBaseline
		if err := rows.Scan(&b.Family, &b.Match, &b.MinVersion, &b.Note); err != nil {
			return nil, db.classify(fmt.Errorf("scan baseline: %w", err))
		}
		out = append(out, b)
	}
	return out, db.classify(rows.Err())
}

// SetOSBaselines replaces a client's OS baselines.
func (db *DB) SetOSBaselines(ctx context.Context, client patch.ClientID, bs []patch.OSBaseline) error {
	if err := patch.ValidateOSBaselines(bs); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, client); err != nil {
			return err
		}
		var before []patch.OSBaseline
		rows, err := tx.query(ctx, `SELECT family, name_match, min_version, note FROM os_baselines WHERE client_id = $1 ORDER BY position`, string(client))
		if err != nil {
			return fmt.Errorf("query baselines: %w", err)
		}
		for rows.Next() {
			var b patch.OSBaseline
			if err := rows.Scan(&b.Family, &b.Match, &b.MinVersion, &b.Note); err != nil {
				rows.Close()
				return fmt.Errorf("scan baseline: %w", err)
			}
			before = append(before, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read baselines: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM os_baselines WHERE client_id = $1`, string(client)); err != nil {
			return fmt.Errorf("clear baselines: %w", err)
		}
		for i, b := range bs {
			if _, err := tx.exec(ctx, `INSERT INTO os_baselines (client_id, family, name_match, min_version, note, position) VALUES ($1, $2, $3, $4, $5, $6)`,
				string(client), string(b.Family), strings.TrimSpace(b.Match), strings.TrimSpace(b.MinVersion), b.Note, i); err != nil {
				return fmt.Errorf("insert baseline: %w", err)
			}
		}
		if before == nil {
			before = []patch.OSBaseline{}
		}
		return tx.audit(ctx, client, "compliance.baselines", "client", string(client), before, bs)
	})
}

// FindComplianceFacts reads the facts of the matching assets in three
// queries (assets, scan status, findings) with the same conditions.
func (db *DB) FindComplianceFacts(ctx context.Context, f patch.ComplianceFactFilter) ([]*patch.ComplianceFacts, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	where := func(prefix, assetCol string) *conds {
		var c conds
		c.scope(prefix+"client_id", scope)
		if f.ClientID != nil {
			c.add(prefix+"client_id = ?", string(*f.ClientID))
		}
		if f.AssetID != nil {
			c.add(prefix+assetCol+" = ?", string(*f.AssetID))
		}
		return &c
	}
	c := where("", "id")
	rows, err := db.read.QueryContext(ctx, `SELECT `+assetColumns+` FROM assets`+c.where()+` ORDER BY id`, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query assets: %w", err))
	}
	var out []*patch.ComplianceFacts
	byID := map[patch.AssetID]*patch.ComplianceFacts{}
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			rows.Close()
			return nil, db.classify(fmt.Errorf("scan asset: %w", err))
		}
		cf := &patch.ComplianceFacts{Asset: a}
		out = append(out, cf)
		byID[a.ID] = cf
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.classify(fmt.Errorf("read assets: %w", err))
	}
	if len(out) == 0 {
		return out, nil
	}

	c = where("", "asset_id")
	rows, err = db.read.QueryContext(ctx, `SELECT asset_id, source, last_attempt, last_success, last_error, missing FROM scan_status`+c.where()+` ORDER BY asset_id, source`, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query scan status: %w", err))
	}
	for rows.Next() {
		var (
			s       patch.ScanStatus
			attempt int64
			success sql.NullInt64
		)
		if err := rows.Scan(&s.AssetID, &s.Source, &attempt, &success, &s.LastError, &s.Missing); err != nil {
			rows.Close()
			return nil, db.classify(fmt.Errorf("scan scan status: %w", err))
		}
		s.LastAttempt, s.LastSuccess = fromMS(attempt), fromNullMS(success)
		if cf := byID[s.AssetID]; cf != nil {
			cf.Scans = append(cf.Scans, &s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.classify(fmt.Errorf("read scan status: %w", err))
	}

	c = where("f.", "asset_id")
	since := ms(f.Since)
	c.add("(f.state = 'open' OR f.resolved_at >= ? OR f.due_at >= ?)", since, since)
	rows, err = db.read.QueryContext(ctx, `SELECT `+findingColumns+` FROM findings f`+c.where()+` ORDER BY f.asset_id, f.id`, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query findings: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		fi, err := scanFinding(rows)
		if err != nil {
			return nil, db.classify(fmt.Errorf("scan finding: %w", err))
		}
		if cf := byID[fi.AssetID]; cf != nil {
			cf.Findings = append(cf.Findings, fi)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, db.classify(fmt.Errorf("read findings: %w", err))
	}
	return out, nil
}

// insertRows inserts rows of n columns with one prepared statement: the
// engines parse it once, which is much faster than one big statement for
// the thousands of rows a snapshot has.
func (tx *Tx) insertRows(ctx context.Context, head string, n int, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	ph := make([]string, n)
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	st, err := tx.tx.PrepareContext(ctx, head+"("+strings.Join(ph, ", ")+")")
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	return nil
}

func nullFloat(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullBool(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

func fromNullFloat(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	f := v.Float64
	return &f
}

// SaveSnapshot replaces one day's snapshot.
func (db *DB) SaveSnapshot(ctx context.Context, day patch.Day, groups []*patch.RatingSnapshot, assets []*patch.AssetDay) error {
	if _, err := patch.ParseDay("day", string(day)); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only the MSP takes compliance snapshots.")
		}
		for _, q := range []string{`DELETE FROM compliance_snapshots WHERE day = $1`, `DELETE FROM compliance_asset_days WHERE day = $1`} {
			if _, err := tx.exec(ctx, q, string(day)); err != nil {
				return fmt.Errorf("clear snapshot %s: %w", day, err)
			}
		}
		rows := make([][]any, 0, len(groups))
		for _, g := range groups {
			if g.Day != day {
				return patch.FieldError("day", "snapshot row of %s in the snapshot of %s", g.Day, day)
			}
			if g.Gaps == nil {
				g.Gaps = map[string]int{}
			}
			g.TakenAt = tx.now
			rows = append(rows, []any{string(day), string(g.ClientID), g.Dim, g.Key, nullFloat(g.RatingPct), nullFloat(g.StrictPct), nullFloat(g.TargetPct),
				nullBool(g.Met), g.Assets, g.Rated, g.Compliant, mustJSON(g.Findings), mustJSON(g.Gaps), ms(tx.now)})
		}
		if err := tx.insertRows(ctx, `INSERT INTO compliance_snapshots (day, client_id, dim, key, rating_pct, strict_pct, target_pct, met,
			assets, rated, compliant, findings, gaps, taken_at) VALUES `, 14, rows); err != nil {
			return fmt.Errorf("insert snapshot rows: %w", err)
		}
		rows = rows[:0]
		for _, a := range assets {
			if a.Day != day {
				return patch.FieldError("day", "asset row of %s in the snapshot of %s", a.Day, day)
			}
			if a.Tiers == nil {
				a.Tiers = map[string]patch.FindingCounts{}
			}
			if a.Gaps == nil {
				a.Gaps = []string{}
			}
			rows = append(rows, []any{string(day), string(a.ClientID), string(a.AssetID), a.Hostname, string(a.SiteID), string(a.OS), a.Class, string(a.Kind),
				a.Rated, nullFloat(a.RatingPct), nullFloat(a.StrictPct), a.TargetPct, mustJSON(a.Findings), mustJSON(a.Tiers), mustJSON(a.Gaps)})
		}
		if err := tx.insertRows(ctx, `INSERT INTO compliance_asset_days (day, client_id, asset_id, hostname, site_id, os_family, class, kind,
			rated, rating_pct, strict_pct, target_pct, findings, tiers, gaps) VALUES `, 15, rows); err != nil {
			return fmt.Errorf("insert snapshot assets: %w", err)
		}
		return tx.audit(ctx, "", "compliance.snapshot", "compliance_snapshot", string(day), nil,
			map[string]any{"day": day, "groups": len(groups), "assets": len(assets)})
	})
}

// SnapshotDays returns the days in [from, to] that have a snapshot.
func (db *DB) SnapshotDays(ctx context.Context, from, to patch.Day) ([]patch.Day, error) {
	if _, err := scopeOf(ctx); err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT day FROM compliance_snapshots WHERE day >= $1 AND day <= $2 ORDER BY day`, string(from), string(to))
	if err != nil {
		return nil, db.classify(fmt.Errorf("query snapshot days: %w", err))
	}
	defer rows.Close()
	var out []patch.Day
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, db.classify(fmt.Errorf("scan snapshot day: %w", err))
		}
		out = append(out, patch.Day(d))
	}
	return out, db.classify(rows.Err())
}

// FindSnapshots lists group ratings, oldest day first. Client-scoped
// callers see only their client's rows, never the MSP's.
func (db *DB) FindSnapshots(ctx context.Context, f patch.SnapshotFilter) ([]*patch.RatingSnapshot, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	var c conds
	c.scope("client_id", scope)
	switch {
	case f.MSP && !scope.All:
		return nil, patch.Errorf(patch.KindForbidden, "MSP-wide ratings are for MSP staff.")
	case f.MSP:
		c.add("client_id = ''")
	case f.ClientID != nil:
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.Dim != nil {
		c.add("dim = ?", *f.Dim)
	}
	if f.Key != nil {
		c.add("key = ?", *f.Key)
	}
	if f.From != "" {
		c.add("day >= ?", string(f.From))
	}
	if f.To != "" {
		c.add("day <= ?", string(f.To))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT day, client_id, dim, key, rating_pct, strict_pct, target_pct, met, assets, rated, compliant,
		findings, gaps, taken_at FROM compliance_snapshots`+c.where()+` ORDER BY day, client_id, dim, key`, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query snapshots: %w", err))
	}
	defer rows.Close()
	out := []*patch.RatingSnapshot{}
	for rows.Next() {
		var (
			s                      patch.RatingSnapshot
			rating, strict, target sql.NullFloat64
			met                    sql.NullBool
			findings, gaps         string
			taken                  int64
		)
		if err := rows.Scan(&s.Day, &s.ClientID, &s.Dim, &s.Key, &rating, &strict, &target, &met, &s.Assets, &s.Rated, &s.Compliant,
			&findings, &gaps, &taken); err != nil {
			return nil, db.classify(fmt.Errorf("scan snapshot: %w", err))
		}
		s.RatingPct, s.StrictPct, s.TargetPct = fromNullFloat(rating), fromNullFloat(strict), fromNullFloat(target)
		if met.Valid {
			s.Met = &met.Bool
		}
		if err := fromJSON(findings, &s.Findings); err != nil {
			return nil, db.classify(err)
		}
		if err := fromJSON(gaps, &s.Gaps); err != nil {
			return nil, db.classify(err)
		}
		s.TakenAt = fromMS(taken)
		out = append(out, &s)
	}
	return out, db.classify(rows.Err())
}

// FindAssetDays lists asset rows of snapshots, by day and hostname.
func (db *DB) FindAssetDays(ctx context.Context, f patch.AssetDayFilter) ([]*patch.AssetDay, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.AssetID != nil {
		c.add("asset_id = ?", string(*f.AssetID))
	}
	if f.Day != nil {
		c.add("day = ?", string(*f.Day))
	}
	if f.From != "" {
		c.add("day >= ?", string(f.From))
	}
	if f.To != "" {
		c.add("day <= ?", string(f.To))
	}
	if f.Class != nil {
		c.add("class = ?", *f.Class)
	}
	if f.Kind != nil {
		c.add("kind = ?", string(*f.Kind))
	}
	if f.OS != nil {
		c.add("os_family = ?", string(*f.OS))
	}
	if f.SiteID != nil {
		c.add("site_id = ?", string(*f.SiteID))
	}
	if f.RatedOnly {
		c.add("rated = ?", true)
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT day, client_id, asset_id, hostname, site_id, os_family, class, kind, rated, rating_pct, strict_pct,
		target_pct, findings, tiers, gaps, COUNT(*) OVER () FROM compliance_asset_days`+where+` ORDER BY day, client_id, hostname, asset_id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query asset days: %w", err))
	}
	defer rows.Close()
	out := []*patch.AssetDay{}
	total := 0
	for rows.Next() {
		var (
			a                     patch.AssetDay
			rating, strict        sql.NullFloat64
			findings, tiers, gaps string
		)
		if err := rows.Scan(&a.Day, &a.ClientID, &a.AssetID, &a.Hostname, &a.SiteID, &a.OS, &a.Class, &a.Kind, &a.Rated, &rating, &strict,
			&a.TargetPct, &findings, &tiers, &gaps, &total); err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan asset day: %w", err))
		}
		a.RatingPct, a.StrictPct = fromNullFloat(rating), fromNullFloat(strict)
		for _, j := range []struct {
			s string
			v any
		}{{findings, &a.Findings}, {tiers, &a.Tiers}, {gaps, &a.Gaps}} {
			if err := fromJSON(j.s, j.v); err != nil {
				return nil, 0, db.classify(err)
			}
		}
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read asset days: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "compliance_asset_days", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}
