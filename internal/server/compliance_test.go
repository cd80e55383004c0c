package server_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
)

type complianceWorld struct {
	srv            *server.Server
	db             *sqlstore.DB
	clock          *patchtest.Clock
	admin, ownerB  context.Context
	ownerA         context.Context
	a, b           *patch.Client
	core, ws, prn  *patch.Asset
	other          *patch.Asset
	installs       *fakeInstalls
	coreKB, wsKB   patch.ScannedUpdate
	wsKB2, otherKB patch.ScannedUpdate
}

// fakeInstalls stands in for the rollout engine.
type fakeInstalls struct {
	counts []compliance.InstallCount
	failed map[patch.AssetID][]compliance.FailedInstall
}

func (f *fakeInstalls) InstallCounts(_ context.Context, client *patch.ClientID, _ compliance.Span) ([]compliance.InstallCount, error) {
	var out []compliance.InstallCount
	for _, c := range f.counts {
		if client == nil || c.ClientID == *client {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeInstalls) FailedInstalls(_ context.Context, a patch.AssetID) ([]compliance.FailedInstall, error) {
	return f.failed[a], nil
}

func newComplianceWorld(t testing.TB) *complianceWorld {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	w := &complianceWorld{db: db, clock: patchtest.NewClock(time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)), installs: &fakeInstalls{}}
	db.Now = w.clock.Now
	w.srv = server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Agents: db, Inventory: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db},
		server.Options{Now: w.clock.Now, Compliance: server.ComplianceOptions{Installs: w.installs, Monitors: compliance.MonitorOptions{Settle: -1}}})
	w.admin = patchtest.AdminContext(t.Context())
	w.a, err = w.srv.CreateClient(w.admin, server.ClientInput{Name: "Riverside Clinic"})
	must(t, err)
	w.b, err = w.srv.CreateClient(w.admin, server.ClientInput{Name: "Beta Law"})
	must(t, err)
	w.ownerA, w.ownerB = patchtest.OwnerContext(t.Context(), w.a.ID), patchtest.OwnerContext(t.Context(), w.b.ID)
	site := patchtest.Site(w.a.ID, "Main", "America/Chicago")
	must(t, db.CreateSite(w.admin, site))
	mk := func(c patch.ClientID, host, class string, opts ...func(*patch.Asset)) *patch.Asset {
		a := patchtest.Asset(c, host)
		a.Class, a.Managed, a.Source, a.LastSeen = class, true, patch.SourceAgent, w.clock.Now()
		if c == w.a.ID {
			a.SiteID = site.ID
		}
		for _, o := range opts {
			o(a)
		}
		must(t, db.CreateAsset(w.admin, a))
		return a
	}
	w.core = mk(w.a.ID, "dc-1", patch.ClassCoreServer, func(a *patch.Asset) {
		a.Role, a.OS = patch.RoleServer, patch.OS{Family: patch.OSWindows, Name: "Windows Server 2022 Standard", Version: "10.0.20348", Build: "20348.2849"}
	})
	w.ws = mk(w.a.ID, "ws-1", patch.ClassWorkstation)
	w.prn = mk(w.a.ID, "prn-1", patch.ClassWorkstation, func(a *patch.Asset) {
		a.OS, a.Managed, a.Source = patch.OS{Family: patch.OSOther, Name: "HP JetDirect"}, false, patch.SourceDiscovery
	})
	w.other = mk(w.b.ID, "ws-9", patch.ClassWorkstation)
	kb := func(id string) patch.ScannedUpdate {
		return patch.ScannedUpdate{Update: patch.Update{Source: "wua", VendorID: id + ".1", Package: id, Title: "Security update " + id, Product: "Windows",
			// October's Patch Tuesday: not an out-of-band (emergency) release.
			Version: "1", Classification: "security", VendorSeverity: "Critical", KBs: []string{id}, ReleaseDate: time.Date(2026, 10, 13, 18, 0, 0, 0, time.UTC)}}
	}
	w.coreKB, w.wsKB, w.wsKB2, w.otherKB = kb("KB5001"), kb("KB5002"), kb("KB5003"), kb("KB5009")
	return w
}

func (w *complianceWorld) scan(t *testing.T, a *patch.Asset, missing ...patch.ScannedUpdate) {
	t.Helper()
	_, err := w.db.RecordScan(w.admin, patch.ScanResult{AssetID: a.ID, At: w.clock.Now(), Sources: []patch.UpdateSource{"wua"}, Missing: missing})
	must(t, err)
}

func ratingOf(t *testing.T, rs []compliance.GroupRating, c patch.ClientID, dim compliance.Dim, key string) compliance.GroupRating {
	t.Helper()
	for _, r := range rs {
		if r.ClientID == c && r.Dim == dim && r.Key == key {
			return r
		}
	}
	t.Fatalf("no rating %s/%s/%s in %d ratings", c, dim, key, len(rs))
	return compliance.GroupRating{}
}

func pct(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func TestComplianceEndToEnd(t *testing.T) {
	w := newComplianceWorld(t)
	// 2 Nov 06:00: critical security updates found; the default policy
	// approves them at once, due in 24h on core servers and 72h on
	// workstations.
	w.scan(t, w.core, w.coreKB)
	w.scan(t, w.ws, w.wsKB, w.wsKB2)
	w.scan(t, w.other, w.otherKB)
	_, err := w.srv.EvaluateClient(w.admin, w.a.ID)
	must(t, err)
	_, err = w.srv.EvaluateClient(w.admin, w.b.ID)
	must(t, err)

	// 4 Nov 06:00: ws-1 installed KB5002; dc-1's KB5001 is 24h overdue.
	w.clock.Advance(48 * time.Hour)
	w.scan(t, w.ws, w.wsKB2)
	w.scan(t, w.core, w.coreKB)
	must(t, w.srv.RecomputeCompliance(w.admin))

	view, err := w.srv.ComplianceRatings(w.admin, server.RatingQuery{ClientID: &w.a.ID})
	must(t, err)
	// dc-1: 1 missing → 0 %. ws-1: KB5002 installed but not due until
	// 5 Nov, KB5003 not due: owes nothing → 100 %. prn-1: unmanaged.
	all := ratingOf(t, view.Ratings, w.a.ID, compliance.DimAll, "")
	if pct(all.RatingPct) != 50 || all.Rated != 2 || all.Assets != 3 || all.Findings.Missing != 1 || all.Gaps["unmanaged"] != 1 || all.Gaps["unsupported_os"] != 1 {
		t.Fatalf("overall = %+v", all)
	}
	if r := ratingOf(t, view.Ratings, w.a.ID, compliance.DimClass, patch.ClassCoreServer); pct(r.RatingPct) != 0 || pct(r.TargetPct) != 95 || *r.Met || r.Label != "Core servers" {
		t.Errorf("core servers = %+v", r)
	}
	if r := ratingOf(t, view.Ratings, w.a.ID, compliance.DimTier, "critical"); pct(r.RatingPct) != 50 || r.Findings.Missing != 1 {
		t.Errorf("critical tier = %+v", r)
	}
	if r := ratingOf(t, view.Ratings, w.a.ID, compliance.DimSite, string(w.core.SiteID)); r.Label != "Main" {
		t.Errorf("site label = %q", r.Label)
	}

	t.Run("TraceToFindings", func(t *testing.T) {
		as, err := w.srv.ComplianceGroupAssets(w.ownerA, compliance.GroupKey{Client: w.a.ID, Dim: compliance.DimClass, Key: patch.ClassCoreServer})
		must(t, err)
		if len(as) != 1 || as[0].AssetID != w.core.ID || as[0].Findings.Missing != 1 {
			t.Fatalf("core-server members = %+v", as)
		}
		v, err := w.srv.AssetCompliance(w.ownerA, w.core.ID, nil)
		must(t, err)
		if len(v.Findings) != 1 || v.Findings[0].Category != compliance.Missing || v.Findings[0].Update == nil || v.Findings[0].Update.Title != "Security update KB5001" {
			t.Fatalf("dc-1 findings = %+v", v.Findings)
		}
		v, err = w.srv.AssetCompliance(w.ownerA, w.ws.ID, nil)
		must(t, err)
		cats := map[string]compliance.Category{}
		for _, f := range v.Findings {
			cats[f.Update.Package] = f.Category
		}
		if cats["KB5002"] != compliance.NotDue || cats["KB5003"] != compliance.NotDue {
			t.Errorf("ws-1 categories = %v", cats)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		v, err := w.srv.ComplianceRatings(w.ownerB, server.RatingQuery{})
		must(t, err)
		for _, r := range v.Ratings {
			if r.ClientID != w.b.ID {
				t.Errorf("B's owner sees %s/%s/%s", r.ClientID, r.Dim, r.Key)
			}
		}
		if _, err := w.srv.ComplianceRatings(w.ownerB, server.RatingQuery{MSP: true}); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("owner reads MSP ratings: %v", err)
		}
		if _, err := w.srv.ComplianceRatings(w.ownerB, server.RatingQuery{ClientID: &w.a.ID}); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("B's owner reads A's ratings: %v", err)
		}
		if _, err := w.srv.ComplianceGroupAssets(w.ownerB, compliance.GroupKey{Client: w.a.ID, Dim: compliance.DimAll}); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("B's owner drills into A: %v", err)
		}
		if _, err := w.srv.AssetCompliance(w.ownerB, w.core.ID, nil); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("B's owner reads A's asset: %v", err)
		}
	})

	t.Run("Monitors", func(t *testing.T) {
		w.installs.failed = map[patch.AssetID][]compliance.FailedInstall{
			w.core.ID: {{FindingID: "fnd_x", UpdateID: "upd_x", Title: "KB5001", Attempts: 3, At: w.clock.Now(), Error: "0x80070643"}}}
		res, err := w.srv.EvaluateAssetCompliance(w.admin, w.core.ID)
		must(t, err)
		if len(res.Changed) != len(patch.MonitorKinds) {
			t.Fatalf("first evaluation saved %d monitors", len(res.Changed))
		}
		ms, err := w.srv.ClientMonitors(w.ownerA, w.a.ID)
		must(t, err)
		// Managed assets only, worst first; ws-1 has not been evaluated yet.
		if len(ms) != 2 || ms[0].AssetID != w.core.ID || ms[0].Worst != patch.MonitorCritical || ms[1].Worst != patch.MonitorUnknown {
			t.Fatalf("client monitors = %+v", ms)
		}
		st := map[patch.MonitorKind]patch.MonitorStatus{}
		for _, m := range ms[0].Monitors {
			st[m.Kind] = m.Status
		}
		want := map[patch.MonitorKind]patch.MonitorStatus{
			patch.MonitorUpdatesFailed: patch.MonitorCritical, patch.MonitorUpdatesInstalled: patch.MonitorOK,
			patch.MonitorMissingServicePack: patch.MonitorOK, patch.MonitorUpdatesOutOfDate: patch.MonitorCritical,
			patch.MonitorNotServiceable: patch.MonitorOK, patch.MonitorAgentOffline: patch.MonitorOK,
		}
		for k, s := range want {
			if st[k] != s {
				t.Errorf("%s = %s, want %s", k, st[k], s)
			}
		}
		open := true
		alerts, _, err := w.srv.Alerts(w.admin, patch.AlertFilter{ClientID: &w.a.ID, Open: &open})
		must(t, err)
		if len(alerts) != 2 {
			t.Fatalf("open alerts = %+v", alerts)
		}
		// Again: nothing changed, nothing raised.
		res, err = w.srv.EvaluateAssetCompliance(w.admin, w.core.ID)
		must(t, err)
		if len(res.Changed) != 0 {
			t.Errorf("second evaluation changed %+v", res.Changed)
		}
		// A baseline above dc-1's build: Missing Service Pack warns.
		_, err = w.srv.SetOSBaselines(w.admin, w.a.ID, []patch.OSBaseline{{Family: patch.OSWindows, Match: "Server 2022", MinVersion: "10.0.20348.3000"}})
		must(t, err)
		ms, err = w.srv.ClientMonitors(w.admin, w.a.ID)
		must(t, err)
		for _, m := range ms[0].Monitors {
			if m.Kind == patch.MonitorMissingServicePack && m.Status != patch.MonitorWarning {
				t.Errorf("missing service pack = %+v", m)
			}
		}
		if _, err := w.srv.SetOSBaselines(w.ownerA, w.a.ID, nil); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("owner sets baselines: %v", err)
		}
		// The failure is remediated: the monitor recovers and resolves its alert.
		w.installs.failed = nil
		_, err = w.srv.EvaluateAssetCompliance(w.admin, w.core.ID)
		must(t, err)
		alerts, _, err = w.srv.Alerts(w.admin, patch.AlertFilter{ClientID: &w.a.ID, Kind: patchtest.Ptr(string(patch.MonitorUpdatesFailed))})
		must(t, err)
		if len(alerts) != 1 || alerts[0].ResolvedAt.IsZero() {
			t.Errorf("failed alerts = %+v", alerts)
		}
		evs, _, err := w.srv.MonitorEvents(w.ownerA, patch.MonitorEventFilter{AssetID: &w.core.ID, Kind: patchtest.Ptr(patch.MonitorUpdatesFailed)})
		must(t, err)
		if len(evs) != 2 || evs[0].To != patch.MonitorOK || evs[1].To != patch.MonitorCritical {
			t.Errorf("failed events = %+v", evs)
		}
	})

	t.Run("CheckInIsIncremental", func(t *testing.T) {
		// 4 Nov 07:00: dc-1 installs KB5001 (late); one check-in re-rates it.
		w.clock.Advance(time.Hour)
		w.scan(t, w.core)
		_, err := w.srv.EvaluateAsset(w.admin, w.core.ID)
		must(t, err)
		_, err = w.srv.EvaluateAssetCompliance(w.admin, w.core.ID)
		must(t, err)
		v, err := w.srv.ComplianceRatings(w.admin, server.RatingQuery{ClientID: &w.a.ID})
		must(t, err)
		if r := ratingOf(t, v.Ratings, w.a.ID, compliance.DimAll, ""); pct(r.RatingPct) != 100 || r.Findings.Installed != 1 {
			t.Errorf("after the install: %+v", r)
		}
	})

	t.Run("SnapshotsAndHistory", func(t *testing.T) {
		// Back to a fresh end-of-day view: 6 Nov 06:00, snapshot the last 4 days.
		w.clock.Advance(47 * time.Hour)
		res, err := w.srv.BackfillSnapshots(w.admin, 4, false)
		must(t, err)
		if len(res.Taken) != 4 || res.Taken[0] != "2026-11-02" {
			t.Fatalf("backfill = %+v", res)
		}
		res, err = w.srv.BackfillSnapshots(w.admin, 4, false)
		must(t, err)
		if len(res.Taken) != 0 || len(res.Skipped) != 4 {
			t.Errorf("second backfill = %+v", res)
		}
		if _, err := w.srv.BackfillSnapshots(w.ownerA, 4, false); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("owner backfills: %v", err)
		}
		h, err := w.srv.ComplianceHistory(w.ownerA, server.HistoryQuery{ClientID: &w.a.ID, Dim: compliance.DimClass, Key: patch.ClassCoreServer, From: "2026-11-02"})
		must(t, err)
		// End of 2 Nov: KB5001 due 3 Nov 06:00, nothing owed: 100. End of
		// 3 Nov: overdue: 0. 4 and 5 Nov: installed: 100. Today (live): 100.
		var got []float64
		for _, d := range h.Days {
			got = append(got, pct(d.RatingPct))
		}
		if len(got) != 5 || got[0] != 100 || got[1] != 0 || got[2] != 100 || got[3] != 100 || got[4] != 100 {
			t.Fatalf("history = %v", got)
		}
		if pct(h.Average.RatingPct) != 80 || *h.Average.Met || h.Average.Days != 5 || h.Average.DaysMet != 4 {
			t.Errorf("average = %+v", h.Average)
		}
		ads, n, err := w.srv.HistoryAssets(w.ownerA, w.a.ID, "2026-11-03", compliance.DimClass, patch.ClassCoreServer, 0, 0)
		must(t, err)
		if n != 1 || ads[0].AssetID != w.core.ID || ads[0].Findings.Missing != 1 {
			t.Fatalf("3 Nov core assets = %+v", ads)
		}
		day := patch.Day("2026-11-03")
		v, err := w.srv.AssetCompliance(w.ownerA, w.core.ID, &day)
		must(t, err)
		if v.MatchesSnapshot == nil || !*v.MatchesSnapshot || len(v.Findings) != 1 || v.Findings[0].Category != compliance.Missing {
			t.Errorf("dc-1 on 3 Nov = %+v", v)
		}
		if _, err := w.srv.ComplianceHistory(w.ownerA, server.HistoryQuery{}); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("owner reads MSP history: %v", err)
		}
		if _, err := w.srv.TakeSnapshots(w.admin, []patch.Day{patch.DayOf(w.clock.Now())}); patch.ErrorField(err) != "day" {
			t.Errorf("snapshot of today: %v", err)
		}
	})

	t.Run("MetricsAndScorecard", func(t *testing.T) {
		w.installs.counts = []compliance.InstallCount{{ClientID: w.a.ID, Ring: "pilot", Succeeded: 9, Failed: 1}, {ClientID: w.b.ID, Ring: "production", Succeeded: 10}}
		m, err := w.srv.ComplianceMetrics(w.ownerA, &w.a.ID, compliance.Span{})
		must(t, err)
		// Deadlines passed in November: KB5001 (missed, fixed a day late),
		// KB5002 (met), KB5003 (missed, still open).
		if a := m.SLAAttainment[0]; a.Met != 1 || a.Missed != 2 || pct(a.AttainmentPct) != 33.33 {
			t.Errorf("attainment = %+v", a)
		}
		if r := m.TimeToRemediate[0]; r.Count != 2 || pct(r.MedianHours) != 48 || pct(r.P90Hours) != 49 {
			t.Errorf("time to remediate = %+v", r)
		}
		if m.InstallSource != "rollouts" || pct(m.FailureRates[0].RatePct) != 10 || m.Tickets.Total != 3 {
			t.Errorf("failure rates %+v, tickets %+v", m.FailureRates, m.Tickets)
		}
		missed := "missed"
		fs, n, err := w.srv.MetricFindings(w.ownerA, w.a.ID, server.MetricSLA, nil, &missed, compliance.Span{}, 0, 0)
		must(t, err)
		if n != 2 || fs[0].Title == "" || fs[0].Outcome != "missed" {
			t.Errorf("missed findings = %d %+v", n, fs)
		}
		if _, err := w.srv.ComplianceMetrics(w.ownerA, nil, compliance.Span{}); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("owner reads MSP metrics: %v", err)
		}
		sc, err := w.srv.Scorecard(w.admin)
		must(t, err)
		if len(sc.Rows) != 3 || sc.Rows[0].ClientID != "" || sc.Week != "2026-11-02" {
			t.Fatalf("scorecard = %+v", sc)
		}
		var rowA compliance.ScorecardRow
		for _, r := range sc.Rows {
			if r.ClientID == w.a.ID {
				rowA = r
			}
		}
		if rowA.ClientID != w.a.ID || rowA.ThisWeek.CompliancePct == nil || rowA.ThisWeek.Installs != 10 || rowA.ThisWeek.Tickets != 3 {
			t.Errorf("scorecard row = %+v", rowA)
		}
		var buf bytes.Buffer
		must(t, sc.WriteCSV(&buf))
		if lines := strings.Count(buf.String(), "\n"); lines != 7 {
			t.Errorf("CSV has %d lines:\n%s", lines, buf.String())
		}
		own, err := w.srv.Scorecard(w.ownerB)
		must(t, err)
		if len(own.Rows) != 1 || own.Rows[0].ClientID != w.b.ID {
			t.Errorf("B's scorecard = %+v", own.Rows)
		}
		rep, err := w.srv.ClientCompliance(w.ownerA, w.a.ID)
		must(t, err)
		if len(rep.ByOS) == 0 || len(rep.ByTier) == 0 || len(rep.CoverageGaps) != 1 || rep.CoverageGaps[0].AssetID != w.prn.ID || len(rep.MonthToDate) == 0 {
			t.Errorf("client report = %+v", rep)
		}
	})
}

// BenchmarkEvaluateAssetCompliance is one check-in's compliance work on
// SQLite: read one asset's facts (50 findings), re-rate it in the index
// and evaluate its six monitors (unchanged, so nothing is written).
func BenchmarkEvaluateAssetCompliance(b *testing.B) {
	w := newComplianceWorld(b)
	var missing []patch.ScannedUpdate
	for i := range 50 {
		u := w.wsKB
		u.VendorID, u.Package = fmt.Sprintf("KB%d.1", 6000+i), fmt.Sprintf("KB%d", 6000+i)
		missing = append(missing, u)
	}
	_, err := w.db.RecordScan(w.admin, patch.ScanResult{AssetID: w.ws.ID, At: w.clock.Now(), Sources: []patch.UpdateSource{"wua"}, Missing: missing})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.srv.EvaluateClient(w.admin, w.a.ID); err != nil {
		b.Fatal(err)
	}
	if err := w.srv.RecomputeCompliance(w.admin); err != nil {
		b.Fatal(err)
	}
	if _, err := w.srv.EvaluateAssetCompliance(w.admin, w.ws.ID); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := w.srv.EvaluateAssetCompliance(w.admin, w.ws.ID); err != nil {
			b.Fatal(err)
		}
	}
}
