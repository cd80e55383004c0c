package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
)

// The Patch Health Compliance rating, the UPDATES monitors, the daily
// snapshots and the scorecard (issue 6). Package compliance computes;
// this file loads the facts, keeps the incremental index and answers the
// API. docs/compliance.md describes the model for users.
//
// The index holds one summary per asset and the sums of every group, for
// every client: a full recomputation runs in the background loop, and a
// check-in re-rates one asset (EvaluateAssetCompliance), so reading any
// rating costs O(groups) however large the fleet.

// InstallFacts supplies install outcomes: the rollout engine (issue 5)
// implements it. Without it the failure rates have no data and UPDATES –
// Failed stays ok.
type InstallFacts interface {
	// InstallCounts returns install outcomes in p per client and ring; a
	// nil client means every client.
	InstallCounts(ctx context.Context, client *patch.ClientID, p compliance.Span) ([]compliance.InstallCount, error)
	// FailedInstalls returns the failed installs of an asset that no
	// later install of the same update has made good.
	FailedInstalls(ctx context.Context, asset patch.AssetID) ([]compliance.FailedInstall, error)
}

// TicketFacts supplies patch tickets (a later issue delivers alerts to
// PSA systems). Without it every alert raised counts as one ticket.
type TicketFacts interface {
	PatchTickets(ctx context.Context, client *patch.ClientID, p compliance.Span) ([]compliance.Ticket, error)
}

// ComplianceOptions configure the rating, the monitors and the loop.
type ComplianceOptions struct {
	Rating   compliance.Options
	Monitors compliance.MonitorOptions
	// Interval is how often RunCompliance re-rates every asset, evaluates
	// every monitor and checks the daily snapshots (5 minutes).
	Interval time.Duration
	// CatchUpDays is how many past days RunCompliance snapshots when they
	// are missing, say after downtime (7).
	CatchUpDays int
	// Hours are the business hours of the after-hours ticket count
	// (Monday to Friday, 08:00 to 18:00 in the site's zone).
	Hours    compliance.BusinessHours
	Installs InstallFacts
	Tickets  TicketFacts
}

// Compliance defaults.
const (
	DefaultComplianceInterval = 5 * time.Minute
	DefaultCatchUpDays        = 7
)

func (o ComplianceOptions) withDefaults() ComplianceOptions {
	o.Rating, o.Monitors = o.Rating.WithDefaults(), o.Monitors.WithDefaults()
	if o.Interval <= 0 {
		o.Interval = DefaultComplianceInterval
	}
	if o.CatchUpDays <= 0 {
		o.CatchUpDays = DefaultCatchUpDays
	}
	if len(o.Hours.Days) == 0 {
		o.Hours = compliance.DefaultBusinessHours
	}
	return o
}

// complianceState is the server's rating index.
type complianceState struct {
	mu      sync.Mutex
	ix      *compliance.Index
	builtAt time.Time
}

func (s *Server) copts() ComplianceOptions {
	o := s.complianceOpts.withDefaults()
	// The rollout engine supplies install outcomes and tickets whenever its
	// store is wired, unless the options name other sources.
	if o.Installs == nil && s.st.Rollouts != nil {
		o.Installs = rolloutFacts{s}
	}
	if o.Tickets == nil && s.st.Tickets != nil && s.st.Alerts != nil {
		o.Tickets = rolloutFacts{s}
	}
	return o
}

// classOf returns an asset's class kind and target; a class the client no
// longer lists is held to the default target of the asset's role.
func classOf(c *patch.Client, a *patch.Asset) (patch.ClassKind, float64) {
	if ac, ok := c.Class(a.Class); ok {
		return ac.Kind, ac.TargetPct
	}
	if a.Role == patch.RoleServer {
		return patch.ClassKindServer, 95
	}
	return patch.ClassKindWorkstation, 92
}

// inventoryOS converts an asset's OS for package inventory's rules.
func inventoryOS(o patch.OS) inventory.OS {
	return inventory.OS{Family: inventory.Family(o.Family), Name: o.Name, Version: o.Version, Build: o.Build, Kernel: o.Kernel, Arch: o.Arch}
}

// ratingAsset turns stored facts into the rating's facts. When at is
// before the last successful scan (a past day being rated), the last scan
// by then is taken from the findings' scan times, which are the times
// of the scans that found, refreshed or closed them.
func ratingAsset(c *patch.Client, cf *patch.ComplianceFacts, at time.Time) *compliance.Asset {
	a := cf.Asset
	kind, target := classOf(c, a)
	out := &compliance.Asset{ID: a.ID, ClientID: a.ClientID, SiteID: a.SiteID, Hostname: a.Hostname, OS: a.OS.Family,
		Class: a.Class, Kind: kind, Target: target, Managed: a.Managed, Findings: make([]compliance.Finding, 0, len(cf.Findings))}
	for _, sc := range cf.Scans {
		if !sc.LastSuccess.After(at) && sc.LastSuccess.After(out.LastScan) {
			out.LastScan = sc.LastSuccess
		}
		if sc.LastError != "" && sc.LastAttempt.After(sc.LastSuccess) && !sc.LastAttempt.After(at) {
			out.FailingSources = append(out.FailingSources, string(sc.Source))
		}
	}
	for _, f := range cf.Findings {
		out.Findings = append(out.Findings, compliance.FindingOf(f))
		for _, t := range []time.Time{f.FirstSeen, f.LastSeen, f.ResolvedAt} {
			if !t.After(at) && t.After(out.LastScan) {
				out.LastScan = t
			}
		}
	}
	if ok, reason := inventory.Serviceability(inventoryOS(a.OS)); !ok {
		out.Unsupported = reason
	}
	return out
}

// clientsInScope returns every client the caller may see.
func (s *Server) clientsInScope(ctx context.Context) ([]*patch.Client, error) {
	var out []*patch.Client
	for off := 0; ; {
		page, total, err := s.st.Clients.FindClients(ctx, patch.ClientFilter{Limit: patch.MaxLimit, Offset: off})
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

// rateClient loads a client's facts (or one asset's) and summarises
// each asset at at.
func (s *Server) rateClient(ctx context.Context, c *patch.Client, asset *patch.AssetID, at time.Time) ([]compliance.Summary, []*patch.ComplianceFacts, error) {
	o := s.copts().Rating
	facts, err := s.st.ComplianceFacts.FindComplianceFacts(ctx, patch.ComplianceFactFilter{ClientID: &c.ID, AssetID: asset, Since: at.Add(-o.Window)})
	if err != nil {
		return nil, nil, err
	}
	ss := make([]compliance.Summary, 0, len(facts))
	for _, cf := range facts {
		ss = append(ss, compliance.Summarize(ratingAsset(c, cf, at), at, o))
	}
	return ss, facts, nil
}

// RecomputeCompliance re-rates every asset of every client now and
// replaces the index.
func (s *Server) RecomputeCompliance(ctx context.Context) error {
	sys := systemContext(ctx, "compliance")
	now := s.now()
	clients, err := s.clientsInScope(sys)
	if err != nil {
		return err
	}
	var all []compliance.Summary
	for _, c := range clients {
		ss, _, err := s.rateClient(sys, c, nil, now)
		if err != nil {
			return err
		}
		all = append(all, ss...)
	}
	ix := compliance.Build(all)
	s.cmp.mu.Lock()
	s.cmp.ix, s.cmp.builtAt = ix, now
	s.cmp.mu.Unlock()
	return nil
}

// withIndex runs fn with the index locked, building the index first if
// this server has none yet.
func (s *Server) withIndex(ctx context.Context, fn func(ix *compliance.Index, builtAt time.Time)) error {
	s.cmp.mu.Lock()
	built := s.cmp.ix != nil
	s.cmp.mu.Unlock()
	if !built {
		if err := s.RecomputeCompliance(ctx); err != nil {
			return err
		}
	}
	s.cmp.mu.Lock()
	defer s.cmp.mu.Unlock()
	fn(s.cmp.ix, s.cmp.builtAt)
	return nil
}

// putSummaries replaces summaries in the index (if it is built).
func (s *Server) putSummaries(ss ...compliance.Summary) {
	s.cmp.mu.Lock()
	defer s.cmp.mu.Unlock()
	if s.cmp.ix == nil {
		return
	}
	for _, sm := range ss {
		s.cmp.ix.Put(sm)
	}
}

// scopeKeep returns which index clients the caller may see; the MSP
// ("") only for unscoped callers.
func scopeKeep(sc patch.Scope) func(patch.ClientID) bool {
	return func(c patch.ClientID) bool {
		if c == "" {
			return sc.All
		}
		return sc.Allows(c)
	}
}

// RatingQuery selects ratings.
type RatingQuery struct {
	// ClientID selects one client's groups; MSP the MSP-wide groups.
	// Neither: everything in scope.
	ClientID *patch.ClientID
	MSP      bool
	Dim      *compliance.Dim
	Key      *string
}

// RatingsView is a set of current ratings.
type RatingsView struct {
	// ComputedAt is when every asset was last re-rated together; single
	// assets are re-rated at their check-ins since.
	ComputedAt time.Time                `json:"computed_at"`
	Ratings    []compliance.GroupRating `json:"ratings"`
}

// ComplianceRatings returns current ratings with their targets.
func (s *Server) ComplianceRatings(ctx context.Context, q RatingQuery) (*RatingsView, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	sc, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if q.MSP && !sc.All {
		return nil, patch.Errorf(patch.KindForbidden, "MSP-wide ratings are for MSP staff.")
	}
	if q.ClientID != nil {
		if _, err := s.st.Clients.FindClientByID(ctx, *q.ClientID); err != nil {
			return nil, err
		}
	}
	if q.Dim != nil && !slices.Contains(compliance.Dims, *q.Dim) {
		return nil, patch.FieldError("dim", "must be one of all, kind, class, os, tier, site (got %q)", *q.Dim)
	}
	keep := scopeKeep(sc)
	view := &RatingsView{}
	err = s.withIndex(ctx, func(ix *compliance.Index, builtAt time.Time) {
		view.ComputedAt = builtAt
		view.Ratings = ix.Ratings(func(c patch.ClientID) bool {
			switch {
			case !keep(c):
				return false
			case q.MSP:
				return c == ""
			case q.ClientID != nil:
				return c == *q.ClientID
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	view.Ratings = slices.DeleteFunc(view.Ratings, func(r compliance.GroupRating) bool {
		return q.Dim != nil && r.Dim != *q.Dim || q.Key != nil && r.Key != *q.Key
	})
	if view.Ratings == nil {
		view.Ratings = []compliance.GroupRating{}
	}
	return view, s.label(ctx, view.Ratings)
}

// label fills the display names of class and site groups.
func (s *Server) label(ctx context.Context, rs []compliance.GroupRating) error {
	clients := map[patch.ClientID]*patch.Client{}
	sites := map[patch.SiteID]string{}
	for i := range rs {
		r := &rs[i]
		switch r.Dim {
		case compliance.DimClass:
			if r.ClientID == "" {
				continue
			}
			c, ok := clients[r.ClientID]
			if !ok {
				var err error
				if c, err = s.st.Clients.FindClientByID(ctx, r.ClientID); err != nil && patch.ErrorKind(err) != patch.KindNotFound {
					return err
				}
				clients[r.ClientID] = c
			}
			if c != nil {
				if ac, ok := c.Class(r.Key); ok {
					r.Label = ac.Name
				}
			}
		case compliance.DimSite:
			if r.Key == compliance.NoSite {
				r.Label = "No site"
				continue
			}
			name, ok := sites[patch.SiteID(r.Key)]
			if !ok {
				st, err := s.st.Sites.FindSiteByID(ctx, patch.SiteID(r.Key))
				if err != nil && patch.ErrorKind(err) != patch.KindNotFound {
					return err
				}
				if st != nil {
					name = st.Name
				}
				sites[patch.SiteID(r.Key)] = name
			}
			r.Label = name
		}
	}
	return nil
}

// ComplianceGroupAssets returns the assets a group's rating was computed
// from, with their own numbers: the first step of tracing a rating down
// to its findings.
func (s *Server) ComplianceGroupAssets(ctx context.Context, k compliance.GroupKey) ([]compliance.AssetRating, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	sc, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if !scopeKeep(sc)(k.Client) {
		if k.Client == "" {
			return nil, patch.Errorf(patch.KindForbidden, "MSP-wide ratings are for MSP staff.")
		}
		return nil, patch.Errorf(patch.KindNotFound, "Client %s not found.", k.Client)
	}
	if !slices.Contains(compliance.Dims, k.Dim) {
		return nil, patch.FieldError("dim", "must be one of all, kind, class, os, tier, site (got %q)", k.Dim)
	}
	var ss []compliance.Summary
	if err := s.withIndex(ctx, func(ix *compliance.Index, _ time.Time) { ss = ix.Members(k) }); err != nil {
		return nil, err
	}
	out := make([]compliance.AssetRating, 0, len(ss))
	for i := range ss {
		v := ss[i].View()
		if k.Dim == compliance.DimTier {
			v = ss[i].TierView(k.Key) // a tier group counts each asset's findings of that tier only
		}
		out = append(out, v)
	}
	return out, nil
}

// FindingRating is one finding and how the rating counted it.
type FindingRating struct {
	*patch.Finding
	Category compliance.Category `json:"category"`
}

// AssetComplianceView is one asset's rating traced to its findings.
type AssetComplianceView struct {
	Rating compliance.AssetRating `json:"rating"`
	// At is the instant the findings were classified at.
	At time.Time `json:"at"`
	// Findings are every finding of the asset relevant at At, each with
	// the category that put it in (or kept it out of) the numbers.
	Findings []FindingRating       `json:"findings"`
	Monitors []*patch.MonitorState `json:"monitors"`
	// Snapshot is the stored row of the day asked for; MatchesSnapshot
	// says whether today's facts still give the same counts (a later
	// policy change can alter due times and approvals).
	Snapshot        *patch.AssetDay `json:"snapshot,omitempty"`
	MatchesSnapshot *bool           `json:"matches_snapshot,omitempty"`
}

// AssetCompliance rates one asset and lists its findings by category:
// now (re-rating the asset in the index) or, with day, at that day's
// snapshot.
func (s *Server) AssetCompliance(ctx context.Context, id patch.AssetID, day *patch.Day) (*AssetComplianceView, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	a, err := s.st.Assets.FindAssetByID(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, a.ClientID)
	if err != nil {
		return nil, err
	}
	at := s.now()
	if day != nil {
		at = day.End()
	}
	ss, facts, err := s.rateClient(ctx, c, &a.ID, at)
	if err != nil {
		return nil, err
	}
	if len(ss) != 1 {
		return nil, patch.Errorf(patch.KindNotFound, "Asset %s not found.", id)
	}
	if day == nil {
		s.putSummaries(ss[0])
	}
	v := &AssetComplianceView{Rating: ss[0].View(), At: at, Findings: []FindingRating{}}
	o := s.copts().Rating
	for _, f := range facts[0].Findings {
		cf := compliance.FindingOf(f)
		cat := compliance.Classify(&cf, at, o)
		if cat == compliance.NotFound || cat == compliance.History {
			continue
		}
		v.Findings = append(v.Findings, FindingRating{Finding: f, Category: cat})
	}
	slices.SortStableFunc(v.Findings, func(x, y FindingRating) int { return int(y.Category) - int(x.Category) })
	if err := s.withUpdates(ctx, v.Findings); err != nil {
		return nil, err
	}
	if s.st.Monitors != nil {
		if v.Monitors, _, err = s.st.Monitors.FindMonitorStates(ctx, patch.MonitorFilter{AssetID: &a.ID}); err != nil {
			return nil, err
		}
	}
	if day != nil && s.st.Snapshots != nil {
		ads, _, err := s.st.Snapshots.FindAssetDays(ctx, patch.AssetDayFilter{AssetID: &a.ID, Day: day})
		if err != nil {
			return nil, err
		}
		if len(ads) == 1 {
			v.Snapshot = ads[0]
			m := ads[0].Findings == v.Rating.Findings
			v.MatchesSnapshot = &m
		}
	}
	return v, nil
}

// withUpdates fills the catalog entries of findings. The catalog is
// public vendor data, so it is read as the server (a client-scoped reader
// would see only updates still open in its client).
func (s *Server) withUpdates(ctx context.Context, fs []FindingRating) error {
	ctx = systemContext(ctx, "compliance")
	cache := map[patch.UpdateID]*patch.Update{}
	for i := range fs {
		id := fs[i].UpdateID
		u, ok := cache[id]
		if !ok {
			us, _, err := s.st.Findings.FindUpdates(ctx, patch.UpdateFilter{ID: &id, Limit: 1})
			if err != nil {
				return err
			}
			if len(us) == 1 {
				u = us[0]
			}
			cache[id] = u
		}
		fs[i].Update = u
	}
	return nil
}
