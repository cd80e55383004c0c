package web

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Managing clients, sites and assets in the console: add a client (the
// overview), change its details and add sites (its Sites tab), import
// assets from CSV, register an asset by hand, and change an asset's site,
// class, criticality, ring, owner, location and tags, or delete it (the
// asset page). The server checks the permissions (manage-clients,
// manage-assets) and the store the tenancy.

func (c *Console) manageRoutes() {
	c.handle("POST /clients", c.createClient)
	c.handle("POST /clients/{id}/edit", c.updateClient)
	c.handle("POST /clients/{id}/sites", c.createSite)
	c.handle("POST /clients/{id}/assets", c.createAsset)
	c.handle("POST /clients/{id}/assets/import", c.importAssets)
	c.handle("POST /assets/{id}/edit", c.updateAsset)
	c.handle("POST /assets/{id}/delete", c.deleteAsset)
}

// formFail re-renders nothing: it shows a user error as a flash on the
// page the form came from, or returns the error when it is not the user's
// to fix. The forms of this file are small and on pages that load a lot;
// their errors name the field.
func (c *Console) formFail(w http.ResponseWriter, r *http.Request, back string, err error) error {
	switch patch.ErrorKind(err) {
	case patch.KindInvalid, patch.KindConflict, patch.KindTooLarge:
		msg := patch.ErrorMessage(err)
		if f := patch.ErrorField(err); f != "" {
			msg = f + ": " + msg
		}
		c.setFlash(w, flashError, msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	return err
}

func (c *Console) createClient(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	cl, err := c.srv.CreateClient(r.Context(), server.ClientInput{Name: strings.TrimSpace(f.Get("name")), ContactName: strings.TrimSpace(f.Get("contact_name")),
		ContactEmail: strings.TrimSpace(f.Get("contact_email")), Notes: strings.TrimSpace(f.Get("notes"))})
	if err != nil {
		return c.formFail(w, r, "/#add-client", err)
	}
	return c.redirect(w, r, "/clients/"+string(cl.ID)+"/sites", "Client "+cl.Name+" created with the default asset classes and policy. Add its sites, then enroll agents or import assets.")
}

func (c *Console) updateClient(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	f := r.PostForm
	str := func(k string) *string { v := strings.TrimSpace(f.Get(k)); return &v }
	cl, err := c.srv.UpdateClient(r.Context(), id, patch.ClientUpdate{Name: str("name"), ContactName: str("contact_name"), ContactEmail: str("contact_email"), Notes: str("notes")})
	if err != nil {
		return c.formFail(w, r, "/clients/"+string(id)+"/sites", err)
	}
	return c.redirect(w, r, "/clients/"+string(cl.ID)+"/sites", "Client details saved.")
}

func (c *Console) createSite(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	f := r.PostForm
	st, err := c.srv.CreateSite(r.Context(), server.SiteInput{ClientID: id, Name: strings.TrimSpace(f.Get("site_name")), Location: strings.TrimSpace(f.Get("location")),
		TimeZone: strings.TrimSpace(f.Get("time_zone")), Subnets: splitList(f.Get("subnets"))})
	if err != nil {
		return c.formFail(w, r, "/clients/"+string(id)+"/sites", err)
	}
	return c.redirect(w, r, "/clients/"+string(id)+"/sites", "Site "+st.Name+" added.")
}

func (c *Console) createAsset(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	f := r.PostForm
	tags, err := parseTags(f.Get("tags"))
	if err != nil {
		return c.formFail(w, r, "/clients/"+string(id)+"/sites", err)
	}
	a, err := c.srv.CreateAsset(r.Context(), server.AssetInput{ClientID: id, SiteID: patch.SiteID(f.Get("site_id")), Hostname: strings.TrimSpace(f.Get("hostname")),
		OS: server.OSInput{Family: patch.OSFamily(f.Get("os_family")), Name: strings.TrimSpace(f.Get("os_name"))}, Role: patch.AssetRole(f.Get("role")),
		Class: f.Get("class"), Owner: strings.TrimSpace(f.Get("owner")), Tags: tags, Criticality: patch.Criticality(f.Get("criticality"))})
	if err != nil {
		return c.formFail(w, r, "/clients/"+string(id)+"/sites", err)
	}
	return c.redirect(w, r, "/assets/"+string(a.ID), "Asset "+a.Hostname+" registered. Install the agent on it to manage it.")
}

func (c *Console) importAssets(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	back := "/clients/" + string(id) + "/sites"
	res, err := c.srv.ImportAssetsCSV(r.Context(), id, strings.NewReader(r.PostForm.Get("csv")))
	if err != nil {
		return c.formFail(w, r, back, err)
	}
	return c.redirect(w, r, "/clients/"+string(id), fmt.Sprintf("Import: %s created, %s updated.", plural(res.Created, "asset"), plural(res.Updated, "asset")))
}

// parseTags reads "key=value, key2=value2".
func parseTags(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range splitList(s) {
		k, v, ok := strings.Cut(t, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, patch.FieldError("tags", "must be key=value pairs separated by commas, such as ephi=yes, dept=radiology (got %q)", t)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func formatTags(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func (c *Console) updateAsset(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.AssetID(r.PathValue("id"))
	back := "/assets/" + string(id) + "#edit"
	f := r.PostForm
	tags, err := parseTags(f.Get("tags"))
	if err != nil {
		return c.formFail(w, r, back, err)
	}
	str := func(k string) *string { v := strings.TrimSpace(f.Get(k)); return &v }
	site := patch.SiteID(f.Get("site_id"))
	crit := patch.Criticality(f.Get("criticality"))
	u := patch.AssetUpdate{SiteID: &site, Class: str("class"), Owner: str("owner"), Location: str("location"), Ring: str("ring"), Criticality: &crit, Tags: &tags}
	a, err := c.srv.UpdateAsset(r.Context(), id, u)
	if err != nil {
		return c.formFail(w, r, back, err)
	}
	return c.redirect(w, r, "/assets/"+string(a.ID), "Asset "+a.Hostname+" saved; its findings are evaluated against the new facts.")
}

func (c *Console) deleteAsset(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.AssetID(r.PathValue("id"))
	a, err := c.srv.Asset(r.Context(), id)
	if err != nil {
		return err
	}
	if err := c.srv.DeleteAsset(r.Context(), id); err != nil {
		return c.formFail(w, r, "/assets/"+string(id), err)
	}
	return c.redirect(w, r, "/clients/"+string(a.ClientID), "Asset "+a.Hostname+" deleted. Its evidence stays in the client's chain.")
}

// AssetEdit is the asset page's edit form.
type AssetEdit struct {
	CanEdit      bool
	Form         Form
	Sites        []Option
	Classes      []Option
	Criticality  []Option
	Rings        []Option
	ExceptionURL string
}

// assetEdit prepares the asset page's edit form.
func (c *Console) assetEdit(ctx context.Context, s *session, a *patch.Asset, cl *patch.Client) (AssetEdit, error) {
	e := AssetEdit{CanEdit: s.Actor.Can(patch.PermManageAssets), Form: newForm(nil)}
	e.ExceptionURL = "/clients/" + string(a.ClientID) + "/exceptions?assets=" + a.Hostname
	if !e.CanEdit {
		return e, nil
	}
	v := e.Form.Values
	v.Set("site_id", string(a.SiteID))
	v.Set("class", a.Class)
	v.Set("criticality", string(a.Criticality))
	v.Set("ring", a.Ring)
	v.Set("owner", a.Owner)
	v.Set("location", a.Location)
	v.Set("tags", formatTags(a.Tags))
	sites, _, err := c.srv.Sites(ctx, patch.SiteFilter{ClientID: &a.ClientID, Limit: patch.MaxLimit})
	if err != nil {
		return e, err
	}
	e.Sites = []Option{{Value: "", Label: "— none —"}}
	for _, st := range sites {
		e.Sites = append(e.Sites, Option{Value: string(st.ID), Label: st.Name + " (" + st.TimeZone + ")"})
	}
	for _, ac := range cl.AssetClasses {
		e.Classes = append(e.Classes, Option{Value: ac.Key, Label: ac.Name})
	}
	for _, cr := range patch.Criticalities {
		e.Criticality = append(e.Criticality, Option{Value: string(cr), Label: string(cr)})
	}
	pol, err := c.srv.PolicyOf(ctx, a.ClientID)
	if err != nil {
		return e, err
	}
	e.Rings = []Option{{Value: "", Label: "set by the policy"}}
	for _, rg := range pol.Rings {
		e.Rings = append(e.Rings, Option{Value: rg.Key, Label: "pinned to " + rg.Name})
	}
	return e, nil
}
