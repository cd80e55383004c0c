package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
)

// The SLA evaluator keeps the policy fields of findings (tier, emergency,
// approval, due time, SLA status, covering exception) in step with the
// client's policy, decisions, overrides and exceptions and with the clock.
// It runs after every policy-related change, on demand, and as a
// background loop that also moves exceptions along (activation at their
// start, expiry at their hard expiry, with an alert).
//
// Its writes are made as the system actor: a technician's approval or a
// client owner's sign-off triggers the evaluation, but the derived changes
// (an automatic approval, an expiry) are the server's doing and are
// recorded as such in the audit log and the evidence chain.

// DeploymentFacts tells the evaluator what rollouts know about findings:
// failed attempts, pending reboots, rings not promoted yet. The rollout
// engine implements it; with none, those reasons are not given.
type DeploymentFacts interface {
	FindingFacts(ctx context.Context, client patch.ClientID, ids []patch.FindingID) (map[patch.FindingID]policy.Facts, error)
}

// DefaultSLAInterval is how often RunSLAEvaluator runs when Options do
// not say.
const DefaultSLAInterval = time.Minute

// systemContext returns ctx acting as the server itself.
func systemContext(ctx context.Context, what string) context.Context {
	return patch.NewContextWithActor(ctx, patch.SystemActor(what))
}

// EvaluationResult counts what an evaluation did.
type EvaluationResult struct {
	ClientID patch.ClientID `json:"client_id"`
	// Findings is how many findings were evaluated, Updated how many had
	// changed and were written.
	Findings int `json:"findings"`
	Updated  int `json:"updated"`
	// Exceptions is how many exceptions were activated or expired.
	Exceptions int       `json:"exceptions"`
	At         time.Time `json:"at"`
}

// EvaluateClient re-evaluates every open finding of a client now.
func (s *Server) EvaluateClient(ctx context.Context, client patch.ClientID) (*EvaluationResult, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, client); err != nil {
		return nil, err
	}
	return s.evaluateClient(ctx, client, nil)
}

// EvaluateAsset re-evaluates the open findings of one asset now; the
// agent check-in calls it after recording a scan.
func (s *Server) EvaluateAsset(ctx context.Context, id patch.AssetID) (*EvaluationResult, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	a, err := s.st.Assets.FindAssetByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.evaluateClient(ctx, a.ClientID, &a.ID)
}

// EvaluateAll evaluates every client; errors of one client are logged
// and do not stop the others. The first error is returned.
func (s *Server) EvaluateAll(ctx context.Context) error {
	ctx = systemContext(ctx, "sla-evaluator")
	var first error
	for off := 0; ; {
		page, total, err := s.st.Clients.FindClients(ctx, patch.ClientFilter{Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return err
		}
		for _, c := range page {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if _, err := s.evaluateClient(ctx, c.ID, nil); err != nil {
				s.logger.WarnContext(ctx, "SLA evaluation failed", "client", c.ID, "err", err)
				first = cmpErr(first, err)
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			return first
		}
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// RunSLAEvaluator evaluates every client at once and then every interval
// (Options.SLAInterval) until ctx is done. It returns ctx's error.
func (s *Server) RunSLAEvaluator(ctx context.Context) error {
	every := s.slaInterval
	if every <= 0 {
		every = DefaultSLAInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		if err := s.EvaluateAll(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "SLA evaluation round had errors", "err", err)
		} else {
			s.logger.DebugContext(ctx, "SLA evaluation round", "took", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// evalPage is how many findings one evaluation step reads and writes.
const evalPage = 1000

// engineFor builds the policy engine of a client at now with all its
// inputs loaded.
func (s *Server) engineFor(ctx context.Context, c *patch.Client, now time.Time) (*policy.Engine, error) {
	p, err := s.policyFor(ctx, c)
	if err != nil {
		return nil, err
	}
	eng := policy.NewEngine(p, now)
	for off := 0; ; {
		page, total, err := s.st.Decisions.FindDecisions(ctx, patch.DecisionFilter{ClientID: &c.ID, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			eng.Decisions[d.UpdateID] = d
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	for off := 0; ; {
		page, total, err := s.st.Decisions.FindTierOverrides(ctx, patch.TierOverrideFilter{ClientID: &c.ID, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, o := range page {
			eng.Overrides[o.UpdateID] = o
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	if eng.Exceptions, err = s.allExceptions(ctx, c.ID); err != nil {
		return nil, err
	}
	if eng.MSPCanary, err = s.st.Policies.FindMSPCanary(ctx); err != nil {
		return nil, err
	}
	return eng, nil
}

// zones returns the time zone of each site of a client.
func (s *Server) zones(ctx context.Context, client patch.ClientID) (map[patch.SiteID]*time.Location, error) {
	out := map[patch.SiteID]*time.Location{}
	for off := 0; ; {
		page, total, err := s.st.Sites.FindSites(ctx, patch.SiteFilter{ClientID: &client, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, st := range page {
			out[st.ID] = st.Loc()
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			return out, nil
		}
	}
}

func zoneOf(zones map[patch.SiteID]*time.Location, a *patch.Asset) *time.Location {
	if z, ok := zones[a.SiteID]; ok {
		return z
	}
	return time.UTC
}

// advanceExceptions activates and expires the client's exceptions whose
// time has come, each in its own transaction (so an expiry is recorded
// even if a later step fails), as the system actor.
func (s *Server) advanceExceptions(ctx context.Context, xs []*patch.Exception, now time.Time) (int, error) {
	sys := systemContext(ctx, "sla-evaluator")
	n := 0
	for i, x := range xs {
		probe := *x
		if _, due := policy.Advance(&probe, now); !due {
			continue
		}
		changed := false
		nx, err := s.st.Exceptions.ChangeException(sys, x.ID, func(e *patch.Exception) (patch.ExceptionStep, error) {
			step, ok := policy.Advance(e, now)
			if !ok {
				return patch.ExceptionStep{}, errNothingDue
			}
			changed = true
			return step, nil
		})
		if errors.Is(err, errNothingDue) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("advance exception %s: %w", x.ID, err)
		}
		if changed {
			xs[i] = nx
			n++
			s.logger.InfoContext(ctx, "exception moved on", "client", nx.ClientID, "exception", nx.ID, "state", nx.State)
		}
	}
	return n, nil
}

var errNothingDue = errors.New("nothing due")

// evaluateClient evaluates a client's findings (or one asset's) and
// writes those whose policy fields changed.
func (s *Server) evaluateClient(ctx context.Context, client patch.ClientID, asset *patch.AssetID) (*EvaluationResult, error) {
	now := s.now()
	sys := systemContext(ctx, "sla-evaluator")
	c, err := s.st.Clients.FindClientByID(sys, client)
	if err != nil {
		return nil, err
	}
	eng, err := s.engineFor(sys, c, now)
	if err != nil {
		return nil, err
	}
	res := &EvaluationResult{ClientID: client, At: now}
	if res.Exceptions, err = s.advanceExceptions(ctx, eng.Exceptions, now); err != nil {
		return nil, err
	}
	zones, err := s.zones(sys, client)
	if err != nil {
		return nil, err
	}
	assets := map[patch.AssetID]*patch.Asset{}
	if asset != nil {
		a, err := s.st.Assets.FindAssetByID(sys, *asset)
		if err != nil {
			return nil, err
		}
		assets[a.ID] = a
	} else {
		all, err := s.allAssets(sys, client)
		if err != nil {
			return nil, err
		}
		for _, a := range all {
			assets[a.ID] = a
		}
	}
	var after patch.FindingID
	for {
		page, err := s.st.Evaluations.FindingsToEvaluate(sys, client, asset, after, evalPage)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		facts, err := s.factsFor(sys, client, page)
		if err != nil {
			return nil, err
		}
		var evs []patch.FindingEvaluation
		for _, f := range page {
			a := assets[f.AssetID]
			if a == nil || f.Update == nil {
				continue // created after the assets were read: next round
			}
			res.Findings++
			ev := eng.Evaluate(policy.Subject{Finding: f, Update: f.Update, Asset: a, Zone: zoneOf(zones, a), Facts: facts[f.ID]})
			if !ev.Changed(f) {
				continue
			}
			st := ev.Stored(f)
			if f.State == patch.FindingOpen && f.Approval != patch.ApprovalApproved && st.Approval == patch.ApprovalApproved && ev.Approval.Source == "rule" {
				st.Events = append(st.Events, patch.EvidenceEvent{ClientID: client, Type: patch.EventApproved,
					Subject: patch.EvidenceSubject{AssetID: f.AssetID, UpdateID: f.UpdateID},
					Details: map[string]string{"finding": string(f.ID), "source": "rule", "rule": ev.Approval.Rule}})
			}
			evs = append(evs, st)
		}
		n, err := s.st.Evaluations.SaveEvaluations(sys, evs)
		if err != nil {
			return nil, err
		}
		res.Updated += n
		if len(page) < evalPage {
			break
		}
	}
	return res, nil
}

// factsFor asks the rollout side about a page of findings, if it is wired.
func (s *Server) factsFor(ctx context.Context, client patch.ClientID, page []*patch.Finding) (map[patch.FindingID]policy.Facts, error) {
	if s.st.Deployments == nil {
		return nil, nil
	}
	ids := make([]patch.FindingID, len(page))
	for i, f := range page {
		ids[i] = f.ID
	}
	return s.st.Deployments.FindingFacts(ctx, client, ids)
}
