package rollout

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// TestSimulationCanaryHalts runs a fleet of 300 fake agents through a
// cycle with nightly windows: agents check in every ten minutes, some are
// offline, a few machines of the canary cannot install. The canary's
// failures halt the cycle before pilot starts: no pilot or production
// machine is ever handed a job, and a ticket names the failures.
func TestSimulationCanaryHalts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := newWorld(t, testPolicy([]string{"nightly"}, patch.RebootPolicy{Mode: patch.RebootScheduled, Slot: "sunday 02:00"}), nil,
		map[string]int{"canary": 15, "pilot": 45, "production": 240})
	for i, fa := range w.agentsIn("canary") {
		if i%5 == 0 {
			fa.failInstall["openssl"] = true // 3 of 15: 20 % > 10 %
		}
		fa.needsReboot = rng.IntN(3) == 0
		fa.online = rng.IntN(10) != 0
	}
	for _, fa := range w.agents {
		if rng.IntN(10) == 0 {
			fa.online = false
		}
	}
	w.runFor(4*24*time.Hour, 10*time.Minute)
	if w.cycle.State != patch.CycleHalted || w.cycle.HaltRing != "canary" {
		t.Fatalf("cycle = %s in %q; canary %v", w.cycle.State, w.cycle.HaltRing, w.states("canary"))
	}
	if s := w.ring("pilot").State; s != patch.RingWaiting {
		t.Fatalf("pilot = %s, want waiting", s)
	}
	for _, r := range w.requests {
		if !strings.HasPrefix(string(r.AssetID), "ast_canary") {
			t.Fatalf("job %s (%s) went to %s outside the canary", r.ID, r.Step, r.AssetID)
		}
	}
	for _, d := range w.deployments() {
		if d.Ring != "canary" && d.State != patch.DeployPending {
			t.Errorf("%s = %s", d.Hostname, d.State)
		}
	}
	var halts int
	for _, tk := range w.tickets {
		if tk.Kind == patch.TicketCycleHalted {
			halts++
			if !strings.Contains(tk.Body, "install failed") {
				t.Errorf("halt ticket = %q", tk.Body)
			}
		}
	}
	if halts != 1 {
		t.Errorf("%d halt tickets, want 1", halts)
	}
	// Every job started inside the nightly window (01:00–05:00 UTC) with
	// the 30-minute budget left.
	for _, r := range w.requests {
		if r.Step != patch.StepInstall && r.Step != patch.StepSnapshot {
			continue
		}
		h := r.ExpiresAt.Add(30 * time.Minute)
		if !r.Deadline.Equal(h) || r.Deadline.Hour() != 5 || r.Deadline.Minute() != 0 {
			t.Errorf("install job %s: deadline %s, latest start %s", r.ID, r.Deadline, r.ExpiresAt)
		}
	}
}

// TestSimulationHealthyFleet: the same fleet without failures completes
// the whole cycle; offline machines either catch up or are missed, and no
// job is handed out twice for the same step.
func TestSimulationHealthyFleet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w := newWorld(t, testPolicy([]string{"nightly"}, patch.RebootPolicy{Mode: patch.RebootUserPrompted, Deferrals: 2}), nil,
		map[string]int{"canary": 10, "pilot": 30, "production": 160}, "openssl", "libxml2")
	w.cycle.Rings[1].Promotion.Approver = patch.ApproverAutomatic
	for _, fa := range w.agents {
		fa.needsReboot = rng.IntN(4) == 0
	}
	flaky := map[patch.AssetID]bool{}
	for id, fa := range w.agents {
		if rng.IntN(20) == 0 && !strings.HasPrefix(string(id), "ast_canary") {
			fa.online = false
			flaky[id] = true
		}
	}
	end := w.now.Add(10 * 24 * time.Hour)
	for w.now.Before(end) && w.cycle.State == patch.CycleRunning {
		// Flaky machines come and go.
		for id := range flaky {
			w.agents[id].online = rng.IntN(3) == 0
		}
		w.tick()
		w.now = w.now.Add(10 * time.Minute)
	}
	states := w.states("")
	if w.cycle.State != patch.CycleCompleted {
		t.Fatalf("cycle = %s; rings %+v; states %v", w.cycle.State, w.cycle.Rings, states)
	}
	if states[patch.DeploySucceeded]+states[patch.DeployMissed] != 200 || states[patch.DeploySucceeded] < 190 {
		t.Errorf("states = %v", states)
	}
	seen := map[string]bool{}
	for _, r := range w.requests {
		key := string(r.DeploymentID) + "/" + string(r.Step) + "/" + string(r.Source) + "/" + strconv.Itoa(r.StepNo)
		if seen[key] {
			t.Fatalf("two jobs for %s", key)
		}
		seen[key] = true
	}
	for _, d := range w.deployments() {
		if d.State == patch.DeploySucceeded {
			for _, tg := range d.Targets {
				if tg.State != patch.TargetVerified {
					t.Errorf("%s: %s is %s", d.Hostname, tg.Package, tg.State)
				}
			}
		}
	}
}
