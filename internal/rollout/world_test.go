package rollout

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
)

// world is a test harness that plays both the store and the agents: it
// keeps a cycle's state between Advance calls the way the store does, and
// runs fake agents that take their jobs at check-in and answer them.

var t0 = time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC) // a Monday, 12:00 UTC

const testClient = patch.ClientID("cli_test")

// fakeAgent is one machine: what it has installed and how it behaves.
type fakeAgent struct {
	id        patch.AssetID
	online    bool
	protocol  int
	installed map[string]string // package → version
	// failInstall makes installs of these packages fail.
	failInstall map[string]bool
	// needsReboot makes installs require a restart; rebootedAt is when
	// the machine last restarted.
	needsReboot   bool
	rebootPending bool
	// healthy: health checks pass.
	healthy      bool
	failSnapshot bool
	failRollback bool
	// ignoreJobs: the agent takes jobs but never answers.
	ignoreJobs bool
	// ran counts jobs run, by kind.
	ran map[patch.RolloutStep]int
}

type world struct {
	t       *testing.T
	now     time.Time
	policy  *patch.Policy
	runbook *patch.Runbook
	cycle   *patch.Cycle
	ds      map[patch.DeploymentID]*patch.Deployment
	order   []patch.DeploymentID
	jobs    map[patch.DeploymentID][]*Job
	assets  map[patch.AssetID]*Asset
	agents  map[patch.AssetID]*fakeAgent
	tickets []*patch.Ticket
	events  []patch.EvidenceEvent
	// requests are every job request ever made, in order.
	requests []JobRequest
	// reqs are the requests by job id (what each agent is asked to do).
	reqs     map[string]JobRequest
	resolved []patch.TicketResolution
	ids      int
}

// testPolicy has the default tiers and rings and one "*" cell per tier
// with the given windows and reboot policy.
func testPolicy(windows []string, reboot patch.RebootPolicy) *patch.Policy {
	p := policy.Default(&patch.Client{ID: testClient, Name: "Test"})
	p.SLA.Matrix = nil
	for _, tier := range p.Tiers {
		p.SLA.Matrix = append(p.SLA.Matrix, patch.SLACell{Class: patch.AnyClass, Tier: tier.Key, Deadline: "7d", Windows: windows, Reboot: reboot})
	}
	return p
}

func anytime() *patch.Policy {
	return testPolicy(nil, patch.RebootPolicy{Mode: patch.RebootUserPrompted, Deferrals: 3})
}

// newWorld builds a cycle over n assets per ring (canary, pilot,
// production), each missing one update of package pkg.
func newWorld(t *testing.T, p *patch.Policy, rb *patch.Runbook, perRing map[string]int, pkgs ...string) *world {
	t.Helper()
	if len(pkgs) == 0 {
		pkgs = []string{"openssl"}
	}
	w := &world{t: t, now: t0, policy: p, runbook: rb, ds: map[patch.DeploymentID]*patch.Deployment{},
		jobs: map[patch.DeploymentID][]*Job{}, reqs: map[string]JobRequest{}, assets: map[patch.AssetID]*Asset{}, agents: map[patch.AssetID]*fakeAgent{}}
	if w.runbook == nil {
		w.runbook = patch.DefaultRunbook(testClient)
	}
	plan := Plan{ClientID: testClient, Kind: patch.CycleMonthly, Name: "November", CreatedBy: "alice", Now: w.now, Policy: p,
		Assets: map[patch.AssetID]*patch.Asset{}, Placements: map[patch.AssetID]policy.Placement{}, NewID: w.newID}
	for _, r := range p.Rings {
		for i := range perRing[r.Key] {
			id := patch.AssetID(fmt.Sprintf("ast_%s%03d", r.Key, i))
			a := &patch.Asset{ID: id, ClientID: testClient, Hostname: fmt.Sprintf("%s-%03d", r.Key, i), Class: "workstation",
				Role: patch.RoleWorkstation, Criticality: patch.CriticalityMedium, Managed: true}
			plan.Assets[id] = a
			plan.Placements[id] = policy.Placement{Ring: r.Key}
			fa := &fakeAgent{id: id, online: true, protocol: RunbookProtocol, installed: map[string]string{}, failInstall: map[string]bool{},
				healthy: true, ran: map[patch.RolloutStep]int{}}
			w.agents[id] = fa
			facts := &Asset{Asset: a, Zone: time.UTC, AgentID: patch.AgentID("agt_" + string(id)), Protocol: RunbookProtocol, Online: true,
				Findings: map[patch.FindingID]Finding{}}
			w.assets[id] = facts
			for _, pkg := range pkgs {
				fa.installed[pkg] = "1.0"
				fid := patch.FindingID("fnd_" + string(id) + "_" + pkg)
				facts.Findings[fid] = Finding{Open: true}
				plan.Findings = append(plan.Findings, &patch.Finding{ID: fid, ClientID: testClient, AssetID: id, UpdateID: patch.UpdateID("upd_" + pkg),
					InstalledVersion: "1.0", State: patch.FindingOpen, Tier: policy.TierHigh, Approval: patch.ApprovalApproved,
					Update: &patch.Update{ID: patch.UpdateID("upd_" + pkg), Source: "apt", VendorID: pkg + "=1.1", Package: pkg, Version: "1.1", Title: pkg + " 1.1"}})
			}
		}
	}
	c, ds, events, err := NewCycle(plan)
	if err != nil {
		t.Fatal(err)
	}
	w.cycle = c
	w.events = append(w.events, events...)
	for _, d := range ds {
		w.ds[d.ID] = d
		w.order = append(w.order, d.ID)
	}
	return w
}

func (w *world) newID(prefix string) string {
	w.ids++
	return fmt.Sprintf("%s_%06d", prefix, w.ids)
}

func (w *world) deployments() []*patch.Deployment {
	out := make([]*patch.Deployment, len(w.order))
	for i, id := range w.order {
		out[i] = w.ds[id]
	}
	return out
}

func (w *world) input() Input {
	for id, a := range w.assets {
		a.Online = w.agents[id].online
	}
	return Input{Now: w.now, Cycle: w.cycle, Deployments: w.deployments(), Policy: w.policy, Runbook: w.runbook,
		Assets: w.assets, Jobs: w.jobs, NewID: w.newID}
}

// advance runs one scheduler pass and stores its output.
func (w *world) advance() *Output {
	w.t.Helper()
	out := Advance(w.input())
	w.cycle = out.Cycle
	w.cycle.Version++
	for _, d := range out.Changed {
		w.ds[d.ID] = d
	}
	for _, r := range out.Jobs {
		w.requests = append(w.requests, r)
		j := &Job{RolloutJob: patch.RolloutJob{ID: r.ID, DeploymentID: r.DeploymentID, AssetID: r.AssetID, StepNo: r.StepNo, Step: r.Step,
			Source: r.Source, Webhook: r.Webhook != "", State: patch.JobPending, CreatedAt: w.now, ExpiresAt: r.ExpiresAt}}
		w.jobs[r.DeploymentID] = append(w.jobs[r.DeploymentID], j)
		w.reqs[j.ID] = r
	}
	w.tickets = append(w.tickets, out.Tickets...)
	w.events = append(w.events, out.Events...)
	w.resolved = append(w.resolved, out.ResolveTickets...)
	return out
}

// checkIns lets every online agent take and run its pending jobs.
func (w *world) checkIns() {
	for _, id := range w.order {
		d := w.ds[id]
		fa := w.agents[d.AssetID]
		for _, j := range w.jobs[id] {
			if j.State != patch.JobPending {
				continue
			}
			if j.Webhook {
				w.answerWebhook(j, fa)
				continue
			}
			if !fa.online {
				continue
			}
			if !w.now.Before(j.ExpiresAt) {
				j.State = patch.JobExpired
				continue
			}
			j.State, j.DeliveredAt, j.Deliveries = patch.JobDelivered, w.now, 1
			// What the store appends in the check-in's transaction.
			for _, t := range w.reqs[j.ID].Install {
				w.storeEvent(patch.EventSent, d, t.Package, map[string]string{"package": t.Package, "version": t.Version, "job": j.ID})
			}
			if fa.ignoreJobs {
				continue
			}
			w.run(fa, j, w.reqs[j.ID])
		}
	}
}

func (w *world) answerWebhook(j *Job, fa *fakeAgent) {
	if fa.failSnapshot {
		j.State, j.Error = patch.JobFailed, "hypervisor said 500"
	} else {
		j.State = patch.JobSucceeded
	}
}

// run is the fake agent running one job.
func (w *world) run(fa *fakeAgent, j *Job, r JobRequest) {
	fa.ran[r.Step]++
	o := &Outcome{Status: "succeeded", FinishedAt: w.now.Add(time.Minute)}
	a := w.assets[fa.id]
	switch {
	case r.Install != nil:
		for _, t := range r.Install {
			if fa.failInstall[t.Package] {
				o.Items = append(o.Items, Item{ID: t.ID, Package: t.Package, Status: "failed", Detail: "dpkg: error processing " + t.Package})
				o.Status = "failed"
				continue
			}
			o.Items = append(o.Items, Item{ID: t.ID, Package: t.Package, Status: "installed", FromVersion: fa.installed[t.Package], ToVersion: t.Version})
			fa.installed[t.Package] = t.Version
		}
		if fa.needsReboot {
			o.RebootRequired, fa.rebootPending = true, true
		}
		w.scan(fa, a, w.now.Add(2*time.Minute)) // the agent scans right after an install
	case r.Rollback != nil:
		for _, t := range r.Rollback {
			if fa.failRollback {
				o.Items = append(o.Items, Item{ID: t.ID, Package: t.Package, Status: "failed", Detail: "version not available"})
				o.Status = "failed"
				continue
			}
			o.Items = append(o.Items, Item{ID: t.ID, Package: t.Package, Status: "installed", FromVersion: fa.installed[t.Package], ToVersion: t.Version})
			fa.installed[t.Package] = t.Version
		}
		w.scan(fa, a, w.now.Add(2*time.Minute))
	case r.Hook != "":
		if fa.failSnapshot {
			o.Status, o.Error = "failed", "lvcreate: volume group full"
		}
		o.Output = "snapshot ok"
	case r.Reboot != nil:
		o.RebootAt = w.now.Add(time.Duration(r.Reboot.DelaySeconds) * time.Second)
		fa.rebootPending = false
	case r.Health != nil:
		for _, c := range r.Health {
			o.Checks = append(o.Checks, CheckResult{Name: c.Name, OK: fa.healthy, Detail: map[bool]string{true: "", false: "connection refused"}[fa.healthy]})
		}
	case r.Scan:
		w.scan(fa, a, w.now.Add(time.Minute))
	}
	if r.Install != nil {
		// What the store appends when the result arrives.
		d := w.ds[r.DeploymentID]
		for _, it := range o.Items {
			typ := patch.EventInstalled
			if it.Status != "installed" {
				typ = patch.EventInstallFailed
			}
			w.storeEvent(typ, d, it.Package, map[string]string{"package": it.Package, "reason": it.Detail})
		}
	}
	j.Outcome = o
	j.State = patch.JobSucceeded
	if o.Status == "failed" {
		j.State = patch.JobFailed
	}
}

// storeEvent records an event the store appends on its own (delivery and
// install results), about a deployment's package.
func (w *world) storeEvent(typ string, d *patch.Deployment, pkg string, details map[string]string) {
	w.events = append(w.events, patch.EvidenceEvent{ClientID: testClient, Type: typ,
		Subject: patch.EvidenceSubject{AssetID: d.AssetID, UpdateID: patch.UpdateID("upd_" + pkg), CycleID: string(w.cycle.ID)}, Details: details})
}

// scan updates what the server knows from a scan finished at at.
func (w *world) scan(fa *fakeAgent, a *Asset, at time.Time) {
	a.LastScanAt = at
	rr := fa.rebootPending
	a.RebootRequired = &rr
	for fid, f := range a.Findings {
		pkg := string(fid)[strings.LastIndex(string(fid), "_")+1:]
		open := fa.installed[pkg] < "1.1"
		if open != f.Open {
			f.Open, f.Verified, f.ResolvedAt = open, !open, at
			if open {
				f.ResolvedAt = time.Time{}
			}
			a.Findings[fid] = f
		}
	}
}

// tick is one round: check-ins, then a scheduler pass.
func (w *world) tick() *Output {
	w.checkIns()
	return w.advance()
}

// runFor ticks every step for d.
func (w *world) runFor(d, step time.Duration) {
	w.t.Helper()
	end := w.now.Add(d)
	for w.now.Before(end) {
		w.tick()
		w.now = w.now.Add(step)
	}
}

func (w *world) ring(key string) patch.CycleRing {
	r, _ := w.cycle.Ring(key)
	if r == nil {
		w.t.Fatalf("no ring %s", key)
	}
	return *r
}

func (w *world) states(ring string) map[patch.DeploymentState]int {
	out := map[patch.DeploymentState]int{}
	for _, d := range w.deployments() {
		if ring == "" || d.Ring == ring {
			out[d.State]++
		}
	}
	return out
}

func (w *world) eventTypes(asset patch.AssetID) []string {
	var out []string
	for _, e := range w.events {
		if e.Subject.AssetID == asset {
			out = append(out, e.Type)
		}
	}
	return out
}

func (w *world) cycleEvents() []string {
	var out []string
	for _, e := range w.events {
		if e.Subject.AssetID == "" {
			out = append(out, e.Type+":"+e.Details["ring"])
		}
	}
	return out
}

func (w *world) first(ring string) *patch.Deployment {
	for _, d := range w.deployments() {
		if d.Ring == ring {
			return d
		}
	}
	w.t.Fatalf("no deployment in %s", ring)
	return nil
}

func (w *world) agentsIn(ring string) []*fakeAgent {
	var out []*fakeAgent
	for _, d := range w.deployments() {
		if d.Ring == ring {
			out = append(out, w.agents[d.AssetID])
		}
	}
	slices.SortFunc(out, func(a, b *fakeAgent) int { return strings.Compare(string(a.id), string(b.id)) })
	return out
}
