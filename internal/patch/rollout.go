package patch

import (
	"context"
	"encoding/json"
	"time"
)

// Rollout vocabulary: patch cycles that take approved updates to a
// client's assets ring by ring, the per-asset deployments of a cycle with
// the runbook steps each went through, tickets raised when a cycle halts or
// a failure needs a person, the client's runbook settings (snapshots, health
// checks, rollback, remediation) and the scheduler's leader lease. The
// rules live in package rollout; docs/runbook.md explains them for people.

// Rollout ID types.
type (
	CycleID      string
	DeploymentID string
	TicketID     string
)

// More ID prefixes.
const (
	PrefixCycle      = "cyc"
	PrefixDeployment = "dep"
	PrefixTicket     = "tkt"
)

// Evidence event types of the rollout besides those in evidence.go. They
// are appended to the client's chain with the cycle as subject.
const (
	EventCycleCreated      = "cycle_created"
	EventRingStarted       = "ring_started"
	EventRingPromoted      = "ring_promoted"
	EventCycleHalted       = "cycle_halted"
	EventCycleResumed      = "cycle_resumed"
	EventCycleAborted      = "cycle_aborted"
	EventCycleCompleted    = "cycle_completed"
	EventUpdateSkipped     = "update_skipped"
	EventHealthCheckPassed = "health_check_passed"
	EventRebootRequested   = "reboot_requested"
	EventEscalated         = "escalated"
)

// CycleKind is what started a cycle. Persisted.
type CycleKind string

// Cycle kinds.
const (
	// CycleMonthly is the regular cycle (after Patch Tuesday, say): every
	// approved update the client's assets miss.
	CycleMonthly CycleKind = "monthly"
	// CycleEmergency takes named updates (or every emergency-flagged one)
	// through the rings at once, with the runbook's emergency soak.
	CycleEmergency CycleKind = "emergency"
)

// CycleState is where a cycle stands. Persisted.
type CycleState string

// Cycle states.
const (
	CycleRunning   CycleState = "running"
	CycleHalted    CycleState = "halted" // a ring breached its failure threshold: nothing new starts until a person acts
	CycleCompleted CycleState = "completed"
	CycleAborted   CycleState = "aborted"
)

// RingState is where one ring of a cycle stands. Persisted.
type RingState string

// Ring states, in the order a ring passes them.
const (
	RingWaiting          RingState = "waiting"           // an earlier ring has not been promoted
	RingDeploying        RingState = "deploying"         // its deployments run in their windows
	RingSoaking          RingState = "soaking"           // deployed; waiting out the soak period
	RingAwaitingApproval RingState = "awaiting_approval" // soaked and under threshold; a person must approve
	RingPromoted         RingState = "promoted"          // the next ring may start
	RingCompleted        RingState = "completed"         // the last ring finished
)

// Cycle is one patch cycle of one client.
type Cycle struct {
	ID       CycleID    `json:"id"`
	ClientID ClientID   `json:"client_id"`
	Kind     CycleKind  `json:"kind"`
	Name     string     `json:"name"`
	State    CycleState `json:"state"`
	// Rings are the policy's rings as they were when the cycle was
	// created (a policy change does not move a running cycle's gates).
	Rings   []CycleRing   `json:"rings"`
	Updates []CycleUpdate `json:"updates"`

	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// HaltedAt, HaltRing, HaltReason and TicketID describe the current
	// (or last) halt.
	HaltedAt   time.Time `json:"halted_at,omitzero"`
	HaltRing   string    `json:"halt_ring,omitempty"`
	HaltReason string    `json:"halt_reason,omitempty"`
	TicketID   TicketID  `json:"ticket_id,omitempty"`
	// ResumedAt and ResumedBy name the last resume.
	ResumedAt time.Time `json:"resumed_at,omitzero"`
	ResumedBy string    `json:"resumed_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts changes; the scheduler and operators' actions change
	// a cycle only at the version they read (optimistic locking).
	Version int `json:"version"`
}

// Ring returns the cycle's ring with key k and its index.
func (c *Cycle) Ring(k string) (*CycleRing, int) {
	for i := range c.Rings {
		if c.Rings[i].Key == k {
			return &c.Rings[i], i
		}
	}
	return nil, -1
}

// Active reports whether the cycle can still change.
func (c *Cycle) Active() bool { return c.State == CycleRunning || c.State == CycleHalted }

// CycleRing is one ring of a cycle.
type CycleRing struct {
	Key   string    `json:"key"`
	Name  string    `json:"name"`
	State RingState `json:"state"`
	// Promotion is the gate to the next ring (nil for the last ring).
	Promotion  *Promotion `json:"promotion,omitempty"`
	StartedAt  time.Time  `json:"started_at,omitzero"`
	DeployedAt time.Time  `json:"deployed_at,omitzero"`
	SoakUntil  time.Time  `json:"soak_until,omitzero"`
	PromotedAt time.Time  `json:"promoted_at,omitzero"`
	// PromotedBy is who approved the transition ("rollout engine" when
	// automatic).
	PromotedBy string `json:"promoted_by,omitempty"`
	// Progress is computed when read.
	Progress RingProgress `json:"progress"`
}

// RingProgress counts a ring's deployments.
type RingProgress struct {
	Members    int `json:"members"`
	Pending    int `json:"pending"`     // not started or between steps
	InProgress int `json:"in_progress"` // a job is out
	Succeeded  int `json:"succeeded"`   // deployed, verified and healthy
	Failed     int `json:"failed"`      // failing now: waiting to retry, escalated or rolled back
	RolledBack int `json:"rolled_back"`
	// Waived are failures a person acknowledged by resuming the cycle;
	// they no longer count against the gate.
	Waived  int `json:"waived"`
	Skipped int `json:"skipped"` // nothing to do, missed its windows, or cancelled
	// Results is Succeeded + Failed: the sample the gate is computed on.
	Results int `json:"results"`
	// FailureRatePct is (Failed − Waived) / Results, in percent.
	FailureRatePct float64 `json:"failure_rate_pct"`
}

// CycleUpdate is one update a cycle deploys.
type CycleUpdate struct {
	UpdateID   UpdateID     `json:"update_id"`
	Source     UpdateSource `json:"source"`
	Package    string       `json:"package"`
	Version    string       `json:"version"`
	Title      string       `json:"title"`
	Skipped    bool         `json:"skipped,omitempty"`
	SkippedBy  string       `json:"skipped_by,omitempty"`
	SkippedAt  time.Time    `json:"skipped_at,omitzero"`
	SkipReason string       `json:"skip_reason,omitempty"`
}

// DeploymentState is where one asset's deployment stands. Persisted.
type DeploymentState string

// Deployment states. The runbook's steps are snapshot → install → reboot
// (when needed, per the reboot policy) → verify (a fresh scan) → health
// checks, with rollback when a health check fails.
const (
	DeployPending       DeploymentState = "pending"        // its ring has not started
	DeployWaiting       DeploymentState = "waiting"        // for a window that leaves enough time, or for the agent
	DeploySnapshotting  DeploymentState = "snapshotting"   // the snapshot hook runs
	DeployInstalling    DeploymentState = "installing"     // the install job is out
	DeployRebooting     DeploymentState = "rebooting"      // a reboot was requested; waiting for the machine to come back
	DeployRebootPending DeploymentState = "reboot_pending" // installed; the reboot waits for its slot, a person or never comes
	DeployVerifying     DeploymentState = "verifying"      // waiting for a fresh scan to show the updates installed
	DeployHealthCheck   DeploymentState = "health_check"   // the health checks run
	DeployRollingBack   DeploymentState = "rolling_back"   // a health check failed; the previous state is restored
	DeployRetryWait     DeploymentState = "retry_wait"     // an attempt failed; the next starts after a backoff
	DeploySucceeded     DeploymentState = "succeeded"      // installed, verified and healthy
	DeployRolledBack    DeploymentState = "rolled_back"    // unhealthy after the install, and rolled back
	DeployFailed        DeploymentState = "failed"         // attempts exhausted (escalated), or the rollback failed
	DeploySkipped       DeploymentState = "skipped"        // nothing left to install
	DeployMissed        DeploymentState = "missed"         // the agent did not come back within the catch-up grace
	DeployCancelled     DeploymentState = "cancelled"      // the cycle was aborted
)

// DeploymentStates lists the states.
var DeploymentStates = []DeploymentState{DeployPending, DeployWaiting, DeploySnapshotting, DeployInstalling, DeployRebooting,
	DeployRebootPending, DeployVerifying, DeployHealthCheck, DeployRollingBack, DeployRetryWait, DeploySucceeded, DeployRolledBack,
	DeployFailed, DeploySkipped, DeployMissed, DeployCancelled}

// Terminal reports whether a deployment state is final.
func (s DeploymentState) Terminal() bool {
	switch s {
	case DeploySucceeded, DeployRolledBack, DeployFailed, DeploySkipped, DeployMissed, DeployCancelled:
		return true
	}
	return false
}

// TargetState is where one update of a deployment stands. Persisted.
type TargetState string

// Target states.
const (
	TargetPending    TargetState = "pending"
	TargetInstalled  TargetState = "installed" // deployed: the agent reported it installed
	TargetFailed     TargetState = "failed"
	TargetVerified   TargetState = "verified" // a fresh scan shows it installed
	TargetRolledBack TargetState = "rolled_back"
	TargetSkipped    TargetState = "skipped" // the update was skipped in the cycle, or nothing was to do
)

// DeploymentTarget is one update to install on the deployment's asset.
type DeploymentTarget struct {
	UpdateID  UpdateID     `json:"update_id"`
	FindingID FindingID    `json:"finding_id"`
	Source    UpdateSource `json:"source"`
	// VendorID, Package and Version are what the install job pins.
	VendorID string `json:"vendor_id"`
	Package  string `json:"package"`
	Version  string `json:"version"`
	// FromVersion is the version installed before; a rollback returns to
	// it.
	FromVersion string      `json:"from_version,omitempty"`
	Tier        string      `json:"tier,omitempty"`
	State       TargetState `json:"state"`
	Detail      string      `json:"detail,omitempty"`
}

// Deployment is one asset's part in a cycle, with when each runbook step
// happened.
type Deployment struct {
	ID       DeploymentID       `json:"id"`
	CycleID  CycleID            `json:"cycle_id"`
	ClientID ClientID           `json:"client_id"`
	AssetID  AssetID            `json:"asset_id"`
	Hostname string             `json:"hostname"`
	Ring     string             `json:"ring"`
	State    DeploymentState    `json:"state"`
	Targets  []DeploymentTarget `json:"targets"`
	// Step counts the job batches handed out; jobs of the current step
	// carry it, and outcomes of older steps are ignored.
	Step int `json:"step"`
	// Attempts counts install attempts; Failures the failed ones.
	Attempts      int       `json:"attempts"`
	Failures      int       `json:"failures"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	// RebootRequired is set when the install said the machine must
	// restart; RebootApproved when a person approved a manual reboot.
	RebootRequired bool `json:"reboot_required,omitempty"`
	RebootApproved bool `json:"reboot_approved,omitempty"`
	// Waived is set when a person resumed the cycle while this deployment
	// was failing: the failure no longer counts against the ring's gate.
	Waived bool `json:"waived,omitempty"`
	// WindowEnd is when the window the current attempt runs in closes.
	WindowEnd time.Time `json:"window_end,omitzero"`
	// When each step happened (zero until it did).
	ScheduledAt     time.Time `json:"scheduled_at,omitzero"`
	SnapshotAt      time.Time `json:"snapshot_at,omitzero"`
	SentAt          time.Time `json:"sent_at,omitzero"`
	InstalledAt     time.Time `json:"installed_at,omitzero"`
	RebootRequestAt time.Time `json:"reboot_requested_at,omitzero"`
	RebootedAt      time.Time `json:"rebooted_at,omitzero"`
	VerifiedAt      time.Time `json:"verified_at,omitzero"`
	HealthCheckedAt time.Time `json:"health_checked_at,omitzero"`
	RolledBackAt    time.Time `json:"rolled_back_at,omitzero"`
	FailedAt        time.Time `json:"failed_at,omitzero"`
	CompletedAt     time.Time `json:"completed_at,omitzero"`
	// TicketID is the escalation ticket, if one was raised.
	TicketID  TicketID  `json:"ticket_id,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Target returns the deployment's target for an update.
func (d *Deployment) Target(u UpdateID) *DeploymentTarget {
	for i := range d.Targets {
		if d.Targets[i].UpdateID == u {
			return &d.Targets[i]
		}
	}
	return nil
}

// RolloutStep names a runbook step a job runs. Persisted.
type RolloutStep string

// Rollout steps.
const (
	StepSnapshot RolloutStep = "snapshot"
	StepInstall  RolloutStep = "install"
	StepReboot   RolloutStep = "reboot"
	StepVerify   RolloutStep = "verify"
	StepHealth   RolloutStep = "health"
	StepRollback RolloutStep = "rollback"
	StepRestore  RolloutStep = "restore"
)

// RolloutJob is one job a deployment step handed out: an agent job, or a
// snapshot webhook the server calls itself.
type RolloutJob struct {
	ID           string       `json:"id"` // the agent job's id, or the webhook call's
	DeploymentID DeploymentID `json:"deployment_id"`
	CycleID      CycleID      `json:"cycle_id"`
	ClientID     ClientID     `json:"client_id"`
	AssetID      AssetID      `json:"asset_id"`
	StepNo       int          `json:"step_no"`
	Step         RolloutStep  `json:"step"`
	// Source is the backend of an install or rollback job.
	Source UpdateSource `json:"source,omitempty"`
	// Webhook is true for a snapshot webhook called by the server, at
	// URL.
	Webhook bool   `json:"webhook,omitempty"`
	URL     string `json:"url,omitempty"`
	// State, DeliveredAt, CompletedAt and ResultID mirror the agent job
	// (for a webhook, the call).
	State       JobState  `json:"state"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	Deliveries  int       `json:"deliveries"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// Result is the agent's result document for the job (or the webhook's
	// answer), when one arrived; Error its error text.
	Result   json.RawMessage `json:"result,omitempty"`
	ResultAt time.Time       `json:"result_at,omitzero"`
	Error    string          `json:"error,omitempty"`
}

// TicketKind says why a ticket was raised. Persisted.
type TicketKind string

// Ticket kinds.
const (
	TicketCycleHalted TicketKind = "cycle_halted" // a ring breached its failure threshold
	TicketEscalation  TicketKind = "escalation"   // a deployment failed its last attempt or its rollback
)

// TicketState is whether a ticket is open. Persisted.
type TicketState string

// Ticket states.
const (
	TicketOpen     TicketState = "open"
	TicketResolved TicketState = "resolved"
)

// Ticket is a problem raised for a person: recorded in Patchring now,
// delivered to PSA systems and email later (ExternalRef will hold the PSA's
// ticket number).
type Ticket struct {
	ID           TicketID     `json:"id"`
	ClientID     ClientID     `json:"client_id"`
	Kind         TicketKind   `json:"kind"`
	State        TicketState  `json:"state"`
	Title        string       `json:"title"`
	Body         string       `json:"body"`
	CycleID      CycleID      `json:"cycle_id,omitempty"`
	DeploymentID DeploymentID `json:"deployment_id,omitempty"`
	AssetID      AssetID      `json:"asset_id,omitempty"`
	Ring         string       `json:"ring,omitempty"`
	CreatedBy    string       `json:"created_by"`
	CreatedAt    time.Time    `json:"created_at"`
	ResolvedAt   time.Time    `json:"resolved_at,omitzero"`
	ResolvedBy   string       `json:"resolved_by,omitempty"`
	Resolution   string       `json:"resolution,omitempty"`
	ExternalRef  string       `json:"external_ref,omitempty"`
}

// CycleFilter selects cycles, newest first.
type CycleFilter struct {
	ID       *CycleID
	ClientID *ClientID
	States   []CycleState
	Offset   int
	Limit    int
}

// DeploymentFilter selects deployments, by ring order then hostname.
type DeploymentFilter struct {
	IDs      []DeploymentID
	CycleID  *CycleID
	ClientID *ClientID
	AssetID  *AssetID
	Ring     *string
	States   []DeploymentState
	// FindingIDs selects deployments with a target for one of the
	// findings.
	FindingIDs []FindingID
	// ActiveCycles selects deployments of running or halted cycles only.
	ActiveCycles bool
	// ChangedSince selects deployments updated at or after the time.
	ChangedSince *time.Time
	Offset       int
	Limit        int
}

// RolloutJobFilter selects rollout jobs, oldest first. CycleID is
// required.
type RolloutJobFilter struct {
	CycleID       CycleID
	DeploymentIDs []DeploymentID
	// CurrentStep selects only the jobs of each deployment's current step
	// (what the scheduler reads).
	CurrentStep bool
}

// TicketFilter selects tickets, newest first.
type TicketFilter struct {
	ID       *TicketID
	ClientID *ClientID
	CycleID  *CycleID
	Kind     *TicketKind
	State    *TicketState
	Offset   int
	Limit    int
}

// CycleStep is one scheduler pass over one cycle, applied atomically by
// ApplyCycleStep: the cycle's new state, the deployments that changed, the
// jobs and tickets to create and the evidence to append.
type CycleStep struct {
	// Lease is the scheduler's lease; the step is refused unless it is
	// still held with this token (fencing).
	Lease Lease
	// Cycle is the new state; its Version is the version it was read at.
	Cycle       *Cycle
	Deployments []*Deployment
	// Jobs are new agent jobs (Payload set, AgentID set) with the rollout
	// job rows that tie them to their deployment step.
	Jobs []NewRolloutJob
	// Webhooks are snapshot webhook calls the server makes after the step
	// is stored; their results come back through RecordWebhookResult.
	Webhooks []RolloutJob
	Tickets  []*Ticket
	// ResolveTickets are tickets to close with their resolution.
	ResolveTickets []TicketResolution
	Events         []EvidenceEvent
}

// NewRolloutJob is an agent job a step hands out.
type NewRolloutJob struct {
	Job     AgentJob
	Rollout RolloutJob
}

// FindingTarget names a deployment that targeted a finding's update.
type FindingTarget struct {
	DeploymentID DeploymentID
	UpdateID     UpdateID
}

// TicketResolution closes a ticket.
type TicketResolution struct {
	ID         TicketID
	Resolution string
}

// CycleAction is a person's action on a cycle, applied atomically by
// ChangeCycle: the change function gets the current cycle and its
// deployments and returns what to store. It may be called again if the
// scheduler changed the cycle meanwhile.
type CycleAction struct {
	// Audit is the audit action ("cycle.resume").
	Audit string
	// Change edits c and ds in place and returns the deployments it
	// changed, tickets to open and close and evidence to append.
	Change func(c *Cycle, ds []*Deployment) (CycleChange, error)
}

// CycleChange is what a CycleAction changed.
type CycleChange struct {
	Deployments    []*Deployment
	Tickets        []*Ticket
	ResolveTickets []TicketResolution
	Events         []EvidenceEvent
	// ExpireJobs expires the pending agent jobs of the cycle (an abort).
	ExpireJobs bool
}

// Lease is the scheduler's database-backed leader lease. Token increases
// every time the lease changes holder, so a former holder's writes can be
// told from the current one's (fencing).
type Lease struct {
	Name      string    `json:"name"`
	Holder    string    `json:"holder"`
	Token     int64     `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RolloutStore persists cycles, deployments, their jobs and tickets.
//
// Besides the rules common to every store, an object of a client outside
// the caller's scope is KindNotFound, writes are audited and append the
// given evidence in the same transaction.
type RolloutStore interface {
	// CreateCycle stores a new cycle with its deployments (audited as
	// cycle.create, with events). IDs and timestamps must be set.
	CreateCycle(ctx context.Context, c *Cycle, ds []*Deployment, events []EvidenceEvent) error
	FindCycleByID(ctx context.Context, id CycleID) (*Cycle, error)
	FindCycles(ctx context.Context, f CycleFilter) ([]*Cycle, int, error)
	FindDeployments(ctx context.Context, f DeploymentFilter) ([]*Deployment, int, error)
	// FindRolloutJobs returns rollout jobs, oldest first, with the agent
	// job's state and the agent's result joined in.
	FindRolloutJobs(ctx context.Context, f RolloutJobFilter) ([]*RolloutJob, error)
	// ChangeCycle applies a person's action at the cycle's current version
	// (retrying when the scheduler changed it meanwhile). A cycle that is
	// not active gives KindConflict unless the change allows it.
	ChangeCycle(ctx context.Context, id CycleID, a CycleAction) (*Cycle, error)
	// ApplyCycleStep stores one scheduler step atomically. A lease that
	// is no longer held with its token gives KindConflict (a deposed
	// leader writes nothing); so does a cycle changed since it was read.
	ApplyCycleStep(ctx context.Context, s CycleStep) error
	// FindingDeployments returns, for each finding, the deployments that
	// targeted its asset and update (under this finding or an earlier one
	// of the same pair, such as the finding a rollback reopened).
	FindingDeployments(ctx context.Context, client ClientID, findings []FindingID) (map[FindingID][]FindingTarget, error)
	// RecordWebhookResult stores the answer of a snapshot webhook call.
	RecordWebhookResult(ctx context.Context, id string, state JobState, result json.RawMessage, errText string) error
}

// TicketStore reads and resolves tickets.
type TicketStore interface {
	FindTicketByID(ctx context.Context, id TicketID) (*Ticket, error)
	FindTickets(ctx context.Context, f TicketFilter) ([]*Ticket, int, error)
	// ResolveTicket closes an open ticket (audited); resolving twice is
	// KindConflict.
	ResolveTicket(ctx context.Context, id TicketID, resolution string) (*Ticket, error)
}

// LeaseStore holds leader leases.
type LeaseStore interface {
	// AcquireLease takes or renews the named lease for holder until
	// now+ttl. It returns the lease and true when holder holds it now
	// (the token changes only when the holder does), or the current
	// holder's lease and false. Unscoped actors only.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error)
	// ReleaseLease gives the lease up at once if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// RunbookStore persists each client's runbook settings.
type RunbookStore interface {
	// FindRunbook returns a client's stored runbook; KindNotFound when the
	// client is out of scope or has none (callers use the defaults).
	FindRunbook(ctx context.Context, client ClientID) (*Runbook, error)
	// PutRunbook stores a validated runbook with the same version rule as
	// PutPolicy (audited as runbook.update).
	PutRunbook(ctx context.Context, r *Runbook) error
}

// ScanResultStore reads what agents' scans said.
type ScanResultStore interface {
	// FindLatestScans returns the latest applied scan result of each of
	// the assets in scope (Document and FinishedAt set); assets without one
	// are absent.
	FindLatestScans(ctx context.Context, assets []AssetID) (map[AssetID]*AgentResult, error)
}
