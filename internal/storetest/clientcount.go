package storetest

import (
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

// testClientCounts checks the grouped attention numbers of the overview:
// each equals the rows its list would show, and a client-scoped caller
// counts only its own client.
func testClientCounts(t *testing.T, open Opener) {
	f := newFixture(t, open)
	clock := patchtest.NewClock(time.Time{})
	f.db.Now = clock.Now
	now := clock.Now()
	a1, a2 := patchtest.Asset(f.a.ID, "ws-1"), patchtest.Asset(f.a.ID, "ws-2")
	b1 := patchtest.Asset(f.b.ID, "ws-b")
	for _, a := range []*patch.Asset{a1, a2, b1} {
		must(t, f.db.CreateAsset(f.admin, a))
	}

	// Findings: A has two breached and one due soon (one breached is
	// resolved later and must drop out), B one breached.
	apt := []patch.UpdateSource{"apt"}
	scan := func(a *patch.Asset, pkgs ...string) {
		t.Helper()
		var missing []patch.ScannedUpdate
		for _, p := range pkgs {
			missing = append(missing, aptUpdate(p, "2.0"))
		}
		_, err := f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a.ID, At: clock.Now(), Sources: apt, Missing: missing})
		must(t, err)
	}
	scan(a1, "openssl", "curl", "zlib")
	scan(a2, "openssl")
	scan(b1, "openssl")
	st := patch.FindingOpen
	fs, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{State: &st})
	must(t, err)
	// ws-1's first finding is due soon, every other finding breached.
	want := map[patch.ClientID]*patch.ClientCounts{f.a.ID: {ClientID: f.a.ID}, f.b.ID: {ClientID: f.b.ID}}
	var evs []patch.FindingEvaluation
	dueSoon := false
	for _, fd := range fs {
		status := patch.SLABreached
		if fd.AssetID == a1.ID && !dueSoon {
			status, dueSoon = patch.SLADueSoon, true
			want[fd.ClientID].SLADueSoon++
		} else {
			want[fd.ClientID].SLABreached++
		}
		evs = append(evs, patch.FindingEvaluation{FindingID: fd.ID, State: patch.FindingOpen, Tier: "high", Approval: patch.ApprovalApproved,
			DueAt: now, SLAStatus: status})
	}
	_, err = f.db.SaveEvaluations(f.admin, evs)
	must(t, err)
	if want[f.a.ID].SLABreached != 3 || want[f.a.ID].SLADueSoon != 1 || want[f.b.ID].SLABreached != 1 {
		t.Fatalf("fixture: %+v %+v", want[f.a.ID], want[f.b.ID])
	}
	// A scan of ws-2 without openssl resolves its finding: no longer counted.
	_, err = f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a2.ID, At: clock.Now().Add(time.Hour), Sources: apt})
	must(t, err)
	want[f.a.ID].SLABreached--

	// Monitors: ws-1 fails updates (critical) and is offline (warning);
	// ws-2 is offline but OK on updates; B's asset is offline.
	save := func(a *patch.Asset, kind patch.MonitorKind, status patch.MonitorStatus) {
		t.Helper()
		_, err := f.db.SaveMonitors(f.admin, a.ID, []patch.MonitorChange{{State: monitorState(a, kind, status, now)}})
		must(t, err)
	}
	save(a1, patch.MonitorUpdatesFailed, patch.MonitorCritical)
	save(a1, patch.MonitorAgentOffline, patch.MonitorWarning)
	save(a2, patch.MonitorUpdatesFailed, patch.MonitorOK)
	save(a2, patch.MonitorAgentOffline, patch.MonitorCritical)
	save(b1, patch.MonitorAgentOffline, patch.MonitorUnknown)
	want[f.a.ID].FailedUpdates, want[f.a.ID].AgentsOffline = 1, 2

	// Cycles: A has one halted and one running, B one completed.
	cycle := func(client patch.ClientID, state patch.CycleState) {
		t.Helper()
		c := &patch.Cycle{ID: patch.CycleID(patch.NewID(patch.PrefixCycle, clock.Now())), ClientID: client, Kind: patch.CycleMonthly,
			Name: "November " + string(state), State: state, Rings: []patch.CycleRing{{Key: "all", Name: "All", State: patch.RingDeploying}}}
		must(t, f.db.CreateCycle(f.admin, c, nil, nil))
	}
	cycle(f.a.ID, patch.CycleHalted)
	cycle(f.a.ID, patch.CycleRunning)
	cycle(f.b.ID, patch.CycleCompleted)
	want[f.a.ID].HaltedCycles, want[f.a.ID].RunningCycles = 1, 1

	// Exceptions: A has one active expiring in 10 days, one approved
	// expiring in 60 days, one requested and one expired; B one active
	// expiring in 5 days.
	exception := func(client patch.ClientID, asset patch.AssetID, state patch.ExceptionState, expires time.Duration) {
		t.Helper()
		x := &patch.Exception{ID: patch.ExceptionID(patch.NewID(patch.PrefixException, clock.Now())), ClientID: client, Lane: patch.LaneStandard,
			State: state, Scope: patch.ExceptionScope{AssetIDs: []patch.AssetID{asset}, AllUpdates: true}, Reason: "vendor certification",
			TicketRef: "PSA-1", RequestedBy: patch.Actor{Kind: patch.ActorUser, Name: "tech"}, RequestedAt: now, ExpiresAt: now.Add(expires), UpdatedAt: now}
		must(t, f.db.CreateException(f.admin, x))
	}
	day := 24 * time.Hour
	exception(f.a.ID, a1.ID, patch.ExceptionActive, 10*day)
	exception(f.a.ID, a1.ID, patch.ExceptionApproved, 60*day)
	exception(f.a.ID, a2.ID, patch.ExceptionRequested, 20*day)
	exception(f.a.ID, a2.ID, patch.ExceptionExpired, 2*day)
	exception(f.b.ID, b1.ID, patch.ExceptionActive, 5*day)
	want[f.a.ID].ExpiringExceptions, want[f.a.ID].AwaitingSignOff = 1, 1
	want[f.b.ID].ExpiringExceptions = 1

	check := func(name string, got []patch.ClientCounts, want ...*patch.ClientCounts) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: CountByClient = %+v, want %d rows", name, got, len(want))
			return
		}
		for i := range want {
			if got[i] != *want[i] {
				t.Errorf("%s: CountByClient[%d] = %+v, want %+v", name, i, got[i], *want[i])
			}
		}
	}
	f30 := patch.ClientCountFilter{ExpiringBefore: now.Add(30 * day)}
	got, err := f.db.CountByClient(f.admin, f30)
	must(t, err)
	first, second := want[f.a.ID], want[f.b.ID]
	if f.b.ID < f.a.ID {
		first, second = second, first
	}
	check("all clients", got, first, second)

	onlyA := f30
	onlyA.ClientID = &f.a.ID
	got, err = f.db.CountByClient(f.admin, onlyA)
	must(t, err)
	check("client A", got, want[f.a.ID])

	// Without an expiry bound nothing is expiring.
	got, err = f.db.CountByClient(f.admin, patch.ClientCountFilter{ClientID: &f.b.ID})
	must(t, err)
	noExpiry := *want[f.b.ID]
	noExpiry.ExpiringExceptions = 0
	check("client B without bound", got, &noExpiry)

	// Tenant isolation: B's owner counts only B, even when asking for A.
	got, err = f.db.CountByClient(f.ownB, f30)
	must(t, err)
	check("B's owner", got, want[f.b.ID])
	got, err = f.db.CountByClient(f.ownB, onlyA)
	must(t, err)
	check("B's owner asking for A", got)
	_, err = f.db.CountByClient(t.Context(), f30)
	wantKind(t, err, patch.KindUnauthenticated)
}
