package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/report"
)

// The HIPAA-aligned evidence bundle of one client and period: the four
// artifacts of the playbook (ePHI asset inventory, risk-based
// prioritisation log, patch evidence chain, compensating controls
// register), the period's reports, a README for the auditor, and the
// manifest signed with the evidence key. The archive format and its
// verification are package evidence's; docs/evidence.md explains the
// bundle to auditors.

// Names of the artifacts in a bundle.
const (
	BundleEPHIInventory = "ephi-inventory.csv"
	BundleRiskLog       = "risk-prioritization-log.csv"
	BundleControls      = "compensating-controls.csv"
	BundleReadme        = "README.txt"
)

// BundleRequest asks for an evidence bundle.
type BundleRequest struct {
	ClientID patch.ClientID `json:"client_id"`
	Period   string         `json:"period" doc:"A month (2026-10) or a quarter (2026-Q4), in UTC" example:"2026-10"`
}

// BundleSummary describes a written bundle.
type BundleSummary struct {
	FileName    string           `json:"file_name"`
	ClientID    patch.ClientID   `json:"client_id"`
	Period      patch.Period     `json:"period"`
	StartSize   uint64           `json:"start_size"`
	EndSize     uint64           `json:"end_size"`
	Checkpoints int              `json:"checkpoints"`
	KeyID       string           `json:"key_id"`
	Files       []string         `json:"files"`
	Reports     []patch.ReportID `json:"reports"`
}

// WriteEvidenceBundle writes the evidence bundle of a client and period to
// w. Reports of the period that do not exist yet (Patch Health, Patch
// Detail and inventory for a month; QBR, Patch Detail and inventory for a
// quarter) are generated and stored first, so the bundle carries the same
// files the report API serves. The chain segment's ends are signed as
// checkpoints if they are not yet.
func (s *Server) WriteEvidenceBundle(ctx context.Context, in BundleRequest, w io.Writer) (*BundleSummary, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if in.ClientID == "" {
		return nil, patch.FieldError("client_id", "is required")
	}
	c, err := s.st.Clients.FindClientByID(ctx, in.ClientID)
	if err != nil {
		return nil, err
	}
	p, err := patch.ParsePeriod("period", in.Period)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if !p.Start.Before(now) {
		return nil, patch.FieldError("period", "%s has not started yet", p.Key)
	}
	// Reports first: generating them appends nothing to the chain, but
	// they should describe the period as the bundle does.
	reports, err := s.bundleReports(ctx, c, p)
	if err != nil {
		return nil, err
	}
	sys := evidenceSystem(ctx, "evidence bundle")
	key, err := s.evidenceKey(sys)
	if err != nil {
		return nil, err
	}
	rc := s.newReportCtx(ctx, c, p)
	until := rc.asOf
	if rc.partial {
		until = until.Add(time.Millisecond) // the events recorded at this very instant too
	}
	span, err := s.st.Checkpoints.EvidenceSpan(ctx, c.ID, p.Start, until)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.ensureCheckpoint(sys, key, c.ID, span.StartSize, p.Start); err != nil {
		return nil, err
	}
	if _, _, err := s.ensureCheckpoint(sys, key, c.ID, span.EndSize, rc.asOf); err != nil {
		return nil, err
	}
	seg := evidence.ChainSegment{StartSize: span.StartSize}
	if span.StartSize > 0 {
		es, err := s.st.Evidence.EvidenceChain(ctx, c.ID, span.StartSize, span.StartSize)
		if err != nil {
			return nil, err
		}
		if len(es) != 1 {
			return nil, fmt.Errorf("evidence chain of %s has no entry %d", c.ID, span.StartSize)
		}
		seg.StartHead = es[0].Hash
	}
	if span.EndSize > span.StartSize {
		if seg.Entries, err = s.st.Evidence.EvidenceChain(ctx, c.ID, span.StartSize+1, span.EndSize); err != nil {
			return nil, err
		}
	}
	lo, hi := span.StartSize, span.EndSize
	cps, err := s.st.Checkpoints.FindCheckpoints(ctx, patch.CheckpointFilter{ClientID: c.ID, MinSize: &lo, MaxSize: &hi})
	if err != nil {
		return nil, err
	}
	published, err := s.PublishedEvidenceKeys(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]evidence.PublicKey{}
	for _, k := range published {
		pk, err := evidence.ParsePublicKey(k.Public)
		if err != nil {
			return nil, err
		}
		byID[k.KeyID] = pk
	}
	info := evidence.BundleInfo{ClientID: string(c.ID), ClientName: c.Name, PeriodStart: p.Start, PeriodEnd: p.End, GeneratedAt: now,
		Generator: s.evidence.withDefaults().Generator}
	current := key.Public().ID().String()
	extra := map[string]bool{}
	for _, cp := range cps {
		seg.Checkpoints = append(seg.Checkpoints, []byte(cp.Signed))
		if cp.KeyID != current && !extra[cp.KeyID] {
			pk, ok := byID[cp.KeyID]
			if !ok {
				return nil, fmt.Errorf("checkpoint %s/%d is signed by unknown key %s", c.ID, cp.Size, cp.KeyID)
			}
			extra[cp.KeyID] = true
			info.Keys = append(info.Keys, pk)
		}
	}
	if err := s.loadAssets(rc); err != nil {
		return nil, err
	}
	if err := s.loadTiers(rc); err != nil {
		return nil, err
	}
	ephi, unclassified, err := s.ephiInventory(rc)
	if err != nil {
		return nil, err
	}
	riskLog, err := s.riskLog(rc)
	if err != nil {
		return nil, err
	}
	controls, err := s.controlsRegister(rc)
	if err != nil {
		return nil, err
	}
	bw, err := evidence.NewBundleWriter(w, info, key)
	if err != nil {
		return nil, err
	}
	sum := &BundleSummary{FileName: "evidence-" + report.Slug(c.Name) + "-" + p.Key + ".zip",
		ClientID: c.ID, Period: p, StartSize: span.StartSize, EndSize: span.EndSize, Checkpoints: len(cps), KeyID: current}
	add := func(name string, data []byte) error {
		sum.Files = append(sum.Files, name)
		return bw.AddFile(name, data)
	}
	readme := bundleReadme(c, p, rc.asOf, now, span, len(cps), current, unclassified, reports)
	for _, f := range []struct {
		name string
		data []byte
	}{{BundleReadme, readme}, {BundleEPHIInventory, ephi}, {BundleRiskLog, riskLog}, {BundleControls, controls}} {
		if err := add(f.name, f.data); err != nil {
			return nil, err
		}
	}
	if err := bw.AddChain(seg); err != nil {
		return nil, fmt.Errorf("evidence chain of %s for %s: %w", c.ID, p.Key, err)
	}
	sum.Files = append(sum.Files, evidence.ChainPath)
	for _, r := range reports {
		sum.Reports = append(sum.Reports, r.ID)
		for _, f := range r.Files {
			data, err := s.st.Reports.ReportContent(ctx, r.ID, f.Name)
			if err != nil {
				return nil, err
			}
			if err := add("reports/"+f.Name, data); err != nil {
				return nil, err
			}
		}
	}
	if err := bw.Close(); err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "evidence bundle written", "client", c.ID, "period", p.Key, "entries", span.EndSize-span.StartSize, "checkpoints", len(cps))
	return sum, nil
}

// bundleKinds are the reports a bundle carries.
func bundleKinds(p patch.Period) []patch.ReportKind {
	if p.Quarter() {
		return []patch.ReportKind{patch.ReportQBR, patch.ReportPatchDetail, patch.ReportInventory}
	}
	return []patch.ReportKind{patch.ReportPatchHealth, patch.ReportPatchDetail, patch.ReportInventory}
}

// bundleReports returns the newest report of each kind for the period,
// generating those that are missing.
func (s *Server) bundleReports(ctx context.Context, c *patch.Client, p patch.Period) ([]*patch.Report, error) {
	var out []*patch.Report
	for _, k := range bundleKinds(p) {
		key := p.Key
		rs, _, err := s.st.Reports.FindReports(ctx, patch.ReportFilter{ClientID: &c.ID, Kind: &k, Period: &key, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(rs) == 1 {
			out = append(out, rs[0])
			continue
		}
		r, err := s.generateReport(ctx, ReportRequest{ClientID: c.ID, Kind: k, Period: key}, patch.TriggerBundle)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

type bundleCSV struct {
	buf bytes.Buffer
	w   *csv.Writer
}

func newBundleCSV(header ...string) *bundleCSV {
	b := &bundleCSV{}
	b.w = csv.NewWriter(&b.buf)
	b.row(header...)
	return b
}

func (b *bundleCSV) row(fields ...string) {
	for i, f := range fields {
		if f != "" && strings.ContainsRune("=+-@\t\r", rune(f[0])) {
			fields[i] = "'" + f // defuse spreadsheet formulas
		}
	}
	_ = b.w.Write(fields) // bytes.Buffer does not fail; Flush reports errors
}

func (b *bundleCSV) bytes() ([]byte, error) {
	b.w.Flush()
	return b.buf.Bytes(), b.w.Error()
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// EPHIInventoryHeader is the header of artifact 1.
var EPHIInventoryHeader = []string{"as_of", "asset_id", "hostname", "fqdn", "site", "location", "owner", "role", "class", "criticality",
	"os_family", "os", "os_version", "os_build", "serial_number", "ip_addresses", "managed", "last_seen", "rating_pct", "coverage_gaps",
	"open_findings", "overdue_findings", "excepted_findings"}

// ephiInventory writes artifact 1: every asset tagged ephi=yes at the
// bundle's generation, with its patch posture. It also returns how many
// assets carry no ePHI classification at all.
func (s *Server) ephiInventory(rc *reportCtx) ([]byte, int, error) {
	ratings, err := s.assetRatings(rc)
	if err != nil {
		return nil, 0, err
	}
	fs, err := s.clientFindings(rc, patch.FindingFilter{State: ptr(patch.FindingOpen)}, func(*patch.Finding) bool { return true })
	if err != nil {
		return nil, 0, err
	}
	type counts struct{ open, overdue, excepted int }
	byAsset := map[patch.AssetID]*counts{}
	for _, f := range fs {
		cn := byAsset[f.AssetID]
		if cn == nil {
			cn = &counts{}
			byAsset[f.AssetID] = cn
		}
		cn.open++
		if f.SLAStatus == patch.SLABreached {
			cn.overdue++
		}
		if f.ExceptionID != "" {
			cn.excepted++
		}
	}
	b := newBundleCSV(EPHIInventoryHeader...)
	asOf := rfc3339(rc.now)
	unclassified := 0
	for _, a := range rc.sortedAssets() {
		switch a.Tags[patch.TagEPHI] {
		case "":
			unclassified++
			continue
		case "yes":
		default:
			continue
		}
		r := ratings[a.ID]
		cn := byAsset[a.ID]
		if cn == nil {
			cn = &counts{}
		}
		rating := ""
		if r.RatingPct != nil {
			rating = strconv.FormatFloat(*r.RatingPct, 'f', 2, 64)
		}
		b.row(asOf, string(a.ID), a.Hostname, a.FQDN, rc.sites[a.SiteID], a.Location, a.Owner, string(a.Role), a.Class, string(a.Criticality),
			string(a.OS.Family), a.OS.Name, a.OS.Version, a.OS.Build, a.SerialNumber, strings.Join(a.IPAddresses, " "), strconv.FormatBool(a.Managed),
			rfc3339(a.LastSeen), rating, strings.Join(r.Gaps, " "), strconv.Itoa(cn.open), strconv.Itoa(cn.overdue), strconv.Itoa(cn.excepted))
	}
	data, err := b.bytes()
	return data, unclassified, err
}

func ptr[T any](v T) *T { return &v }

// RiskLogHeader is the header of artifact 2.
var RiskLogHeader = []string{"rank", "finding_id", "asset_id", "hostname", "ephi", "asset_criticality", "update_id", "update", "package",
	"version", "kbs", "cves", "cvss", "known_exploited", "tier", "emergency", "detected_at", "sla_anchor", "due_at", "approval",
	"approval_at", "approval_by", "approval_source", "approval_reason", "exception_id", "state_at_period_end", "resolved_at", "resolution",
	"met_deadline"}

// riskLog writes artifact 2: every finding open at some time in the
// period, ranked by report.RiskOrder, with its tier, deadline, the
// approval decision (when, by whom, why: from the evidence chain) and
// what became of it.
func (s *Server) riskLog(rc *reportCtx) ([]byte, error) {
	from, to := rc.period.Start, rc.asOf
	fs, err := s.clientFindings(rc, patch.FindingFilter{}, func(f *patch.Finding) bool {
		return f.FirstSeen.Before(to) && (f.State == patch.FindingOpen || !f.ResolvedAt.Before(from))
	})
	if err != nil {
		return nil, err
	}
	// The newest approval or decline of each (asset, update) by the end
	// of the period.
	type key struct {
		a patch.AssetID
		u patch.UpdateID
	}
	decisions := map[key]*patch.EvidenceEntry{}
	for off := 0; ; {
		page, total, err := s.st.Evidence.FindEvidence(rc.ctx, patch.EvidenceFilter{ClientID: rc.client.ID, Types: []string{patch.EventApproved, patch.EventDeclined},
			Until: &to, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			decisions[key{e.Subject.AssetID, e.Subject.UpdateID}] = e // in sequence order: the last wins
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	risks := make([]report.Risk, len(fs))
	byID := map[patch.FindingID]*patch.Finding{}
	for i, f := range fs {
		risks[i] = riskOf(rc, f)
		byID[f.ID] = f
	}
	report.RankRisks(risks, rc.tierKeys())
	b := newBundleCSV(RiskLogHeader...)
	for _, r := range risks {
		f := byID[r.FindingID]
		var pkg, version string
		if f.Update != nil {
			pkg, version = f.Update.Package, f.Update.Version
		}
		var at, by, source, reason string
		if e := decisions[key{f.AssetID, f.UpdateID}]; e != nil {
			at, by = rfc3339(e.At), e.Actor.Name
			if by == "" {
				by = e.Actor.ID
			}
			source = e.Details["source"]
			if rule := e.Details["rule"]; rule != "" {
				source += " (rule " + rule + ")"
			}
			reason = e.Details["reason"]
			if e.Type == patch.EventDeclined {
				source = "declined: " + source
			}
		}
		state, resolved, resolution := "open", "", ""
		if f.State == patch.FindingResolved && f.ResolvedAt.Before(to) {
			state, resolved, resolution = "resolved", rfc3339(f.ResolvedAt), string(f.Resolution)
		}
		metDeadline := ""
		if r.MetSLA != nil && f.Resolution == patch.ResolvedVerified && state == "resolved" {
			metDeadline = strconv.FormatBool(*r.MetSLA)
		} else if !f.DueAt.IsZero() && f.DueAt.Before(to) && state == "open" {
			metDeadline = "false"
		}
		cvss := ""
		if r.CVSS > 0 {
			cvss = strconv.FormatFloat(r.CVSS, 'f', 1, 64)
		}
		b.row(strconv.Itoa(r.Rank), string(f.ID), string(f.AssetID), r.Hostname, strconv.FormatBool(r.EPHI), r.Criticality, string(f.UpdateID),
			r.Update, pkg, version, strings.Join(r.KBs, " "), strings.Join(r.CVEs, " "), cvss, strconv.FormatBool(r.KnownExploited), f.Tier,
			strconv.FormatBool(f.Emergency), rfc3339(f.FirstSeen), rfc3339(f.SLAAnchor), rfc3339(f.DueAt), string(f.Approval), at, by, source,
			reason, f.ExceptionID, state, resolved, resolution, metDeadline)
	}
	return b.bytes()
}

// ControlsHeader is the header of artifact 4.
var ControlsHeader = []string{"exception_id", "lane", "state", "scope", "asset_ids", "hostnames", "ephi_assets", "reason", "ticket_ref",
	"control_kind", "control_description", "requested_by", "requested_at", "signed_off_by", "signed_off_email", "signed_off_at",
	"starts_at", "expires_at", "ended_at", "end_reason"}

// controlsRegister writes artifact 4: every exception requested in, or in
// effect during, the period, one row per compensating control (an
// exception without controls has one row with none).
func (s *Server) controlsRegister(rc *reportCtx) ([]byte, error) {
	xs, err := s.allExceptions(rc.ctx, rc.client.ID)
	if err != nil {
		return nil, err
	}
	from, to := rc.period.Start, rc.asOf
	var keep []*patch.Exception
	for _, x := range xs {
		requested := !x.RequestedAt.Before(from) && x.RequestedAt.Before(to)
		ef, et, ok := x.Effect()
		overlaps := ok && ef.Before(to) && et.After(from)
		pending := x.State == patch.ExceptionRequested && x.RequestedAt.Before(to)
		if requested || overlaps || pending {
			keep = append(keep, x)
		}
	}
	slices.SortFunc(keep, func(a, b *patch.Exception) int {
		return cmp.Or(a.RequestedAt.Compare(b.RequestedAt), cmp.Compare(a.ID, b.ID))
	})
	b := newBundleCSV(ControlsHeader...)
	for _, x := range keep {
		var ids, hosts []string
		ephi := 0
		for _, id := range x.Scope.AssetIDs {
			ids = append(ids, string(id))
			hosts = append(hosts, rc.hostname(id))
			if a := rc.assets[id]; a != nil && a.EPHI() {
				ephi++
			}
		}
		var soBy, soEmail, soAt string
		if x.SignOff != nil {
			soBy, soEmail, soAt = x.SignOff.Name, x.SignOff.Email, rfc3339(x.SignOff.At)
		}
		by := x.RequestedBy.Name
		if by == "" {
			by = x.RequestedBy.ID
		}
		controls := x.Controls
		if len(controls) == 0 {
			controls = []patch.CompensatingControl{{}}
		}
		for _, ctl := range controls {
			b.row(string(x.ID), string(x.Lane), string(x.State), x.Scope.String(), strings.Join(ids, " "), strings.Join(hosts, " "),
				strconv.Itoa(ephi), x.Reason, x.TicketRef, string(ctl.Kind), ctl.Description, by, rfc3339(x.RequestedAt), soBy, soEmail, soAt,
				rfc3339(x.StartsAt), rfc3339(x.ExpiresAt), rfc3339(x.EndedAt), x.EndReason)
		}
	}
	return b.bytes()
}

// bundleReadme explains the bundle to whoever opens it.
func bundleReadme(c *patch.Client, p patch.Period, asOf, now time.Time, span patch.EvidenceSpan, checkpoints int, keyID string,
	unclassified int, reports []*patch.Report) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "HIPAA-aligned patch evidence bundle\n")
	fmt.Fprintf(&b, "===================================\n\n")
	fmt.Fprintf(&b, "Client:     %s (%s)\n", c.Name, c.ID)
	fmt.Fprintf(&b, "Period:     %s, %s to %s (UTC, end exclusive)\n", p.Label(), p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339))
	if asOf.Before(p.End) {
		fmt.Fprintf(&b, "            The period was not over: the bundle covers it up to %s.\n", asOf.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "Generated:  %s\n", now.Format(time.RFC3339))
	fmt.Fprintf(&b, "Signed by:  %s\n\n", keyID)
	b.WriteString("Verify this bundle, offline, before relying on it:\n\n")
	b.WriteString("    patchring evidence verify THIS-FILE.zip --key KEYS.txt\n\n")
	b.WriteString("where KEYS.txt holds the MSP's published evidence keys (GET\n")
	b.WriteString("/.well-known/patchring-evidence-keys on the MSP's Patchring server; record\n")
	b.WriteString("them when you first receive them). Exit status 0 means every file, every\n")
	b.WriteString("chain entry and every signature checked out.\n\n")
	b.WriteString("Contents\n--------\n\n")
	fmt.Fprintf(&b, "1. %s: ePHI asset inventory. Every device tagged \"ePHI system: yes\",\n", BundleEPHIInventory)
	b.WriteString("   with its patch posture when the bundle was generated.")
	if unclassified > 0 {
		fmt.Fprintf(&b, " %d devices carry no\n   ePHI classification (neither yes nor no) and are NOT listed; classify them.\n", unclassified)
	} else {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "2. %s: risk-based prioritisation log. Every finding\n", BundleRiskLog)
	b.WriteString("   (missing update on a device) open at some time in the period, ranked by:\n")
	b.WriteString("   " + report.RiskOrder + ".\n")
	b.WriteString("   Each row gives the tier, deadline, the approval (when, by whom, why) and\n   the outcome.\n")
	fmt.Fprintf(&b, "3. %s: the patch evidence chain of the period, entries %d\n", evidence.ChainPath, span.StartSize+1)
	fmt.Fprintf(&b, "   to %d (%d events: detection, approval, exceptions, deployment,\n", span.EndSize, span.EndSize-span.StartSize)
	b.WriteString("   verification, failures and rollbacks, each with its time and actor). Each\n")
	b.WriteString("   entry commits to the one before it; checkpoints/ holds the server's signed\n")
	fmt.Fprintf(&b, "   statements of the chain's head (%d in this period).\n", checkpoints)
	fmt.Fprintf(&b, "4. %s: compensating controls register. Every exception\n", BundleControls)
	b.WriteString("   requested in or in effect during the period, one row per documented control,\n")
	b.WriteString("   with the client's sign-off and the hard expiry.\n")
	b.WriteString("5. reports/: the period's reports (PDF, HTML, CSV, JSON):\n")
	for _, r := range reports {
		fmt.Fprintf(&b, "   - %s (%s, generated %s)\n", r.Title, r.ID, r.GeneratedAt.UTC().Format(time.RFC3339))
	}
	b.WriteString("6. manifest.json and manifest.sig: the SHA-256 of every file, signed.\n\n")
	b.WriteString("A passing verification proves these files are exactly what the MSP's\n")
	b.WriteString("server produced and that the chain is unbroken. It does not prove the\n")
	b.WriteString("events are true: the server records what its agents and staff report.\n")
	return []byte(b.String())
}
