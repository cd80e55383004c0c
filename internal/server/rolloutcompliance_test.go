package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
)

// TestRolloutFeedsCompliance checks the wiring between the rollout and
// compliance: a failed canary install shows in the failure rates (per
// ring and overall), raises UPDATES – Failed on its asset, and the halt
// ticket counts among the period's patch tickets.
func TestRolloutFeedsCompliance(t *testing.T) {
	clock := fleetClock()
	db := openSQLite(t)
	db.Now = clock.Now
	srv := server.New(server.Stores{
		MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Findings: db, Keys: db,
		Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Deployments: server.NewDeploymentFacts(db),
		Rollouts: db, Tickets: db, Leases: db, Runbooks: db, ScanResults: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db,
	}, server.Options{Now: clock.Now, Agents: server.AgentOptions{PublicURL: "https://p.example", Jitter: func() float64 { return 0 }},
		Rollout: server.RolloutOptions{Holder: "a", LeaseTTL: time.Minute}})
	start := clock.Now()
	f := newFleet(t, db, clock, []*server.Server{srv}, map[string]int{"canary": 3, "pilot": 2, "production": 2})
	f.approve()
	f.machines[0].fake.failInstall = true
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	cv, err := srv.CreateCycle(tech, server.CycleInput{ClientID: f.client.ID})
	must(t, err)
	f.round()
	f.round()
	c, err := srv.Cycle(tech, cv.ID)
	must(t, err)
	if c.State != patch.CycleHalted {
		t.Fatalf("cycle = %s, want halted by the canary failure", c.State)
	}

	clock.Advance(time.Minute)
	m, err := srv.ComplianceMetrics(tech, &f.client.ID, compliance.Span{From: start.Add(-time.Hour), To: clock.Now()})
	must(t, err)
	if m.InstallSource != "rollouts" || m.TicketSource != "tickets" {
		t.Errorf("sources = %q/%q", m.InstallSource, m.TicketSource)
	}
	i := slices.IndexFunc(m.FailureRates, func(r compliance.FailureRate) bool { return r.Ring == "canary" })
	if i < 0 || m.FailureRates[i].Failed != 1 || m.FailureRates[i].Succeeded != 2 {
		t.Errorf("failure rates = %+v, want canary 1 failed of 3", m.FailureRates)
	}
	if m.Tickets.Total < 1 {
		t.Errorf("tickets = %+v, want the halt ticket counted", m.Tickets)
	}

	// The monitor sees the failure at once and confirms it once it has
	// held for the settle time (15 minutes).
	failing := f.machines[0].asset
	if _, err := srv.EvaluateAssetCompliance(tech, failing); err != nil {
		t.Fatal(err)
	}
	clock.Advance(16 * time.Minute)
	if _, err := srv.EvaluateAssetCompliance(tech, failing); err != nil {
		t.Fatal(err)
	}
	kind := patch.MonitorUpdatesFailed
	states, _, err := srv.MonitorStates(tech, patch.MonitorFilter{AssetID: &failing, Kind: &kind})
	must(t, err)
	if len(states) != 1 || states[0].Status == patch.MonitorOK {
		t.Errorf("UPDATES – Failed on the failing canary = %+v", *states[0])
	}
	healthy := f.machines[1].asset
	states, _, err = srv.MonitorStates(tech, patch.MonitorFilter{AssetID: &healthy, Kind: &kind})
	must(t, err)
	for _, st := range states {
		if st.Status != patch.MonitorOK {
			t.Errorf("UPDATES – Failed on a healthy canary = %+v", st)
		}
	}
}
