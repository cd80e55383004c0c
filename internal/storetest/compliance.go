package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testCompliance(t *testing.T, open Opener) {
	t.Run("Baselines", func(t *testing.T) { testBaselines(t, open) })
	t.Run("Facts", func(t *testing.T) { testComplianceFacts(t, open) })
	t.Run("Monitors", func(t *testing.T) { testMonitors(t, open) })
	t.Run("Snapshots", func(t *testing.T) { testSnapshots(t, open) })
}

func testBaselines(t *testing.T, open Opener) {
	f := newFixture(t, open)
	bs, err := f.db.FindOSBaselines(f.admin, f.a.ID)
	must(t, err)
	if len(bs) != 0 {
		t.Fatalf("new client has baselines %+v", bs)
	}
	want := []patch.OSBaseline{
		{Family: patch.OSWindows, MinVersion: "10.0.19045", Note: "22H2"},
		{Family: patch.OSWindows, Match: "Server", MinVersion: "10.0.17763"},
		{Family: patch.OSLinux, Match: "Ubuntu", MinVersion: "22.04"},
	}
	must(t, f.db.SetOSBaselines(f.ownA, f.a.ID, want))
	got, err := f.db.FindOSBaselines(f.ownA, f.a.ID)
	must(t, err)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("baselines (-want +got):\n%s", d)
	}
	es, _, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("compliance.baselines")})
	must(t, err)
	if len(es) != 1 || es[0].ClientID != f.a.ID {
		t.Errorf("audit = %+v", es)
	}
	wantField(t, f.db.SetOSBaselines(f.admin, f.a.ID, []patch.OSBaseline{{Family: patch.OSWindows, MinVersion: "x"}}), patch.KindInvalid, "baselines[0].min_version")
	wantField(t, f.db.SetOSBaselines(f.admin, f.a.ID, append(want, want[0])), patch.KindInvalid, "baselines[3].match")
	// Tenant isolation: B's owner can neither read nor replace A's.
	_, err = f.db.FindOSBaselines(f.ownB, f.a.ID)
	wantKind(t, err, patch.KindNotFound)
	wantKind(t, f.db.SetOSBaselines(f.ownB, f.a.ID, nil), patch.KindNotFound)
	got, _ = f.db.FindOSBaselines(f.admin, f.a.ID)
	if len(got) != 3 {
		t.Errorf("B changed A's baselines: %+v", got)
	}
	// Clearing works, and a client with baselines can be deleted.
	must(t, f.db.SetOSBaselines(f.admin, f.a.ID, nil))
	must(t, f.db.SetOSBaselines(f.admin, f.b.ID, want))
	must(t, f.db.DeleteClient(f.admin, f.b.ID))
}

func testComplianceFacts(t *testing.T, open Opener) {
	f := newFixture(t, open)
	clock := patchtest.NewClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	a1 := patchtest.Asset(f.a.ID, "ws-1")
	a2 := patchtest.Asset(f.a.ID, "srv-1", patchtest.Linux)
	b1 := patchtest.Asset(f.b.ID, "ws-9")
	for _, a := range []*patch.Asset{a1, a2, b1} {
		must(t, f.db.CreateAsset(f.admin, a))
	}
	apt := []patch.UpdateSource{"apt"}
	scan := func(a *patch.Asset, at time.Time, missing ...patch.ScannedUpdate) {
		t.Helper()
		_, err := f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a.ID, At: at, Sources: apt, Missing: missing})
		must(t, err)
	}
	scan(a2, clock.Now(), aptUpdate("openssl", "3.0.15-1"), aptUpdate("curl", "7.88.1"))
	scan(a2, clock.Now().Add(24*time.Hour), aptUpdate("curl", "7.88.1")) // openssl verified on 2 Nov
	scan(a2, clock.Now().Add(20*24*time.Hour), aptUpdate("curl", "7.88.1"), aptUpdate("zlib", "1.3"))
	_, err := f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a2.ID, At: clock.Now().Add(21 * 24 * time.Hour), Failed: map[patch.UpdateSource]string{"winget": "boom"}})
	must(t, err)
	scan(b1, clock.Now(), aptUpdate("openssl", "3.0.15-1"))

	facts, err := f.db.FindComplianceFacts(f.admin, patch.ComplianceFactFilter{ClientID: &f.a.ID})
	must(t, err)
	if len(facts) != 2 {
		t.Fatalf("facts of A = %d assets, want 2", len(facts))
	}
	byHost := map[string]*patch.ComplianceFacts{}
	for _, cf := range facts {
		byHost[cf.Asset.Hostname] = cf
	}
	srv := byHost["srv-1"]
	if len(srv.Findings) != 3 || len(srv.Scans) != 2 || len(byHost["ws-1"].Findings) != 0 {
		t.Fatalf("srv-1 facts: %d findings, %d scan sources; ws-1 %d findings", len(srv.Findings), len(srv.Scans), len(byHost["ws-1"].Findings))
	}
	// Since leaves out findings resolved (and due) before it.
	facts, err = f.db.FindComplianceFacts(f.admin, patch.ComplianceFactFilter{AssetID: &a2.ID, Since: clock.Now().Add(10 * 24 * time.Hour)})
	must(t, err)
	if len(facts) != 1 || len(facts[0].Findings) != 2 {
		t.Fatalf("facts since 11 Nov = %+v, want the two open findings", facts)
	}
	// Tenant isolation: B's owner sees only B's asset, even when asking for A.
	facts, err = f.db.FindComplianceFacts(f.ownB, patch.ComplianceFactFilter{})
	must(t, err)
	if len(facts) != 1 || facts[0].Asset.ID != b1.ID || len(facts[0].Findings) != 1 {
		t.Errorf("B's owner sees %+v", facts)
	}
	facts, err = f.db.FindComplianceFacts(f.ownB, patch.ComplianceFactFilter{ClientID: &f.a.ID})
	must(t, err)
	if len(facts) != 0 {
		t.Errorf("B's owner sees A's facts: %+v", facts)
	}
}

func monitorState(a *patch.Asset, kind patch.MonitorKind, status patch.MonitorStatus, at time.Time) patch.MonitorState {
	return patch.MonitorState{AssetID: a.ID, ClientID: a.ClientID, Kind: kind, Status: status, Since: at, Summary: string(status),
		Details: map[string]string{"k": "v"}, EvaluatedAt: at, Changes: []time.Time{at}}
}

func testMonitors(t *testing.T, open Opener) {
	f := newFixture(t, open)
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a := patchtest.Asset(f.a.ID, "ws-1")
	b := patchtest.Asset(f.b.ID, "ws-9")
	must(t, f.db.CreateAsset(f.admin, a))
	must(t, f.db.CreateAsset(f.admin, b))
	alert := func(st patch.MonitorState, sev, msg string) *patch.Alert {
		return &patch.Alert{ClientID: st.ClientID, Kind: string(st.Kind), Severity: sev, SubjectType: "asset", SubjectID: string(st.AssetID), Message: msg}
	}
	openAlerts := func() []*patch.Alert {
		t.Helper()
		as, _, err := f.db.FindAlerts(f.admin, patch.AlertFilter{ClientID: &f.a.ID, Open: patchtest.Ptr(true)})
		must(t, err)
		return as
	}

	// First evaluation: two monitors, one raising an alert.
	off := monitorState(a, patch.MonitorAgentOffline, patch.MonitorWarning, at)
	inst := monitorState(a, patch.MonitorUpdatesInstalled, patch.MonitorOK, at)
	sts, err := f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{
		{State: off, Event: &patch.MonitorEvent{At: at, To: patch.MonitorWarning, Summary: "offline"}, Action: patch.AlertRaise, Alert: alert(off, patch.AlertWarning, "ws-1 offline")},
		{State: inst, Event: &patch.MonitorEvent{At: at, To: patch.MonitorOK, Summary: "ok"}},
	})
	must(t, err)
	if len(sts) != 2 || sts[0].Version != 1 || sts[0].AlertID == "" || sts[1].AlertID != "" {
		t.Fatalf("saved states = %+v", sts)
	}
	off = *sts[0]
	if as := openAlerts(); len(as) != 1 || as[0].ID != off.AlertID || as[0].Kind != string(patch.MonitorAgentOffline) || as[0].Severity != patch.AlertWarning {
		t.Fatalf("open alerts = %+v", as)
	}
	got, n, err := f.db.FindMonitorStates(f.ownA, patch.MonitorFilter{AssetID: &a.ID})
	must(t, err)
	want := sts
	if n != 2 || len(got) != 2 {
		t.Fatalf("states = %d %+v", n, got)
	}
	for i := range got {
		if d := cmp.Diff(want[i], got[i]); d != "" {
			t.Errorf("stored state (-saved +read):\n%s", d)
		}
	}

	t.Run("StaleVersionConflicts", func(t *testing.T) {
		stale := inst
		stale.Summary = "stale"
		_, err := f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: stale}}) // Version 0 again: exists
		wantKind(t, err, patch.KindConflict)
		stale.Version = 7
		_, err = f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: stale}})
		wantKind(t, err, patch.KindConflict)
	})
	t.Run("RaiseIsDeduplicatedEscalateResolve", func(t *testing.T) {
		// Raising again while the alert is open keeps the one alert.
		off.Status = patch.MonitorCritical
		sts, err := f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: off, Action: patch.AlertRaise, Alert: alert(off, patch.AlertCritical, "again")}})
		must(t, err)
		off = *sts[0]
		as := openAlerts()
		if len(as) != 1 || as[0].ID != off.AlertID {
			t.Fatalf("after a second raise: %+v (state alert %s)", as, off.AlertID)
		}
		sts, err = f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: off, Action: patch.AlertEscalate, Alert: alert(off, patch.AlertCritical, "ws-1 offline for a week")}})
		must(t, err)
		off = *sts[0]
		if as := openAlerts(); len(as) != 1 || as[0].Severity != patch.AlertCritical || as[0].Message != "ws-1 offline for a week" {
			t.Fatalf("after escalate: %+v", as)
		}
		off.Status = patch.MonitorOK
		sts, err = f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: off, Event: &patch.MonitorEvent{At: at.Add(time.Hour), From: patch.MonitorCritical, To: patch.MonitorOK}, Action: patch.AlertResolve}})
		must(t, err)
		off = *sts[0]
		if as := openAlerts(); len(as) != 0 || off.AlertID != "" || off.Version != 4 {
			t.Fatalf("after resolve: %+v, state %+v", as, off)
		}
		all, _, err := f.db.FindAlerts(f.admin, patch.AlertFilter{ClientID: &f.a.ID})
		must(t, err)
		if len(all) != 1 || all[0].ResolvedAt.IsZero() {
			t.Errorf("alerts = %+v", all)
		}
	})
	t.Run("Events", func(t *testing.T) {
		es, n, err := f.db.FindMonitorEvents(f.ownA, patch.MonitorEventFilter{AssetID: &a.ID})
		must(t, err)
		if n != 3 || es[0].To != patch.MonitorOK || es[0].From != patch.MonitorCritical || es[0].ClientID != f.a.ID || es[1].AlertID == "" && es[2].AlertID == "" {
			t.Errorf("events = %d %+v", n, es)
		}
		kind := patch.MonitorAgentOffline
		es, n, err = f.db.FindMonitorEvents(f.admin, patch.MonitorEventFilter{Kind: &kind, Since: &at})
		must(t, err)
		if n != 2 || len(es) != 2 || es[0].Kind != kind {
			t.Errorf("offline events since = %d %+v", n, es)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		st := monitorState(a, patch.MonitorAgentOffline, patch.MonitorOK, at)
		_, err := f.db.SaveMonitors(f.ownB, a.ID, []patch.MonitorChange{{State: st}})
		wantKind(t, err, patch.KindNotFound)
		// A state of another client's asset cannot ride along.
		bs := monitorState(b, patch.MonitorAgentOffline, patch.MonitorOK, at)
		_, err = f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: bs}})
		wantKind(t, err, patch.KindInvalid)
		ss, n, err := f.db.FindMonitorStates(f.ownB, patch.MonitorFilter{})
		must(t, err)
		if n != 0 || len(ss) != 0 {
			t.Errorf("B sees %d states", n)
		}
		es, _, err := f.db.FindMonitorEvents(f.ownB, patch.MonitorEventFilter{AssetID: &a.ID})
		must(t, err)
		if len(es) != 0 {
			t.Errorf("B sees A's events")
		}
	})
	t.Run("DeleteAsset", func(t *testing.T) {
		must(t, f.db.DeleteAsset(f.admin, a.ID))
		ss, _, err := f.db.FindMonitorStates(f.admin, patch.MonitorFilter{AssetID: &a.ID})
		must(t, err)
		if len(ss) != 0 {
			t.Errorf("states survive their asset: %+v", ss)
		}
	})
}

func testSnapshots(t *testing.T, open Opener) {
	f := newFixture(t, open)
	day := patch.Day("2026-11-20")
	pct := func(v float64) *float64 { return &v }
	yes := true
	row := func(c patch.ClientID, dim, key string, r float64) *patch.RatingSnapshot {
		return &patch.RatingSnapshot{Day: day, ClientID: c, Dim: dim, Key: key, RatingPct: pct(r), StrictPct: pct(r - 1), TargetPct: pct(92), Met: &yes,
			Assets: 3, Rated: 2, Compliant: 1, Findings: patch.FindingCounts{Installed: 9, Missing: 1, Excepted: 2}, Gaps: map[string]int{"stale_scan": 1}}
	}
	groups := []*patch.RatingSnapshot{row("", "all", "", 94.5), row(f.a.ID, "all", "", 93.25), row(f.a.ID, "os", "windows", 90),
		row(f.b.ID, "all", "", 99), {Day: day, ClientID: f.b.ID, Dim: "os", Key: "linux", Assets: 1, Gaps: map[string]int{"never_scanned": 1}}}
	assets := []*patch.AssetDay{
		{Day: day, ClientID: f.a.ID, AssetID: "ast_1", Hostname: "ws-1", OS: patch.OSWindows, Class: "workstation", Kind: patch.ClassKindWorkstation,
			Rated: true, RatingPct: pct(90), StrictPct: pct(80), TargetPct: 92, Findings: patch.FindingCounts{Installed: 9, Missing: 1},
			Tiers: map[string]patch.FindingCounts{"high": {Installed: 9, Missing: 1}}, Gaps: []string{}},
		{Day: day, ClientID: f.a.ID, AssetID: "ast_2", Hostname: "ws-2", OS: patch.OSLinux, Class: "workstation", Kind: patch.ClassKindWorkstation,
			TargetPct: 92, Tiers: map[string]patch.FindingCounts{}, Gaps: []string{"never_scanned"}},
		{Day: day, ClientID: f.b.ID, AssetID: "ast_3", Hostname: "ws-9", OS: patch.OSWindows, Class: "workstation", Kind: patch.ClassKindWorkstation,
			Rated: true, RatingPct: pct(99), StrictPct: pct(99), TargetPct: 92, Tiers: map[string]patch.FindingCounts{}, Gaps: []string{}},
	}
	wantKind(t, f.db.SaveSnapshot(f.ownA, day, groups, assets), patch.KindForbidden)
	must(t, f.db.SaveSnapshot(f.admin, day, groups, assets))
	// Retaking the day replaces it.
	must(t, f.db.SaveSnapshot(f.admin, day, groups, assets))
	must(t, f.db.SaveSnapshot(f.admin, day.Add(1), []*patch.RatingSnapshot{{Day: day.Add(1), ClientID: f.a.ID, Dim: "all", RatingPct: pct(95)}}, nil))
	wantField(t, f.db.SaveSnapshot(f.admin, "2026-13-01", nil, nil), patch.KindInvalid, "day")
	wantField(t, f.db.SaveSnapshot(f.admin, day, []*patch.RatingSnapshot{{Day: day.Add(1)}}, nil), patch.KindInvalid, "day")

	days, err := f.db.SnapshotDays(f.admin, "2026-11-01", "2026-11-30")
	must(t, err)
	if d := cmp.Diff([]patch.Day{day, day.Add(1)}, days); d != "" {
		t.Errorf("days (-want +got):\n%s", d)
	}
	all, err := f.db.FindSnapshots(f.admin, patch.SnapshotFilter{To: day})
	must(t, err)
	if len(all) != len(groups) {
		t.Fatalf("snapshots = %d rows, want %d", len(all), len(groups))
	}
	for i, g := range all {
		want := *groups[sortedIndex(groups, g)]
		want.TakenAt = g.TakenAt
		if d := cmp.Diff(&want, g); d != "" {
			t.Errorf("row %d (-want +got):\n%s", i, d)
		}
	}
	msp, err := f.db.FindSnapshots(f.admin, patch.SnapshotFilter{MSP: true})
	must(t, err)
	if len(msp) != 1 || msp[0].ClientID != "" || *msp[0].RatingPct != 94.5 {
		t.Errorf("MSP rows = %+v", msp)
	}
	hist, err := f.db.FindSnapshots(f.ownA, patch.SnapshotFilter{ClientID: &f.a.ID, Dim: patchtest.Ptr("all")})
	must(t, err)
	if len(hist) != 2 || *hist[0].RatingPct != 93.25 || *hist[1].RatingPct != 95 {
		t.Errorf("A's history = %+v", hist)
	}
	ads, n, err := f.db.FindAssetDays(f.admin, patch.AssetDayFilter{ClientID: &f.a.ID, Day: &day})
	must(t, err)
	if n != 2 || ads[0].Hostname != "ws-1" || ads[0].Tiers["high"].Missing != 1 || ads[1].RatingPct != nil || ads[1].Gaps[0] != "never_scanned" {
		t.Errorf("asset days = %d %+v", n, ads)
	}
	_, n, err = f.db.FindAssetDays(f.admin, patch.AssetDayFilter{OS: patchtest.Ptr(patch.OSWindows), RatedOnly: true})
	must(t, err)
	if n != 2 {
		t.Errorf("rated windows asset days = %d, want 2", n)
	}

	t.Run("TenantIsolation", func(t *testing.T) {
		rows, err := f.db.FindSnapshots(f.ownB, patch.SnapshotFilter{})
		must(t, err)
		for _, r := range rows {
			if r.ClientID != f.b.ID {
				t.Errorf("B sees row of %q", r.ClientID)
			}
		}
		if len(rows) != 2 {
			t.Errorf("B sees %d rows, want its 2", len(rows))
		}
		rows, err = f.db.FindSnapshots(f.ownB, patch.SnapshotFilter{ClientID: &f.a.ID})
		must(t, err)
		if len(rows) != 0 {
			t.Errorf("B sees A's rows")
		}
		_, err = f.db.FindSnapshots(f.ownB, patch.SnapshotFilter{MSP: true})
		wantKind(t, err, patch.KindForbidden)
		ads, _, err := f.db.FindAssetDays(f.ownB, patch.AssetDayFilter{})
		must(t, err)
		if len(ads) != 1 || ads[0].ClientID != f.b.ID {
			t.Errorf("B sees asset days %+v", ads)
		}
	})
	t.Run("Audit", func(t *testing.T) {
		es, _, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("compliance.snapshot")})
		must(t, err)
		if len(es) != 3 {
			t.Errorf("snapshot audit entries = %d, want 3", len(es))
		}
	})
	t.Run("DeleteClient", func(t *testing.T) {
		must(t, f.db.DeleteClient(f.admin, f.b.ID))
		rows, err := f.db.FindSnapshots(f.admin, patch.SnapshotFilter{})
		must(t, err)
		for _, r := range rows {
			if r.ClientID == f.b.ID {
				t.Errorf("deleted client's row remains: %+v", r)
			}
		}
		_, n, err := f.db.FindAssetDays(f.admin, patch.AssetDayFilter{})
		must(t, err)
		if n != 2 {
			t.Errorf("asset days after deleting B = %d, want A's 2", n)
		}
	})
}

// sortedIndex finds the saved row a read row came from.
func sortedIndex(groups []*patch.RatingSnapshot, g *patch.RatingSnapshot) int {
	for i, w := range groups {
		if w.ClientID == g.ClientID && w.Dim == g.Dim && w.Key == g.Key && w.Day == g.Day {
			return i
		}
	}
	return -1
}
