package server

import (
	"context"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
)

// FindingQuery selects findings for the findings views.
type FindingQuery struct {
	ClientID  patch.ClientID
	AssetID   *patch.AssetID
	UpdateID  *patch.UpdateID
	State     *patch.FindingState
	SLAStatus *patch.SLAStatus
	Tier      *string
	Limit     int
	Offset    int
}

// ExceptionRef names the exception pausing a finding's clock.
type ExceptionRef struct {
	ID          patch.ExceptionID    `json:"id"`
	Lane        patch.ExceptionLane  `json:"lane"`
	State       patch.ExceptionState `json:"state"`
	ExpiresAt   time.Time            `json:"expires_at"`
	SignedOffBy string               `json:"signed_off_by,omitempty"`
	TicketRef   string               `json:"ticket_ref"`
}

// FindingView is a finding as the policy sees it now: its tier, approval,
// due time and SLA status computed at the time of the request (the stored
// fields are those of the last evaluation, at evaluated_at), and why it is
// not patched, in plain words.
type FindingView struct {
	patch.Finding
	Hostname string `json:"hostname"`
	Class    string `json:"class"`
	// Severity is the normalised vendor severity and its basis.
	Severity patch.Level `json:"severity"`
	// SeverityBasis says which vendor data decided it.
	SeverityBasis  string                  `json:"severity_basis"`
	EmergencyBasis string                  `json:"emergency_basis,omitempty"`
	ApprovalDetail policy.ApprovalResult   `json:"approval_detail"`
	Exception      *ExceptionRef           `json:"exception,omitempty"`
	NextWindow     *policy.NamedOccurrence `json:"next_window,omitempty"`
	Ring           policy.Placement        `json:"ring"`
	// TimeZone is the asset's zone, in which Why gives times.
	TimeZone string     `json:"time_zone"`
	Why      policy.Why `json:"why_not_patched"`

	asset *patch.Asset
}

func (v *FindingView) covered(x *patch.Exception) bool {
	return v.asset != nil && v.Update != nil && x.Covers(v.asset, v.Update)
}

// Findings lists findings with their live policy view. Filters on SLA
// status and tier use the stored fields of the last evaluation.
func (s *Server) Findings(ctx context.Context, q FindingQuery) ([]*FindingView, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	f := patch.FindingFilter{AssetID: q.AssetID, UpdateID: q.UpdateID, State: q.State, SLAStatus: q.SLAStatus, Tier: q.Tier,
		WithUpdate: true, Limit: q.Limit, Offset: q.Offset}
	if q.ClientID != "" {
		f.ClientID = &q.ClientID
	}
	fs, total, err := s.st.Findings.FindFindings(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	views, err := s.view(ctx, fs)
	return views, total, err
}

// Finding returns one finding with its live policy view.
func (s *Server) Finding(ctx context.Context, id patch.FindingID) (*FindingView, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	fs, _, err := s.st.Findings.FindFindings(ctx, patch.FindingFilter{ID: &id, WithUpdate: true, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, patch.Errorf(patch.KindNotFound, "Finding %s not found.", id)
	}
	vs, err := s.view(ctx, fs)
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// view evaluates a page of findings now.
func (s *Server) view(ctx context.Context, fs []*patch.Finding) ([]*FindingView, error) {
	now := s.now()
	type clientCtx struct {
		eng   *policy.Engine
		zones map[patch.SiteID]*time.Location
		facts map[patch.FindingID]policy.Facts
	}
	clients := map[patch.ClientID]*clientCtx{}
	assets := map[patch.AssetID]*patch.Asset{}
	byClient := map[patch.ClientID][]*patch.Finding{}
	for _, f := range fs {
		byClient[f.ClientID] = append(byClient[f.ClientID], f)
	}
	for id, page := range byClient {
		c, err := s.st.Clients.FindClientByID(ctx, id)
		if err != nil {
			return nil, err
		}
		cc := &clientCtx{}
		if cc.eng, err = s.engineFor(ctx, c, now); err != nil {
			return nil, err
		}
		if cc.zones, err = s.zones(ctx, id); err != nil {
			return nil, err
		}
		if cc.facts, err = s.factsFor(ctx, id, page); err != nil {
			return nil, err
		}
		clients[id] = cc
	}
	out := make([]*FindingView, 0, len(fs))
	for _, f := range fs {
		a := assets[f.AssetID]
		if a == nil {
			var err error
			if a, err = s.st.Assets.FindAssetByID(ctx, f.AssetID); err != nil {
				return nil, err
			}
			assets[a.ID] = a
		}
		cc := clients[f.ClientID]
		zone := zoneOf(cc.zones, a)
		ev := cc.eng.Evaluate(policy.Subject{Finding: f, Update: f.Update, Asset: a, Zone: zone, Facts: cc.facts[f.ID]})
		st := ev.Stored(f)
		v := &FindingView{Finding: *f, Hostname: a.Hostname, Class: a.Class, Severity: ev.Severity.Level, SeverityBasis: ev.Severity.Basis,
			EmergencyBasis: ev.EmergencyBasis, ApprovalDetail: ev.Approval, NextWindow: ev.NextWindow, Ring: ev.Ring,
			TimeZone: zone.String(), Why: ev.Why, asset: a}
		v.Tier, v.Emergency, v.Approval, v.DueAt, v.SLAStatus, v.ExceptionID = st.Tier, st.Emergency, st.Approval, st.DueAt, st.SLAStatus, string(st.ExceptionID)
		if x := ev.Exception; x != nil {
			v.Exception = &ExceptionRef{ID: x.ID, Lane: x.Lane, State: x.State, ExpiresAt: x.ExpiresAt, TicketRef: x.TicketRef}
			if x.SignOff != nil {
				v.Exception.SignedOffBy = x.SignOff.Name
			}
		}
		out = append(out, v)
	}
	return out, nil
}
