package rollout

import (
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
)

// EngineName is how the engine signs what it decides on its own
// (automatic promotions).
const EngineName = "rollout engine"

// Input is everything Advance reasons about for one cycle at one instant.
type Input struct {
	Now         time.Time
	Cycle       *patch.Cycle
	Deployments []*patch.Deployment
	Policy      *patch.Policy
	Runbook     *patch.Runbook
	// Assets are the cycle's assets with what the server knows of them.
	// A deployment whose asset is missing is cancelled.
	Assets map[patch.AssetID]*Asset
	// Jobs are the jobs of each deployment's current step (those with
	// StepNo == Deployment.Step); older steps' jobs are ignored.
	Jobs map[patch.DeploymentID][]*Job
	// NewID makes IDs for tickets and jobs (patch.NewID in the server, a
	// counter in tests).
	NewID func(prefix string) string
}

// Asset is one asset of a cycle with what the server knows of it.
type Asset struct {
	Asset *patch.Asset
	// Zone is the asset's site time zone (UTC without a site).
	Zone *time.Location
	// AgentID is the asset's active agent ("" when it has none);
	// Protocol the agent's protocol version; Online whether it checks in
	// as expected.
	AgentID  patch.AgentID
	Protocol int
	Online   bool
	// LastScanAt is when the asset's last successful scan finished, and
	// RebootRequired what that scan said about a pending reboot (nil when
	// unknown).
	LastScanAt     time.Time
	RebootRequired *bool
	// Findings are the states of the findings the deployment targets.
	Findings map[patch.FindingID]Finding
	// DueAt is the earliest SLA due time of the deployment's open
	// targets (zero when unknown).
	DueAt time.Time
}

// Finding is what a scan says of one targeted finding.
type Finding struct {
	// Open: the last scan still reports the update missing.
	Open bool
	// Verified: a scan no longer reports it (resolved verified, or
	// superseded by a finding whose installed version is the target's).
	Verified   bool
	ResolvedAt time.Time
}

// Job is one job of a deployment's current step with its outcome, if the
// agent (or the webhook) answered.
type Job struct {
	patch.RolloutJob
	Outcome *Outcome
}

// Outcome is an agent's result for a job, in the engine's terms.
type Outcome struct {
	// Status is succeeded, partial, failed or refused.
	Status     string
	Error      string
	FinishedAt time.Time
	// Items are an install's or a rollback's per-target outcomes.
	Items          []Item
	RebootRequired bool
	// RebootAt is when the agent scheduled the restart.
	RebootAt time.Time
	// Checks are the health checks' outcomes.
	Checks []CheckResult
	// Output is the tail of a hook's or tool's output.
	Output string
}

// Item is one target's outcome.
type Item struct {
	ID, Package, Status, FromVersion, ToVersion, Detail string
}

// CheckResult is one health check's outcome.
type CheckResult struct {
	Name   string
	OK     bool
	Detail string
}

// JobRequest is a job to hand out: an agent job of one of the kinds below,
// or a snapshot webhook the server calls.
type JobRequest struct {
	ID           string
	DeploymentID patch.DeploymentID
	AssetID      patch.AssetID
	AgentID      patch.AgentID
	Step         patch.RolloutStep
	StepNo       int
	Source       patch.UpdateSource
	// ExpiresAt is the latest time the job may start; Deadline the end
	// of the window it runs in.
	ExpiresAt time.Time
	Deadline  time.Time

	Install  []Target       // an install job
	Rollback []Target       // a rollback job (Version is the version to return to)
	Hook     string         // a hook job (snapshot, restore)
	Reboot   *RebootRequest // a reboot job
	Health   []patch.HealthCheck
	Scan     bool   // a scan job (verification)
	Webhook  string // a snapshot webhook URL (no agent job)
}

// Target is one package of an install or rollback job.
type Target struct {
	ID, Package, Version string
}

// RebootRequest is a reboot job.
type RebootRequest struct {
	DelaySeconds int
	Message      string
}

// Output is what Advance decided.
type Output struct {
	Cycle *patch.Cycle
	// Changed are the deployments that changed.
	Changed        []*patch.Deployment
	Jobs           []JobRequest
	Tickets        []*patch.Ticket
	ResolveTickets []patch.TicketResolution
	Events         []patch.EvidenceEvent
}

// Empty reports whether nothing changed.
func (o *Output) Empty() bool {
	return len(o.Changed) == 0 && len(o.Jobs) == 0 && len(o.Tickets) == 0 && len(o.Events) == 0 && len(o.ResolveTickets) == 0
}

// engine is one Advance run.
type engine struct {
	in      Input
	now     time.Time
	c       *patch.Cycle
	out     *Output
	windows *policy.Windows
	changed map[patch.DeploymentID]bool
	ds      []*patch.Deployment
	// cycleChanged is set when the cycle itself changed.
	cycleChanged bool
}

// Advance moves one cycle on at in.Now. It never changes its inputs: the
// cycle and the changed deployments in the output are copies.
func Advance(in Input) *Output {
	c := CloneCycle(in.Cycle)
	e := &engine{in: in, now: in.Now.UTC(), c: c, out: &Output{Cycle: c}, changed: map[patch.DeploymentID]bool{}}
	if in.Runbook == nil {
		in.Runbook = patch.DefaultRunbook(c.ClientID)
		e.in.Runbook = in.Runbook
	}
	if in.Policy != nil {
		e.windows = policy.NewWindows(in.Policy)
	}
	for _, d := range in.Deployments {
		e.ds = append(e.ds, CloneDeployment(d))
	}
	if !c.Active() {
		return e.out
	}
	// 1. Outcomes of what is in flight, halted or not.
	for _, d := range e.ds {
		if !d.State.Terminal() {
			e.step(d)
		}
	}
	// 2. The gates: a breach in any started ring halts the cycle.
	if c.State == patch.CycleRunning {
		e.checkBreaches()
	}
	// 3. Rings move on; new attempts start.
	if c.State == patch.CycleRunning {
		e.promote()
		for _, d := range e.ds {
			if !d.State.Terminal() {
				e.start(d)
			}
		}
		// A ring that started in this pass may have finished already
		// (empty, or nothing left to do).
		e.promote()
	}
	e.complete()
	for _, d := range e.ds {
		if e.changed[d.ID] {
			d.UpdatedAt = e.now
			e.out.Changed = append(e.out.Changed, d)
		}
	}
	Summarize(c, e.ds)
	return e.out
}

// touch marks a deployment changed.
func (e *engine) touch(d *patch.Deployment) { e.changed[d.ID] = true }

func (e *engine) newID(prefix string) string { return e.in.NewID(prefix) }

// started reports whether a deployment's ring has started.
func (e *engine) started(d *patch.Deployment) bool {
	r, _ := e.c.Ring(d.Ring)
	return r != nil && r.State != patch.RingWaiting
}

func (e *engine) members(ring string) []*patch.Deployment {
	var out []*patch.Deployment
	for _, d := range e.ds {
		if d.Ring == ring {
			out = append(out, d)
		}
	}
	return out
}

// event appends an evidence event about a deployment (and an update).
func (e *engine) event(typ string, d *patch.Deployment, u patch.UpdateID, details map[string]string) {
	if details == nil {
		details = map[string]string{}
	}
	if d != nil {
		details["deployment"] = string(d.ID)
		details["ring"] = d.Ring
	}
	subj := patch.EvidenceSubject{CycleID: string(e.c.ID), UpdateID: u}
	if d != nil {
		subj.AssetID = d.AssetID
	}
	e.out.Events = append(e.out.Events, patch.EvidenceEvent{ClientID: e.c.ClientID, Type: typ, Subject: subj, Details: details})
}

// CloneCycle returns a deep copy of a cycle.
func CloneCycle(c *patch.Cycle) *patch.Cycle {
	out := *c
	out.Rings = slices.Clone(c.Rings)
	for i := range out.Rings {
		if p := out.Rings[i].Promotion; p != nil {
			pp := *p
			out.Rings[i].Promotion = &pp
		}
	}
	out.Updates = slices.Clone(c.Updates)
	return &out
}

// CloneDeployment returns a deep copy of a deployment.
func CloneDeployment(d *patch.Deployment) *patch.Deployment {
	out := *d
	out.Targets = slices.Clone(d.Targets)
	return &out
}

// ts formats a time for evidence details.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }
