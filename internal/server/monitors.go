package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
)

// monitorHeartbeat is how often an unchanged monitor state is written
// anyway, so that its evaluated_at shows the monitor is alive.
const monitorHeartbeat = time.Hour

// monitorEnv is what evaluating the monitors of one client needs.
type monitorEnv struct {
	client    *patch.Client
	baselines []patch.OSBaseline
	urgent    string
	agents    map[patch.AssetID]*patch.Agent
	prev      map[patch.AssetID]map[patch.MonitorKind]*patch.MonitorState
}

// loadMonitorEnv loads the client's baselines, most urgent tier, agents
// and stored monitor states (of one asset, or all).
func (s *Server) loadMonitorEnv(ctx context.Context, c *patch.Client, asset *patch.AssetID) (*monitorEnv, error) {
	env := &monitorEnv{client: c, agents: map[patch.AssetID]*patch.Agent{}, prev: map[patch.AssetID]map[patch.MonitorKind]*patch.MonitorState{}}
	if s.st.Baselines != nil {
		bs, err := s.st.Baselines.FindOSBaselines(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		env.baselines = bs
	}
	env.urgent = "critical"
	if s.st.Policies != nil {
		p, err := s.policyFor(ctx, c)
		if err != nil {
			return nil, err
		}
		if len(p.Tiers) > 0 {
			env.urgent = p.Tiers[0].Key
		}
	}
	if s.st.Agents != nil {
		for off := 0; ; {
			page, total, err := s.st.Agents.FindAgents(ctx, patch.AgentFilter{ClientID: &c.ID, AssetID: asset, Limit: patch.MaxLimit, Offset: off})
			if err != nil {
				return nil, err
			}
			for _, ag := range page {
				if !ag.RevokedAt.IsZero() {
					continue
				}
				if cur := env.agents[ag.AssetID]; cur == nil || ag.LastCheckIn.After(cur.LastCheckIn) {
					env.agents[ag.AssetID] = ag
				}
			}
			off += len(page)
			if len(page) == 0 || off >= total {
				break
			}
		}
	}
	for off := 0; ; {
		page, total, err := s.st.Monitors.FindMonitorStates(ctx, patch.MonitorFilter{ClientID: &c.ID, AssetID: asset, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, st := range page {
			if env.prev[st.AssetID] == nil {
				env.prev[st.AssetID] = map[patch.MonitorKind]*patch.MonitorState{}
			}
			env.prev[st.AssetID][st.Kind] = st
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			return env, nil
		}
	}
}

// monitorFacts gathers what the monitors of one asset look at. Windows
// activation and edition come from the asset's last inventory, when an
// agent sent one.
func (s *Server) monitorFacts(ctx context.Context, env *monitorEnv, cf *patch.ComplianceFacts, ra *compliance.Asset) (compliance.MonitorFacts, error) {
	a := cf.Asset
	mf := compliance.MonitorFacts{Asset: ra, OS: a.OS, LastSeen: a.LastSeen, Baselines: env.baselines, UrgentTier: env.urgent}
	if ag := env.agents[a.ID]; ag != nil {
		mf.Agent = compliance.AgentFacts{Present: true, LastCheckIn: ag.LastCheckIn, ExpectedBy: ag.ExpectedBy}
	}
	os := inventoryOS(a.OS)
	if a.OS.Family == patch.OSWindows && s.st.Inventory != nil {
		snap, err := s.st.Inventory.FindInventory(ctx, a.ID)
		switch {
		case patch.ErrorKind(err) == patch.KindNotFound:
		case err != nil:
			return mf, err
		default:
			var host inventory.Host
			if json.Unmarshal(snap.Document, &host) == nil {
				if host.OS.Family != "" {
					os = host.OS
				}
				if l := host.Licensing; l != nil {
					act := l.Activated
					mf.Activated = &act
					if !act {
						mf.ActivationReason = fmt.Sprintf("Windows is not activated with a valid licence (license status %s)", l.LicenseStatus)
					}
				}
			}
		}
	}
	ok, reason := inventory.Serviceability(os)
	mf.SupportReason = reason
	if a.OS.Family != patch.OSWindows || a.OS.Version != "" || a.OS.Build != "" {
		mf.Supported = &ok
	}
	if ins := s.copts().Installs; ins != nil {
		fs, err := ins.FailedInstalls(ctx, a.ID)
		if err != nil {
			return mf, err
		}
		mf.Failed = fs
	}
	return mf, nil
}

// evaluateMonitors observes one managed asset's monitors at now, applies
// them to the stored states and saves what changed, with events and
// alerts. A concurrent evaluation of the same asset makes the save fail
// with KindConflict; the states are then reloaded and the step redone
// once.
func (s *Server) evaluateMonitors(ctx context.Context, env *monitorEnv, cf *patch.ComplianceFacts, ra *compliance.Asset, now time.Time) ([]*patch.MonitorState, error) {
	if s.st.Monitors == nil || !cf.Asset.Managed {
		return nil, nil
	}
	o := s.copts()
	mf, err := s.monitorFacts(ctx, env, cf, ra)
	if err != nil {
		return nil, err
	}
	obs := compliance.Observe(&mf, now, o.Monitors, o.Rating)
	sub := compliance.Subject{AssetID: cf.Asset.ID, ClientID: cf.Asset.ClientID, Hostname: cf.Asset.Hostname}
	for attempt := 0; ; attempt++ {
		prev := env.prev[sub.AssetID]
		var changes []patch.MonitorChange
		for _, ob := range obs {
			p := prev[ob.Kind]
			ch, dirty := compliance.Step(p, ob, sub, now, o.Monitors)
			if !dirty && p != nil && now.Sub(p.EvaluatedAt) < monitorHeartbeat {
				continue
			}
			changes = append(changes, ch)
		}
		if len(changes) == 0 {
			return nil, nil
		}
		sts, err := s.st.Monitors.SaveMonitors(ctx, sub.AssetID, changes)
		if patch.ErrorKind(err) == patch.KindConflict && attempt == 0 {
			fresh, _, ferr := s.st.Monitors.FindMonitorStates(ctx, patch.MonitorFilter{AssetID: &sub.AssetID})
			if ferr != nil {
				return nil, ferr
			}
			env.prev[sub.AssetID] = map[patch.MonitorKind]*patch.MonitorState{}
			for _, st := range fresh {
				env.prev[sub.AssetID][st.Kind] = st
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if env.prev[sub.AssetID] == nil {
			env.prev[sub.AssetID] = map[patch.MonitorKind]*patch.MonitorState{}
		}
		for _, st := range sts {
			env.prev[sub.AssetID][st.Kind] = st
		}
		return sts, nil
	}
}

// AssetEvaluation is what EvaluateAssetCompliance did.
type AssetEvaluation struct {
	Rating compliance.AssetRating `json:"rating"`
	// Changed are the monitor states that changed and were saved.
	Changed []*patch.MonitorState `json:"changed"`
}

// EvaluateAssetCompliance re-rates one asset in the index and evaluates
// its monitors now. The agent check-in calls it after recording a scan
// and after EvaluateAsset (so that due times are current); the caller
// may be the asset's agent, or anyone who may read the asset. Its writes
// (monitor states, events, alerts) are the server's.
func (s *Server) EvaluateAssetCompliance(ctx context.Context, id patch.AssetID) (*AssetEvaluation, error) {
	actor, ok := patch.ActorFromContext(ctx)
	if !ok {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	if actor.Kind != patch.ActorAgent {
		if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
			return nil, err
		}
	}
	a, err := s.st.Assets.FindAssetByID(ctx, id)
	if err != nil {
		return nil, err
	}
	sys := systemContext(ctx, "compliance")
	c, err := s.st.Clients.FindClientByID(sys, a.ClientID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ss, facts, err := s.rateClient(sys, c, &a.ID, now)
	if err != nil {
		return nil, err
	}
	if len(ss) != 1 {
		return nil, patch.Errorf(patch.KindNotFound, "Asset %s not found.", id)
	}
	s.putSummaries(ss[0])
	out := &AssetEvaluation{Rating: ss[0].View(), Changed: []*patch.MonitorState{}}
	if s.st.Monitors == nil {
		return out, nil
	}
	env, err := s.loadMonitorEnv(sys, c, &a.ID)
	if err != nil {
		return nil, err
	}
	sts, err := s.evaluateMonitors(sys, env, facts[0], ratingAsset(c, facts[0], now), now)
	if err != nil {
		return nil, err
	}
	if sts != nil {
		out.Changed = sts
	}
	return out, nil
}

// complianceRound re-rates every asset of every client and evaluates
// every monitor, reading each client's facts once, then replaces the
// index. Errors of one client are logged and do not stop the others.
func (s *Server) complianceRound(ctx context.Context) error {
	sys := systemContext(ctx, "compliance")
	now := s.now()
	clients, err := s.clientsInScope(sys)
	if err != nil {
		return err
	}
	var all []compliance.Summary
	var first error
	for _, c := range clients {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ss, facts, err := s.rateClient(sys, c, nil, now)
		if err != nil {
			return err
		}
		all = append(all, ss...)
		if s.st.Monitors == nil {
			continue
		}
		env, err := s.loadMonitorEnv(sys, c, nil)
		if err != nil {
			s.logger.WarnContext(ctx, "monitors not evaluated", "client", c.ID, "err", err)
			first = cmpErr(first, err)
			continue
		}
		for _, cf := range facts {
			if _, err := s.evaluateMonitors(sys, env, cf, ratingAsset(c, cf, now), now); err != nil {
				s.logger.WarnContext(ctx, "monitor evaluation failed", "client", c.ID, "asset", cf.Asset.ID, "err", err)
				first = cmpErr(first, err)
			}
		}
	}
	ix := compliance.Build(all)
	s.cmp.mu.Lock()
	s.cmp.ix, s.cmp.builtAt = ix, now
	s.cmp.mu.Unlock()
	return first
}

// MonitorStates lists monitor states.
func (s *Server) MonitorStates(ctx context.Context, f patch.MonitorFilter) ([]*patch.MonitorState, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if f.Kind != nil && !slices.Contains(patch.MonitorKinds, *f.Kind) {
		return nil, 0, patch.FieldError("kind", "unknown monitor %q", *f.Kind)
	}
	if f.Status != nil && !slices.Contains(patch.MonitorStatuses, *f.Status) {
		return nil, 0, patch.FieldError("status", "must be one of ok, warning, critical, unknown (got %q)", *f.Status)
	}
	return s.st.Monitors.FindMonitorStates(ctx, f)
}

// MonitorEvents lists monitor history, newest first.
func (s *Server) MonitorEvents(ctx context.Context, f patch.MonitorEventFilter) ([]*patch.MonitorEvent, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Monitors.FindMonitorEvents(ctx, f)
}

// AssetMonitors are one asset's monitors.
type AssetMonitors struct {
	AssetID  patch.AssetID `json:"asset_id"`
	Hostname string        `json:"hostname"`
	// Worst is the most severe confirmed status of the asset's monitors.
	Worst    patch.MonitorStatus   `json:"worst"`
	Monitors []*patch.MonitorState `json:"monitors"`
}

// ClientMonitors returns the monitors of every managed asset of a
// client, worst first.
func (s *Server) ClientMonitors(ctx context.Context, client patch.ClientID) ([]AssetMonitors, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, client); err != nil {
		return nil, err
	}
	assets, err := s.allAssets(ctx, client)
	if err != nil {
		return nil, err
	}
	by := map[patch.AssetID]*AssetMonitors{}
	var out []*AssetMonitors
	for _, a := range assets {
		if !a.Managed {
			continue
		}
		am := &AssetMonitors{AssetID: a.ID, Hostname: a.Hostname, Worst: patch.MonitorUnknown, Monitors: []*patch.MonitorState{}}
		by[a.ID] = am
		out = append(out, am)
	}
	rank := map[patch.MonitorStatus]int{patch.MonitorUnknown: 0, patch.MonitorOK: 1, patch.MonitorWarning: 2, patch.MonitorCritical: 3}
	for off := 0; ; {
		page, total, err := s.st.Monitors.FindMonitorStates(ctx, patch.MonitorFilter{ClientID: &client, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, st := range page {
			if am := by[st.AssetID]; am != nil {
				am.Monitors = append(am.Monitors, st)
				if rank[st.Status] > rank[am.Worst] {
					am.Worst = st.Status
				}
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			break
		}
	}
	res := make([]AssetMonitors, 0, len(out))
	for _, am := range out {
		slices.SortFunc(am.Monitors, func(a, b *patch.MonitorState) int {
			return slices.Index(patch.MonitorKinds, a.Kind) - slices.Index(patch.MonitorKinds, b.Kind)
		})
		res = append(res, *am)
	}
	slices.SortFunc(res, func(a, b AssetMonitors) int {
		return cmp.Or(rank[b.Worst]-rank[a.Worst], cmp.Compare(a.Hostname, b.Hostname))
	})
	return res, nil
}

// OSBaselines returns a client's OS baselines.
func (s *Server) OSBaselines(ctx context.Context, client patch.ClientID) ([]patch.OSBaseline, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Baselines.FindOSBaselines(ctx, client)
}

// SetOSBaselines replaces a client's OS baselines (audited) and
// re-evaluates the client's monitors against them.
func (s *Server) SetOSBaselines(ctx context.Context, client patch.ClientID, bs []patch.OSBaseline) ([]patch.OSBaseline, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	if bs == nil {
		bs = []patch.OSBaseline{}
	}
	if err := s.st.Baselines.SetOSBaselines(ctx, client, bs); err != nil {
		return nil, err
	}
	if err := s.evaluateClientMonitors(ctx, client); err != nil {
		s.logger.WarnContext(ctx, "monitors not re-evaluated after a baseline change", "client", client, "err", err)
	}
	return s.st.Baselines.FindOSBaselines(ctx, client)
}

// evaluateClientMonitors evaluates the monitors of one client's assets.
func (s *Server) evaluateClientMonitors(ctx context.Context, client patch.ClientID) error {
	sys := systemContext(ctx, "compliance")
	c, err := s.st.Clients.FindClientByID(sys, client)
	if err != nil {
		return err
	}
	now := s.now()
	ss, facts, err := s.rateClient(sys, c, nil, now)
	if err != nil {
		return err
	}
	s.putSummaries(ss...)
	env, err := s.loadMonitorEnv(sys, c, nil)
	if err != nil {
		return err
	}
	for _, cf := range facts {
		if _, err := s.evaluateMonitors(sys, env, cf, ratingAsset(c, cf, now), now); err != nil {
			return err
		}
	}
	return nil
}
