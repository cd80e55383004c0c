package web

import (
	"context"
	"html/template"
	"net/http"

	"github.com/patchring/patchring/internal/patch"
)

func (c *Console) clientRoutes() {
	c.handle("GET /clients/{id}", c.clientAssets)
	c.handle("GET /clients/{id}/assets.csv", c.clientAssetsCSV)
	c.handle("GET /clients/{id}/sites", c.clientSites)
	c.handle("GET /clients/{id}/users", c.clientUsers)
}

// clientTab is a tab of the client page. Add a line to clientTabs for a
// new one (compliance, rings, policy, exceptions, reports) and register its
// route in clientRoutes; its page struct embeds ClientHeader.
type clientTab struct {
	Key   string
	Label string
	// Path is appended to /clients/{id}.
	Path string
	Show func(a patch.Actor) bool
}

// Client tab keys.
const (
	tabAssets     = "assets"
	tabCompliance = "compliance"
	tabFindings   = "findings"
	tabCycles     = "cycles"
	tabRings      = "rings"
	tabPolicy     = "policy"
	tabExceptions = "exceptions"
	tabReports    = "reports"
	tabSites      = "sites"
	tabUsers      = "users"
)

var clientTabs = []clientTab{
	{Key: tabAssets, Label: "Assets", Path: ""},
	{Key: tabCompliance, Label: "Compliance", Path: "/compliance"},
	{Key: tabFindings, Label: "Findings", Path: "/findings"},
	{Key: tabCycles, Label: "Patch cycles", Path: "/cycles"},
	{Key: tabRings, Label: "Rings", Path: "/rings"},
	{Key: tabPolicy, Label: "Policy", Path: "/policy"},
	{Key: tabExceptions, Label: "Exceptions", Path: "/exceptions"},
	{Key: tabReports, Label: "Reports", Path: "/reports"},
	{Key: tabSites, Label: "Sites", Path: "/sites"},
	{Key: tabUsers, Label: "Users", Path: "/users", Show: can(patch.PermManageUsers)},
}

// ClientHeader is the top of every client page: the client, its tabs and
// summary numbers, each linking to the rows behind it.
type ClientHeader struct {
	Client *patch.Client
	Href   string
	Tabs   []NavLink
	Tile   *ClientTile
	// OSChart is an SVG bar chart of assets by OS.
	OSChart template.HTML
}

// clientHeader loads the header of a client page with tab current active.
func (c *Console) clientHeader(ctx context.Context, s *session, id patch.ClientID, current string) (*ClientHeader, error) {
	cl, err := c.srv.Client(ctx, id)
	if err != nil {
		return nil, err
	}
	h := &ClientHeader{Client: cl, Href: "/clients/" + string(cl.ID)}
	for _, t := range clientTabs {
		if t.Show != nil && !t.Show(s.Actor) {
			continue
		}
		h.Tabs = append(h.Tabs, NavLink{Label: t.Label, Href: h.Href + t.Path, Current: t.Key == current})
	}
	tiles, counts, err := c.tiles(ctx, []*patch.Client{cl})
	if err != nil {
		return nil, err
	}
	h.Tile = tiles[0]
	h.OSChart = osChart(counts)
	return h, nil
}

func (c *Console) clientSection(s *session) string {
	if clientScoped(s.Actor) {
		return sectionClient
	}
	return sectionOverview
}

func (c *Console) clientAssets(w http.ResponseWriter, r *http.Request, s *session) error {
	h, err := c.clientHeader(r.Context(), s, patch.ClientID(r.PathValue("id")), tabAssets)
	if err != nil {
		return err
	}
	p := &AssetsPage{Client: h, base: h.Href}
	p.Title, p.Section = h.Client.Name, c.clientSection(s)
	if err := c.loadAssetList(r.Context(), r, p, h.Client); err != nil {
		return err
	}
	status := http.StatusOK
	if p.Form.HasErrors() {
		status = http.StatusBadRequest
	}
	return c.render(w, r, s, status, tmplAssets, p)
}

func (c *Console) clientAssetsCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	cl, err := c.srv.Client(r.Context(), patch.ClientID(r.PathValue("id")))
	if err != nil {
		return err
	}
	q := parseAssetQuery(r.URL.Query())
	q.Client = string(cl.ID)
	return c.assetsCSV(w, r, q, cl.Name+"-assets")
}

// ClientSitesPage lists a client's sites.
type ClientSitesPage struct {
	Page
	Client *ClientHeader
	Sites  []SiteRow
	// Management forms, by permission.
	CanManageClient bool
	CanManageAssets bool
	ClientForm      Form
	SiteOptions     []Option
	Classes         []Option
	Roles           []Option
	OSes            []Option
	Criticality     []Option
}

// SiteRow is a site with its asset count.
type SiteRow struct {
	*patch.Site
	Assets     int
	AssetsHref string
}

func (c *Console) clientSites(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabSites)
	if err != nil {
		return err
	}
	p := &ClientSitesPage{Client: h}
	p.Title, p.Section = h.Client.Name+" · Sites", c.clientSection(s)
	sites, _, err := c.srv.Sites(ctx, patch.SiteFilter{ClientID: &h.Client.ID, Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	for _, st := range sites {
		id := st.ID
		_, n, err := c.srv.Assets(ctx, patch.AssetFilter{ClientID: &h.Client.ID, SiteID: &id, Limit: 1})
		if err != nil {
			return err
		}
		p.Sites = append(p.Sites, SiteRow{Site: st, Assets: n, AssetsHref: assetsURL(h.Client.ID, assetQuery{Site: string(st.ID)})})
		p.SiteOptions = append(p.SiteOptions, Option{Value: string(st.ID), Label: st.Name})
	}
	p.CanManageClient, p.CanManageAssets = s.Actor.Can(patch.PermManageClients), s.Actor.Can(patch.PermManageAssets)
	p.ClientForm = newForm(nil)
	p.ClientForm.Values.Set("name", h.Client.Name)
	p.ClientForm.Values.Set("contact_name", h.Client.ContactName)
	p.ClientForm.Values.Set("contact_email", h.Client.ContactEmail)
	p.ClientForm.Values.Set("notes", h.Client.Notes)
	p.ClientForm.Values.Set("criticality", string(patch.CriticalityMedium))
	p.ClientForm.Values.Set("role", string(patch.RoleWorkstation))
	p.SiteOptions = append([]Option{{Value: "", Label: "— none —"}}, p.SiteOptions...)
	for _, ac := range h.Client.AssetClasses {
		p.Classes = append(p.Classes, Option{Value: ac.Key, Label: ac.Name})
	}
	p.Classes = append([]Option{{Value: "", Label: "by role"}}, p.Classes...)
	for _, r := range patch.AssetRoles {
		p.Roles = append(p.Roles, Option{Value: string(r), Label: string(r)})
	}
	for _, fam := range patch.OSFamilies {
		p.OSes = append(p.OSes, Option{Value: string(fam), Label: osName(fam)})
	}
	for _, cr := range patch.Criticalities {
		p.Criticality = append(p.Criticality, Option{Value: string(cr), Label: string(cr), Selected: cr == patch.CriticalityMedium})
	}
	return c.render(w, r, s, http.StatusOK, tmplClientSites, p)
}

// ClientUsersPage lists a client's console users.
type ClientUsersPage struct {
	Page
	Client *ClientHeader
	Users  []*patch.User
}

func (c *Console) clientUsers(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabUsers)
	if err != nil {
		return err
	}
	users, _, err := c.srv.Users(ctx, patch.UserFilter{ClientID: &h.Client.ID, Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	p := &ClientUsersPage{Client: h, Users: users}
	p.Title, p.Section = h.Client.Name+" · Users", c.clientSection(s)
	return c.render(w, r, s, http.StatusOK, tmplClientUsers, p)
}
