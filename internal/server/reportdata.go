package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/report"
)

// Filling report documents. Every rating and metric comes from the
// compliance engine exactly as its API serves it: the averages of the
// daily snapshots (compliance.Averages over the snapshot store, as
// ComplianceHistory computes them), ComplianceMetrics for SLA attainment,
// time to remediate and failure rates, compliance.AgeExceptions for the
// register, compliance.Week for the scorecard. What the engine does not
// compute (failures and how they were remediated, risks reduced) is read
// from the evidence chain and the findings.

// reportCtx is what building one document needs.
type reportCtx struct {
	ctx     context.Context
	client  *patch.Client // nil for MSP-wide
	period  patch.Period
	asOf    time.Time
	partial bool
	now     time.Time
	// Filled on demand.
	assets map[patch.AssetID]*patch.Asset
	sites  map[patch.SiteID]string
	tiers  []patch.Tier
	titles map[patch.UpdateID]*patch.Update
}

func (s *Server) newReportCtx(ctx context.Context, c *patch.Client, p patch.Period) *reportCtx {
	now := s.now().UTC()
	rc := &reportCtx{ctx: ctx, client: c, period: p, asOf: p.End, now: now, titles: map[patch.UpdateID]*patch.Update{}}
	if now.Before(p.End) {
		rc.asOf, rc.partial = now.Truncate(time.Millisecond), true
	}
	return rc
}

// lastDay is the last day of the period with data: the day before the
// period's end, or today for a period not over.
func (rc *reportCtx) lastDay() patch.Day { return patch.DayOf(rc.asOf.Add(-time.Millisecond)) }

func (rc *reportCtx) clientID() *patch.ClientID {
	if rc.client == nil {
		return nil
	}
	return &rc.client.ID
}

func (s *Server) meta(rc *reportCtx, kind patch.ReportKind) report.Meta {
	m := report.Meta{Kind: kind, Title: kind.Title(), MSP: "Patchring", Period: rc.period, AsOf: rc.asOf, Partial: rc.partial,
		GeneratedAt: rc.now, Generator: s.evidence.withDefaults().Generator}
	if msp, err := s.st.MSP.FindMSP(rc.ctx); err == nil {
		m.MSP = msp.Name
	}
	if a, ok := patch.ActorFromContext(rc.ctx); ok {
		m.GeneratedBy = a.Name
		if m.GeneratedBy == "" {
			m.GeneratedBy = a.ID
		}
	}
	if rc.client != nil {
		m.ClientID, m.Client = rc.client.ID, rc.client.Name
	}
	return m
}

// loadAssets reads the client's assets and sites once.
func (s *Server) loadAssets(rc *reportCtx) error {
	if rc.assets != nil {
		return nil
	}
	rc.assets, rc.sites = map[patch.AssetID]*patch.Asset{}, map[patch.SiteID]string{}
	for off := 0; ; {
		page, total, err := s.st.Assets.FindAssets(rc.ctx, patch.AssetFilter{ClientID: &rc.client.ID, Sort: patch.SortHostname, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return err
		}
		for _, a := range page {
			rc.assets[a.ID] = a
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	sites, _, err := s.st.Sites.FindSites(rc.ctx, patch.SiteFilter{ClientID: &rc.client.ID, Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	for _, st := range sites {
		rc.sites[st.ID] = st.Name
	}
	return nil
}

// sortedAssets returns the client's assets by hostname.
func (rc *reportCtx) sortedAssets() []*patch.Asset {
	out := make([]*patch.Asset, 0, len(rc.assets))
	for _, a := range rc.assets {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *patch.Asset) int {
		return cmp.Or(cmp.Compare(a.Hostname, b.Hostname), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func (rc *reportCtx) hostname(id patch.AssetID) string {
	if a := rc.assets[id]; a != nil {
		return a.Hostname
	}
	return string(id)
}

// loadTiers reads the client's tier order from its policy.
func (s *Server) loadTiers(rc *reportCtx) error {
	if rc.tiers != nil || rc.client == nil || s.st.Policies == nil {
		return nil
	}
	p, err := s.policyFor(rc.ctx, rc.client)
	if err != nil {
		return err
	}
	rc.tiers = append([]patch.Tier{}, p.Tiers...)
	return nil
}

func (rc *reportCtx) tierKeys() []string {
	out := make([]string, len(rc.tiers))
	for i, t := range rc.tiers {
		out[i] = t.Key
	}
	return out
}

// update returns a catalog entry (public vendor data, read as the server).
func (s *Server) update(rc *reportCtx, id patch.UpdateID) *patch.Update {
	if u, ok := rc.titles[id]; ok {
		return u
	}
	us, _, err := s.st.Findings.FindUpdates(evidenceSystem(rc.ctx, "reports"), patch.UpdateFilter{ID: &id, Limit: 1})
	var u *patch.Update
	if err == nil && len(us) == 1 {
		u = us[0]
	}
	rc.titles[id] = u
	return u
}

func updateTitle(u *patch.Update, id patch.UpdateID) string {
	if u == nil {
		return string(id)
	}
	t := u.Title
	if t == "" {
		t = u.Package + " " + u.Version
	}
	return t
}

// snapshotRows returns the client's (or the MSP's) daily snapshot rows
// from..to, with today's live ratings standing in for today when the
// period is not over, exactly as the compliance API's history does.
func (s *Server) snapshotRows(rc *reportCtx, from, to patch.Day, dim *string) ([]*patch.RatingSnapshot, error) {
	f := patch.SnapshotFilter{ClientID: rc.clientID(), MSP: rc.client == nil, Dim: dim, From: from, To: to}
	rows, err := s.st.Snapshots.FindSnapshots(rc.ctx, f)
	if err != nil {
		return nil, err
	}
	if today := patch.DayOf(rc.now); rc.partial && to >= today {
		q := RatingQuery{ClientID: rc.clientID(), MSP: rc.client == nil}
		if dim != nil {
			d := compliance.Dim(*dim)
			q.Dim = &d
		}
		view, err := s.ComplianceRatings(rc.ctx, q)
		if err != nil {
			return nil, err
		}
		live, _ := compliance.SnapshotRows(today, view.Ratings, nil, rc.now)
		rows = append(rows, live...)
	}
	return rows, nil
}

// ratings turns period averages of one dimension into labelled ratings,
// in display order, with each group's last row of the period.
func (s *Server) ratings(rc *reportCtx, avgs []compliance.PeriodAverage, rows []*patch.RatingSnapshot, dim compliance.Dim) []report.Rating {
	last := map[string]*patch.RatingSnapshot{}
	for _, r := range rows {
		if r.Dim == string(dim) && (last[r.Key] == nil || r.Day >= last[r.Key].Day) {
			last[r.Key] = r
		}
	}
	var out []report.Rating
	for _, a := range avgs {
		if a.Dim != string(dim) {
			continue
		}
		out = append(out, report.Rating{Label: s.groupLabel(rc, dim, a.Key), PeriodAverage: a, Now: last[a.Key]})
	}
	order := func(k string) int {
		switch dim {
		case compliance.DimKind:
			return slices.Index([]string{string(patch.ClassKindServer), string(patch.ClassKindWorkstation)}, k)
		case compliance.DimOS:
			return slices.Index(patch.OSFamilies, patch.OSFamily(k))
		case compliance.DimTier:
			return slices.IndexFunc(rc.tiers, func(t patch.Tier) bool { return t.Key == k })
		case compliance.DimClass:
			if rc.client != nil {
				return slices.IndexFunc(rc.client.AssetClasses, func(c patch.AssetClass) bool { return c.Key == k })
			}
		}
		return -1
	}
	slices.SortStableFunc(out, func(a, b report.Rating) int {
		oa, ob := order(a.Key), order(b.Key)
		if oa < 0 {
			oa = 1 << 20
		}
		if ob < 0 {
			ob = 1 << 20
		}
		return cmp.Or(cmp.Compare(oa, ob), cmp.Compare(a.Key, b.Key))
	})
	return out
}

func (s *Server) groupLabel(rc *reportCtx, dim compliance.Dim, key string) string {
	switch dim {
	case compliance.DimAll:
		return "All devices"
	case compliance.DimKind:
		return report.KindLabel(key)
	case compliance.DimOS:
		return report.OSLabel(key)
	case compliance.DimTier:
		for _, t := range rc.tiers {
			if t.Key == key && t.Name != "" {
				return t.Name
			}
		}
	case compliance.DimClass:
		if rc.client != nil {
			if c, ok := rc.client.Class(key); ok {
				return c.Name
			}
		}
	case compliance.DimSite:
		if n, ok := rc.sites[patch.SiteID(key)]; ok {
			return n
		}
	}
	if key == "" {
		return "(none)"
	}
	return key
}

// trend returns the daily servers and workstations ratings from..to.
func (s *Server) trend(rc *reportCtx, from, to patch.Day) (report.Trend, error) {
	dim := string(compliance.DimKind)
	rows, err := s.snapshotRows(rc, from, to, &dim)
	if err != nil {
		return report.Trend{}, err
	}
	var t report.Trend
	for d := from; d <= to; d = d.Add(1) {
		t.Days = append(t.Days, d)
	}
	avgs := compliance.Averages(rows, from, to)
	for _, k := range []patch.ClassKind{patch.ClassKindServer, patch.ClassKindWorkstation} {
		vals := make([]*float64, len(t.Days))
		seen := false
		for _, r := range rows {
			if r.Key != string(k) || r.Day < from || r.Day > to {
				continue
			}
			vals[int(r.Day.Start().Sub(from.Start())/(24*time.Hour))] = r.RatingPct
			seen = true
		}
		if !seen {
			continue
		}
		ser := report.Series{Name: report.KindLabel(string(k)), Values: vals}
		for _, a := range avgs {
			if a.Key == string(k) {
				ser.Target = a.TargetPct
			}
		}
		t.Series = append(t.Series, ser)
	}
	return t, nil
}

// metrics returns the compliance engine's metrics for the period to AsOf.
func (s *Server) metrics(rc *reportCtx) (*ComplianceMetrics, error) {
	return s.ComplianceMetrics(rc.ctx, rc.clientID(), compliance.Span{From: rc.period.Start, To: rc.asOf})
}

// activeExceptions returns the exceptions in effect at AsOf, aged as the
// compliance engine ages them.
func (s *Server) activeExceptions(rc *reportCtx) ([]report.Exception, error) {
	xs, err := s.allExceptions(rc.ctx, rc.client.ID)
	if err != nil {
		return nil, err
	}
	aging := compliance.AgeExceptions(xs, compliance.Span{From: rc.period.Start, To: rc.asOf}, rc.asOf)
	ages := map[patch.ExceptionID]compliance.ExceptionAge{}
	for _, it := range aging.Items {
		ages[it.ID] = it
	}
	out := []report.Exception{}
	for _, x := range xs {
		if !x.InEffect(rc.asOf) {
			continue
		}
		out = append(out, s.exceptionRow(rc, x, ages[x.ID]))
	}
	slices.SortFunc(out, func(a, b report.Exception) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *Server) exceptionRow(rc *reportCtx, x *patch.Exception, age compliance.ExceptionAge) report.Exception {
	r := report.Exception{ID: x.ID, Lane: x.Lane, State: x.State, Scope: scopeText(rc, x.Scope), Reason: x.Reason, TicketRef: x.TicketRef,
		Controls: []string{}, StartsAt: x.StartsAt, ExpiresAt: x.ExpiresAt, DaysToExpiry: age.DaysToExpiry, OpenDays: age.OpenDays}
	for _, id := range x.Scope.AssetIDs {
		r.Assets = append(r.Assets, rc.hostname(id))
	}
	for _, c := range x.Controls {
		r.Controls = append(r.Controls, string(c.Kind)+": "+c.Description)
	}
	if x.SignOff != nil {
		r.SignedOffBy, r.SignedOffAt = x.SignOff.Name, x.SignOff.At
		if x.SignOff.Email != "" {
			r.SignedOffBy += " <" + x.SignOff.Email + ">"
		}
	}
	return r
}

// scopeText describes an exception's scope with host names.
func scopeText(rc *reportCtx, sc patch.ExceptionScope) string {
	var a, u string
	switch {
	case sc.AllAssets:
		a = "all devices"
	case sc.Tag != nil:
		a = "devices tagged " + sc.Tag.String()
	case len(sc.AssetIDs) == 1:
		a = rc.hostname(sc.AssetIDs[0])
	default:
		a = fmt.Sprintf("%d devices", len(sc.AssetIDs))
	}
	switch {
	case sc.AllUpdates:
		u = "all updates"
	case sc.Product != "":
		u = "updates of " + sc.Product
	case len(sc.UpdateIDs) == 1:
		u = updateTitle(nil, sc.UpdateIDs[0])
	default:
		u = fmt.Sprintf("%d updates", len(sc.UpdateIDs))
	}
	return a + " × " + u
}

// failureEvents are the chain events that record something going wrong.
var failureEvents = []string{patch.EventInstallFailed, patch.EventRolledBack, patch.EventRollbackFailed, patch.EventHealthCheckFailed,
	patch.EventVerifyFailed, patch.EventSnapshotFailed}

// remedyEvents are the later events that settle a failure.
var remedyEvents = map[string]string{
	patch.EventVerified:           "verified installed",
	patch.EventExcepted:           "excepted",
	patch.EventExceptionSignedOff: "excepted (signed off)",
	patch.EventDeclined:           "update declined",
	patch.EventSuperseded:         "superseded by a newer update",
}

// failures reads the period's failures from the evidence chain, each with
// the first later event for the same asset and update that settled it.
func (s *Server) failures(rc *reportCtx) ([]report.Failure, error) {
	since, until := rc.period.Start, rc.asOf
	var evs []*patch.EvidenceEntry
	for off := 0; ; {
		page, total, err := s.st.Evidence.FindEvidence(rc.ctx, patch.EvidenceFilter{ClientID: rc.client.ID, Types: failureEvents, Since: &since,
			Until: &until, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		evs = append(evs, page...)
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	remedies := make([]string, 0, len(remedyEvents))
	for k := range remedyEvents {
		remedies = append(remedies, k)
	}
	slices.Sort(remedies)
	out := []report.Failure{}
	for _, e := range evs {
		f := report.Failure{At: e.At, AssetID: e.Subject.AssetID, Hostname: rc.hostname(e.Subject.AssetID), Event: e.Type,
			Update: updateTitle(s.update(rc, e.Subject.UpdateID), e.Subject.UpdateID), Detail: detailText(e.Details)}
		if e.Subject.AssetID != "" && e.Subject.UpdateID != "" {
			aid, uid := e.Subject.AssetID, e.Subject.UpdateID
			later, _, err := s.st.Evidence.FindEvidence(rc.ctx, patch.EvidenceFilter{ClientID: rc.client.ID, AssetID: &aid, UpdateID: &uid,
				Types: remedies, AfterSeq: e.Seq, Until: &until, Limit: 1})
			if err != nil {
				return nil, err
			}
			if len(later) == 1 {
				f.Remediation, f.RemediatedAt = remedyEvents[later[0].Type], later[0].At
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// detailText summarises an event's details for a table cell.
func detailText(d map[string]string) string {
	for _, k := range []string{"error", "message", "reason", "check", "exit_code"} {
		if v := d[k]; v != "" {
			if k == "exit_code" {
				return "exit code " + v
			}
			return truncate(v, 200)
		}
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+d[k])
	}
	return truncate(strings.Join(parts, ", "), 200)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// clientFindings reads the client's findings with their catalog entries,
// keeping those keep accepts.
func (s *Server) clientFindings(rc *reportCtx, f patch.FindingFilter, keep func(*patch.Finding) bool) ([]*patch.Finding, error) {
	f.ClientID, f.WithUpdate, f.Limit = &rc.client.ID, true, patch.MaxLimit
	var out []*patch.Finding
	for off := 0; ; {
		f.Offset = off
		page, total, err := s.st.Findings.FindFindings(rc.ctx, f)
		if err != nil {
			return nil, err
		}
		for _, x := range page {
			if keep(x) {
				out = append(out, x)
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			return out, nil
		}
	}
}

// fixedIn reports whether a finding was verified installed in [from, to).
func fixedIn(f *patch.Finding, from, to time.Time) bool {
	return f.State == patch.FindingResolved && f.Resolution == patch.ResolvedVerified && !f.ResolvedAt.Before(from) && f.ResolvedAt.Before(to)
}

// riskOf describes a finding for ranking.
func riskOf(rc *reportCtx, f *patch.Finding) report.Risk {
	r := report.Risk{FindingID: f.ID, AssetID: f.AssetID, Hostname: rc.hostname(f.AssetID), Tier: f.Tier, Emergency: f.Emergency,
		DetectedAt: f.FirstSeen, DueAt: f.DueAt, ResolvedAt: f.ResolvedAt, Update: updateTitle(f.Update, f.UpdateID)}
	if a := rc.assets[f.AssetID]; a != nil {
		r.EPHI, r.Criticality = a.EPHI(), string(a.Criticality)
	}
	if u := f.Update; u != nil {
		r.KBs, r.CVEs, r.CVSS, r.KnownExploited = u.KBs, u.CVEs, u.CVSS, u.KnownExploited
	}
	if !f.DueAt.IsZero() && !f.ResolvedAt.IsZero() {
		met := !f.ResolvedAt.After(f.DueAt)
		r.MetSLA = &met
	}
	return r
}

// risksReduced returns the findings verified installed in [from, asOf),
// ranked by risk, and how many there were.
func (s *Server) risksReduced(rc *reportCtx, from time.Time, top int) ([]report.Risk, []*patch.Finding, error) {
	fs, err := s.clientFindings(rc, patch.FindingFilter{ResolvedSince: &from}, func(f *patch.Finding) bool { return fixedIn(f, from, rc.asOf) })
	if err != nil {
		return nil, nil, err
	}
	rs := make([]report.Risk, len(fs))
	for i, f := range fs {
		rs[i] = riskOf(rc, f)
	}
	report.RankRisks(rs, rc.tierKeys())
	if len(rs) > top {
		rs = rs[:top]
	}
	return rs, fs, nil
}

// assetRatings returns every asset's rating and coverage gaps at AsOf:
// the live index for a period not over, else the snapshot rows of the
// period's last day (the live index when that day has none).
func (s *Server) assetRatings(rc *reportCtx) (map[patch.AssetID]compliance.AssetRating, error) {
	out := map[patch.AssetID]compliance.AssetRating{}
	if !rc.partial {
		d := rc.lastDay()
		for off := 0; ; {
			page, total, err := s.st.Snapshots.FindAssetDays(rc.ctx, patch.AssetDayFilter{ClientID: &rc.client.ID, Day: &d, Limit: patch.MaxLimit, Offset: off})
			if err != nil {
				return nil, err
			}
			for _, a := range page {
				out[a.AssetID] = compliance.AssetRating{AssetID: a.AssetID, ClientID: a.ClientID, Hostname: a.Hostname, SiteID: a.SiteID, OS: a.OS,
					Class: a.Class, Kind: a.Kind, Rated: a.Rated, RatingPct: a.RatingPct, StrictPct: a.StrictPct, TargetPct: a.TargetPct,
					Findings: a.Findings, Tiers: a.Tiers, Gaps: a.Gaps}
			}
			off += len(page)
			if len(page) == 0 || off >= total {
				break
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	live, err := s.ComplianceGroupAssets(rc.ctx, compliance.GroupKey{Client: rc.client.ID, Dim: compliance.DimAll})
	if err != nil {
		return nil, err
	}
	for _, a := range live {
		out[a.AssetID] = a
	}
	return out, nil
}

// gaps counts the coverage gaps at AsOf.
func gapCounts(ratings map[patch.AssetID]compliance.AssetRating) []report.GapCount {
	hosts := map[string][]string{}
	for _, a := range ratings {
		for _, g := range a.Gaps {
			hosts[g] = append(hosts[g], a.Hostname)
		}
	}
	out := []report.GapCount{}
	for _, g := range compliance.GapNames() {
		hs := hosts[g]
		if len(hs) == 0 {
			continue
		}
		slices.Sort(hs)
		gc := report.GapCount{Gap: g, Label: report.GapLabel(g), Assets: len(hs), Hosts: hs}
		if len(hs) > 40 {
			gc.Hosts = append(hs[:40:40], fmt.Sprintf("and %d more", len(hs)-40))
		}
		out = append(out, gc)
	}
	return out
}

// buildPatchHealth fills the monthly Patch Health report.
func (s *Server) buildPatchHealth(rc *reportCtx) (*report.PatchHealth, error) {
	if err := s.loadAssets(rc); err != nil {
		return nil, err
	}
	if err := s.loadTiers(rc); err != nil {
		return nil, err
	}
	d := &report.PatchHealth{Meta: s.meta(rc, patch.ReportPatchHealth)}
	from, to := patch.DayOf(rc.period.Start), rc.lastDay()
	rows, err := s.snapshotRows(rc, from, to, nil)
	if err != nil {
		return nil, err
	}
	avgs := compliance.Averages(rows, from, to)
	d.ByKind = s.ratings(rc, avgs, rows, compliance.DimKind)
	d.ByOS = s.ratings(rc, avgs, rows, compliance.DimOS)
	d.ByTier = s.ratings(rc, avgs, rows, compliance.DimTier)
	d.ByClass = s.ratings(rc, avgs, rows, compliance.DimClass)
	for _, r := range s.ratings(rc, avgs, rows, compliance.DimAll) {
		if r.Now != nil {
			d.Excluded = r.Now.Findings
			d.Excluded.Installed, d.Excluded.Missing, d.Excluded.EmergencyInstalled = 0, 0, 0
		}
	}
	if d.Trend, err = s.trend(rc, to.Add(-29), to); err != nil {
		return nil, err
	}
	m, err := s.metrics(rc)
	if err != nil {
		return nil, err
	}
	d.SLA, d.Remediation, d.FailureRates = m.SLAAttainment, m.TimeToRemediate, m.FailureRates
	if d.Failures, err = s.failures(rc); err != nil {
		return nil, err
	}
	if d.Exceptions, err = s.activeExceptions(rc); err != nil {
		return nil, err
	}
	if d.TopRisks, _, err = s.risksReduced(rc, rc.period.Start, 10); err != nil {
		return nil, err
	}
	ratings, err := s.assetRatings(rc)
	if err != nil {
		return nil, err
	}
	d.Gaps = gapCounts(ratings)
	d.Highlights = healthHighlights(d)
	return d, nil
}

// healthHighlights says what the numbers mean, in plain language.
func healthHighlights(d *report.PatchHealth) []string {
	var out []string
	for _, r := range d.ByKind {
		if r.RatingPct == nil {
			out = append(out, fmt.Sprintf("%s: no rating this period (no device of this type could be rated).", r.Label))
			continue
		}
		verdict := "met"
		if r.Met != nil && !*r.Met {
			verdict = "NOT met"
		}
		out = append(out, fmt.Sprintf("%s averaged %.2f %% against a target of %s: target %s (%d of %d days at or above target).",
			r.Label, *r.RatingPct, pctText(r.TargetPct), verdict, r.DaysMet, r.Days))
	}
	if len(d.ByKind) == 0 {
		out = append(out, "No daily compliance ratings were recorded for this period.")
	}
	for _, a := range d.SLA {
		if a.Tier != "" {
			continue
		}
		if n := a.Met + a.Missed; n > 0 {
			out = append(out, fmt.Sprintf("%d of %d updates due this period were installed and verified by their deadline (%s).", a.Met, n, pctText(a.AttainmentPct)))
		} else {
			out = append(out, "No update deadlines fell in this period.")
		}
	}
	open := 0
	for _, f := range d.Failures {
		if f.Remediation == "" {
			open++
		}
	}
	switch {
	case len(d.Failures) == 0:
		out = append(out, "No install failed and nothing was rolled back.")
	default:
		out = append(out, fmt.Sprintf("%s recorded; %d remediated, %d still open.", report.Plural(len(d.Failures), "failure or rollback was", "failures or rollbacks were"),
			len(d.Failures)-open, open))
	}
	soon := 0
	for _, x := range d.Exceptions {
		if x.DaysToExpiry <= 14 {
			soon++
		}
	}
	out = append(out, fmt.Sprintf("%s in effect at the end of the period; %d expire within 14 days.",
		report.Plural(len(d.Exceptions), "exception was", "exceptions were"), soon))
	if len(d.TopRisks) > 0 {
		r := d.TopRisks[0]
		out = append(out, fmt.Sprintf("Biggest risk removed: %s on %s (%s).", r.Update, r.Hostname, r.Tier))
	}
	gapped := 0
	for _, g := range d.Gaps {
		gapped += g.Assets
	}
	if gapped > 0 {
		out = append(out, fmt.Sprintf("Coverage gaps (%s) are listed at the end: they are reported, not left out.", report.Plural(gapped, "device gap", "device gaps")))
	}
	return out
}

func pctText(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f %%", *v)
}

// buildPatchDetail fills the Patch Detail report: every asset with its
// patch state at AsOf (the generation time).
func (s *Server) buildPatchDetail(rc *reportCtx) (*report.PatchDetail, error) {
	rc.asOf, rc.partial = rc.now, rc.now.Before(rc.period.End)
	if err := s.loadAssets(rc); err != nil {
		return nil, err
	}
	d := &report.PatchDetail{Meta: s.meta(rc, patch.ReportPatchDetail), Assets: []report.AssetDetail{}}
	ratings, err := s.assetRatings(rc)
	if err != nil {
		return nil, err
	}
	facts, err := s.st.ComplianceFacts.FindComplianceFacts(rc.ctx, patch.ComplianceFactFilter{ClientID: &rc.client.ID, Since: rc.period.Start})
	if err != nil {
		return nil, err
	}
	lastScan := map[patch.AssetID]time.Time{}
	for _, cf := range facts {
		for _, sc := range cf.Scans {
			if sc.LastSuccess.After(lastScan[cf.Asset.ID]) && !sc.LastSuccess.After(rc.asOf) {
				lastScan[cf.Asset.ID] = sc.LastSuccess
			}
		}
	}
	fs, err := s.clientFindings(rc, patch.FindingFilter{}, func(f *patch.Finding) bool {
		open := !f.FirstSeen.After(rc.asOf) && (f.State == patch.FindingOpen || f.ResolvedAt.After(rc.asOf))
		return open || fixedIn(f, rc.period.Start, rc.asOf)
	})
	if err != nil {
		return nil, err
	}
	byAsset := map[patch.AssetID][]*patch.Finding{}
	for _, f := range fs {
		byAsset[f.AssetID] = append(byAsset[f.AssetID], f)
	}
	for _, a := range rc.sortedAssets() {
		ad := report.AssetDetail{ID: a.ID, Hostname: a.Hostname, Site: rc.sites[a.SiteID], OS: strings.TrimSpace(a.OS.Name + " " + a.OS.Version),
			OSFamily: string(a.OS.Family), Role: string(a.Role), Class: a.Class, Criticality: string(a.Criticality), EPHI: a.Tags[patch.TagEPHI],
			Owner: a.Owner, Managed: a.Managed, LastSeen: a.LastSeen, LastScan: lastScan[a.ID], Gaps: []string{},
			Open: []report.FindingLine{}, Fixed: []report.FindingLine{}}
		if r, ok := ratings[a.ID]; ok {
			ad.RatingPct, ad.Gaps = r.RatingPct, r.Gaps
		}
		for _, f := range byAsset[a.ID] {
			line := findingLine(f)
			if fixedIn(f, rc.period.Start, rc.asOf) {
				ad.Fixed = append(ad.Fixed, line)
			} else {
				if f.ResolvedAt.After(rc.asOf) {
					line.State, line.Resolution, line.ResolvedAt = patch.FindingOpen, "", time.Time{}
				}
				ad.Open = append(ad.Open, line)
			}
		}
		sortLines := func(ls []report.FindingLine) {
			slices.SortFunc(ls, func(x, y report.FindingLine) int {
				return cmp.Or(cmp.Compare(x.Tier, y.Tier), x.FirstSeen.Compare(y.FirstSeen), cmp.Compare(x.FindingID, y.FindingID))
			})
		}
		sortLines(ad.Open)
		sortLines(ad.Fixed)
		d.Assets = append(d.Assets, ad)
	}
	return d, nil
}

func findingLine(f *patch.Finding) report.FindingLine {
	l := report.FindingLine{FindingID: f.ID, Update: updateTitle(f.Update, f.UpdateID), Installed: f.InstalledVersion, Tier: f.Tier,
		Emergency: f.Emergency, Approval: f.Approval, State: f.State, Resolution: f.Resolution, SLAStatus: f.SLAStatus,
		ExceptionID: f.ExceptionID, FirstSeen: f.FirstSeen, DueAt: f.DueAt, ResolvedAt: f.ResolvedAt}
	if u := f.Update; u != nil {
		l.Package, l.Version, l.KBs, l.CVEs, l.KnownExploited = u.Package, u.Version, u.KBs, u.CVEs, u.KnownExploited
	}
	return l
}

// buildQBR fills the quarterly executive summary.
func (s *Server) buildQBR(rc *reportCtx) (*report.QBR, error) {
	if err := s.loadAssets(rc); err != nil {
		return nil, err
	}
	if err := s.loadTiers(rc); err != nil {
		return nil, err
	}
	d := &report.QBR{Meta: s.meta(rc, patch.ReportQBR), Months: []report.MonthScore{}}
	from, to := patch.DayOf(rc.period.Start), rc.lastDay()
	dim := string(compliance.DimKind)
	rows, err := s.snapshotRows(rc, from, to, &dim)
	if err != nil {
		return nil, err
	}
	d.Quarter = s.ratings(rc, compliance.Averages(rows, from, to), rows, compliance.DimKind)
	for _, m := range rc.period.Months() {
		mf, mt := patch.DayOf(m.Start), patch.DayOf(m.End.Add(-time.Millisecond))
		if mf > to {
			break
		}
		mt = min(mt, to)
		d.Months = append(d.Months, report.MonthScore{Month: m, Kinds: s.ratings(rc, compliance.Averages(rows, mf, mt), rows, compliance.DimKind)})
	}
	if d.Trend, err = s.trend(rc, from, to); err != nil {
		return nil, err
	}
	var fixed []*patch.Finding
	if d.TopRisks, fixed, err = s.risksReduced(rc, rc.period.Start, 5); err != nil {
		return nil, err
	}
	d.Fixed = len(fixed)
	keys := rc.tierKeys()
	for _, f := range fixed {
		urgent := f.Emergency || len(keys) > 0 && f.Tier == keys[0] || f.Update != nil && f.Update.KnownExploited
		if urgent {
			d.CriticalFixed++
		}
	}
	m, err := s.metrics(rc)
	if err != nil {
		return nil, err
	}
	d.SLA = m.SLAAttainment
	if d.Exceptions, err = s.activeExceptions(rc); err != nil {
		return nil, err
	}
	ratings, err := s.assetRatings(rc)
	if err != nil {
		return nil, err
	}
	qbrNarrative(d, gapCounts(ratings))
	return d, nil
}

// qbrNarrative writes the summary and the points for management.
func qbrNarrative(d *report.QBR, gaps []report.GapCount) {
	var met, missed []string
	for _, r := range d.Quarter {
		if r.Met == nil {
			continue
		}
		if *r.Met {
			met = append(met, fmt.Sprintf("%s (%.2f %% against %s)", strings.ToLower(r.Label), *r.RatingPct, pctText(r.TargetPct)))
		} else {
			missed = append(missed, fmt.Sprintf("%s (%.2f %% against %s)", strings.ToLower(r.Label), *r.RatingPct, pctText(r.TargetPct)))
		}
	}
	switch {
	case len(met) > 0 && len(missed) == 0:
		d.Summary = append(d.Summary, "Your systems met their patching targets this quarter: "+strings.Join(met, " and ")+".")
	case len(met) > 0:
		d.Summary = append(d.Summary, "Your "+strings.Join(met, " and ")+" met their patching targets; your "+strings.Join(missed, " and ")+" did not.")
	case len(missed) > 0:
		d.Summary = append(d.Summary, "Your "+strings.Join(missed, " and ")+" did not meet their patching targets this quarter.")
	default:
		d.Summary = append(d.Summary, "No compliance ratings were recorded this quarter, so we cannot yet say whether targets were met.")
	}
	d.Summary = append(d.Summary, fmt.Sprintf("We installed and verified %d missing security and software updates, %d of them critical or known to be under active attack.", d.Fixed, d.CriticalFixed))
	for _, a := range d.SLA {
		if a.Tier == "" && a.Met+a.Missed > 0 {
			d.Summary = append(d.Summary, fmt.Sprintf("%s of updates were installed within the agreed deadline.", pctText(a.AttainmentPct)))
		}
	}
	if n := len(d.Exceptions); n > 0 {
		d.Summary = append(d.Summary, fmt.Sprintf("%s under a signed exception, with safeguards and a fixed end date (listed below).",
			report.Plural(n, "system or update is", "systems or updates are")))
	} else {
		d.Summary = append(d.Summary, "No system is excused from patching.")
	}
	for _, x := range d.Exceptions {
		if x.DaysToExpiry <= 30 {
			d.Attention = append(d.Attention, fmt.Sprintf("The exception for %s (ticket %s) ends on %s: decide whether to renew it, with a new sign-off, or retire the system.",
				x.Scope, x.TicketRef, x.ExpiresAt.UTC().Format("2 January 2006")))
		}
	}
	for _, r := range d.Quarter {
		if r.Met != nil && !*r.Met {
			d.Attention = append(d.Attention, fmt.Sprintf("%s missed their target; we will review the causes with you.", r.Label))
		}
	}
	for _, g := range gaps {
		switch g.Gap {
		case "unmanaged":
			d.Attention = append(d.Attention, fmt.Sprintf("%d devices were found on your network without our agent; tell us whether they are yours so we can cover or remove them.", g.Assets))
		case "unsupported_os":
			d.Attention = append(d.Attention, fmt.Sprintf("%d devices run an operating system that no longer receives security updates; plan their replacement.", g.Assets))
		}
	}
}

// buildInventory fills the inventory export at AsOf (the generation time).
func (s *Server) buildInventory(rc *reportCtx) (*report.Inventory, error) {
	rc.asOf, rc.partial = rc.now, rc.now.Before(rc.period.End)
	if err := s.loadAssets(rc); err != nil {
		return nil, err
	}
	d := &report.Inventory{Meta: s.meta(rc, patch.ReportInventory), Assets: []report.InventoryAsset{}, Software: []report.SoftwareItem{}}
	count := map[patch.AssetID]int{}
	if s.st.Inventory != nil {
		for off := 0; ; {
			page, total, err := s.st.Inventory.FindSoftware(rc.ctx, patch.SoftwareFilter{ClientID: &rc.client.ID, Limit: patch.MaxLimit, Offset: off})
			if err != nil {
				return nil, err
			}
			for _, sw := range page {
				d.Software = append(d.Software, report.SoftwareItem{AssetID: sw.AssetID, Hostname: rc.hostname(sw.AssetID), Name: sw.Name,
					Version: sw.Version, Vendor: sw.Vendor, Source: sw.Source, InstallDate: sw.InstallDate})
				count[sw.AssetID]++
			}
			off += len(page)
			if len(page) == 0 || off >= total {
				break
			}
		}
	}
	slices.SortFunc(d.Software, func(a, b report.SoftwareItem) int {
		return cmp.Or(cmp.Compare(a.Hostname, b.Hostname), cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Version, b.Version))
	})
	var managed, ephi, unclassified int
	byOS := map[patch.OSFamily]int{}
	for _, a := range rc.sortedAssets() {
		d.Assets = append(d.Assets, report.InventoryAsset{ID: a.ID, Hostname: a.Hostname, FQDN: a.FQDN, Site: rc.sites[a.SiteID], Location: a.Location,
			Owner: a.Owner, Role: string(a.Role), Class: a.Class, Criticality: string(a.Criticality), EPHI: a.Tags[patch.TagEPHI],
			OSFamily: string(a.OS.Family), OS: a.OS.Name, OSVersion: a.OS.Version, OSBuild: a.OS.Build, Serial: a.SerialNumber,
			IPs: a.IPAddresses, MACs: a.MACAddresses, Managed: a.Managed, Source: string(a.Source), FirstSeen: a.FirstSeen, LastSeen: a.LastSeen,
			Tags: a.Tags, SoftwareSeen: count[a.ID]})
		if a.Managed {
			managed++
		}
		switch a.Tags[patch.TagEPHI] {
		case "yes":
			ephi++
		case "":
			unclassified++
		}
		byOS[a.OS.Family]++
	}
	d.Counts = []report.Count{{Label: "Devices", N: len(d.Assets)}, {Label: "Managed", N: managed}, {Label: "Unmanaged", N: len(d.Assets) - managed}}
	for _, f := range patch.OSFamilies {
		if byOS[f] > 0 {
			d.Counts = append(d.Counts, report.Count{Label: report.OSLabel(string(f)), N: byOS[f]})
		}
	}
	d.Counts = append(d.Counts, report.Count{Label: "ePHI: yes", N: ephi}, report.Count{Label: "ePHI: not classified", N: unclassified},
		report.Count{Label: "Software packages", N: len(d.Software)})
	return d, nil
}

// buildScorecard fills the internal scorecard: the weeks of the period
// for the client, or for the MSP and every client.
func (s *Server) buildScorecard(rc *reportCtx) (*report.Scorecard, error) {
	d := &report.Scorecard{Meta: s.meta(rc, patch.ReportScorecard), Rows: []report.ScorecardClient{}}
	o := s.copts()
	var mondays []patch.Day
	for m := compliance.WeekOf(patch.DayOf(rc.period.Start)); m <= rc.lastDay(); m = m.Add(7) {
		mondays = append(mondays, m)
	}
	if len(mondays) == 0 {
		return d, nil
	}
	from, to := mondays[0], rc.lastDay()
	type facts struct {
		id      patch.ClientID
		name    string
		rows    []*patch.RatingSnapshot
		xs      []*patch.Exception
		tickets []compliance.Ticket
	}
	all := string(compliance.DimAll)
	load := func(c *patch.Client) (*facts, error) {
		sub := *rc
		sub.client = c
		rows, err := s.snapshotRows(&sub, from, to, &all)
		if err != nil {
			return nil, err
		}
		f := &facts{rows: rows}
		if c != nil {
			f.id, f.name = c.ID, c.Name
			if f.xs, err = s.allExceptions(rc.ctx, c.ID); err != nil {
				return nil, err
			}
			if f.tickets, err = s.patchTickets(rc.ctx, c.ID, compliance.Span{From: from.Start(), To: rc.asOf}); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
	var clients []*patch.Client
	if rc.client != nil {
		clients = []*patch.Client{rc.client}
	} else {
		var err error
		if clients, err = s.clientsInScope(rc.ctx); err != nil {
			return nil, err
		}
	}
	var rowsFacts []*facts
	msp := &facts{name: d.MSP + " (all clients)"}
	for _, c := range clients {
		f, err := load(c)
		if err != nil {
			return nil, err
		}
		msp.xs, msp.tickets = append(msp.xs, f.xs...), append(msp.tickets, f.tickets...)
		rowsFacts = append(rowsFacts, f)
	}
	if rc.client == nil {
		f, err := load(nil)
		if err != nil {
			return nil, err
		}
		msp.rows = f.rows
		rowsFacts = append([]*facts{msp}, rowsFacts...)
	}
	for _, f := range rowsFacts {
		row := report.ScorecardClient{ClientID: f.id, Name: f.name}
		for _, mon := range mondays {
			end := mon.Add(7).Start()
			at := end
			if rc.asOf.Before(at) {
				at = rc.asOf
			}
			var installs []compliance.InstallCount
			if o.Installs != nil {
				var client *patch.ClientID
				if f.id != "" {
					client = &f.id
				}
				var err error
				if installs, err = o.Installs.InstallCounts(rc.ctx, client, compliance.Span{From: mon.Start(), To: at}); err != nil {
					return nil, err
				}
			}
			row.Weeks = append(row.Weeks, compliance.Week(compliance.WeekFacts{From: mon, To: mon.Add(6), At: at, Daily: f.rows,
				Exceptions: f.xs, Installs: installs, Tickets: f.tickets, Hours: o.Hours}))
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}
