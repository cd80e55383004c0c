package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
	"github.com/patchring/patchring/internal/schedule"
)

// Policy use cases: reading and changing a client's policy, the MSP
// canary, approvals and tier overrides, rings and windows. Every change is
// followed by an SLA evaluation of the client (evaluate.go), so what the
// API answers next already reflects it.

// PolicyOf returns a client's policy: the stored one, or the defaults
// (version 0) for a client that never set one.
func (s *Server) PolicyOf(ctx context.Context, client patch.ClientID) (*patch.Policy, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, client)
	if err != nil {
		return nil, err
	}
	return s.policyFor(ctx, c)
}

// policyFor returns the client's stored policy or its defaults.
func (s *Server) policyFor(ctx context.Context, c *patch.Client) (*patch.Policy, error) {
	p, err := s.st.Policies.FindPolicy(ctx, c.ID)
	if patch.ErrorKind(err) == patch.KindNotFound {
		return policy.Default(c), nil
	}
	return p, err
}

// PolicyChange is the answer to a policy write or dry run.
type PolicyChange struct {
	Policy  *patch.Policy   `json:"policy"`
	DryRun  bool            `json:"dry_run"`
	Changes []policy.Change `json:"changes"`
	// Warnings are problems the policy may have but that do not stop it,
	// such as windows that open less often than a deadline needs.
	Warnings []string `json:"warnings"`
	// Evaluated is how many findings the evaluation after the change
	// updated.
	Evaluated int `json:"evaluated"`
}

// PutPolicy validates a client's whole policy and, unless dryRun, stores
// it atomically (audited, with the before and after documents) and
// re-evaluates the client's findings. The answer lists the exact changes.
func (s *Server) PutPolicy(ctx context.Context, client patch.ClientID, p *patch.Policy, dryRun bool) (*PolicyChange, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, client)
	if err != nil {
		return nil, err
	}
	if p.ClientID == "" {
		p.ClientID = client
	}
	if p.ClientID != client {
		return nil, patch.FieldError("client_id", "is %s but the policy is being written to client %s", p.ClientID, client)
	}
	if err := policy.Validate(p, c.AssetClasses); err != nil {
		return nil, err
	}
	current, err := s.policyFor(ctx, c)
	if err != nil {
		return nil, err
	}
	if p.Version != 0 && p.Version != current.Version {
		return nil, &patch.Error{Kind: patch.KindConflict, Field: "version", Message: fmt.Sprintf("The policy changed since version %d was read (it is at version %d now); read it again, or omit the version to overwrite.", p.Version, current.Version)}
	}
	zone, err := s.clientZone(ctx, client)
	if err != nil {
		return nil, err
	}
	out := &PolicyChange{Policy: p, DryRun: dryRun, Changes: policy.Diff(current, p), Warnings: policy.Warnings(p, s.now(), zone)}
	if out.Changes == nil {
		out.Changes = []policy.Change{}
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	if dryRun {
		p.Version = current.Version
		return out, nil
	}
	p.UpdatedAt, p.UpdatedBy = time.Time{}, ""
	if err := s.st.Policies.PutPolicy(ctx, p); err != nil {
		return nil, err
	}
	res, err := s.evaluateClient(ctx, client, nil)
	if err != nil {
		return nil, err
	}
	out.Evaluated = res.Updated
	return out, nil
}

// clientZone is where a client's policy-wide window questions are
// answered: the zone of its first site by name, else UTC.
func (s *Server) clientZone(ctx context.Context, client patch.ClientID) (*time.Location, error) {
	sites, _, err := s.st.Sites.FindSites(ctx, patch.SiteFilter{ClientID: &client, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(sites) == 0 {
		return time.UTC, nil
	}
	return sites[0].Loc(), nil
}

// SLACellView is one cell of the SLA matrix as a table shows it.
type SLACellView struct {
	Tier           string   `json:"tier"`
	Deadline       string   `json:"deadline"`
	Windows        []string `json:"windows"`
	Reboot         string   `json:"reboot"`
	ManualApproval bool     `json:"manual_approval"`
	// FromClass is the class of the cell that applies ("*" for the
	// catch-all cell).
	FromClass string `json:"from_class"`
}

// SLARow is one asset class of the SLA matrix.
type SLARow struct {
	Class string        `json:"class"`
	Name  string        `json:"name"`
	Cells []SLACellView `json:"cells"`
}

// SLAMatrix is the SLA matrix of a client as a table: one row per asset
// class, one cell per tier, the catch-all cells resolved.
type SLAMatrix struct {
	ClientID patch.ClientID `json:"client_id"`
	Tiers    []patch.Tier   `json:"tiers"`
	Rows     []SLARow       `json:"rows"`
}

// SLAMatrixOf returns a client's SLA matrix.
func (s *Server) SLAMatrixOf(ctx context.Context, client patch.ClientID) (*SLAMatrix, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, client)
	if err != nil {
		return nil, err
	}
	p, err := s.policyFor(ctx, c)
	if err != nil {
		return nil, err
	}
	m := &SLAMatrix{ClientID: client, Tiers: p.Tiers, Rows: []SLARow{}}
	for _, ac := range c.AssetClasses {
		row := SLARow{Class: ac.Key, Name: ac.Name, Cells: []SLACellView{}}
		for _, t := range p.Tiers {
			cell, ok := p.Cell(ac.Key, t.Key)
			if !ok {
				continue
			}
			row.Cells = append(row.Cells, SLACellView{Tier: t.Key, Deadline: string(cell.Deadline), Windows: append([]string{}, cell.Windows...),
				Reboot: cell.Reboot.String(), ManualApproval: cell.ManualApproval, FromClass: cell.Class})
		}
		m.Rows = append(m.Rows, row)
	}
	return m, nil
}

// WindowView is a maintenance window with its description and next
// opening in the client's main zone.
type WindowView struct {
	patch.MaintenanceWindow
	Description string               `json:"description"`
	Next        *schedule.Occurrence `json:"next,omitempty"`
	TimeZone    string               `json:"evaluated_in"`
}

// WindowsOf lists a client's maintenance windows.
func (s *Server) WindowsOf(ctx context.Context, client patch.ClientID) ([]WindowView, error) {
	p, err := s.PolicyOf(ctx, client)
	if err != nil {
		return nil, err
	}
	zone, err := s.clientZone(ctx, client)
	if err != nil {
		return nil, err
	}
	ws := policy.NewWindows(p)
	out := []WindowView{}
	for _, w := range p.Windows {
		v := WindowView{MaintenanceWindow: w, Description: policy.ScheduleWindow(w).String(), TimeZone: zone.String()}
		if o, ok := ws.Next([]string{w.Name}, s.now(), zone); ok {
			v.Next = &o.Occurrence
		}
		out = append(out, v)
	}
	return out, nil
}

// AssetWindow is the answer to "next window for this asset".
type AssetWindow struct {
	AssetID  patch.AssetID `json:"asset_id"`
	Hostname string        `json:"hostname"`
	Class    string        `json:"class"`
	// NoSite is true when the asset has no site, so UTC was used.
	NoSite bool `json:"no_site,omitempty"`
	policy.AssetWindows
}

// NextWindowFor answers "next window for this asset": per tier, the
// windows its SLA cells allow and their next opening, in the asset's site
// zone, and the earliest of all.
func (s *Server) NextWindowFor(ctx context.Context, id patch.AssetID) (*AssetWindow, error) {
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
	p, err := s.policyFor(ctx, c)
	if err != nil {
		return nil, err
	}
	zone := time.UTC
	noSite := a.SiteID == ""
	if !noSite {
		site, err := s.st.Sites.FindSiteByID(ctx, a.SiteID)
		if err != nil {
			return nil, err
		}
		zone = site.Loc()
	}
	return &AssetWindow{AssetID: a.ID, Hostname: a.Hostname, Class: a.Class, NoSite: noSite,
		AssetWindows: policy.NewWindows(p).NextWindows(a.Class, s.now(), zone)}, nil
}

// MSPCanary returns the MSP-wide canary ring.
func (s *Server) MSPCanary(ctx context.Context) (*patch.MSPCanary, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Policies.FindMSPCanary(ctx)
}

// PutMSPCanary replaces the MSP-wide canary ring (MSP staff only).
func (s *Server) PutMSPCanary(ctx context.Context, c *patch.MSPCanary) (*patch.MSPCanary, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	if err := policy.ValidateMSPCanary(c); err != nil {
		return nil, err
	}
	if err := s.st.Policies.PutMSPCanary(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// DecisionInput approves or declines an update for a client.
type DecisionInput struct {
	UpdateID patch.UpdateID `json:"update_id" maxLength:"64"`
	Decision patch.Approval `json:"decision" enum:"approved,declined"`
	Reason   string         `json:"reason,omitempty" maxLength:"2000" doc:"Required to decline"`
}

// DecideUpdate records a person's approval or decline of an update for a
// client, then re-evaluates the client.
func (s *Server) DecideUpdate(ctx context.Context, client patch.ClientID, in DecisionInput) (*patch.UpdateDecision, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	d := &patch.UpdateDecision{ClientID: client, UpdateID: in.UpdateID, Decision: in.Decision, Reason: in.Reason}
	if err := s.st.Decisions.DecideUpdate(ctx, d); err != nil {
		return nil, err
	}
	if _, err := s.evaluateClient(ctx, client, nil); err != nil {
		return nil, err
	}
	return d, nil
}

// ClearDecision removes a decision so the auto-approval rules apply again.
func (s *Server) ClearDecision(ctx context.Context, client patch.ClientID, update patch.UpdateID) error {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return err
	}
	if err := s.st.Decisions.ClearDecision(ctx, client, update); err != nil {
		return err
	}
	_, err := s.evaluateClient(ctx, client, nil)
	return err
}

// Decisions lists approval decisions.
func (s *Server) Decisions(ctx context.Context, f patch.DecisionFilter) ([]*patch.UpdateDecision, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Decisions.FindDecisions(ctx, f)
}

// TierOverrideInput places an update in a tier for a client.
type TierOverrideInput struct {
	Tier      string `json:"tier,omitempty" maxLength:"40" doc:"Tier key; empty keeps the mapped tier"`
	Emergency *bool  `json:"emergency,omitempty" doc:"Set or clear the emergency flag regardless of the emergency rule"`
	Reason    string `json:"reason,omitempty" maxLength:"2000" doc:"Required"`
}

// SetTierOverride overrides an update's tier (and emergency flag) for a
// client, then re-evaluates the client.
func (s *Server) SetTierOverride(ctx context.Context, client patch.ClientID, update patch.UpdateID, in TierOverrideInput) (*patch.TierOverride, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	if in.Tier != "" {
		p, err := s.PolicyOf(ctx, client)
		if err != nil {
			return nil, err
		}
		if _, ok := p.Tier(in.Tier); !ok {
			keys := make([]string, len(p.Tiers))
			for i, t := range p.Tiers {
				keys[i] = t.Key
			}
			return nil, patch.FieldError("tier", "unknown tier %q (tiers: %v)", in.Tier, keys)
		}
	}
	o := &patch.TierOverride{ClientID: client, UpdateID: update, Tier: in.Tier, Emergency: in.Emergency, Reason: in.Reason}
	if err := s.st.Decisions.SetTierOverride(ctx, o); err != nil {
		return nil, err
	}
	if _, err := s.evaluateClient(ctx, client, nil); err != nil {
		return nil, err
	}
	return o, nil
}

// DeleteTierOverride removes an override, with a reason.
func (s *Server) DeleteTierOverride(ctx context.Context, client patch.ClientID, update patch.UpdateID, reason string) error {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return err
	}
	if err := s.st.Decisions.DeleteTierOverride(ctx, client, update, reason); err != nil {
		return err
	}
	_, err := s.evaluateClient(ctx, client, nil)
	return err
}

// TierOverrides lists tier overrides.
func (s *Server) TierOverrides(ctx context.Context, f patch.TierOverrideFilter) ([]*patch.TierOverride, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Decisions.FindTierOverrides(ctx, f)
}

// RingMember is one asset of a ring.
type RingMember struct {
	AssetID  patch.AssetID  `json:"asset_id"`
	ClientID patch.ClientID `json:"client_id"`
	Hostname string         `json:"hostname"`
	Class    string         `json:"class"`
	By       string         `json:"by"`
	Position float64        `json:"position"`
}

// RingView is a ring of a client's policy with its members.
type RingView struct {
	patch.Ring
	Count   int          `json:"count"`
	Members []RingMember `json:"members"`
}

// RingsView is the membership of every ring of a client, plus the assets
// isolated in the legacy exception lane.
type RingsView struct {
	ClientID patch.ClientID `json:"client_id"`
	Total    int            `json:"total"`
	Rings    []RingView     `json:"rings"`
	Isolated []RingMember   `json:"isolated"`
}

// RingsOf computes ring membership for every asset of a client.
func (s *Server) RingsOf(ctx context.Context, client patch.ClientID) (*RingsView, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, client)
	if err != nil {
		return nil, err
	}
	p, err := s.policyFor(ctx, c)
	if err != nil {
		return nil, err
	}
	eng := policy.NewEngine(p, s.now())
	if eng.Exceptions, err = s.allExceptions(ctx, client); err != nil {
		return nil, err
	}
	if eng.MSPCanary, err = s.st.Policies.FindMSPCanary(ctx); err != nil {
		return nil, err
	}
	assets, err := s.allAssets(ctx, client)
	if err != nil {
		return nil, err
	}
	v := &RingsView{ClientID: client, Total: len(assets), Isolated: []RingMember{}}
	idx := map[string]int{}
	for i, r := range p.Rings {
		idx[r.Key] = i
		v.Rings = append(v.Rings, RingView{Ring: r, Members: []RingMember{}})
	}
	for _, a := range assets {
		pl := eng.Place(a)
		m := RingMember{AssetID: a.ID, ClientID: a.ClientID, Hostname: a.Hostname, Class: a.Class, By: pl.By, Position: pl.Position}
		if pl.By == policy.ByIsolated {
			v.Isolated = append(v.Isolated, m)
			continue
		}
		if i, ok := idx[pl.Ring]; ok {
			v.Rings[i].Members = append(v.Rings[i].Members, m)
			v.Rings[i].Count++
		}
	}
	return v, nil
}

// MSPCanaryMembers lists the members of the MSP-wide canary ring across
// the clients in the caller's scope.
func (s *Server) MSPCanaryMembers(ctx context.Context) ([]RingMember, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	c, err := s.st.Policies.FindMSPCanary(ctx)
	if err != nil {
		return nil, err
	}
	out := []RingMember{}
	for off := 0; ; {
		page, total, err := s.st.Assets.FindAssets(ctx, patch.AssetFilter{Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, a := range page {
			if policy.InMSPCanary(c, a) {
				by := policy.ByTag
				if slices.Contains(c.Assets, a.ID) {
					by = policy.ByListed
				}
				out = append(out, RingMember{AssetID: a.ID, ClientID: a.ClientID, Hostname: a.Hostname, Class: a.Class, By: by, Position: policy.Position(a.ID)})
			}
		}
		off += len(page)
		if len(page) == 0 || off >= total {
			return out, nil
		}
	}
}

// allAssets loads every asset of a client.
func (s *Server) allAssets(ctx context.Context, client patch.ClientID) ([]*patch.Asset, error) {
	var out []*patch.Asset
	for off := 0; ; {
		page, total, err := s.st.Assets.FindAssets(ctx, patch.AssetFilter{ClientID: &client, Sort: patch.SortCreated, Limit: patch.MaxLimit, Offset: off})
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

// allExceptions loads every exception of a client, in every state.
func (s *Server) allExceptions(ctx context.Context, client patch.ClientID) ([]*patch.Exception, error) {
	var out []*patch.Exception
	for off := 0; ; {
		page, total, err := s.st.Exceptions.FindExceptions(ctx, patch.ExceptionFilter{ClientID: &client, Limit: patch.MaxLimit, Offset: off})
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

// Alerts lists alerts.
func (s *Server) Alerts(ctx context.Context, f patch.AlertFilter) ([]*patch.Alert, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Alerts.FindAlerts(ctx, f)
}
