package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// The rest of the policy and rollout settings, each on the page where it
// acts: tier overrides on the findings tab, OS baselines and open alerts
// on the compliance tab, the runbook on the client's cycles tab (edited as
// the JSON document the API takes, validated by the server with the path
// of the value at fault), and the MSP-wide canary on the cycles page.

func (c *Console) extraRoutes() {
	c.handle("POST /clients/{id}/tier-overrides", c.setTierOverride)
	c.handle("POST /clients/{id}/tier-overrides/delete", c.deleteTierOverride)
	c.handle("POST /clients/{id}/os-baselines", c.setOSBaselines)
	c.handle("GET /clients/{id}/runbook", c.runbook)
	c.handle("POST /clients/{id}/runbook", c.saveRunbook)
	c.handle("POST /msp/canary", c.saveMSPCanary)
}

func (c *Console) setTierOverride(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	f := r.PostForm
	back := "/clients/" + string(id) + "/findings#overrides"
	in := tierOverrideInput(f.Get("tier"), f.Get("emergency"), f.Get("reason"))
	upd := patch.UpdateID(strings.TrimSpace(f.Get("update_id")))
	if upd == "" {
		return c.formFail(w, r, back, patch.FieldError("update_id", "is required"))
	}
	if _, err := c.srv.SetTierOverride(r.Context(), id, upd, in); err != nil {
		return c.formFail(w, r, back, err)
	}
	return c.redirect(w, r, back, "Override of "+string(upd)+" saved; the client's findings are re-evaluated.")
}

func (c *Console) deleteTierOverride(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	back := "/clients/" + string(id) + "/findings#overrides"
	upd := patch.UpdateID(r.PostForm.Get("update_id"))
	if err := c.srv.DeleteTierOverride(r.Context(), id, upd, strings.TrimSpace(r.PostForm.Get("reason"))); err != nil {
		return c.formFail(w, r, back, err)
	}
	return c.redirect(w, r, back, "Override of "+string(upd)+" removed.")
}

func (c *Console) setOSBaselines(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	back := "/clients/" + string(id) + "/compliance#baselines"
	f := r.PostForm
	var bs []patch.OSBaseline
	for i := range len(f["family"]) {
		get := func(k string) string {
			if i < len(f[k]) {
				return strings.TrimSpace(f[k][i])
			}
			return ""
		}
		if get("min_version") == "" && get("match") == "" {
			continue // an empty row (the one for adding)
		}
		bs = append(bs, patch.OSBaseline{Family: patch.OSFamily(get("family")), Match: get("match"), MinVersion: get("min_version"), Note: get("note")})
	}
	if bs == nil {
		bs = []patch.OSBaseline{}
	}
	if _, err := c.srv.SetOSBaselines(r.Context(), id, bs); err != nil {
		return c.formFail(w, r, back, err)
	}
	return c.redirect(w, r, back, "OS baselines saved: UPDATES – Missing Service Pack uses them from the next evaluation.")
}

// RunbookPage is a client's runbook, as the document the API takes.
type RunbookPage struct {
	Page
	Client  *ClientHeader
	Runbook *patch.Runbook
	Form    Form
	CanEdit bool
}

func (c *Console) runbookPage(r *http.Request, s *session, form Form) (*RunbookPage, error) {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabCycles)
	if err != nil {
		return nil, err
	}
	rb, err := c.srv.RunbookOf(ctx, h.Client.ID)
	if err != nil {
		return nil, err
	}
	p := &RunbookPage{Client: h, Runbook: rb, Form: form, CanEdit: s.Actor.Can(patch.PermOperate)}
	p.Title, p.Section = h.Client.Name+" · Runbook", c.clientSection(s)
	p.Crumbs = []Link{{Label: h.Client.Name, Href: h.Href}, {Label: "Patch cycles", Href: h.Href + "/cycles"}}
	if p.Form.Values == nil {
		doc, err := json.MarshalIndent(editableRunbook(rb), "", "  ")
		if err != nil {
			return nil, err
		}
		p.Form = newForm(nil)
		p.Form.Values.Set("document", string(doc))
	}
	return p, nil
}

// editableRunbook is the runbook without the fields the server sets.
func editableRunbook(rb *patch.Runbook) *patch.Runbook {
	e := *rb
	e.UpdatedBy, e.UpdatedAt = "", time.Time{}
	return &e
}

func (c *Console) runbook(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.runbookPage(r, s, Form{})
	if err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplRunbook, p)
}

func (c *Console) saveRunbook(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	doc := r.PostForm.Get("document")
	var rb patch.Runbook
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.DisallowUnknownFields()
	err := dec.Decode(&rb)
	if err != nil {
		err = patch.WrapError(err, patch.KindInvalid, "The runbook is not valid JSON for a runbook: %v", err)
	} else {
		_, err = c.srv.PutRunbook(r.Context(), id, &rb)
	}
	if err != nil {
		form := newForm(r.PostForm, "document")
		if !form.setError(err) {
			return err
		}
		p, lerr := c.runbookPage(r, s, form)
		if lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplRunbook, p)
	}
	return c.redirect(w, r, "/clients/"+string(id)+"/runbook", fmt.Sprintf("Runbook saved (version %d): cycles use it from their next step.", rb.Version))
}

func (c *Console) saveMSPCanary(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	cur, err := c.srv.MSPCanary(r.Context())
	if err != nil {
		return err
	}
	next := *cur
	next.Tags = nil
	for _, t := range splitList(f.Get("tags")) {
		k, v, _ := strings.Cut(t, "=")
		next.Tags = append(next.Tags, patch.TagRef{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	next.Assets = nil
	for _, a := range strings.Fields(strings.ReplaceAll(f.Get("assets"), ",", " ")) {
		next.Assets = append(next.Assets, patch.AssetID(a))
	}
	if next.Tags == nil {
		next.Tags = []patch.TagRef{}
	}
	if next.Assets == nil {
		next.Assets = []patch.AssetID{}
	}
	if _, err := c.srv.PutMSPCanary(r.Context(), &next); err != nil {
		return c.formFail(w, r, "/cycles#canary", err)
	}
	return c.redirect(w, r, "/cycles#canary", "MSP-wide canary saved: rings marked msp_canary take its members.")
}

// tierOverrideInput reads the override form.
func tierOverrideInput(tier, emergency, reason string) server.TierOverrideInput {
	in := server.TierOverrideInput{Tier: strings.TrimSpace(tier), Reason: strings.TrimSpace(reason)}
	switch emergency {
	case "yes":
		in.Emergency = new(true)
	case "no":
		in.Emergency = new(false)
	}
	return in
}
