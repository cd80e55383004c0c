package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
	"github.com/patchring/patchring/internal/rollout"
)

// Progressive rollout use cases: patch cycles (create, list, ring-by-ring
// progress), a person's actions on them (approve a ring, halt, resume,
// skip an update, abort, approve reboots), per-asset deployments with the
// time of each step, tickets, and the client's runbook. Every action is
// audited by the store and appended to the client's evidence chain with
// who did it; the rules are package rollout's.

// CycleInput starts a patch cycle.
type CycleInput struct {
	ClientID patch.ClientID  `json:"client_id"`
	Kind     patch.CycleKind `json:"kind,omitempty" enum:"monthly,emergency" doc:"monthly: every approved update; emergency: the updates named, or every approved emergency update, with the runbook's emergency soak"`
	Name     string          `json:"name,omitempty" maxLength:"200" doc:"Defaults to the kind and the month, e.g. 'Monthly 2026-11'"`
	// Updates limits the cycle to these updates (each approved and
	// missing on a managed asset in a ring).
	Updates []patch.UpdateID `json:"updates,omitempty" maxItems:"1000"`
}

// CycleView is a cycle with each ring's progress.
type CycleView struct {
	*patch.Cycle
	// Assets counts deployments by state.
	Assets map[patch.DeploymentState]int `json:"assets"`
}

// CreateCycle gathers the client's approved updates into a new cycle and
// starts its first ring. Updates already on their way in another active
// cycle are left out.
func (s *Server) CreateCycle(ctx context.Context, in CycleInput) (*CycleView, error) {
	actor, err := patch.Authorize(ctx, patch.PermOperate)
	if err != nil {
		return nil, err
	}
	if in.Kind == "" {
		in.Kind = patch.CycleMonthly
	}
	if in.Kind != patch.CycleMonthly && in.Kind != patch.CycleEmergency {
		return nil, patch.FieldError("kind", "must be monthly or emergency (got %q)", string(in.Kind))
	}
	in.Name = strings.TrimSpace(in.Name)
	now := s.now()
	if in.Name == "" {
		kind := "Monthly"
		if in.Kind == patch.CycleEmergency {
			kind = "Emergency"
		}
		in.Name = kind + " " + now.UTC().Format("2006-01-02")
	}
	c, err := s.st.Clients.FindClientByID(ctx, in.ClientID)
	if err != nil {
		return nil, err
	}
	// Approvals must be current: evaluate the client first.
	if _, err := s.evaluateClient(ctx, c.ID, nil); err != nil {
		return nil, err
	}
	sys := systemContext(ctx, "rollout planner")
	eng, err := s.engineFor(sys, c, now)
	if err != nil {
		return nil, err
	}
	agents, err := s.activeAgents(sys, c.ID)
	if err != nil {
		return nil, err
	}
	assets, err := s.allAssets(sys, c.ID)
	if err != nil {
		return nil, err
	}
	plan := rollout.Plan{ClientID: c.ID, Kind: in.Kind, Name: in.Name, CreatedBy: actor.Name, Now: now, Policy: eng.Policy,
		Assets: map[patch.AssetID]*patch.Asset{}, Placements: map[patch.AssetID]policy.Placement{}, Updates: in.Updates,
		NewID: func(prefix string) string { return patch.NewID(prefix, now) }}
	for _, a := range assets {
		if agents[a.ID] == nil || !a.Managed {
			continue
		}
		pl := eng.Place(a)
		if pl.Ring == "" {
			continue // isolated in the legacy lane
		}
		plan.Assets[a.ID], plan.Placements[a.ID] = a, pl
	}
	busy, err := s.findingsInFlight(sys, c.ID)
	if err != nil {
		return nil, err
	}
	open := patch.FindingOpen
	for off := 0; ; {
		page, total, err := s.st.Findings.FindFindings(sys, patch.FindingFilter{ClientID: &c.ID, State: &open, WithUpdate: true, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, f := range page {
			if !busy[f.ID] {
				plan.Findings = append(plan.Findings, f)
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	cy, ds, events, err := rollout.NewCycle(plan)
	if err != nil {
		return nil, err
	}
	if err := s.st.Rollouts.CreateCycle(ctx, cy, ds, events); err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "cycle created", "cycle", cy.ID, "tenant", c.ID, "assets", len(ds), "updates", len(cy.Updates))
	return view(cy, ds), nil
}

// findingsInFlight returns the findings targeted by unfinished deployments
// of active cycles.
func (s *Server) findingsInFlight(ctx context.Context, client patch.ClientID) (map[patch.FindingID]bool, error) {
	out := map[patch.FindingID]bool{}
	for off := 0; ; {
		page, total, err := s.st.Rollouts.FindDeployments(ctx, patch.DeploymentFilter{ClientID: &client, ActiveCycles: true, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			if d.State.Terminal() {
				continue
			}
			for _, t := range d.Targets {
				if t.State != patch.TargetSkipped && t.State != patch.TargetRolledBack {
					out[t.FindingID] = true
				}
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			return out, nil
		}
	}
}

func view(c *patch.Cycle, ds []*patch.Deployment) *CycleView {
	rollout.Summarize(c, ds)
	v := &CycleView{Cycle: c, Assets: map[patch.DeploymentState]int{}}
	for _, d := range ds {
		v.Assets[d.State]++
	}
	return v
}

// Cycles lists cycles with their rings' progress, newest first.
func (s *Server) Cycles(ctx context.Context, f patch.CycleFilter) ([]*CycleView, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	cs, n, err := s.st.Rollouts.FindCycles(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*CycleView, 0, len(cs))
	for _, c := range cs {
		ds, err := s.cycleDeployments(ctx, c.ID)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, view(c, ds))
	}
	return out, n, nil
}

// Cycle returns one cycle with its rings' progress and failure rates.
func (s *Server) Cycle(ctx context.Context, id patch.CycleID) (*CycleView, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	c, err := s.st.Rollouts.FindCycleByID(ctx, id)
	if err != nil {
		return nil, err
	}
	ds, err := s.cycleDeployments(ctx, id)
	if err != nil {
		return nil, err
	}
	return view(c, ds), nil
}

// DeploymentView is one asset's deployment with the jobs its steps handed
// out and when each was delivered and answered.
type DeploymentView struct {
	*patch.Deployment
	Jobs []*patch.RolloutJob `json:"jobs"`
}

// CycleDeployments lists a cycle's per-asset deployments with their jobs.
func (s *Server) CycleDeployments(ctx context.Context, f patch.DeploymentFilter) ([]*DeploymentView, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if f.CycleID == nil {
		return nil, 0, patch.FieldError("cycle_id", "is required")
	}
	if _, err := s.st.Rollouts.FindCycleByID(ctx, *f.CycleID); err != nil {
		return nil, 0, err
	}
	ds, n, err := s.st.Rollouts.FindDeployments(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]patch.DeploymentID, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	jobs, err := s.st.Rollouts.FindRolloutJobs(ctx, patch.RolloutJobFilter{CycleID: *f.CycleID, DeploymentIDs: ids})
	if err != nil {
		return nil, 0, err
	}
	out := make([]*DeploymentView, len(ds))
	for i, d := range ds {
		out[i] = &DeploymentView{Deployment: d, Jobs: []*patch.RolloutJob{}}
		for _, j := range jobs {
			if j.DeploymentID == d.ID {
				out[i].Jobs = append(out[i].Jobs, j)
			}
		}
	}
	return out, n, nil
}

// CycleActionInput is a person's action with the reason for it.
type CycleActionInput struct {
	Reason string `json:"reason" maxLength:"2000" doc:"Why (required for halt, resume, skip and abort)"`
}

func needReason(r string) (string, error) {
	r = strings.TrimSpace(r)
	if r == "" {
		return "", patch.FieldError("reason", "is required: say why, for the audit log and the evidence chain")
	}
	if len([]rune(r)) > 2000 {
		return "", patch.FieldError("reason", "must be at most 2000 characters")
	}
	return r, nil
}

// changeCycle applies a pure action of package rollout as the caller.
func (s *Server) changeCycle(ctx context.Context, id patch.CycleID, audit string,
	f func(c *patch.Cycle, ds []*patch.Deployment, now time.Time) (patch.CycleChange, error)) (*CycleView, error) {
	now := s.now()
	var after []*patch.Deployment
	c, err := s.st.Rollouts.ChangeCycle(ctx, id, patch.CycleAction{Audit: audit, Change: func(c *patch.Cycle, ds []*patch.Deployment) (patch.CycleChange, error) {
		after = ds
		return f(c, ds, now)
	}})
	if err != nil {
		return nil, err
	}
	return view(c, after), nil
}

// HaltCycle stops a running cycle by hand.
func (s *Server) HaltCycle(ctx context.Context, id patch.CycleID, in CycleActionInput) (*CycleView, error) {
	actor, err := patch.Authorize(ctx, patch.PermOperate)
	if err != nil {
		return nil, err
	}
	reason, err := needReason(in.Reason)
	if err != nil {
		return nil, err
	}
	return s.changeCycle(ctx, id, "cycle.halt", func(c *patch.Cycle, ds []*patch.Deployment, now time.Time) (patch.CycleChange, error) {
		return rollout.Halt(c, ds, actor.Name, reason, now)
	})
}

// ResumeCycle restarts a halted cycle; the failures so far are waived.
func (s *Server) ResumeCycle(ctx context.Context, id patch.CycleID, in CycleActionInput) (*CycleView, error) {
	actor, err := patch.Authorize(ctx, patch.PermOperate)
	if err != nil {
		return nil, err
	}
	reason, err := needReason(in.Reason)
	if err != nil {
		return nil, err
	}
	return s.changeCycle(ctx, id, "cycle.resume", func(c *patch.Cycle, ds []*patch.Deployment, now time.Time) (patch.CycleChange, error) {
		return rollout.Resume(c, ds, actor.Name, reason, now)
	})
}

// AbortCycle ends a cycle; unfinished deployments are cancelled.
func (s *Server) AbortCycle(ctx context.Context, id patch.CycleID, in CycleActionInput) (*CycleView, error) {
	actor, err := patch.Authorize(ctx, patch.PermOperate)
	if err != nil {
		return nil, err
	}
	reason, err := needReason(in.Reason)
	if err != nil {
		return nil, err
	}
	return s.changeCycle(ctx, id, "cycle.abort", func(c *patch.Cycle, ds []*patch.Deployment, now time.Time) (patch.CycleChange, error) {
		return rollout.Abort(c, ds, actor.Name, reason, now)
	})
}

// SkipCycleUpdate takes a bad update out of a cycle; deployments that
// failed deploy the rest again.
func (s *Server) SkipCycleUpdate(ctx context.Context, id patch.CycleID, update patch.UpdateID, in CycleActionInput) (*CycleView, error) {
	actor, err := patch.Authorize(ctx, patch.PermOperate)
	if err != nil {
		return nil, err
	}
	reason, err := needReason(in.Reason)
	if err != nil {
		return nil, err
	}
	return s.changeCycle(ctx, id, "cycle.skip_update", func(c *patch.Cycle, ds []*patch.Deployment, now time.Time) (patch.CycleChange, error) {
		return rollout.SkipUpdate(c, ds, update, actor.Name, reason, now)
	})
}

// ApproveRingInput approves a ring transition.
type ApproveRingInput struct {
	Note string `json:"note,omitempty" maxLength:"2000"`
}

// ApproveRing promotes a ring that soaked and passed its gate, by the
// approver the policy names: MSP staff for "msp", an active client-owner
// user of the cycle's client for "client_owner". Automatic rings need no
// one.
func (s *Server) ApproveRing(ctx context.Context, id patch.CycleID, ring string, in ApproveRingInput) (*CycleView, error) {
	actor, err := patch.Authorize(ctx, patch.PermRead)
	if err != nil {
		return nil, err
	}
	c, err := s.st.Rollouts.FindCycleByID(ctx, id)
	if err != nil {
		return nil, err
	}
	r, _ := c.Ring(ring)
	if r == nil {
		return nil, patch.Errorf(patch.KindNotFound, "Cycle %s has no ring %q.", id, ring)
	}
	approver := patch.ApproverAutomatic
	if r.Promotion != nil {
		approver = r.Promotion.Approver
	}
	by := actor.Name
	switch approver {
	case patch.ApproverAutomatic:
		return nil, patch.Errorf(patch.KindConflict, "Ring %s is promoted automatically when its gate passes; there is nothing to approve.", ring)
	case patch.ApproverMSP:
		if !actor.Can(patch.PermOperate) || !patch.ScopeOf(actor).All {
			return nil, patch.Errorf(patch.KindForbidden, "The policy says MSP staff approve the move on from ring %s.", ring)
		}
		by += " (MSP)"
	case patch.ApproverClientOwner:
		u, err := s.signer(ctx, actor, c.ClientID)
		if err != nil {
			return nil, patch.Errorf(patch.KindForbidden, "The policy says the client owner approves the move on from ring %s: %s", ring, patch.ErrorMessage(err))
		}
		by = u.Name + " (client owner)"
	}
	if n := strings.TrimSpace(in.Note); n != "" {
		by += ": " + n
	}
	return s.changeCycle(ctx, id, "cycle.approve_ring", func(c *patch.Cycle, ds []*patch.Deployment, now time.Time) (patch.CycleChange, error) {
		return rollout.Approve(c, ds, ring, by, now)
	})
}

// ApproveRebootsInput names the deployments whose manual reboot is
// approved; none means every one of the cycle.
type ApproveRebootsInput struct {
	Deployments []patch.DeploymentID `json:"deployments,omitempty" maxItems:"1000"`
}

// ApproveReboots approves restarts that wait for a person.
func (s *Server) ApproveReboots(ctx context.Context, id patch.CycleID, in ApproveRebootsInput) (*CycleView, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	return s.changeCycle(ctx, id, "cycle.approve_reboots", func(c *patch.Cycle, ds []*patch.Deployment, now time.Time) (patch.CycleChange, error) {
		return rollout.ApproveReboot(c, ds, in.Deployments, now)
	})
}

// Tickets lists tickets.
func (s *Server) Tickets(ctx context.Context, f patch.TicketFilter) ([]*patch.Ticket, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Tickets.FindTickets(ctx, f)
}

// Ticket returns one ticket.
func (s *Server) Ticket(ctx context.Context, id patch.TicketID) (*patch.Ticket, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Tickets.FindTicketByID(ctx, id)
}

// ResolveTicketInput closes a ticket.
type ResolveTicketInput struct {
	Resolution string `json:"resolution" maxLength:"2000" doc:"What was done"`
}

// ResolveTicket closes an open ticket with what was done.
func (s *Server) ResolveTicket(ctx context.Context, id patch.TicketID, in ResolveTicketInput) (*patch.Ticket, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	return s.st.Tickets.ResolveTicket(ctx, id, in.Resolution)
}

// RunbookOf returns a client's runbook (the defaults, version 0, until
// one is stored).
func (s *Server) RunbookOf(ctx context.Context, client patch.ClientID) (*patch.Runbook, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, client); err != nil {
		return nil, err
	}
	return s.runbookFor(ctx, client)
}

// PutRunbook validates and stores a client's whole runbook.
func (s *Server) PutRunbook(ctx context.Context, client patch.ClientID, r *patch.Runbook) (*patch.Runbook, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	if r.ClientID != "" && r.ClientID != client {
		return nil, patch.FieldError("client_id", "must be the client of the URL")
	}
	r.ClientID = client
	if r.Snapshots == nil {
		r.Snapshots = []patch.SnapshotRule{}
	}
	if r.HealthChecks == nil {
		r.HealthChecks = []patch.HealthCheckSet{}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, client)
	if err != nil {
		return nil, err
	}
	for i, sn := range r.Snapshots {
		for j, k := range sn.Assets.Classes {
			if _, ok := c.Class(k); !ok && k != patch.AnyClass {
				return nil, patch.FieldError(fmt.Sprintf("snapshots[%d].assets.classes[%d]", i, j), "the client has no asset class %q", k)
			}
		}
	}
	for i, set := range r.HealthChecks {
		for j, k := range set.Assets.Classes {
			if _, ok := c.Class(k); !ok && k != patch.AnyClass {
				return nil, patch.FieldError(fmt.Sprintf("health_checks[%d].assets.classes[%d]", i, j), "the client has no asset class %q", k)
			}
		}
	}
	if err := s.st.Runbooks.PutRunbook(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}
