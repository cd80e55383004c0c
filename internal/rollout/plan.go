package rollout

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/policy"
)

// Plan is what a new cycle is built from.
type Plan struct {
	ClientID  patch.ClientID
	Kind      patch.CycleKind
	Name      string
	CreatedBy string
	Now       time.Time
	Policy    *patch.Policy
	// Findings are the client's open findings with their catalog entries
	// and evaluated policy fields (tier, approval, emergency).
	Findings []*patch.Finding
	// Assets are the client's assets that have an agent, with their ring
	// placement; assets missing here (unmanaged, isolated) take no part.
	Assets     map[patch.AssetID]*patch.Asset
	Placements map[patch.AssetID]policy.Placement
	// Updates, when set, limits the cycle to these updates; each must be
	// approved and missing somewhere.
	Updates []patch.UpdateID
	NewID   func(prefix string) string
}

// NewCycle gathers the approved updates the client's managed assets miss
// into a cycle: one deployment per asset, in the asset's ring, the first
// ring started. A monthly cycle takes every approved update (or those
// named); an emergency cycle takes those named or, without names, every
// approved emergency update.
func NewCycle(p Plan) (*patch.Cycle, []*patch.Deployment, []patch.EvidenceEvent, error) {
	now := p.Now.UTC()
	if len(p.Policy.Rings) == 0 {
		return nil, nil, nil, patch.Errorf(patch.KindConflict, "The client's policy has no rings; add rings before starting a cycle.")
	}
	want := map[patch.UpdateID]bool{}
	for _, u := range p.Updates {
		want[u] = true
	}
	found := map[patch.UpdateID]bool{}
	unapproved := map[patch.UpdateID]bool{}
	byAsset := map[patch.AssetID][]patch.DeploymentTarget{}
	updates := map[patch.UpdateID]*patch.Update{}
	for _, f := range p.Findings {
		if f.State != patch.FindingOpen || f.Update == nil {
			continue
		}
		if len(want) > 0 && !want[f.UpdateID] {
			continue
		}
		if len(want) == 0 && p.Kind == patch.CycleEmergency && !f.Emergency {
			continue
		}
		a := p.Assets[f.AssetID]
		if a == nil || p.Placements[f.AssetID].Ring == "" {
			continue
		}
		if f.Approval != patch.ApprovalApproved {
			unapproved[f.UpdateID] = true
			continue
		}
		found[f.UpdateID] = true
		updates[f.UpdateID] = f.Update
		u := f.Update
		byAsset[f.AssetID] = append(byAsset[f.AssetID], patch.DeploymentTarget{UpdateID: f.UpdateID, FindingID: f.ID, Source: u.Source,
			VendorID: u.VendorID, Package: u.Package, Version: u.Version, FromVersion: f.InstalledVersion, Tier: f.Tier, State: patch.TargetPending})
	}
	for i, u := range p.Updates {
		if !found[u] {
			if unapproved[u] {
				return nil, nil, nil, patch.FieldError("updates["+strconv.Itoa(i)+"]", "update %s is not approved for this client; approve it first", u)
			}
			return nil, nil, nil, patch.FieldError("updates["+strconv.Itoa(i)+"]", "update %s is not missing on any managed asset in a ring", u)
		}
	}
	if len(byAsset) == 0 {
		what := "approved updates"
		if p.Kind == patch.CycleEmergency {
			what = "approved emergency updates"
		}
		return nil, nil, nil, patch.Errorf(patch.KindConflict, "No %s are missing on managed assets in a ring: nothing to deploy.", what)
	}
	c := &patch.Cycle{ID: patch.CycleID(p.NewID(patch.PrefixCycle)), ClientID: p.ClientID, Kind: p.Kind, Name: p.Name,
		State: patch.CycleRunning, CreatedBy: p.CreatedBy, CreatedAt: now, UpdatedAt: now}
	for i, r := range p.Policy.Rings {
		cr := patch.CycleRing{Key: r.Key, Name: r.Name, State: patch.RingWaiting}
		if r.Promotion != nil && i < len(p.Policy.Rings)-1 {
			pr := *r.Promotion
			cr.Promotion = &pr
		}
		if i == 0 {
			cr.State, cr.StartedAt = patch.RingDeploying, now
		}
		c.Rings = append(c.Rings, cr)
	}
	for _, u := range updates {
		c.Updates = append(c.Updates, patch.CycleUpdate{UpdateID: u.ID, Source: u.Source, Package: u.Package, Version: u.Version, Title: u.Title})
	}
	slices.SortFunc(c.Updates, func(a, b patch.CycleUpdate) int {
		return cmp.Or(strings.Compare(a.Package, b.Package), strings.Compare(string(a.UpdateID), string(b.UpdateID)))
	})
	var ds []*patch.Deployment
	for id, ts := range byAsset {
		a := p.Assets[id]
		slices.SortFunc(ts, func(a, b patch.DeploymentTarget) int {
			return cmp.Or(strings.Compare(a.Package, b.Package), strings.Compare(string(a.UpdateID), string(b.UpdateID)))
		})
		ring := p.Placements[id].Ring
		state := patch.DeployPending
		if ring == c.Rings[0].Key {
			state = patch.DeployWaiting
		}
		ds = append(ds, &patch.Deployment{ID: patch.DeploymentID(p.NewID(patch.PrefixDeployment)), CycleID: c.ID, ClientID: p.ClientID,
			AssetID: id, Hostname: a.Hostname, Ring: ring, State: state, Targets: ts, UpdatedAt: now})
	}
	SortDeployments(c, ds)
	Summarize(c, ds)
	rings := make([]string, len(c.Rings))
	for i, r := range c.Rings {
		rings[i] = r.Key + "=" + strconv.Itoa(r.Progress.Members)
	}
	events := []patch.EvidenceEvent{
		cycleEvent(c, patch.EventCycleCreated, map[string]string{"kind": string(c.Kind), "name": c.Name, "updates": strconv.Itoa(len(c.Updates)),
			"assets": strconv.Itoa(len(ds)), "rings": strings.Join(rings, ", ")}),
		cycleEvent(c, patch.EventRingStarted, map[string]string{"ring": c.Rings[0].Key}),
	}
	return c, ds, events, nil
}

// SortDeployments orders deployments by ring order, then hostname.
func SortDeployments(c *patch.Cycle, ds []*patch.Deployment) {
	order := map[string]int{}
	for i, r := range c.Rings {
		order[r.Key] = i
	}
	slices.SortFunc(ds, func(a, b *patch.Deployment) int {
		return cmp.Or(cmp.Compare(order[a.Ring], order[b.Ring]), strings.Compare(a.Hostname, b.Hostname), strings.Compare(string(a.ID), string(b.ID)))
	})
}
