package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// The findings tab: every missing update of a client with its tier, due
// time, SLA status and, in plain words, why it is not patched yet; and the
// approval decisions behind "not approved" (approve, decline with a
// reason, or hand the update back to the auto-approval rules). The asset
// page shows the same rows for one asset.

func (c *Console) findingRoutes() {
	c.handle("GET /clients/{id}/findings", c.clientFindings)
	c.handle("POST /clients/{id}/decisions", c.decideUpdate)
	c.handle("POST /clients/{id}/decisions/clear", c.clearDecision)
}

// FindingRow is one finding ready to show.
type FindingRow struct {
	*server.FindingView
	AssetHref string
	Title     string
	Due       Badge
	TierName  string
	// Decidable is true when the viewer may approve or decline.
	Decidable bool
}

// FindingsTable is the findings partial's data.
type FindingsTable struct {
	Rows      []FindingRow
	ShowAsset bool
	CSRF      string
	// Decide is the form action of approvals; empty hides them.
	Decide string
	// Back is where a decision returns to.
	Back string
}

// findingRows prepares findings for the table.
func (c *Console) findingRows(vs []*server.FindingView, tiers map[string]string, canDecide bool) []FindingRow {
	rows := make([]FindingRow, 0, len(vs))
	for _, v := range vs {
		r := FindingRow{FindingView: v, AssetHref: "/assets/" + string(v.AssetID), Title: string(v.UpdateID), TierName: cmp.Or(tiers[v.Tier], v.Tier)}
		if v.Update != nil {
			r.Title = cmp.Or(v.Update.Title, v.Update.Package, string(v.UpdateID))
		}
		r.Due = slaStatusBadge(v.SLAStatus)
		r.Decidable = canDecide && v.State == patch.FindingOpen
		rows = append(rows, r)
	}
	return rows
}

// FindingsPage is a client's findings tab.
type FindingsPage struct {
	Page
	Client   *ClientHeader
	Form     Form
	States   []Option
	Statuses []Option
	Tiers    []Option
	Table    FindingsTable
	Total    int
	Pager    Pager
	// Decisions are the client's approval decisions.
	Decisions []*patch.UpdateDecision
	// Overrides are the client's tier overrides; TierOptions the tiers.
	Overrides   []*patch.TierOverride
	TierOptions []Option
	CanDecide   bool
}

const findingPageSize = 50

func (c *Console) clientFindings(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabFindings)
	if err != nil {
		return err
	}
	id := h.Client.ID
	q := r.URL.Query()
	p := &FindingsPage{Client: h, Form: newForm(q, "state", "sla", "tier")}
	p.Title, p.Section = h.Client.Name+" · Findings", c.clientSection(s)
	pol, err := c.srv.PolicyOf(ctx, id)
	if err != nil {
		return err
	}
	tiers := map[string]string{}
	p.Tiers = []Option{{Value: "", Label: "Any tier"}}
	for _, t := range pol.Tiers {
		tiers[t.Key] = t.Name
		p.Tiers = append(p.Tiers, Option{Value: t.Key, Label: t.Name})
	}
	fq := server.FindingQuery{ClientID: id, Limit: findingPageSize}
	state := cmp.Or(q.Get("state"), "open")
	p.Form.Values.Set("state", state)
	p.States = []Option{{Value: "open", Label: "Open"}, {Value: "resolved", Label: "Resolved"}, {Value: "all", Label: "All"}}
	switch state {
	case "open", "resolved":
		st := patch.FindingState(state)
		fq.State = &st
	case "all":
	default:
		p.Form.Errors["state"] = "must be open, resolved or all"
	}
	p.Statuses = []Option{{Value: "", Label: "Any"}}
	for _, st := range []patch.SLAStatus{patch.SLABreached, patch.SLADueSoon, patch.SLAOnTrack, patch.SLAPaused, patch.SLAMet, patch.SLAMetLate} {
		p.Statuses = append(p.Statuses, Option{Value: string(st), Label: slaStatusBadge(st).Label})
	}
	if v := q.Get("sla"); v != "" {
		st := patch.SLAStatus(v)
		if !slices.ContainsFunc(p.Statuses, func(o Option) bool { return o.Value == v }) {
			p.Form.Errors["sla"] = "is not an SLA status"
		} else {
			fq.SLAStatus = &st
		}
	}
	if v := q.Get("tier"); v != "" {
		if _, ok := tiers[v]; !ok {
			p.Form.Errors["tier"] = "is not a tier of this client's policy"
		} else {
			fq.Tier = &v
		}
	}
	page := pageNumber(q)
	fq.Offset = (page - 1) * findingPageSize
	vs, total, err := c.srv.Findings(ctx, fq)
	if err != nil {
		return err
	}
	canDecide := s.Actor.Can(patch.PermOperate)
	p.Table = FindingsTable{Rows: c.findingRows(vs, tiers, canDecide), ShowAsset: true, CSRF: s.CSRF, Back: r.URL.RequestURI()}
	if canDecide {
		p.Table.Decide = h.Href + "/decisions"
	}
	p.Total = total
	p.Pager = listPager(r.URL, page, total, findingPageSize)
	if p.Decisions, _, err = c.srv.Decisions(ctx, patch.DecisionFilter{ClientID: &id, Limit: patch.MaxLimit}); err != nil {
		return err
	}
	if p.Overrides, _, err = c.srv.TierOverrides(ctx, patch.TierOverrideFilter{ClientID: &id, Limit: patch.MaxLimit}); err != nil {
		return err
	}
	p.CanDecide = canDecide
	p.TierOptions = append([]Option{{Value: "", Label: "keep the mapped tier"}}, p.Tiers[1:]...)
	status := http.StatusOK
	if p.Form.HasErrors() {
		status = http.StatusBadRequest
	}
	return c.render(w, r, s, status, tmplFindings, p)
}

// backTo returns the local page a form came from, or def.
func backTo(v url.Values, def string) string {
	if b := v.Get("back"); b != "" {
		if p := localPath(b); p != "/" {
			return p
		}
	}
	return def
}

func (c *Console) decideUpdate(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	f := r.PostForm
	in := server.DecisionInput{UpdateID: patch.UpdateID(f.Get("update_id")), Decision: patch.Approval(f.Get("decision")), Reason: strings.TrimSpace(f.Get("reason"))}
	back := backTo(f, "/clients/"+string(id)+"/findings")
	d, err := c.srv.DecideUpdate(r.Context(), id, in)
	if err != nil {
		if k := patch.ErrorKind(err); k == patch.KindInvalid || k == patch.KindConflict {
			// A decline without a reason: back to the list with the message.
			c.setFlash(w, flashError, patch.ErrorMessage(err))
			http.Redirect(w, r, back, http.StatusSeeOther)
			return nil
		}
		return err
	}
	msg := "Approved " + string(d.UpdateID) + " for this client: it deploys in its windows and rings."
	if d.Decision == patch.ApprovalDeclined {
		msg = "Declined " + string(d.UpdateID) + ". Its SLA clock keeps running; request an exception to defer it."
	}
	return c.redirect(w, r, back, msg)
}

func (c *Console) clearDecision(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	upd := patch.UpdateID(r.PostForm.Get("update_id"))
	if err := c.srv.ClearDecision(r.Context(), id, upd); err != nil {
		return err
	}
	return c.redirect(w, r, backTo(r.PostForm, "/clients/"+string(id)+"/findings"), "Decision on "+string(upd)+" cleared: the auto-approval rules apply again.")
}
