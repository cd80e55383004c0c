package web

import (
	"context"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/web/chart"
)

func (c *Console) assetRoutes() {
	c.handle("GET /assets", c.allAssets)
	c.handle("GET /assets.csv", c.allAssetsCSV)
	c.handle("GET /assets/{id}", c.asset)
}

// AssetsPage is an asset list: a client's (the client page's first tab)
// or every client's in scope.
type AssetsPage struct {
	Page
	// Client is set on a client's page.
	Client *ClientHeader
	Query  assetQuery
	Form   Form
	Rows   []AssetRow
	Total  int
	Pager  Pager
	// Options of the filter inputs.
	Clients []Option
	OSes    []Option
	Classes []Option
	Sites   []Option
	Sorts   []Option
	CSVHref string
	// base is the list's path, for links.
	base string
}

// AssetRow is one row of an asset list.
type AssetRow struct {
	*patch.Asset
	Href       string
	ClientName string
	ClientHref string
	ClassName  string
	SiteName   string
	Stale      bool
	Tags       []Link
}

// Option is one choice of a select input.
type Option struct {
	Value, Label string
	Selected     bool
}

// Pager links the pages of a list.
type Pager struct {
	Page, Pages int
	First, Last int // 1-based row numbers shown
	Total       int
	PrevHref    string
	NextHref    string
	HasPrev     bool
	HasNext     bool
}

// SortHref returns the link that sorts the list by col, flipping the
// direction when it is already sorted by col.
func (p *AssetsPage) SortHref(col string) string {
	q := p.Query
	q.Page = 1
	if q.Sort == col || (q.Sort == "" && col == string(patch.SortHostname)) {
		q.Desc = !q.Desc
	} else {
		q.Sort, q.Desc = col, false
	}
	if q.Sort == string(patch.SortHostname) && !q.Desc {
		q.Sort = ""
	}
	return q.url(p.base)
}

// SortMark is the arrow shown next to the sorted column.
func (p *AssetsPage) SortMark(col string) string {
	cur := p.Query.Sort
	if cur == "" {
		cur = string(patch.SortHostname)
	}
	if cur != col {
		return ""
	}
	if p.Query.Desc {
		return "↓"
	}
	return "↑"
}

// ClearHref resets every filter.
func (p *AssetsPage) ClearHref() string { return p.base }

// Filtered reports whether any filter is set.
func (p *AssetsPage) Filtered() bool {
	q := p.Query
	return q.Q != "" || q.OS != "" || q.Class != "" || q.Site != "" || q.Tag != "" || q.Managed != "" || q.Stale || q.Client != ""
}

func (c *Console) allAssets(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &AssetsPage{base: "/assets"}
	p.Title, p.Section = "Assets", sectionAssets
	if err := c.loadAssetList(r.Context(), r, p, nil); err != nil {
		return err
	}
	status := http.StatusOK
	if p.Form.HasErrors() {
		status = http.StatusBadRequest
	}
	return c.render(w, r, s, status, tmplAssets, p)
}

// loadAssetList fills an asset list page from the request's query. client
// is set on a client's page.
func (c *Console) loadAssetList(ctx context.Context, r *http.Request, p *AssetsPage, client *patch.Client) error {
	p.Query = parseAssetQuery(r.URL.Query())
	if client != nil {
		p.Query.Client = string(client.ID)
	}
	f, errs := p.Query.filter(c.now(), c.staleAfter)
	p.Form = Form{Values: p.Query.values(), Errors: errs}
	// Names of clients, sites and classes for the rows and the filters.
	var clients []*patch.Client
	if client != nil {
		clients = []*patch.Client{client}
	} else {
		var err error
		if clients, _, err = c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit}); err != nil {
			return err
		}
	}
	clientNames := map[patch.ClientID]*patch.Client{}
	classNames := map[string]string{}
	for _, cl := range clients {
		clientNames[cl.ID] = cl
		for _, ac := range cl.AssetClasses {
			if _, ok := classNames[ac.Key]; !ok {
				classNames[ac.Key] = ac.Name
			}
		}
		p.Clients = append(p.Clients, Option{Value: string(cl.ID), Label: cl.Name, Selected: string(cl.ID) == p.Query.Client})
	}
	siteNames := map[patch.SiteID]string{}
	if f.ClientID != nil {
		sites, _, err := c.srv.Sites(ctx, patch.SiteFilter{ClientID: f.ClientID, Limit: patch.MaxLimit})
		if err != nil {
			return err
		}
		for _, st := range sites {
			siteNames[st.ID] = st.Name
			p.Sites = append(p.Sites, Option{Value: string(st.ID), Label: st.Name, Selected: string(st.ID) == p.Query.Site})
		}
	}
	for _, fam := range patch.OSFamilies {
		p.OSes = append(p.OSes, Option{Value: string(fam), Label: osName(fam), Selected: string(fam) == p.Query.OS})
	}
	if client != nil {
		for _, ac := range client.AssetClasses {
			p.Classes = append(p.Classes, Option{Value: ac.Key, Label: ac.Name, Selected: ac.Key == p.Query.Class})
		}
	} else {
		for _, k := range slices.Sorted(maps.Keys(classNames)) {
			p.Classes = append(p.Classes, Option{Value: k, Label: classNames[k], Selected: k == p.Query.Class})
		}
	}
	assets, total, err := c.srv.Assets(ctx, f)
	if err != nil {
		if !p.Form.setError(err, "q", "sort") {
			return err
		}
	}
	if f.ClientID == nil {
		// Across clients, look up the sites of the clients on this page.
		ids := map[patch.ClientID]bool{}
		for _, a := range assets {
			ids[a.ClientID] = true
		}
		for id := range ids {
			sites, _, err := c.srv.Sites(ctx, patch.SiteFilter{ClientID: &id, Limit: patch.MaxLimit})
			if err != nil {
				return err
			}
			for _, st := range sites {
				siteNames[st.ID] = st.Name
			}
		}
	}
	staleBefore := c.now().Add(-c.staleAfter)
	for _, a := range assets {
		row := AssetRow{Asset: a, Href: "/assets/" + string(a.ID), SiteName: siteNames[a.SiteID], ClassName: a.Class}
		if cl := clientNames[a.ClientID]; cl != nil {
			row.ClientName, row.ClientHref = cl.Name, "/clients/"+string(cl.ID)
			if ac, ok := cl.Class(a.Class); ok {
				row.ClassName = ac.Name
			}
		}
		row.Stale = a.Managed && a.LastSeen.Before(staleBefore)
		for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
			q := p.Query
			q.Tag, q.Page = k+"="+a.Tags[k], 1
			row.Tags = append(row.Tags, Link{Label: k + "=" + a.Tags[k], Href: q.url(p.base)})
		}
		p.Rows = append(p.Rows, row)
	}
	p.Total = total
	p.Pager = newPager(p.Query, total, p.base)
	for _, so := range patch.AssetSorts {
		p.Sorts = append(p.Sorts, Option{Value: string(so), Label: string(so), Selected: string(so) == p.Query.Sort})
	}
	csv := p.Query
	csv.Page = 0
	if client != nil {
		csv.Client = ""
		p.CSVHref = csv.url(p.base + "/assets.csv")
	} else {
		p.CSVHref = csv.url("/assets.csv")
	}
	return nil
}

func newPager(q assetQuery, total int, base string) Pager {
	pages := max(1, (total+assetPageSize-1)/assetPageSize)
	p := Pager{Page: q.Page, Pages: pages, Total: total}
	if total > 0 {
		p.First = (q.Page-1)*assetPageSize + 1
		p.Last = min(total, q.Page*assetPageSize)
	}
	if q.Page > 1 {
		prev := q
		prev.Page = min(q.Page-1, pages)
		p.PrevHref, p.HasPrev = prev.url(base), true
	}
	if q.Page < pages {
		next := q
		next.Page = q.Page + 1
		p.NextHref, p.HasNext = next.url(base), true
	}
	return p
}

func (c *Console) allAssetsCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.assetsCSV(w, r, parseAssetQuery(r.URL.Query()), "assets")
}

// assetsCSV streams the assets matching q as CSV in the import format.
func (c *Console) assetsCSV(w http.ResponseWriter, r *http.Request, q assetQuery, name string) error {
	f, errs := q.filter(c.now(), c.staleAfter)
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		return patch.FieldError(k, "%s", errs[k])
	}
	f.Limit, f.Offset = 0, 0
	// Render into memory first: an error midway must not leave the user
	// with a truncated file that looks complete.
	var buf strings.Builder
	if _, err := c.srv.ExportAssetsCSV(r.Context(), f, &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, fileName(name)))
	_, err := w.Write([]byte(buf.String()))
	return err
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName makes a safe download name from a label.
func fileName(s string) string {
	s = strings.Trim(unsafeFileChars.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		return "export"
	}
	return s
}

// AssetPage shows one asset.
type AssetPage struct {
	Page
	Asset     *patch.Asset
	Client    *patch.Client
	ClassName string
	Site      *patch.Site
	Stale     bool
	Tags      []Link
	// Changes are the asset's recent audit entries, when the user may read
	// the audit log.
	Changes    []AuditRow
	ChangesAll string
	// Slots filled by later features; empty slots say what will appear.
	Slots []AssetSlot
	// Edit is the edit form (manage-assets).
	Edit AssetEdit
}

// AssetSlot is a section of the asset page (assetSections in
// assetdetail.go): Body is rendered HTML from the section's own partial in
// templates/shared/asset.tmpl; an empty Body shows Pending.
type AssetSlot struct {
	Key     string
	Title   string
	Body    template.HTML
	Pending string
}

func (c *Console) asset(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	a, err := c.srv.Asset(ctx, patch.AssetID(r.PathValue("id")))
	if err != nil {
		return err
	}
	cl, err := c.srv.Client(ctx, a.ClientID)
	if err != nil {
		return err
	}
	p := &AssetPage{Asset: a, Client: cl, ClassName: a.Class}
	p.Title, p.Section = a.Hostname, sectionAssets
	if clientScoped(s.Actor) {
		p.Section = sectionClient
	}
	p.Crumbs = []Link{{Label: cl.Name, Href: "/clients/" + string(cl.ID)}, {Label: "Assets", Href: "/clients/" + string(cl.ID)}}
	if ac, ok := cl.Class(a.Class); ok {
		p.ClassName = ac.Name
	}
	if a.SiteID != "" {
		if p.Site, err = c.srv.Site(ctx, a.SiteID); err != nil && patch.ErrorKind(err) != patch.KindNotFound {
			return err
		}
	}
	p.Stale = a.Managed && a.LastSeen.Before(c.now().Add(-c.staleAfter))
	for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
		q := assetQuery{Tag: k + "=" + a.Tags[k]}
		p.Tags = append(p.Tags, Link{Label: k + "=" + a.Tags[k], Href: assetsURL(cl.ID, q)})
	}
	// Recent changes, when the server lets this user read the audit log.
	id := string(a.ID)
	entries, _, err := c.srv.AuditLog(ctx, patch.AuditFilter{EntityID: &id, Limit: 10})
	switch {
	case err == nil:
		p.Changes = c.auditRows(entries, map[patch.ClientID]string{cl.ID: cl.Name})
		p.ChangesAll = "/audit?entity=" + id
	case patch.ErrorKind(err) != patch.KindForbidden:
		return err
	}
	if p.Slots, err = c.assetSections(ctx, r, s, a); err != nil {
		return err
	}
	if p.Edit, err = c.assetEdit(ctx, s, a, cl); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplAsset, p)
}

// osChart draws a client's assets by OS family, managed stacked on
// discovered.
func osChart(counts []patch.AssetCount) template.HTML {
	managed := make([]float64, len(patch.OSFamilies))
	discovered := make([]float64, len(patch.OSFamilies))
	labels := make([]string, len(patch.OSFamilies))
	for i, fam := range patch.OSFamilies {
		labels[i] = osName(fam)
		for _, r := range counts {
			if r.OSFamily != fam {
				continue
			}
			if r.Managed {
				managed[i] += float64(r.Count)
			} else {
				discovered[i] += float64(r.Count)
			}
		}
	}
	return chart.Bars{
		Title:      "Assets by operating system",
		Categories: labels,
		Series: []chart.Series{
			{Name: "Managed", Values: managed, Class: "s-ok"},
			{Name: "Discovered", Values: discovered, Class: "s-info"},
		},
		Stacked:    true,
		Horizontal: true,
		Width:      420,
	}.SVG()
}
