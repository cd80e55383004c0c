package web

import (
	"context"
	"net/http"

	"github.com/patchring/patchring/internal/patch"
)

func (c *Console) overviewRoutes() {
	c.handle("GET /{$}", c.overview)
}

// OverviewPage is the MSP's home: one tile per client.
type OverviewPage struct {
	Page
	Tiles  []*ClientTile
	Totals Counts
	// StaleAfter describes the stale-agent threshold ("7 days").
	StaleAfter string
	// CanAddClient shows the form that adds a client.
	CanAddClient bool
}

// Count is a number on a page and the link to the rows behind it.
type Count struct {
	Label string
	N     int
	Href  string
	// Warn marks a number that needs attention when it is not zero.
	Warn bool
	// Key is the value the count groups by (an OS family, a class key).
	Key string
	// Rating is the compliance rating of the counted assets, when the
	// count is a group that has one.
	Rating *RatingView
}

// Counts are the asset numbers of a tile.
type Counts struct {
	Total, Managed, Discovered, Stale Count
}

// Metric is a number that a later feature puts on a tile, with a status
// that reads without colour and the link to the rows behind it.
type Metric struct {
	Value  string
	Detail string
	Href   string
	Status Status
}

// ClientTile is one client on the overview (and the header numbers of the
// client page).
type ClientTile struct {
	Client  *patch.Client
	Href    string
	Counts  Counts
	ByOS    []Count
	ByClass []Count

	// Slots for numbers that later features compute. A nil slot renders
	// as "not yet available"; a feature fills its slot in a tileFiller.
	Compliance         *Metric // Patch Health Compliance against target, by OS and class
	SLABreaches        *Metric // findings past their SLA deadline
	HaltedCycles       *Metric // patch cycles halted by a failure-rate breach
	ExpiringExceptions *Metric // exceptions expiring within 30 days
	FailedUpdates      *Metric // UPDATES – Failed monitors
	AgentsOffline      *Metric // Agent offline monitors
}

// TileSlot is a slot of a tile for the template.
type TileSlot struct {
	Label   string
	Metric  *Metric
	Pending string
	// Wide slots take a whole row (a rating against its target).
	Wide bool
}

// Slots lists the tile's slots in display order.
func (t *ClientTile) Slots() []TileSlot {
	return []TileSlot{
		{Label: "Compliance against target", Metric: t.Compliance, Pending: "Compliance ratings", Wide: true},
		{Label: "SLA breaches", Metric: t.SLABreaches, Pending: "SLA clocks"},
		{Label: "Halted cycles", Metric: t.HaltedCycles, Pending: "Patch cycles"},
		{Label: "Expiring exceptions", Metric: t.ExpiringExceptions, Pending: "Exception register"},
		{Label: "Failed updates", Metric: t.FailedUpdates, Pending: "Update monitors"},
		{Label: "Agents offline", Metric: t.AgentsOffline, Pending: "Agent monitors"},
	}
}

// tileFiller adds numbers to tiles. counts are the asset counts of the
// tiles' clients, already loaded. A later feature appends its filler to
// tileFillers (e.g. c.fillCompliance) and sets its slot on each tile.
type tileFiller func(ctx context.Context, tiles []*ClientTile, counts []patch.AssetCount) error

func (c *Console) tileFillers() []tileFiller {
	return []tileFiller{c.fillAssetCounts, c.fillCompliance, c.fillAttention}
}

// tiles builds the tiles of clients in one aggregate query plus the
// fillers.
func (c *Console) tiles(ctx context.Context, clients []*patch.Client) ([]*ClientTile, []patch.AssetCount, error) {
	f := patch.AssetCountFilter{StaleBefore: c.now().Add(-c.staleAfter)}
	if len(clients) == 1 {
		f.ClientID = &clients[0].ID
	}
	counts, err := c.srv.AssetCounts(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	tiles := make([]*ClientTile, len(clients))
	for i, cl := range clients {
		tiles[i] = &ClientTile{Client: cl, Href: "/clients/" + string(cl.ID)}
	}
	for _, fill := range c.tileFillers() {
		if err := fill(ctx, tiles, counts); err != nil {
			return nil, nil, err
		}
	}
	return tiles, counts, nil
}

// fillAssetCounts sets the asset numbers: totals, managed and discovered,
// stale agents, and counts by OS family and asset class.
func (c *Console) fillAssetCounts(_ context.Context, tiles []*ClientTile, counts []patch.AssetCount) error {
	for _, t := range tiles {
		id := t.Client.ID
		var total, managed, stale int
		byOS := map[patch.OSFamily]int{}
		byClass := map[string]int{}
		for _, r := range counts {
			if r.ClientID != id {
				continue
			}
			total += r.Count
			if r.Managed {
				managed += r.Count
			}
			stale += r.Stale
			byOS[r.OSFamily] += r.Count
			byClass[r.Class] += r.Count
		}
		link := func(q assetQuery) string { return assetsURL(id, q) }
		t.Counts = Counts{
			Total:      Count{Label: "Assets", N: total, Href: link(assetQuery{})},
			Managed:    Count{Label: "Managed", N: managed, Href: link(assetQuery{Managed: "yes"})},
			Discovered: Count{Label: "Discovered", N: total - managed, Href: link(assetQuery{Managed: "no"})},
			Stale:      Count{Label: "Stale agents", N: stale, Href: link(assetQuery{Stale: true, Sort: string(patch.SortLastSeen)}), Warn: true},
		}
		for _, fam := range patch.OSFamilies {
			if n := byOS[fam]; n > 0 {
				t.ByOS = append(t.ByOS, Count{Label: osName(fam), N: n, Href: link(assetQuery{OS: string(fam)}), Key: string(fam)})
			}
		}
		for _, ac := range t.Client.AssetClasses {
			if n := byClass[ac.Key]; n > 0 {
				t.ByClass = append(t.ByClass, Count{Label: ac.Name, N: n, Href: link(assetQuery{Class: ac.Key}), Key: ac.Key})
			}
		}
	}
	return nil
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	if !mspStaff(s.Actor) {
		// A client owner's home is their client.
		http.Redirect(w, r, ownClient(s.Actor), http.StatusSeeOther)
		return nil
	}
	ctx := r.Context()
	clients, _, err := c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	tiles, _, err := c.tiles(ctx, clients)
	if err != nil {
		return err
	}
	p := &OverviewPage{Tiles: tiles, StaleAfter: durationWords(c.staleAfter), CanAddClient: s.Actor.Can(patch.PermManageClients)}
	p.Title, p.Section = "Overview", sectionOverview
	var tot Counts
	for _, t := range tiles {
		tot.Total.N += t.Counts.Total.N
		tot.Managed.N += t.Counts.Managed.N
		tot.Discovered.N += t.Counts.Discovered.N
		tot.Stale.N += t.Counts.Stale.N
	}
	tot.Total.Label, tot.Total.Href = "Assets", "/assets"
	tot.Managed.Label, tot.Managed.Href = "Managed", "/assets?managed=yes"
	tot.Discovered.Label, tot.Discovered.Href = "Discovered", "/assets?managed=no"
	tot.Stale.Label, tot.Stale.Href, tot.Stale.Warn = "Stale agents", "/assets?sort=last_seen&stale=1", true
	p.Totals = tot
	return c.render(w, r, s, http.StatusOK, tmplOverview, p)
}
