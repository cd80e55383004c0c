package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

// rolloutFixture is an agent fixture with an enrolled agent in client A, a
// cycle of client A with one deployment on its asset, and a manual asset
// in client B.
type rolloutFixture struct {
	*agentFixture
	agent  *patch.Agent
	asset  patch.AssetID
	assetB *patch.Asset
	cycle  *patch.Cycle
	dep    *patch.Deployment
	sys    context.Context
}

func newRolloutFixture(t *testing.T, open Opener) *rolloutFixture {
	t.Helper()
	f := &rolloutFixture{agentFixture: newAgentFixture(t, open)}
	f.sys = patch.NewContextWithActor(t.Context(), patch.SystemActor("rollout scheduler"))
	res, err := f.db.Enroll(t.Context(), f.enrollment(f.secret, "web-01", "uuid:web-01"))
	must(t, err)
	f.agent, f.asset = res.Agent, res.Asset.ID
	f.assetB = patchtest.Asset(f.b.ID, "law-pc-1")
	must(t, f.db.CreateAsset(f.admin, f.assetB))
	f.cycle, f.dep = f.newCycle(t, f.a.ID, f.asset, "November")
	must(t, f.db.CreateCycle(f.admin, f.cycle, []*patch.Deployment{f.dep}, []patch.EvidenceEvent{{ClientID: f.a.ID, Type: patch.EventCycleCreated,
		Subject: patch.EvidenceSubject{CycleID: string(f.cycle.ID)}, Details: map[string]string{"name": "November"}}}))
	return f
}

func (f *rolloutFixture) newCycle(t *testing.T, client patch.ClientID, asset patch.AssetID, name string) (*patch.Cycle, *patch.Deployment) {
	t.Helper()
	now := f.clock.Now()
	c := &patch.Cycle{ID: patch.CycleID(patch.NewID(patch.PrefixCycle, now)), ClientID: client, Kind: patch.CycleMonthly, Name: name,
		State: patch.CycleRunning, CreatedBy: "alice",
		Rings: []patch.CycleRing{
			{Key: "canary", Name: "Canary", State: patch.RingDeploying, StartedAt: now,
				Promotion: &patch.Promotion{Soak: "24h", FailureThresholdPct: 10, MinSample: 3, Approver: patch.ApproverAutomatic}},
			{Key: "production", Name: "Production", State: patch.RingWaiting},
		},
		Updates: []patch.CycleUpdate{{UpdateID: "upd_openssl", Source: "apt", Package: "openssl", Version: "3.0.16"}},
	}
	d := &patch.Deployment{ID: patch.DeploymentID(patch.NewID(patch.PrefixDeployment, now)), CycleID: c.ID, ClientID: client, AssetID: asset,
		Hostname: "web-01", Ring: "canary", State: patch.DeployWaiting,
		Targets: []patch.DeploymentTarget{{UpdateID: "upd_openssl", FindingID: "fnd_web01_openssl", Source: "apt", VendorID: "openssl=3.0.16",
			Package: "openssl", Version: "3.0.16", FromVersion: "3.0.15", Tier: "high", State: patch.TargetPending}}}
	return c, d
}

func testRollout(t *testing.T, open Opener) {
	t.Run("Runbooks", func(t *testing.T) { testRunbooks(t, open) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, open) })
	t.Run("Cycles", func(t *testing.T) { testCycles(t, open) })
	t.Run("CycleSteps", func(t *testing.T) { testCycleSteps(t, open) })
	t.Run("Tickets", func(t *testing.T) { testTickets(t, open) })
	t.Run("LatestScans", func(t *testing.T) { testLatestScans(t, open) })
}

func testLatestScans(t *testing.T, open Opener) {
	f := newRolloutFixture(t, open)
	actx := agentContext(t.Context(), f.agent)
	f.clock.Advance(time.Hour)
	early, late := f.clock.Now().Add(-30*time.Minute), f.clock.Now().Add(-10*time.Minute)
	_, err := f.db.RecordResults(actx, []patch.AgentResult{scanResult("res_late", late), scanResult("res_early", early)})
	must(t, err)
	got, err := f.db.FindLatestScans(f.ownA, []patch.AssetID{f.asset, f.assetB.ID})
	must(t, err)
	if r := got[f.asset]; r == nil || r.ID != "res_late" || !r.FinishedAt.Equal(late) || string(r.Document) != `{"id":"res_late"}` {
		t.Errorf("latest scan = %+v", r)
	}
	if _, ok := got[f.assetB.ID]; ok || len(got) != 1 {
		t.Errorf("latest scans = %v", got)
	}
	// The stale scan delivered after the newer one was not applied and is
	// not the latest either way; B's owner sees nothing of A.
	got, err = f.db.FindLatestScans(f.ownB, []patch.AssetID{f.asset})
	must(t, err)
	if len(got) != 0 {
		t.Errorf("B's owner sees A's scans: %v", got)
	}
}

func testRunbooks(t *testing.T, open Opener) {
	f := newFixture(t, open)
	_, err := f.db.FindRunbook(f.admin, f.a.ID)
	wantKind(t, err, patch.KindNotFound)
	rb := patch.DefaultRunbook(f.a.ID)
	rb.HealthChecks = []patch.HealthCheckSet{{Name: "mail", Assets: patch.AssetSelector{Tags: []patch.TagRef{{Key: "role", Value: "mail"}}},
		Checks: []patch.HealthCheck{{Name: "smtp", Kind: patch.CheckTCP, Host: "127.0.0.1", Port: 25}}}}
	must(t, f.db.PutRunbook(f.admin, rb))
	if rb.Version != 1 || rb.UpdatedBy == "" {
		t.Errorf("stored runbook = %+v", rb)
	}
	got, err := f.db.FindRunbook(f.ownA, f.a.ID)
	must(t, err)
	if got.Version != 1 || len(got.HealthChecks) != 1 || got.HealthChecks[0].Checks[0].Port != 25 {
		t.Errorf("FindRunbook = %+v", got)
	}
	stale := *rb
	stale.Version = 7
	wantField(t, f.db.PutRunbook(f.admin, &stale), patch.KindConflict, "version")
	// Tenant isolation: B's owner neither reads nor writes A's runbook.
	_, err = f.db.FindRunbook(f.ownB, f.a.ID)
	wantKind(t, err, patch.KindNotFound)
	other := patch.DefaultRunbook(f.a.ID)
	wantKind(t, f.db.PutRunbook(f.ownB, other), patch.KindNotFound)
	_, n, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("runbook.update")})
	must(t, err)
	if n != 1 {
		t.Errorf("%d runbook.update audit entries, want 1", n)
	}
}

func testLeases(t *testing.T, open Opener) {
	f := newAgentFixture(t, open)
	sys := patch.NewContextWithActor(t.Context(), patch.SystemActor("scheduler"))
	l1, held, err := f.db.AcquireLease(sys, "rollout", "s1", time.Minute)
	must(t, err)
	if !held || l1.Token != 1 || l1.Holder != "s1" {
		t.Fatalf("first acquire = %+v %v", l1, held)
	}
	l2, held, err := f.db.AcquireLease(sys, "rollout", "s2", time.Minute)
	must(t, err)
	if held || l2.Holder != "s1" || l2.Token != 1 {
		t.Fatalf("second server = %+v %v, want s1's lease", l2, held)
	}
	f.clock.Advance(30 * time.Second)
	r, held, err := f.db.AcquireLease(sys, "rollout", "s1", time.Minute)
	must(t, err)
	if !held || r.Token != 1 || !r.ExpiresAt.Equal(f.clock.Now().Add(time.Minute)) {
		t.Errorf("renewal = %+v %v, want the same token, a minute more", r, held)
	}
	// s1 dies; its lease runs out; s2 takes over with a new token.
	f.clock.Advance(61 * time.Second)
	l2, held, err = f.db.AcquireLease(sys, "rollout", "s2", time.Minute)
	must(t, err)
	if !held || l2.Token != 2 {
		t.Fatalf("takeover = %+v %v", l2, held)
	}
	if _, held, _ := f.db.AcquireLease(sys, "rollout", "s1", time.Minute); held {
		t.Error("the deposed server took the lease back while s2 holds it")
	}
	// Leases are the servers' business only.
	_, _, err = f.db.AcquireLease(f.ownA, "rollout", "s3", time.Minute)
	wantKind(t, err, patch.KindForbidden)
	// Releasing lets the next server in at once.
	must(t, f.db.ReleaseLease(sys, "rollout", "s2"))
	l3, held, err := f.db.AcquireLease(sys, "rollout", "s1", time.Minute)
	must(t, err)
	if !held || l3.Token != 3 {
		t.Errorf("after release = %+v %v", l3, held)
	}
	must(t, f.db.ReleaseLease(sys, "rollout", "nobody")) // not the holder: nothing happens
	if _, held, _ := f.db.AcquireLease(sys, "rollout", "s2", time.Minute); held {
		t.Error("a release by a non-holder freed the lease")
	}
}

func testCycles(t *testing.T, open Opener) {
	f := newRolloutFixture(t, open)
	got, err := f.db.FindCycleByID(f.ownA, f.cycle.ID)
	must(t, err)
	if got.Version != 1 || got.Name != "November" || len(got.Rings) != 2 || got.Rings[0].Promotion.MinSample != 3 || got.Updates[0].Package != "openssl" {
		t.Errorf("FindCycleByID = %+v", got)
	}
	ds, n, err := f.db.FindDeployments(f.ownA, patch.DeploymentFilter{CycleID: &f.cycle.ID})
	must(t, err)
	if n != 1 || ds[0].Targets[0].FromVersion != "3.0.15" || ds[0].Hostname != "web-01" || ds[0].State != patch.DeployWaiting {
		t.Fatalf("FindDeployments = %d %+v", n, ds)
	}
	for _, flt := range []patch.DeploymentFilter{
		{FindingIDs: []patch.FindingID{"fnd_web01_openssl", "fnd_other"}},
		{FindingIDs: []patch.FindingID{"fnd_web01_openssl"}, ActiveCycles: true},
		{AssetID: &f.asset, States: []patch.DeploymentState{patch.DeployWaiting, patch.DeployInstalling}},
		{Ring: patchtest.Ptr("canary")},
	} {
		if _, n, err := f.db.FindDeployments(f.admin, flt); err != nil || n != 1 {
			t.Errorf("FindDeployments(%+v) = %d, %v; want 1", flt, n, err)
		}
	}
	if _, n, _ := f.db.FindDeployments(f.admin, patch.DeploymentFilter{FindingIDs: []patch.FindingID{"fnd_other"}}); n != 0 {
		t.Errorf("a finding the cycle does not target matched %d deployments", n)
	}
	// Tenant isolation.
	_, err = f.db.FindCycleByID(f.ownB, f.cycle.ID)
	wantKind(t, err, patch.KindNotFound)
	if cs, n, err := f.db.FindCycles(f.ownB, patch.CycleFilter{}); err != nil || n != 0 || len(cs) != 0 {
		t.Errorf("B's owner sees %d cycles (%v)", n, err)
	}
	if _, n, err := f.db.FindDeployments(f.ownB, patch.DeploymentFilter{CycleID: &f.cycle.ID}); err != nil || n != 0 {
		t.Errorf("B's owner sees %d deployments (%v)", n, err)
	}
	if js, err := f.db.FindRolloutJobs(f.ownB, patch.RolloutJobFilter{CycleID: f.cycle.ID}); err != nil || len(js) != 0 {
		t.Errorf("B's owner sees %d jobs (%v)", len(js), err)
	}
	c2, d2 := f.newCycle(t, f.a.ID, f.asset, "Sneaky")
	wantKind(t, f.db.CreateCycle(f.ownB, c2, []*patch.Deployment{d2}, nil), patch.KindNotFound)
	// A deployment on another client's asset is refused.
	c3, d3 := f.newCycle(t, f.a.ID, f.assetB.ID, "Cross")
	wantKind(t, f.db.CreateCycle(f.admin, c3, []*patch.Deployment{d3}, nil), patch.KindNotFound)
	_, err = f.db.ChangeCycle(f.ownB, f.cycle.ID, patch.CycleAction{Change: func(c *patch.Cycle, ds []*patch.Deployment) (patch.CycleChange, error) {
		t.Error("B's owner reached A's cycle")
		return patch.CycleChange{}, nil
	}})
	wantKind(t, err, patch.KindNotFound)
	if cs, n, err := f.db.FindCycles(f.admin, patch.CycleFilter{ClientID: &f.a.ID, States: []patch.CycleState{patch.CycleRunning}}); err != nil || n != 1 || cs[0].ID != f.cycle.ID {
		t.Errorf("FindCycles(running) = %d %v", n, err)
	}
	// The evidence of creation is in A's chain under the cycle.
	cid := string(f.cycle.ID)
	ev, n, err := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID, CycleID: &cid})
	must(t, err)
	if n != 1 || ev[0].Type != patch.EventCycleCreated || ev[0].Actor.Name == "" {
		t.Errorf("cycle evidence = %d %+v", n, ev)
	}

	// A person's change applies at the current version, audited, and
	// withdraws the cycle's pending jobs on abort.
	before := f.cycle.Version
	out, err := f.db.ChangeCycle(f.admin, f.cycle.ID, patch.CycleAction{Audit: "cycle.abort", Change: func(c *patch.Cycle, ds []*patch.Deployment) (patch.CycleChange, error) {
		c.State = patch.CycleAborted
		ds[0].State = patch.DeployCancelled
		return patch.CycleChange{Deployments: ds, ExpireJobs: true,
			Events: []patch.EvidenceEvent{{ClientID: c.ClientID, Type: patch.EventCycleAborted, Subject: patch.EvidenceSubject{CycleID: string(c.ID)}}}}, nil
	}})
	must(t, err)
	if out.State != patch.CycleAborted || out.Version != before+1 {
		t.Errorf("ChangeCycle = %s v%d", out.State, out.Version)
	}
	_, n, err = f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("cycle.abort")})
	must(t, err)
	if n != 1 {
		t.Errorf("%d cycle.abort audit entries", n)
	}
	ds, _, _ = f.db.FindDeployments(f.admin, patch.DeploymentFilter{CycleID: &f.cycle.ID})
	if ds[0].State != patch.DeployCancelled {
		t.Errorf("deployment after abort = %s", ds[0].State)
	}
}

func testCycleSteps(t *testing.T, open Opener) {
	f := newRolloutFixture(t, open)
	lease, held, err := f.db.AcquireLease(f.sys, "rollout", "server-a", time.Hour)
	if err != nil || !held {
		t.Fatal(err)
	}
	now := f.clock.Now()
	step := func(c *patch.Cycle, d *patch.Deployment, stepNo int, jobID string) patch.CycleStep {
		d2 := *d
		d2.Step, d2.State, d2.ScheduledAt, d2.UpdatedAt = stepNo, patch.DeployInstalling, now, now
		c2 := *c
		payload, _ := json.Marshal(map[string]any{"source": "apt", "targets": []map[string]string{{"id": "openssl=3.0.16", "package": "openssl", "version": "3.0.16"}}})
		return patch.CycleStep{Lease: lease, Cycle: &c2, Deployments: []*patch.Deployment{&d2},
			Jobs: []patch.NewRolloutJob{{
				Job: patch.AgentJob{ID: patch.AgentJobID(jobID), ClientID: c.ClientID, AssetID: f.asset, AgentID: f.agent.ID, Kind: "install",
					Payload: payload, ExpiresAt: now.Add(time.Hour), CreatedBy: "rollout scheduler"},
				Rollout: patch.RolloutJob{ID: jobID, DeploymentID: d.ID, CycleID: c.ID, ClientID: c.ClientID, AssetID: f.asset, StepNo: stepNo,
					Step: patch.StepInstall, Source: "apt", ExpiresAt: now.Add(time.Hour)}}},
			Webhooks: []patch.RolloutJob{{ID: "whk_" + jobID, DeploymentID: d.ID, CycleID: c.ID, ClientID: c.ClientID, AssetID: f.asset,
				StepNo: stepNo, Step: patch.StepSnapshot, URL: "https://hv.example/snap", ExpiresAt: now.Add(time.Hour)}},
			Tickets: []*patch.Ticket{{ID: patch.TicketID(patch.NewID(patch.PrefixTicket, now)), ClientID: c.ClientID, Kind: patch.TicketEscalation,
				Title: "web-01: patching failed", Body: "dpkg error", CycleID: c.ID, DeploymentID: d.ID, AssetID: f.asset, Ring: "canary", CreatedBy: "rollout engine"}},
			Events: []patch.EvidenceEvent{{ClientID: c.ClientID, Type: patch.EventScheduled,
				Subject: patch.EvidenceSubject{CycleID: string(c.ID), AssetID: f.asset}, Details: map[string]string{"ring": "canary"}}},
		}
	}
	jobID := patch.NewID(patch.PrefixAgentJob, now)
	s := step(f.cycle, f.dep, 1, jobID)

	// A deposed leader writes nothing.
	stale := s
	stale.Lease.Token = 99
	wantField(t, f.db.ApplyCycleStep(f.sys, stale), patch.KindConflict, "lease")
	// Only the scheduler (unscoped) steps cycles.
	wantKind(t, f.db.ApplyCycleStep(f.ownA, s), patch.KindForbidden)
	must(t, f.db.ApplyCycleStep(f.sys, s))
	if s.Cycle.Version != 2 {
		t.Errorf("the stored step's cycle is at version %d, want 2", s.Cycle.Version)
	}
	// The same step again, from the cycle as it was read: it moved on
	// (version) …
	wantField(t, f.db.ApplyCycleStep(f.sys, step(f.cycle, f.dep, 1, jobID)), patch.KindConflict, "version")
	// … and even at the right version a second job for the same
	// deployment step is refused by the unique index.
	cur, err := f.db.FindCycleByID(f.admin, f.cycle.ID)
	must(t, err)
	dup := step(cur, f.dep, 1, patch.NewID(patch.PrefixAgentJob, now))
	dup.Webhooks, dup.Tickets = nil, nil
	wantKind(t, f.db.ApplyCycleStep(f.sys, dup), patch.KindConflict)
	if js, _, _ := f.db.FindAgentJobs(f.admin, patch.AgentJobFilter{AgentID: &f.agent.ID}); len(js) != 1 {
		t.Fatalf("%d agent jobs after a refused duplicate, want 1", len(js))
	}

	jobs, err := f.db.FindRolloutJobs(f.ownA, patch.RolloutJobFilter{CycleID: f.cycle.ID, CurrentStep: true})
	must(t, err)
	if len(jobs) != 2 {
		t.Fatalf("rollout jobs = %+v", jobs)
	}
	var install, hook *patch.RolloutJob
	for _, j := range jobs {
		if j.Webhook {
			hook = j
		} else {
			install = j
		}
	}
	if install == nil || hook == nil || install.State != patch.JobPending || install.Deliveries != 0 || hook.URL != "https://hv.example/snap" {
		t.Fatalf("install %+v hook %+v", install, hook)
	}

	// The agent takes the job at its check-in and answers it; the rollout
	// job shows the delivery and the result.
	f.clock.Advance(time.Minute)
	actx := agentContext(t.Context(), f.agent)
	out, err := f.db.RecordCheckIn(actx, patch.CheckIn{AgentID: f.agent.ID, ExpectedBy: f.clock.Now().Add(10 * time.Minute), MaxJobs: 10, RedeliverAfter: 30 * time.Minute})
	must(t, err)
	if len(out.Jobs) != 1 || string(out.Jobs[0].ID) != jobID {
		t.Fatalf("check-in handed out %+v", out.Jobs)
	}
	doc := []byte(`{"id":"res_1","job_id":"` + jobID + `","kind":"install","status":"succeeded","install":{"source":"apt","items":[{"id":"openssl=3.0.16","package":"openssl","status":"installed","from_version":"3.0.15","to_version":"3.0.16"}],"reboot_required":false}}`)
	_, err = f.db.RecordResults(actx, []patch.AgentResult{{ID: "res_1", JobID: patch.AgentJobID(jobID), Kind: "install", Status: "succeeded",
		StartedAt: f.clock.Now(), FinishedAt: f.clock.Now(), Document: doc}})
	must(t, err)
	jobs, err = f.db.FindRolloutJobs(f.admin, patch.RolloutJobFilter{CycleID: f.cycle.ID, DeploymentIDs: []patch.DeploymentID{f.dep.ID}})
	must(t, err)
	for _, j := range jobs {
		if j.ID == jobID && (j.State != patch.JobSucceeded || j.Deliveries != 1 || j.DeliveredAt.IsZero() || len(j.Result) == 0) {
			t.Errorf("install job after the result = %+v", j)
		}
	}

	// Webhook results are recorded once.
	must(t, f.db.RecordWebhookResult(f.sys, hook.ID, patch.JobSucceeded, json.RawMessage(`{"status":201}`), ""))
	wantKind(t, f.db.RecordWebhookResult(f.sys, hook.ID, patch.JobFailed, nil, "again"), patch.KindConflict)
	wantKind(t, f.db.RecordWebhookResult(f.ownA, hook.ID, patch.JobFailed, nil, ""), patch.KindForbidden)

	// The step's ticket, evidence and deployment state are stored; the
	// cycle's own state did not change, so no cycle audit entry.
	ts, n, err := f.db.FindTickets(f.ownA, patch.TicketFilter{CycleID: &f.cycle.ID})
	must(t, err)
	if n != 1 || ts[0].State != patch.TicketOpen || ts[0].CreatedBy != "rollout engine" {
		t.Errorf("tickets = %+v", ts)
	}
	ds, _, _ := f.db.FindDeployments(f.admin, patch.DeploymentFilter{CycleID: &f.cycle.ID})
	if ds[0].State != patch.DeployInstalling || ds[0].Step != 1 || !ds[0].ScheduledAt.Equal(now) {
		t.Errorf("deployment after the step = %+v", ds[0])
	}
	cid := string(f.cycle.ID)
	if _, n, _ := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID, CycleID: &cid, Types: []string{patch.EventScheduled}}); n != 1 {
		t.Errorf("%d scheduled events", n)
	}

	// A halted cycle's step is audited.
	cur, err = f.db.FindCycleByID(f.admin, f.cycle.ID)
	must(t, err)
	cur.State, cur.HaltRing, cur.HaltReason, cur.HaltedAt = patch.CycleHalted, "canary", "2 of 3 failed", f.clock.Now()
	must(t, f.db.ApplyCycleStep(f.sys, patch.CycleStep{Lease: lease, Cycle: cur}))
	if _, n, _ := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("cycle.advance")}); n != 1 {
		t.Errorf("%d cycle.advance audit entries, want 1", n)
	}
	// Steps of one client cannot carry another client's deployments.
	cur, _ = f.db.FindCycleByID(f.admin, f.cycle.ID)
	foreign := &patch.Deployment{ID: "dep_x", CycleID: f.cycle.ID, ClientID: f.b.ID, AssetID: f.assetB.ID, Ring: "canary", State: patch.DeployWaiting}
	wantKind(t, f.db.ApplyCycleStep(f.sys, patch.CycleStep{Lease: lease, Cycle: cur, Deployments: []*patch.Deployment{foreign}}), patch.KindConflict)
}

func testTickets(t *testing.T, open Opener) {
	f := newRolloutFixture(t, open)
	lease, _, err := f.db.AcquireLease(f.sys, "rollout", "s", time.Minute)
	must(t, err)
	tk := &patch.Ticket{ID: patch.TicketID(patch.NewID(patch.PrefixTicket, f.clock.Now())), ClientID: f.a.ID, Kind: patch.TicketCycleHalted,
		Title: "Patch cycle November halted in ring canary", Body: "2 of 3 failed", CycleID: f.cycle.ID, Ring: "canary"}
	c := *f.cycle
	c.State, c.TicketID = patch.CycleHalted, tk.ID
	must(t, f.db.ApplyCycleStep(f.sys, patch.CycleStep{Lease: lease, Cycle: &c, Tickets: []*patch.Ticket{tk}}))
	got, err := f.db.FindTicketByID(f.ownA, tk.ID)
	must(t, err)
	if got.State != patch.TicketOpen || got.Title != tk.Title || got.CreatedBy != "rollout scheduler" {
		t.Errorf("ticket = %+v", got)
	}
	if _, n, _ := f.db.FindTickets(f.admin, patch.TicketFilter{State: patchtest.Ptr(patch.TicketOpen), Kind: patchtest.Ptr(patch.TicketCycleHalted)}); n != 1 {
		t.Errorf("open halt tickets = %d", n)
	}
	// Isolation.
	_, err = f.db.FindTicketByID(f.ownB, tk.ID)
	wantKind(t, err, patch.KindNotFound)
	if _, n, _ := f.db.FindTickets(f.ownB, patch.TicketFilter{}); n != 0 {
		t.Errorf("B's owner sees %d tickets", n)
	}
	_, err = f.db.ResolveTicket(f.ownB, tk.ID, "mine now")
	wantKind(t, err, patch.KindNotFound)
	_, err = f.db.ResolveTicket(f.admin, tk.ID, "  ")
	wantField(t, err, patch.KindInvalid, "resolution")
	res, err := f.db.ResolveTicket(f.admin, tk.ID, "rebuilt the canary VM")
	must(t, err)
	if res.State != patch.TicketResolved || res.ResolvedBy == "" || res.Resolution != "rebuilt the canary VM" || res.ResolvedAt.IsZero() {
		t.Errorf("resolved = %+v", res)
	}
	_, err = f.db.ResolveTicket(f.admin, tk.ID, "again")
	wantKind(t, err, patch.KindConflict)
	// Resolving through a cycle change of an already resolved ticket is a
	// no-op, not an error.
	_, err = f.db.ChangeCycle(f.admin, f.cycle.ID, patch.CycleAction{Change: func(c *patch.Cycle, _ []*patch.Deployment) (patch.CycleChange, error) {
		c.State = patch.CycleRunning
		return patch.CycleChange{ResolveTickets: []patch.TicketResolution{{ID: tk.ID, Resolution: "resumed"}}}, nil
	}})
	must(t, err)
	for _, action := range []string{"ticket.create", "ticket.resolve"} {
		if _, n, _ := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: &action}); n != 1 {
			t.Errorf("%d %s audit entries", n, action)
		}
	}
}
