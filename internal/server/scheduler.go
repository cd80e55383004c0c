package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/rollout"
)

// The rollout scheduler. Every server runs RunRollout; the one holding the
// database-backed leader lease advances the active cycles, the others wait
// to take over. Each pass reads a cycle's stored state, lets the pure
// engine decide, and stores the result in one transaction that the store
// refuses if the lease was lost (its fencing token changed) or the cycle
// changed meanwhile — so two servers never both write a step, and a
// restarted or new leader continues exactly where the last one stopped.

// schedulerName is the actor of the scheduler's writes.
const schedulerName = "rollout scheduler"

// LeaseRollout names the scheduler's lease.
const LeaseRollout = "rollout-scheduler"

// RolloutOptions configure the scheduler. Zero values take the defaults
// named on each field.
type RolloutOptions struct {
	// Interval is how often the leader advances cycles (15 seconds).
	Interval time.Duration
	// LeaseTTL is how long the lease outlives its last renewal (1
	// minute): how long a dead leader's cycles wait for a successor.
	LeaseTTL time.Duration
	// Holder names this server in the lease (host name, process id and a
	// random suffix when empty).
	Holder string
	// WebhookClient calls snapshot webhooks (a client with a 2-minute
	// timeout when nil).
	WebhookClient *http.Client
}

func (o RolloutOptions) withDefaults() RolloutOptions {
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = time.Minute
	}
	if o.Holder == "" {
		host, _ := os.Hostname()
		o.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), patch.NewID("srv", time.Now())[4:14])
	}
	if o.WebhookClient == nil {
		o.WebhookClient = &http.Client{Timeout: 2 * time.Minute}
	}
	return o
}

// RunRollout runs the scheduler until ctx is done: every interval it takes
// or renews the leader lease and, while it holds it, advances every active
// cycle. On the way out it releases the lease so another server takes over
// at once.
func (s *Server) RunRollout(ctx context.Context) error {
	o := s.rolloutOpts
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.st.Leases.ReleaseLease(system(rctx, schedulerName), LeaseRollout, o.Holder); err != nil {
			s.logger.WarnContext(ctx, "release the scheduler lease", "err", err)
		}
	}()
	for {
		if _, err := s.RolloutRound(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "rollout round had errors", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RolloutRound takes or renews the lease and, if this server holds it,
// advances every active cycle once. It reports whether it led. Errors of
// one cycle are logged and do not stop the others; the first is returned.
func (s *Server) RolloutRound(ctx context.Context) (bool, error) {
	o := s.rolloutOpts
	sys := system(ctx, schedulerName)
	lease, held, err := s.st.Leases.AcquireLease(sys, LeaseRollout, o.Holder, o.LeaseTTL)
	if err != nil {
		return false, fmt.Errorf("acquire the scheduler lease: %w", err)
	}
	s.roll.mu.Lock()
	was := s.roll.leading
	s.roll.leading = held
	s.roll.mu.Unlock()
	if held != was {
		s.logger.InfoContext(ctx, "rollout scheduler", "leading", held, "holder", o.Holder, "token", lease.Token, "leader", lease.Holder)
	}
	if !held {
		return false, nil
	}
	var first error
	for off := 0; ; {
		page, total, err := s.st.Rollouts.FindCycles(sys, patch.CycleFilter{States: []patch.CycleState{patch.CycleRunning, patch.CycleHalted}, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return true, err
		}
		for _, c := range page {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			if err := s.advanceCycle(sys, lease, c); err != nil {
				if patch.ErrorKind(err) == patch.KindConflict && patch.ErrorField(err) == "lease" {
					s.logger.WarnContext(ctx, "lost the scheduler lease during a round", "holder", o.Holder)
					return false, nil
				}
				s.logger.WarnContext(ctx, "advance cycle", "cycle", c.ID, "tenant", c.ClientID, "err", err)
				first = cmpErr(first, err)
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			return true, first
		}
	}
}

// Leading reports whether this server held the scheduler lease at its last
// round.
func (s *Server) Leading() bool {
	s.roll.mu.Lock()
	defer s.roll.mu.Unlock()
	return s.roll.leading
}

// advanceCycle runs one engine pass over one cycle and stores it.
func (s *Server) advanceCycle(ctx context.Context, lease patch.Lease, c *patch.Cycle) error {
	in, err := s.engineInput(ctx, c)
	if err != nil {
		return err
	}
	// Snapshot webhooks still unanswered (the server stopped between
	// storing the call and making it) are called again; receivers get
	// the same id and must treat it idempotently.
	for _, js := range in.Jobs {
		for _, j := range js {
			if j.Webhook && j.State == patch.JobPending && j.Outcome == nil {
				s.callWebhook(ctx, c, &j.RolloutJob)
			}
		}
	}
	out := rollout.Advance(in)
	if out.Empty() && !cycleMoved(c, out.Cycle) {
		return nil
	}
	step := patch.CycleStep{Lease: lease, Cycle: out.Cycle, Deployments: out.Changed, Tickets: out.Tickets,
		ResolveTickets: out.ResolveTickets, Events: out.Events}
	var hooks []patch.RolloutJob
	for _, r := range out.Jobs {
		rj := patch.RolloutJob{ID: r.ID, DeploymentID: r.DeploymentID, CycleID: c.ID, ClientID: c.ClientID, AssetID: r.AssetID, StepNo: r.StepNo,
			Step: r.Step, Source: r.Source, ExpiresAt: r.ExpiresAt}
		if r.Webhook != "" {
			rj.Webhook, rj.URL = true, r.Webhook
			step.Webhooks = append(step.Webhooks, rj)
			hooks = append(hooks, rj)
			continue
		}
		aj, err := agentJob(c, r)
		if err != nil {
			return err
		}
		step.Jobs = append(step.Jobs, patch.NewRolloutJob{Job: aj, Rollout: rj})
	}
	if err := s.st.Rollouts.ApplyCycleStep(ctx, step); err != nil {
		if patch.ErrorKind(err) == patch.KindConflict && patch.ErrorField(err) == "version" {
			// A person acted on the cycle meanwhile: the next pass reads
			// their change and decides again.
			s.logger.DebugContext(ctx, "cycle changed during a pass", "cycle", c.ID)
			return nil
		}
		return err
	}
	for i := range hooks {
		s.callWebhook(ctx, c, &hooks[i])
	}
	if out.Cycle.State != c.State {
		s.logger.InfoContext(ctx, "cycle state", "cycle", c.ID, "tenant", c.ClientID, "state", out.Cycle.State, "reason", out.Cycle.HaltReason)
	}
	return nil
}

// cycleMoved reports whether the engine changed the cycle itself.
func cycleMoved(before, after *patch.Cycle) bool {
	a, _ := json.Marshal(ringsOnly(before))
	b, _ := json.Marshal(ringsOnly(after))
	return before.State != after.State || !bytes.Equal(a, b)
}

func ringsOnly(c *patch.Cycle) []patch.CycleRing {
	rs := make([]patch.CycleRing, len(c.Rings))
	copy(rs, c.Rings)
	for i := range rs {
		rs[i].Progress = patch.RingProgress{}
	}
	return rs
}

// engineInput gathers everything the engine needs about one cycle.
func (s *Server) engineInput(ctx context.Context, c *patch.Cycle) (rollout.Input, error) {
	in := rollout.Input{Now: s.now(), Cycle: c, Assets: map[patch.AssetID]*rollout.Asset{}, Jobs: map[patch.DeploymentID][]*rollout.Job{},
		NewID: func(prefix string) string { return patch.NewID(prefix, s.now()) }}
	ds, err := s.cycleDeployments(ctx, c.ID)
	if err != nil {
		return in, err
	}
	in.Deployments = ds
	client, err := s.st.Clients.FindClientByID(ctx, c.ClientID)
	if err != nil {
		return in, err
	}
	if in.Policy, err = s.policyFor(ctx, client); err != nil {
		return in, err
	}
	if in.Runbook, err = s.runbookFor(ctx, c.ClientID); err != nil {
		return in, err
	}
	jobs, err := s.st.Rollouts.FindRolloutJobs(ctx, patch.RolloutJobFilter{CycleID: c.ID, CurrentStep: true})
	if err != nil {
		return in, err
	}
	for _, j := range jobs {
		in.Jobs[j.DeploymentID] = append(in.Jobs[j.DeploymentID], &rollout.Job{RolloutJob: *j, Outcome: outcome(j)})
	}
	// What the server knows of each asset that still has work.
	var live []*patch.Deployment
	for _, d := range ds {
		if !d.State.Terminal() {
			live = append(live, d)
		}
	}
	if len(live) == 0 {
		return in, nil
	}
	zones, err := s.zones(ctx, c.ClientID)
	if err != nil {
		return in, err
	}
	agents, err := s.activeAgents(ctx, c.ClientID)
	if err != nil {
		return in, err
	}
	findings, err := s.cycleFindings(ctx, c)
	if err != nil {
		return in, err
	}
	var ids []patch.AssetID
	for _, d := range live {
		ids = append(ids, d.AssetID)
	}
	scans, err := s.st.ScanResults.FindLatestScans(ctx, ids)
	if err != nil {
		return in, err
	}
	for _, d := range live {
		a, err := s.st.Assets.FindAssetByID(ctx, d.AssetID)
		if patch.ErrorKind(err) == patch.KindNotFound {
			continue // the engine cancels deployments of removed assets
		}
		if err != nil {
			return in, err
		}
		fa := &rollout.Asset{Asset: a, Zone: zoneOf(zones, a), Findings: map[patch.FindingID]rollout.Finding{}}
		if ag := agents[a.ID]; ag != nil {
			fa.AgentID, fa.Protocol, fa.Online = ag.ID, ag.Protocol, ag.Status == patch.AgentOnline
		}
		if sc := scans[a.ID]; sc != nil {
			fa.LastScanAt, fa.RebootRequired = sc.FinishedAt, scanRebootRequired(sc.Document)
		}
		for _, t := range d.Targets {
			f := findings[t.FindingID]
			if f == nil {
				continue
			}
			ff := rollout.Finding{Open: f.State == patch.FindingOpen}
			switch {
			case f.Resolution == patch.ResolvedVerified:
				ff.Verified, ff.ResolvedAt = true, f.ResolvedAt
			case f.Resolution == patch.ResolvedSuperseded:
				// Superseded by a newer version of the package: what this
				// cycle installed is there if the successor's installed
				// version is the target's.
				if next := findings[f.SupersededBy]; next != nil && next.InstalledVersion == t.Version {
					ff.Verified, ff.ResolvedAt = true, f.ResolvedAt
				}
			}
			if ff.Open && !f.DueAt.IsZero() && (fa.DueAt.IsZero() || f.DueAt.Before(fa.DueAt)) {
				fa.DueAt = f.DueAt
			}
			fa.Findings[t.FindingID] = ff
		}
		in.Assets[a.ID] = fa
	}
	return in, nil
}

// cycleDeployments loads every deployment of a cycle.
func (s *Server) cycleDeployments(ctx context.Context, id patch.CycleID) ([]*patch.Deployment, error) {
	var out []*patch.Deployment
	for off := 0; ; {
		page, total, err := s.st.Rollouts.FindDeployments(ctx, patch.DeploymentFilter{CycleID: &id, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		off += len(page)
		if len(page) == 0 || off >= total {
			return out, nil
		}
	}
}

// activeAgents returns each asset's agent that is not revoked.
func (s *Server) activeAgents(ctx context.Context, client patch.ClientID) (map[patch.AssetID]*patch.Agent, error) {
	out := map[patch.AssetID]*patch.Agent{}
	for _, st := range []patch.AgentStatus{patch.AgentOffline, patch.AgentOnline} {
		for off := 0; ; {
			page, total, err := s.st.Agents.FindAgents(ctx, patch.AgentFilter{ClientID: &client, Status: &st, Limit: patch.MaxLimit, Offset: off})
			if err != nil {
				return nil, err
			}
			for _, a := range page {
				out[a.AssetID] = a
			}
			off += len(page)
			if len(page) == 0 || off >= total {
				break
			}
		}
	}
	return out, nil
}

// cycleFindings loads the client's open findings and those resolved since
// the cycle started, by id.
func (s *Server) cycleFindings(ctx context.Context, c *patch.Cycle) (map[patch.FindingID]*patch.Finding, error) {
	out := map[patch.FindingID]*patch.Finding{}
	open := patch.FindingOpen
	since := c.CreatedAt.Add(-24 * time.Hour)
	for _, f := range []patch.FindingFilter{{ClientID: &c.ClientID, State: &open}, {ClientID: &c.ClientID, ResolvedSince: &since}} {
		for off := 0; ; {
			f.Limit, f.Offset = patch.MaxLimit, off
			page, total, err := s.st.Findings.FindFindings(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, x := range page {
				out[x.ID] = x
			}
			off += len(page)
			if len(page) == 0 || off >= total {
				break
			}
		}
	}
	return out, nil
}

// webhookDomain separates webhook signatures from every other use of the
// server's agent-commands key.
const webhookDomain = "patchring-webhook-v1"

// SnapshotWebhook is the body of a snapshot webhook call.
type SnapshotWebhook struct {
	Event        string         `json:"event"` // "snapshot"
	ID           string         `json:"id"`    // the same on every retry of one call
	ClientID     patch.ClientID `json:"client_id"`
	CycleID      patch.CycleID  `json:"cycle_id"`
	DeploymentID string         `json:"deployment_id"`
	AssetID      patch.AssetID  `json:"asset_id"`
	Hostname     string         `json:"hostname"`
	RequestedAt  time.Time      `json:"requested_at"`
}

// WebhookMessage returns the bytes a webhook signature covers: a domain,
// the call id, the Unix timestamp and the body, one per line.
func WebhookMessage(id string, ts int64, body []byte) []byte {
	return append([]byte(webhookDomain+"\n"+id+"\n"+strconv.FormatInt(ts, 10)+"\n"), body...)
}

// callWebhook POSTs a signed snapshot request and records the answer: a
// 2xx status means the snapshot exists. A call that cannot be made is
// retried at the next pass until the engine's timeout fails it.
func (s *Server) callWebhook(ctx context.Context, c *patch.Cycle, j *patch.RolloutJob) {
	key, err := s.commandKey(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "snapshot webhook: no signing key", "err", err)
		return
	}
	host := ""
	if a, err := s.st.Assets.FindAssetByID(ctx, j.AssetID); err == nil {
		host = a.Hostname
	}
	body, _ := json.Marshal(SnapshotWebhook{Event: "snapshot", ID: j.ID, ClientID: c.ClientID, CycleID: c.ID, DeploymentID: string(j.DeploymentID),
		AssetID: j.AssetID, Hostname: host, RequestedAt: j.CreatedAt})
	ts := s.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(body))
	if err != nil {
		s.recordWebhook(ctx, j, patch.JobFailed, nil, "invalid webhook URL: "+err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Patchring-Webhook-Id", j.ID)
	req.Header.Set("Patchring-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Patchring-Key-Id", key.id)
	req.Header.Set("Patchring-Signature", base64.StdEncoding.EncodeToString(ed25519.Sign(key.priv, WebhookMessage(j.ID, ts, body))))
	resp, err := s.rolloutOpts.WebhookClient.Do(req)
	if err != nil {
		s.logger.WarnContext(ctx, "snapshot webhook failed; retrying at the next pass", "url", j.URL, "job", j.ID, "err", err)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	doc, _ := json.Marshal(map[string]any{"status": resp.StatusCode, "body": clean(string(answer))})
	if resp.StatusCode/100 == 2 {
		s.recordWebhook(ctx, j, patch.JobSucceeded, doc, "")
		return
	}
	s.recordWebhook(ctx, j, patch.JobFailed, doc, fmt.Sprintf("the snapshot webhook answered %d: %s", resp.StatusCode, cleanField(string(answer), 500)))
}

func (s *Server) recordWebhook(ctx context.Context, j *patch.RolloutJob, st patch.JobState, doc json.RawMessage, errText string) {
	if err := s.st.Rollouts.RecordWebhookResult(ctx, j.ID, st, doc, errText); err != nil && !errors.Is(err, context.Canceled) {
		s.logger.WarnContext(ctx, "record snapshot webhook result", "job", j.ID, "err", err)
	}
	j.State = st
}

// WebhookPublicKey returns the key snapshot webhooks are signed with, for
// receivers to verify (agentapi text form).
func (s *Server) WebhookPublicKey(ctx context.Context) (agentapi.CommandKey, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return agentapi.CommandKey{}, err
	}
	k, err := s.commandKey(ctx)
	if err != nil {
		return agentapi.CommandKey{}, err
	}
	return agentapi.CommandKey{ID: k.id, PublicKey: k.pub}, nil
}

// runbookFor returns a client's stored runbook or the defaults.
func (s *Server) runbookFor(ctx context.Context, client patch.ClientID) (*patch.Runbook, error) {
	r, err := s.st.Runbooks.FindRunbook(ctx, client)
	if patch.ErrorKind(err) == patch.KindNotFound {
		return patch.DefaultRunbook(client), nil
	}
	return r, err
}

// rolloutState is the scheduler's state held in memory.
type rolloutState struct {
	mu      sync.Mutex
	leading bool
}
