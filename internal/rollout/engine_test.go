package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/patchring/patchring/internal/patch"
)

// TestThreeRingCycle is the playbook's three-ring cycle: canary soaks 24h
// and is promoted automatically, pilot soaks 72h and waits for the MSP,
// production deploys last; every asset ends installed and verified, and
// the evidence has every step.
func TestThreeRingCycle(t *testing.T) {
	w := newWorld(t, anytime(), nil, map[string]int{"canary": 3, "pilot": 5, "production": 10})
	w.tick()
	if got := w.states("canary"); got[patch.DeployInstalling] != 3 {
		t.Fatalf("canary after the first pass = %v, want 3 installing", got)
	}
	if got := w.states("pilot"); got[patch.DeployPending] != 5 {
		t.Fatalf("pilot = %v, want 5 pending (its ring has not started)", got)
	}
	w.runFor(time.Hour, 5*time.Minute)
	if got := w.states("canary"); got[patch.DeploySucceeded] != 3 {
		t.Fatalf("canary after an hour = %v, want 3 succeeded", got)
	}
	if r := w.ring("canary"); r.State != patch.RingSoaking || r.SoakUntil.Sub(r.DeployedAt) != 24*time.Hour {
		t.Fatalf("canary = %+v, want soaking for 24h", r)
	}
	if w.ring("pilot").State != patch.RingWaiting {
		t.Fatal("pilot started before canary soaked")
	}
	w.runFor(24*time.Hour, 30*time.Minute)
	if r := w.ring("canary"); r.State != patch.RingPromoted || r.PromotedBy != EngineName {
		t.Fatalf("canary after the soak = %+v, want promoted automatically", r)
	}
	if r := w.ring("pilot"); r.State != patch.RingSoaking {
		t.Fatalf("pilot = %+v, want soaking", r)
	}
	w.runFor(73*time.Hour, time.Hour)
	if r := w.ring("pilot"); r.State != patch.RingAwaitingApproval {
		t.Fatalf("pilot after its soak = %s, want awaiting_approval (approver msp)", r.State)
	}
	if w.ring("production").State != patch.RingWaiting || w.states("production")[patch.DeployPending] != 10 {
		t.Fatal("production started without the MSP's approval")
	}
	ch, err := Approve(w.cycle, w.deployments(), "pilot", "alice (technician)", w.now)
	if err != nil {
		t.Fatal(err)
	}
	w.events = append(w.events, ch.Events...)
	w.runFor(2*time.Hour, 10*time.Minute)
	if w.cycle.State != patch.CycleCompleted {
		t.Fatalf("cycle = %s, rings %+v, states %v", w.cycle.State, w.cycle.Rings, w.states(""))
	}
	for _, d := range w.deployments() {
		if d.State != patch.DeploySucceeded || d.Targets[0].State != patch.TargetVerified || d.SentAt.IsZero() || d.InstalledAt.IsZero() || d.VerifiedAt.IsZero() {
			t.Errorf("%s = %s %+v", d.Hostname, d.State, d)
		}
	}
	want := []string{"cycle_created:", "ring_started:canary", "ring_promoted:canary", "ring_started:pilot", "ring_promoted:pilot",
		"ring_started:production", "cycle_completed:"}
	if diff := cmp.Diff(want, w.cycleEvents()); diff != "" {
		t.Errorf("cycle events (-want +got):\n%s", diff)
	}
	d := w.first("pilot")
	if diff := cmp.Diff([]string{"scheduled", "sent", "installed"}, w.eventTypes(d.AssetID)); diff != "" {
		t.Errorf("asset events (-want +got):\n%s", diff)
	}
	if p := w.ring("production").Progress; p.Members != 10 || p.Succeeded != 10 || p.Results != 10 || p.FailureRatePct != 0 {
		t.Errorf("production progress = %+v", p)
	}
}

// TestCanaryFailuresHalt: failures above the canary's threshold halt the
// cycle with a ticket before pilot starts; resuming waives them, skipping
// the update redeploys the rest.
func TestCanaryFailuresHalt(t *testing.T) {
	w := newWorld(t, anytime(), nil, map[string]int{"canary": 4, "pilot": 5, "production": 5}, "openssl", "curl")
	for _, fa := range w.agentsIn("canary")[:2] {
		fa.failInstall["curl"] = true
	}
	w.runFor(30*time.Minute, 5*time.Minute)
	if w.cycle.State != patch.CycleHalted || w.cycle.HaltRing != "canary" {
		t.Fatalf("cycle = %s (halt ring %q), want halted in canary; states %v", w.cycle.State, w.cycle.HaltRing, w.states("canary"))
	}
	if !strings.Contains(w.cycle.HaltReason, "2 of 4 results failed (50%), above the 10% threshold") {
		t.Errorf("halt reason = %q", w.cycle.HaltReason)
	}
	if len(w.tickets) != 1 || w.tickets[0].Kind != patch.TicketCycleHalted || w.tickets[0].ID != w.cycle.TicketID ||
		!strings.Contains(w.tickets[0].Body, "canary-000 (retry_wait): install failed: curl: dpkg: error processing curl") {
		t.Fatalf("tickets = %+v", w.tickets)
	}
	if w.ring("pilot").State != patch.RingWaiting {
		t.Fatal("pilot started")
	}
	// Halted: the retries do not start, and nothing reaches pilot.
	w.runFor(48*time.Hour, time.Hour)
	for _, r := range w.requests {
		if strings.HasPrefix(string(r.AssetID), "ast_pilot") || strings.HasPrefix(string(r.AssetID), "ast_production") {
			t.Fatalf("a job for %s was handed out while halted", r.AssetID)
		}
	}
	if got := w.states("canary"); got[patch.DeployRetryWait] != 2 || got[patch.DeploySucceeded] != 2 {
		t.Fatalf("canary while halted = %v", got)
	}

	// Skipping curl redeploys openssl alone on the failed machines.
	ch, err := SkipUpdate(w.cycle, w.deployments(), "upd_curl", "alice", "curl 1.1 breaks dpkg triggers", w.now)
	if err != nil {
		t.Fatal(err)
	}
	reopened := 0
	for _, d := range ch.Deployments {
		if d.State == patch.DeployWaiting && d.Ring == "canary" {
			reopened++
		}
	}
	if len(ch.Deployments) != 12 || reopened != 2 {
		t.Errorf("skip changed %d deployments (%d reopened), want the 12 with curl still to install, the 2 failed reopened", len(ch.Deployments), reopened)
	}
	w.events = append(w.events, ch.Events...)
	_, err = Resume(w.cycle, w.deployments(), "alice", "curl skipped", w.now)
	if err != nil {
		t.Fatal(err)
	}
	w.runFor(time.Hour, 5*time.Minute)
	if got := w.states("canary"); got[patch.DeploySucceeded] != 4 {
		t.Fatalf("canary after the skip = %v, want 4 succeeded", got)
	}
	for _, fa := range w.agentsIn("canary")[:2] {
		if fa.installed["curl"] != "1.0" || fa.installed["openssl"] != "1.1" {
			t.Errorf("%s installed %v", fa.id, fa.installed)
		}
	}
	w.runFor(25*time.Hour, time.Hour)
	if w.ring("pilot").State == patch.RingWaiting {
		t.Fatal("pilot did not start after the resume")
	}
	for _, r := range w.requests {
		for _, tg := range r.Install {
			if tg.Package == "curl" && strings.HasPrefix(string(r.AssetID), "ast_pilot") {
				t.Fatal("the skipped update went to pilot")
			}
		}
	}
}

// TestResumeWaivesFailures: a resumed cycle does not halt again on the
// failures a person looked at, but does on new ones.
func TestResumeWaivesFailures(t *testing.T) {
	w := newWorld(t, anytime(), nil, map[string]int{"canary": 4, "pilot": 6, "production": 1})
	w.agentsIn("canary")[0].failInstall["openssl"] = true
	w.agentsIn("pilot")[1].failInstall["openssl"] = true
	w.runFor(20*time.Minute, 5*time.Minute)
	if w.cycle.State != patch.CycleHalted {
		t.Fatalf("cycle = %s", w.cycle.State)
	}
	ch, err := Resume(w.cycle, w.deployments(), "bob", "known flaky disk", w.now)
	if err != nil || len(ch.ResolveTickets) != 1 || len(ch.Deployments) != 1 || !ch.Deployments[0].Waived {
		t.Fatalf("resume = %+v, %v", ch, err)
	}
	if _, err := Resume(w.cycle, w.deployments(), "bob", "again", w.now); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("resuming a running cycle: %v", err)
	}
	// The canary machine keeps failing (waived) and escalates; canary is
	// promoted all the same; the new failure in pilot (threshold 5 %)
	// halts the cycle again.
	w.runFor(30*time.Hour, 30*time.Minute)
	if d := w.first("canary"); d.State != patch.DeployFailed || d.Failures != 3 || d.TicketID == "" {
		t.Errorf("the failing canary = %s, failures %d, ticket %q", d.State, d.Failures, d.TicketID)
	}
	if r := w.ring("canary"); r.State != patch.RingPromoted || r.Progress.Waived != 1 || r.Progress.FailureRatePct != 0 {
		t.Errorf("canary = %s %+v", r.State, r.Progress)
	}
	if w.cycle.State != patch.CycleHalted || w.cycle.HaltRing != "pilot" {
		t.Fatalf("cycle = %s in %q, want halted in pilot", w.cycle.State, w.cycle.HaltRing)
	}
}

// TestGates is a table of ring gates: failure rate against the threshold
// with the minimum sample.
func TestGates(t *testing.T) {
	gate := &patch.Promotion{Soak: "24h", FailureThresholdPct: 10, MinSample: 3, Approver: patch.ApproverAutomatic}
	tests := []struct {
		name                          string
		succeeded, failed, inProgress int
		skipped, waived               int
		want                          bool
	}{
		{"no results", 0, 0, 4, 0, 0, false},
		{"one failure below the sample", 1, 1, 2, 0, 0, false},
		{"sample reached, 33%", 2, 1, 1, 0, 0, true},
		{"under threshold", 19, 2, 0, 0, 0, false}, // 9.5 %
		{"exactly at threshold", 18, 2, 0, 0, 0, false},
		{"just over", 17, 2, 0, 0, 0, true},
		{"small ring: all of it is the sample", 1, 1, 0, 0, 0, true},
		{"skipped members shrink the sample", 0, 1, 0, 3, 0, true},
		{"waived failures do not count", 3, 1, 0, 0, 1, false},
		{"waived and new", 3, 2, 0, 0, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &patch.Cycle{State: patch.CycleRunning, Rings: []patch.CycleRing{{Key: "canary", State: patch.RingDeploying, Promotion: gate}, {Key: "rest"}}}
			var ds []*patch.Deployment
			add := func(n int, s patch.DeploymentState, waived bool) {
				for range n {
					ds = append(ds, &patch.Deployment{Ring: "canary", State: s, Waived: waived})
				}
			}
			add(tt.succeeded, patch.DeploySucceeded, false)
			add(tt.failed-tt.waived, patch.DeployRetryWait, false)
			add(tt.waived, patch.DeployFailed, true)
			add(tt.inProgress, patch.DeployInstalling, false)
			add(tt.skipped, patch.DeployMissed, false)
			Summarize(c, ds)
			b, got := Breached(c, 0)
			if got != tt.want {
				t.Errorf("Breached = %v (%s), want %v; progress %+v", got, b, tt.want, c.Rings[0].Progress)
			}
		})
	}
}

// TestWindows: an attempt starts only inside a window that stays open for
// the install budget, in the asset's zone; the job expires at the latest
// start.
func TestWindows(t *testing.T) {
	chicago, _ := time.LoadLocation("America/Chicago")
	tests := []struct {
		name      string
		now       time.Time // Chicago wall clock
		deadline  bool
		wantStart bool
		wantEnd   time.Time
	}{
		{"before the window", time.Date(2026, 11, 17, 0, 30, 0, 0, chicago), false, false, time.Time{}},
		{"window open", time.Date(2026, 11, 17, 1, 5, 0, 0, chicago), false, true, time.Date(2026, 11, 17, 5, 0, 0, 0, chicago)},
		{"enough budget left", time.Date(2026, 11, 17, 4, 29, 0, 0, chicago), false, true, time.Date(2026, 11, 17, 5, 0, 0, 0, chicago)},
		{"too little left to finish", time.Date(2026, 11, 17, 4, 31, 0, 0, chicago), false, false, time.Time{}},
		{"after the window", time.Date(2026, 11, 17, 6, 0, 0, 0, chicago), false, false, time.Time{}},
		{"outside, but the SLA deadline has come", time.Date(2026, 11, 17, 12, 0, 0, 0, chicago), true, true, time.Date(2026, 11, 17, 12, 31, 0, 0, chicago)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, testPolicy([]string{"nightly"}, patch.RebootPolicy{Mode: patch.RebootNever}), nil, map[string]int{"canary": 1})
			w.runbook.DeployAtDeadline = tt.deadline
			for _, a := range w.assets {
				a.Zone = chicago
				a.DueAt = time.Date(2026, 11, 17, 9, 0, 0, 0, chicago)
			}
			w.now = tt.now.UTC()
			out := w.advance()
			if got := len(out.Jobs) > 0; got != tt.wantStart {
				t.Fatalf("started = %v, want %v (jobs %+v)", got, tt.wantStart, out.Jobs)
			}
			if !tt.wantStart {
				return
			}
			j := out.Jobs[0]
			if !j.Deadline.Equal(tt.wantEnd) || !j.ExpiresAt.Equal(tt.wantEnd.Add(-30*time.Minute)) {
				t.Errorf("job deadline %s expires %s, want window end %s and latest start 30m before", j.Deadline.In(chicago), j.ExpiresAt.In(chicago), tt.wantEnd)
			}
		})
	}
}

// TestCatchUp: an agent offline during its window catches up in the next
// one; a job it never took expires without counting as a failure; after
// the catch-up grace the deployment is missed.
func TestCatchUp(t *testing.T) {
	w := newWorld(t, testPolicy([]string{"nightly"}, patch.RebootPolicy{Mode: patch.RebootNever}), nil, map[string]int{"canary": 2})
	late := w.agentsIn("canary")[0]
	gone := w.agentsIn("canary")[1]
	late.online, gone.online = false, false
	w.runFor(36*time.Hour, 10*time.Minute) // two nightly windows pass
	for _, r := range w.requests {
		t.Fatalf("a job was handed to an offline agent: %+v", r)
	}
	late.online = true
	w.runFor(24*time.Hour, 10*time.Minute)
	var dl, dg *patch.Deployment
	for _, d := range w.deployments() {
		switch d.AssetID {
		case late.id:
			dl = d
		case gone.id:
			dg = d
		}
	}
	if dl.State != patch.DeploySucceeded || dl.Failures != 0 {
		t.Errorf("the late agent = %s (failures %d), want caught up", dl.State, dl.Failures)
	}
	if h := dl.ScheduledAt.Hour(); h < 1 || h >= 5 { // nightly 01:00–05:00 in the asset's zone (UTC)
		t.Errorf("caught up at %s, outside the window", dl.ScheduledAt)
	}
	w.runFor(48*time.Hour, time.Hour)
	if dg = w.ds[dg.ID]; dg.State != patch.DeployMissed {
		t.Errorf("the absent agent = %s, want missed after the 3d grace", dg.State)
	}

	// A job the agent never takes expires at the latest start and the
	// deployment waits for the next window, without a failure.
	w2 := newWorld(t, testPolicy([]string{"nightly"}, patch.RebootPolicy{Mode: patch.RebootNever}), nil, map[string]int{"canary": 1})
	w2.now = time.Date(2026, 11, 17, 1, 0, 0, 0, time.UTC)
	w2.advance() // the job is handed out while the agent looks online
	w2.agentsIn("canary")[0].online = false
	w2.now = time.Date(2026, 11, 17, 4, 40, 0, 0, time.UTC)
	w2.tick()
	d := w2.first("canary")
	if d.State != patch.DeployWaiting || d.Failures != 0 || d.Attempts != 0 {
		t.Errorf("after the job expired untaken: %s, failures %d, attempts %d", d.State, d.Failures, d.Attempts)
	}
}

// TestRetryThenEscalate: a failing install is retried with a doubling
// backoff and escalated with a ticket after the last attempt.
func TestRetryThenEscalate(t *testing.T) {
	w := newWorld(t, anytime(), nil, map[string]int{"canary": 1, "pilot": 1})
	w.cycle.Rings[0].Promotion.MinSample = 5 // do not halt on one machine
	w.cycle.Rings[0].Promotion.FailureThresholdPct = 100
	w.agentsIn("canary")[0].failInstall["openssl"] = true
	var failedAt []time.Time
	for range 200 {
		w.tick()
		d := w.first("canary")
		if len(failedAt) < d.Failures {
			failedAt = append(failedAt, w.now)
		}
		if d.State.Terminal() {
			break
		}
		w.now = w.now.Add(10 * time.Minute)
	}
	d := w.first("canary")
	if d.State != patch.DeployFailed || d.Failures != 3 || d.Attempts != 3 {
		t.Fatalf("deployment = %s, failures %d, attempts %d", d.State, d.Failures, d.Attempts)
	}
	if len(failedAt) != 3 || failedAt[1].Sub(failedAt[0]) < time.Hour || failedAt[2].Sub(failedAt[1]) < 2*time.Hour {
		t.Errorf("failures at %v, want 1h then 2h apart", failedAt)
	}
	if len(w.tickets) != 1 || w.tickets[0].Kind != patch.TicketEscalation || w.tickets[0].DeploymentID != d.ID || d.TicketID != w.tickets[0].ID {
		t.Fatalf("tickets = %+v", w.tickets)
	}
	types := w.eventTypes(d.AssetID)
	if n := count(types, "install_failed"); n != 3 || types[len(types)-1] != "escalated" {
		t.Errorf("events = %v", types)
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestHealthCheckRollback: a failed health check rolls the update back to
// the previous version, recorded; a rollback that fails escalates.
func TestHealthCheckRollback(t *testing.T) {
	rb := patch.DefaultRunbook(testClient)
	rb.HealthChecks = []patch.HealthCheckSet{{Name: "ehr", Assets: patch.AssetSelector{Roles: []patch.AssetRole{patch.RoleWorkstation}},
		Checks: []patch.HealthCheck{{Name: "ehr-web", Kind: patch.CheckHTTP, URL: "https://ehr.clinic.example/health", ExpectStatus: 200}}}}
	for _, failRollback := range []bool{false, true} {
		w := newWorld(t, anytime(), rb, map[string]int{"canary": 2})
		bad := w.agentsIn("canary")[0]
		bad.healthy, bad.failRollback = false, failRollback
		w.runFor(time.Hour, 5*time.Minute)
		var d *patch.Deployment
		for _, x := range w.deployments() {
			if x.AssetID == bad.id {
				d = x
			}
		}
		want := patch.DeployRolledBack
		if failRollback {
			want = patch.DeployFailed
		}
		if d.State != want || d.TicketID == "" {
			t.Fatalf("failRollback=%v: deployment = %s (ticket %q), want %s", failRollback, d.State, d.TicketID, want)
		}
		types := w.eventTypes(bad.id)
		wantEvents := []string{"scheduled", "sent", "installed", "health_check_failed", "rolled_back"}
		if failRollback {
			wantEvents = []string{"scheduled", "sent", "installed", "health_check_failed", "rollback_failed", "escalated"}
		}
		if diff := cmp.Diff(wantEvents, types); diff != "" {
			t.Errorf("failRollback=%v events (-want +got):\n%s", failRollback, diff)
		}
		if !failRollback && (bad.installed["openssl"] != "1.0" || d.Targets[0].State != patch.TargetRolledBack) {
			t.Errorf("after the rollback: installed %v, target %+v", bad.installed, d.Targets[0])
		}
		var rollback JobRequest
		for _, r := range w.requests {
			if r.Step == patch.StepRollback {
				rollback = r
			}
		}
		if len(rollback.Rollback) != 1 || rollback.Rollback[0] != (Target{ID: "openssl=1.1", Package: "openssl", Version: "1.0"}) {
			t.Errorf("rollback job = %+v", rollback)
		}
		var health JobRequest
		for _, r := range w.requests {
			if r.Step == patch.StepHealth {
				health = r
			}
		}
		if len(health.Health) != 1 || health.Health[0].URL != "https://ehr.clinic.example/health" {
			t.Errorf("health job = %+v", health)
		}
		other := w.agentsIn("canary")[1]
		if other.installed["openssl"] != "1.1" || !slices.Contains(w.eventTypes(other.id), "health_check_passed") {
			t.Errorf("the healthy machine: %v %v", other.installed, w.eventTypes(other.id))
		}
	}
}

// TestSnapshotFirst: on assets whose runbook asks for a snapshot nothing
// installs until the snapshot succeeded; a failed snapshot is a failed
// attempt with no install.
func TestSnapshotFirst(t *testing.T) {
	rb := patch.DefaultRunbook(testClient)
	rb.Snapshots = []patch.SnapshotRule{{Name: "lvm", Assets: patch.AssetSelector{Classes: []string{"workstation"}}, Hook: "lvm-snapshot", RestoreHook: "lvm-restore"}}
	w := newWorld(t, anytime(), rb, map[string]int{"canary": 2})
	w.cycle.Rings[0].Promotion.FailureThresholdPct = 100
	bad := w.agentsIn("canary")[0]
	bad.failSnapshot = true
	out := w.advance()
	for _, j := range out.Jobs {
		if j.Step != patch.StepSnapshot || j.Hook != "lvm-snapshot" {
			t.Fatalf("first jobs = %+v, want only snapshots", out.Jobs)
		}
	}
	w.runFor(30*time.Minute, 5*time.Minute)
	if bad.ran[patch.StepInstall] != 0 {
		t.Errorf("installed after a failed snapshot")
	}
	good := w.agentsIn("canary")[1]
	if diff := cmp.Diff([]string{"scheduled", "snapshot_taken", "sent", "installed"}, w.eventTypes(good.id)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if types := w.eventTypes(bad.id); !slices.Contains(types, "snapshot_failed") || slices.Contains(types, "sent") {
		t.Errorf("failed snapshot events = %v", types)
	}

	// Restore by snapshot when the runbook says so.
	rb2 := *rb
	rb2.Rollback.OnHealthFailure = patch.RollbackSnapshot
	rb2.HealthChecks = []patch.HealthCheckSet{{Name: "files", Checks: []patch.HealthCheck{{Name: "share", Kind: patch.CheckFile, Path: `\\fs1\clinic\probe.txt`}}}}
	w2 := newWorld(t, anytime(), &rb2, map[string]int{"canary": 1})
	w2.agentsIn("canary")[0].healthy = false
	w2.runFor(time.Hour, 5*time.Minute)
	d := w2.first("canary")
	var restore []JobRequest
	for _, r := range w2.requests {
		if r.Step == patch.StepRestore {
			restore = append(restore, r)
		}
	}
	if d.State != patch.DeployRolledBack || len(restore) != 1 || restore[0].Hook != "lvm-restore" {
		t.Errorf("restore: %s, jobs %+v", d.State, restore)
	}

	// A webhook snapshot is called by the server, not the agent.
	rb3 := patch.DefaultRunbook(testClient)
	rb3.Snapshots = []patch.SnapshotRule{{Name: "hv", Webhook: "https://hv.clinic.example/snapshot"}}
	w3 := newWorld(t, anytime(), rb3, map[string]int{"canary": 1})
	out = w3.advance()
	if len(out.Jobs) != 1 || out.Jobs[0].Webhook != "https://hv.clinic.example/snapshot" {
		t.Fatalf("webhook job = %+v", out.Jobs)
	}
	w3.runFor(30*time.Minute, 5*time.Minute)
	if d := w3.first("canary"); d.State != patch.DeploySucceeded || d.SnapshotAt.IsZero() {
		t.Errorf("webhook snapshot deployment = %s", d.State)
	}
}

// TestReboots: the reboot policy decides when a machine that needs a
// restart gets it; verification waits for a scan after the restart.
func TestReboots(t *testing.T) {
	tests := []struct {
		name   string
		reboot patch.RebootPolicy
		check  func(t *testing.T, w *world)
	}{
		{"user prompted: at once, with a delay", patch.RebootPolicy{Mode: patch.RebootUserPrompted, Deferrals: 3}, func(t *testing.T, w *world) {
			w.runFor(2*time.Hour, 5*time.Minute)
			d := w.first("canary")
			if d.State != patch.DeploySucceeded || d.RebootedAt.IsZero() || d.VerifiedAt.Before(d.RebootedAt) {
				t.Errorf("deployment = %s rebooted %s verified %s", d.State, d.RebootedAt, d.VerifiedAt)
			}
			var r JobRequest
			for _, x := range w.requests {
				if x.Reboot != nil {
					r = x
				}
			}
			if r.Reboot.DelaySeconds != 900 || !strings.Contains(r.Reboot.Message, "Save your work") {
				t.Errorf("reboot = %+v", r.Reboot)
			}
			if diff := cmp.Diff([]string{"scheduled", "sent", "installed", "reboot_requested", "rebooted"}, w.eventTypes(d.AssetID)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		}},
		{"scheduled: at the Sunday slot", patch.RebootPolicy{Mode: patch.RebootScheduled, Slot: "sunday 02:00"}, func(t *testing.T, w *world) {
			w.runFor(2*time.Hour, 10*time.Minute)
			d := w.first("canary")
			if d.State != patch.DeployRebootPending || !d.NextAttemptAt.Equal(time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)) {
				t.Fatalf("deployment = %s next %s, want waiting for Sunday 02:00", d.State, d.NextAttemptAt)
			}
			w.runFor(6*24*time.Hour, 30*time.Minute)
			d = w.first("canary")
			if d.State != patch.DeploySucceeded || d.RebootRequestAt.Before(time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)) {
				t.Errorf("deployment = %s, reboot at %s", d.State, d.RebootRequestAt)
			}
		}},
		{"manual: waits for a person", patch.RebootPolicy{Mode: patch.RebootManual}, func(t *testing.T, w *world) {
			w.runFor(48*time.Hour, time.Hour)
			d := w.first("canary")
			if d.State != patch.DeployRebootPending || w.agentsIn("canary")[0].ran[patch.StepReboot] != 0 {
				t.Fatalf("deployment = %s", d.State)
			}
			if r := w.ring("canary"); r.State != patch.RingPromoted {
				t.Errorf("canary = %s: a reboot only a person does must not hold the ring", r.State)
			}
			ch, err := ApproveReboot(w.cycle, w.deployments(), []patch.DeploymentID{d.ID}, w.now)
			if err != nil || len(ch.Deployments) != 1 {
				t.Fatalf("approve = %+v %v", ch, err)
			}
			w.runFor(time.Hour, 5*time.Minute)
			if d := w.first("canary"); d.State != patch.DeploySucceeded {
				t.Errorf("after the approval = %s", d.State)
			}
		}},
		{"never: reported, nothing restarts", patch.RebootPolicy{Mode: patch.RebootNever}, func(t *testing.T, w *world) {
			w.runFor(24*time.Hour, time.Hour)
			d := w.first("canary")
			if d.State != patch.DeployRebootPending || w.agentsIn("canary")[0].ran[patch.StepReboot] != 0 {
				t.Fatalf("deployment = %s", d.State)
			}
			// Someone restarts it by hand: the next scan says so.
			fa := w.agentsIn("canary")[0]
			fa.rebootPending = false
			w.scan(fa, w.assets[fa.id], w.now)
			w.now = w.now.Add(time.Minute)
			w.runFor(time.Hour, 5*time.Minute)
			if d := w.first("canary"); d.State != patch.DeploySucceeded || d.RebootedAt.IsZero() {
				t.Errorf("after a manual restart = %s", d.State)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, testPolicy(nil, tt.reboot), nil, map[string]int{"canary": 1, "pilot": 1})
			for _, fa := range w.agents {
				fa.needsReboot = true
			}
			tt.check(t, w)
		})
	}
}

// TestOutcomeSeenTwice: running a pass again over the same outcomes
// changes nothing (jobs are delivered at least once; results may repeat).
func TestOutcomeSeenTwice(t *testing.T) {
	w := newWorld(t, anytime(), nil, map[string]int{"canary": 3})
	w.advance()
	w.checkIns()
	first := Advance(w.input())
	if len(first.Changed) == 0 {
		t.Fatal("no progress")
	}
	w.cycle = first.Cycle
	for _, d := range first.Changed {
		w.ds[d.ID] = d
	}
	again := Advance(w.input())
	if !again.Empty() {
		t.Errorf("second pass over the same outcomes: %d events %d jobs %d changed", len(again.Events), len(again.Jobs), len(again.Changed))
	}
}

// TestAbort cancels what has not finished.
func TestAbort(t *testing.T) {
	w := newWorld(t, anytime(), nil, map[string]int{"canary": 2, "pilot": 2})
	w.agentsIn("canary")[0].failInstall["openssl"] = true
	w.runFor(15*time.Minute, 5*time.Minute)
	ch, err := Abort(w.cycle, w.deployments(), "carol", "vendor recalled the update", w.now)
	if err != nil || !ch.ExpireJobs || len(ch.ResolveTickets) != 1 {
		t.Fatalf("abort = %+v %v", ch, err)
	}
	if w.cycle.State != patch.CycleAborted || w.states("pilot")[patch.DeployCancelled] != 2 {
		t.Errorf("after abort: %s %v", w.cycle.State, w.states(""))
	}
	out := w.advance()
	if !out.Empty() {
		t.Errorf("an aborted cycle still moves: %+v", out)
	}
}
