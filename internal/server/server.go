// Package server is Patchring's application layer: the use cases that the
// JSON API, the web console and the host-side CLI share. A use case checks
// the caller's permission, fills what the caller must not choose (IDs,
// defaults, hashes), and calls the stores, which enforce tenancy and write
// the audit log in the same transaction as the change.
//
// Keeping authorisation here rather than in each transport means the API
// and the console cannot drift apart: both call the same method and get the
// same answer. Background loops (rollout ticks, SLA evaluation, offline
// detection) also live here as Run(ctx) methods.
package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Stores are the storage contracts the server uses. The SQL store
// implements all of them; they are separate fields so each use case names
// exactly what it touches.
type Stores struct {
	MSP     patch.MSPStore
	Clients patch.ClientStore
	Sites   patch.SiteStore
	Assets  patch.AssetStore
	Users   interface {
		patch.UserStore
		RecordLogin(ctx context.Context, id patch.UserID) error
	}
	Tokens patch.TokenStore
	Audit  patch.AuditStore
	Ping   patch.Pinger
	// Sessions, AssetCounts and ClientCounts serve the web console.
	Sessions     patch.SessionStore
	AssetCounts  patch.AssetCountStore
	ClientCounts patch.ClientCountStore
	// Agent protocol and what agents report (agents.go).
	Enrollment patch.EnrollmentStore
	Agents     patch.AgentStore
	Inventory  patch.InventoryStore
	AgentJobs  patch.AgentJobStore
	Findings   patch.FindingStore
	Keys       patch.KeyStore
	// Patch policy (policy.go, exceptions.go, evaluate.go). Deployments
	// is optional: the rollout engine's facts for "why not patched".
	Policies    patch.PolicyStore
	Decisions   patch.DecisionStore
	Exceptions  patch.ExceptionStore
	Evaluations patch.EvaluationStore
	Alerts      patch.AlertStore
	Deployments DeploymentFacts
	// Evidence service and reports (evidence.go, bundle.go, reports.go).
	Evidence     EvidenceLog
	Checkpoints  patch.CheckpointStore
	EvidenceKeys patch.EvidenceKeyStore
	Reports      patch.ReportStore
	// Compliance ratings, monitors and snapshots (compliance.go).
	ComplianceFacts patch.ComplianceFactStore
	Monitors        patch.MonitorStore
	Baselines       patch.BaselineStore
	Snapshots       patch.SnapshotStore
	// Progressive rollout and the runbook (rollout.go, scheduler.go).
	Rollouts    patch.RolloutStore
	Tickets     patch.TicketStore
	Leases      patch.LeaseStore
	Runbooks    patch.RunbookStore
	ScanResults patch.ScanResultStore
	// Notification channels and their delivery (notify.go).
	Channels      patch.ChannelStore
	Notifications patch.NotificationStore
}

// Server runs Patchring's use cases.
type Server struct {
	st     Stores
	now    func() time.Time
	logger *slog.Logger
	// agentOpts and agents serve the agent protocol (agents.go).
	agentOpts AgentOptions
	agents    agentState
	// slaInterval is how often RunSLAEvaluator runs (evaluate.go).
	slaInterval time.Duration
	// evidence configures the evidence service and reports (evidence.go).
	evidence EvidenceOptions
	// complianceOpts and cmp serve compliance (compliance.go).
	complianceOpts ComplianceOptions
	cmp            complianceState
	// rolloutOpts and roll run the rollout scheduler (scheduler.go).
	rolloutOpts RolloutOptions
	roll        rolloutState
	// notifyOpts and ntf deliver notifications (notify.go).
	notifyOpts NotifyOptions
	ntf        notifyState
}

// Options configure a Server.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
	// Agents configures the agent protocol.
	Agents AgentOptions
	// SLAInterval is how often the SLA evaluator runs; DefaultSLAInterval
	// when zero.
	SLAInterval time.Duration
	// Evidence configures the evidence service and reports.
	Evidence EvidenceOptions
	// Compliance configures ratings, monitors and snapshots.
	Compliance ComplianceOptions
	// Rollout configures the rollout scheduler.
	Rollout RolloutOptions
	// Notify configures notification channels and their delivery.
	Notify NotifyOptions
}

// New returns a server over the given stores.
func New(st Stores, opts Options) *Server {
	s := &Server{st: st, now: opts.Now, logger: opts.Logger, agentOpts: opts.Agents, slaInterval: opts.SLAInterval}
	s.evidence = opts.Evidence
	s.complianceOpts = opts.Compliance
	s.rolloutOpts = opts.Rollout.withDefaults()
	s.notifyOpts = opts.Notify.withDefaults()
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// Ready reports whether storage answers.
func (s *Server) Ready(ctx context.Context) error { return s.st.Ping.Ping(ctx) }

// Me returns the caller.
func (s *Server) Me(ctx context.Context) (patch.Actor, error) {
	a, ok := patch.ActorFromContext(ctx)
	if !ok {
		return patch.Actor{}, patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	return a, nil
}

// MSP returns the MSP settings.
func (s *Server) MSP(ctx context.Context) (*patch.MSP, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.MSP.FindMSP(ctx)
}

// SetMSPName names the MSP.
func (s *Server) SetMSPName(ctx context.Context, name string) (*patch.MSP, error) {
	if _, err := patch.Authorize(ctx, patch.PermManageClients); err != nil {
		return nil, err
	}
	m := &patch.MSP{Name: name}
	if name == "" || len(name) > 200 {
		return nil, patch.FieldError("name", "must be 1 to 200 characters")
	}
	if err := s.st.MSP.SetMSP(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}
