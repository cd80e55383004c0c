package demo_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/demo"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
)

// TestSeedCycles: the demo has the clinic's completed three-ring cycle and
// the manufacturer's cycle halted in canary with its ticket open, and the
// scheduler leaves both as they are.
func TestSeedCycles(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Findings: db, Keys: db,
		Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Deployments: server.NewDeploymentFacts(db),
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db,
		Rollouts: db, Tickets: db, Leases: db, Runbooks: db, ScanResults: db}, server.Options{})
	now := time.Now()
	if _, err := demo.Seed(t.Context(), srv, db, demo.Options{Seed: 7, Now: now, Password: "demo-password-123"}); err != nil {
		t.Fatal(err)
	}
	ctx := patch.NewContextWithActor(t.Context(), patch.SystemActor("test"))
	check := func() {
		t.Helper()
		cs, n, err := srv.Cycles(ctx, patch.CycleFilter{})
		if err != nil || n != 2 {
			t.Fatalf("cycles = %d %v", n, err)
		}
		var done, halted *server.CycleView
		for _, c := range cs {
			switch c.State {
			case patch.CycleCompleted:
				done = c
			case patch.CycleHalted:
				halted = c
			}
		}
		if done == nil || done.Rings[2].State != patch.RingCompleted || done.Rings[2].Progress.Succeeded == 0 ||
			done.Assets[patch.DeploySucceeded] != done.Rings[0].Progress.Members+done.Rings[1].Progress.Members+done.Rings[2].Progress.Members ||
			!done.CreatedAt.Before(now.Add(-24*time.Hour)) {
			t.Errorf("completed cycle = %+v", done)
		}
		if halted == nil || halted.HaltRing != "canary" || halted.Rings[0].Progress.Failed != 2 || halted.Rings[1].State != patch.RingWaiting || halted.TicketID == "" {
			t.Fatalf("halted cycle = %+v", halted)
		}
		tk, err := srv.Ticket(ctx, halted.TicketID)
		if err != nil || tk.State != patch.TicketOpen || !strings.Contains(tk.Body, "(retry_wait): install failed") {
			t.Errorf("halt ticket = %+v %v", tk, err)
		}
	}
	check()
	// The scheduler takes over and changes neither.
	if led, err := srv.RolloutRound(ctx); err != nil || !led {
		t.Fatalf("round: %v %v", led, err)
	}
	check()
}
