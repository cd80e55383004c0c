package web

import (
	"cmp"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/web/chart"
)

// Patch cycles (docs/runbook.md): every client's cycles, a client's
// cycles with "start a cycle", and a cycle's page — ring-by-ring progress
// and failure rates against each gate, per-asset deployments with the
// time of every step, the updates, the tickets — with a person's actions:
// approve a ring transition, halt, resume, abort, skip a bad update,
// approve reboots, resolve a ticket. Every action takes a reason where the
// server asks for one and is audited and chained by the server.

func (c *Console) cycleRoutes() {
	c.handle("GET /cycles", c.allCycles)
	c.handle("GET /clients/{id}/cycles", c.clientCycles)
	c.handle("POST /clients/{id}/cycles", c.createCycle)
	c.handle("GET /cycles/{id}", c.cycle)
	c.handle("POST /cycles/{id}/halt", c.cycleAction("halt"))
	c.handle("POST /cycles/{id}/resume", c.cycleAction("resume"))
	c.handle("POST /cycles/{id}/abort", c.cycleAction("abort"))
	c.handle("POST /cycles/{id}/skip", c.cycleAction("skip"))
	c.handle("POST /cycles/{id}/approve", c.cycleAction("approve"))
	c.handle("POST /cycles/{id}/reboots", c.cycleAction("reboots"))
	c.handle("POST /tickets/{id}/resolve", c.resolveTicket)
}

// CycleRow is a cycle in a list.
type CycleRow struct {
	*server.CycleView
	Href       string
	ClientName string
	ClientHref string
	Badge      Badge
	// Rings summarises each ring: "canary ✓ pilot ⏳ production".
	Rings []RingChip
}

// RingChip is one ring's state in a list.
type RingChip struct {
	Key, Name string
	Badge     Badge
}

func cycleBadge(s patch.CycleState) Badge {
	switch s {
	case patch.CycleRunning:
		return Badge{StatusInfo, "Running"}
	case patch.CycleHalted:
		return Badge{StatusBad, "Halted"}
	case patch.CycleCompleted:
		return Badge{StatusOK, "Completed"}
	case patch.CycleAborted:
		return Badge{StatusUnknown, "Aborted"}
	}
	return Badge{StatusUnknown, string(s)}
}

func ringBadge(s patch.RingState) Badge {
	switch s {
	case patch.RingWaiting:
		return Badge{StatusUnknown, "Waiting"}
	case patch.RingDeploying:
		return Badge{StatusInfo, "Deploying"}
	case patch.RingSoaking:
		return Badge{StatusInfo, "Soaking"}
	case patch.RingAwaitingApproval:
		return Badge{StatusWarn, "Awaiting approval"}
	case patch.RingPromoted:
		return Badge{StatusOK, "Promoted"}
	case patch.RingCompleted:
		return Badge{StatusOK, "Completed"}
	}
	return Badge{StatusUnknown, string(s)}
}

func cycleRow(v *server.CycleView, names map[patch.ClientID]string) CycleRow {
	r := CycleRow{CycleView: v, Href: "/cycles/" + string(v.ID), ClientName: names[v.ClientID], ClientHref: "/clients/" + string(v.ClientID), Badge: cycleBadge(v.State)}
	for _, rg := range v.Rings {
		r.Rings = append(r.Rings, RingChip{Key: rg.Key, Name: rg.Name, Badge: ringBadge(rg.State)})
	}
	return r
}

// CyclesPage lists cycles: every client's, or one client's with the form
// that starts a cycle.
type CyclesPage struct {
	Page
	Client  *ClientHeader
	Form    Form
	States  []Option
	Clients []Option
	Table   CycleTable
	Total   int
	Pager   Pager
	// CanStart shows the start form (a client's page, operators).
	CanStart   bool
	CreateForm Form
	Kinds      []Option
	Tickets    TicketList
	// Canary is the MSP-wide canary (MSP staff's cycles page).
	Canary        *patch.MSPCanary
	CanaryTags    string
	CanaryAssets  string
	CanaryMembers int
	CanEditCanary bool
}

// CycleTable is the cycle-table partial's data.
type CycleTable struct {
	Rows       []CycleRow
	ShowClient bool
}

// TicketList is the ticket-table partial's data.
type TicketList struct {
	Rows       []TicketRow
	CSRF       string
	CanResolve bool
	// Back is where resolving returns to.
	Back string
}

// TicketRow is a ticket in a list.
type TicketRow struct {
	*patch.Ticket
	CycleHref string
	AssetHref string
	Open      bool
}

const cyclePageSize = 25

// cycleStates are the state filter's choices.
var cycleStates = []patch.CycleState{patch.CycleRunning, patch.CycleHalted, patch.CycleCompleted, patch.CycleAborted}

func (c *Console) loadCycles(ctx context.Context, r *http.Request, s *session, p *CyclesPage, client *patch.ClientID) error {
	q := r.URL.Query()
	p.Form = newForm(q, "state", "client")
	page := pageNumber(q)
	f := patch.CycleFilter{ClientID: client, Limit: cyclePageSize, Offset: (page - 1) * cyclePageSize}
	p.States = []Option{{Value: "", Label: "Any state"}, {Value: "active", Label: "Running or halted"}}
	for _, st := range cycleStates {
		p.States = append(p.States, Option{Value: string(st), Label: cycleBadge(st).Label})
	}
	switch st := q.Get("state"); {
	case st == "":
	case st == "active":
		f.States = []patch.CycleState{patch.CycleRunning, patch.CycleHalted}
	case slices.Contains(cycleStates, patch.CycleState(st)):
		f.States = []patch.CycleState{patch.CycleState(st)}
	default:
		p.Form.Errors["state"] = "is not a cycle state"
	}
	clients, _, err := c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	names := map[patch.ClientID]string{}
	p.Clients = []Option{{Value: "", Label: "Every client"}}
	for _, cl := range clients {
		names[cl.ID] = cl.Name
		p.Clients = append(p.Clients, Option{Value: string(cl.ID), Label: cl.Name})
	}
	if client == nil {
		if v := q.Get("client"); v != "" {
			id := patch.ClientID(v)
			f.ClientID = &id
		}
	}
	cs, total, err := c.srv.Cycles(ctx, f)
	if err != nil {
		return err
	}
	p.Table.ShowClient = client == nil && mspStaff(s.Actor)
	for _, v := range cs {
		p.Table.Rows = append(p.Table.Rows, cycleRow(v, names))
	}
	p.Total = total
	p.Pager = listPager(r.URL, page, total, cyclePageSize)
	return nil
}

func (c *Console) allCycles(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &CyclesPage{}
	p.Title, p.Section = "Patch cycles", sectionCycles
	if err := c.loadCycles(r.Context(), r, s, p, nil); err != nil {
		return err
	}
	open := patch.TicketOpen
	ts, _, err := c.srv.Tickets(r.Context(), patch.TicketFilter{State: &open, Limit: 20})
	if err != nil {
		return err
	}
	p.Tickets = ticketList(ts, s, r.URL.RequestURI())
	if mspStaff(s.Actor) {
		ctx := r.Context()
		if p.Canary, err = c.srv.MSPCanary(ctx); err != nil {
			return err
		}
		var tags, assets []string
		for _, t := range p.Canary.Tags {
			tags = append(tags, t.String())
		}
		for _, a := range p.Canary.Assets {
			assets = append(assets, string(a))
		}
		p.CanaryTags, p.CanaryAssets = strings.Join(tags, ", "), strings.Join(assets, " ")
		members, err := c.srv.MSPCanaryMembers(ctx)
		if err != nil {
			return err
		}
		p.CanaryMembers = len(members)
		p.CanEditCanary = s.Actor.Can(patch.PermOperate)
	}
	return c.render(w, r, s, formPageStatus(p.Form), tmplCycles, p)
}

func ticketList(ts []*patch.Ticket, s *session, back string) TicketList {
	return TicketList{Rows: ticketRows(ts), CSRF: s.CSRF, CanResolve: s.Actor.Can(patch.PermOperate), Back: back}
}

func ticketRows(ts []*patch.Ticket) []TicketRow {
	out := make([]TicketRow, 0, len(ts))
	for _, t := range ts {
		row := TicketRow{Ticket: t, Open: t.State == patch.TicketOpen}
		if t.CycleID != "" {
			row.CycleHref = "/cycles/" + string(t.CycleID)
		}
		if t.AssetID != "" {
			row.AssetHref = "/assets/" + string(t.AssetID)
		}
		out = append(out, row)
	}
	return out
}

func formPageStatus(f Form) int {
	if f.HasErrors() {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

func (c *Console) clientCyclesPage(ctx context.Context, r *http.Request, s *session, create Form) (*CyclesPage, error) {
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabCycles)
	if err != nil {
		return nil, err
	}
	p := &CyclesPage{Client: h, CreateForm: create, CanStart: s.Actor.Can(patch.PermOperate)}
	p.Title, p.Section = h.Client.Name+" · Patch cycles", c.clientSection(s)
	p.Kinds = []Option{{Value: string(patch.CycleMonthly), Label: "Monthly: every approved update"}, {Value: string(patch.CycleEmergency), Label: "Emergency: the updates named (or every approved emergency update)"}}
	if err := c.loadCycles(ctx, r, s, p, &h.Client.ID); err != nil {
		return nil, err
	}
	ts, _, err := c.srv.Tickets(ctx, patch.TicketFilter{ClientID: &h.Client.ID, Limit: 20})
	if err != nil {
		return nil, err
	}
	p.Tickets = ticketList(ts, s, h.Href+"/cycles#tickets")
	return p, nil
}

func (c *Console) clientCycles(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.clientCyclesPage(r.Context(), r, s, newForm(nil))
	if err != nil {
		return err
	}
	return c.render(w, r, s, formPageStatus(p.Form), tmplCycles, p)
}

func (c *Console) createCycle(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	in := server.CycleInput{ClientID: patch.ClientID(r.PathValue("id")), Kind: patch.CycleKind(f.Get("kind")), Name: strings.TrimSpace(f.Get("name"))}
	for _, u := range strings.FieldsFunc(f.Get("updates"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		in.Updates = append(in.Updates, patch.UpdateID(u))
	}
	cv, err := c.srv.CreateCycle(r.Context(), in)
	if err != nil {
		form := newForm(f, "kind", "name", "updates")
		if !form.setError(err, "kind", "name", "updates") {
			return err
		}
		p, lerr := c.clientCyclesPage(r.Context(), r, s, form)
		if lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplCycles, p)
	}
	return c.redirect(w, r, "/cycles/"+string(cv.ID), "Started "+cv.Name+": "+plural(len(cv.Updates), "update")+"; ring "+cv.Rings[0].Name+" deploys in its windows.")
}

// RingView is one ring of a cycle's page.
type RingView struct {
	patch.CycleRing
	Badge Badge
	// Threshold describes the gate: "halts above 10 % of at least 3".
	Threshold string
	Approver  string
	RateBadge Badge
	// CanApprove shows the approve form to whom the policy names.
	CanApprove bool
	Href       string
}

// CyclePage is one cycle.
type CyclePage struct {
	Page
	Cycle      *server.CycleView
	ClientName string
	ClientHref string
	Badge      Badge
	Rings      []RingView
	Chart      template.HTML
	Updates    []CycleUpdateRow
	Rows       []DeploymentRow
	Total      int
	Pager      Pager
	Form       Form
	RingOpts   []Option
	StateOpts  []Option
	Tickets    TicketList
	CanOperate bool
	// Action and ActionForm carry the error of an action form back to it.
	Action     string
	ActionForm Form
	Reboots    int
}

// CycleUpdateRow is an update of a cycle.
type CycleUpdateRow struct {
	patch.CycleUpdate
}

// DeploymentRow is one asset's deployment.
type DeploymentRow struct {
	*server.DeploymentView
	Badge     Badge
	AssetHref string
	// Steps are the times of the steps that happened, in order.
	Steps []Step
}

// Step is one step of a deployment and when it happened.
type Step struct {
	Name string
	At   time.Time
	Bad  bool
}

// deploymentSteps lists the steps a deployment went through.
func deploymentSteps(d *patch.Deployment) []Step {
	var out []Step
	for _, st := range []Step{
		{"scheduled", d.ScheduledAt, false}, {"snapshot", d.SnapshotAt, false}, {"sent", d.SentAt, false},
		{"installed", d.InstalledAt, false}, {"reboot requested", d.RebootRequestAt, false}, {"rebooted", d.RebootedAt, false},
		{"verified", d.VerifiedAt, false}, {"healthy", d.HealthCheckedAt, false}, {"rolled back", d.RolledBackAt, true},
		{"failed", d.FailedAt, true}, {"completed", d.CompletedAt, false},
	} {
		if !st.At.IsZero() {
			out = append(out, st)
		}
	}
	return out
}

const deploymentPageSize = 50

func (c *Console) loadCycle(ctx context.Context, r *http.Request, s *session, p *CyclePage) error {
	id := patch.CycleID(r.PathValue("id"))
	cv, err := c.srv.Cycle(ctx, id)
	if err != nil {
		return err
	}
	cl, err := c.srv.Client(ctx, cv.ClientID)
	if err != nil {
		return err
	}
	p.Cycle, p.ClientName, p.ClientHref, p.Badge = cv, cl.Name, "/clients/"+string(cl.ID), cycleBadge(cv.State)
	p.Title, p.Section = cv.Name, sectionCycles
	if clientScoped(s.Actor) {
		p.Section = sectionClient
	}
	p.Crumbs = []Link{{Label: cl.Name, Href: p.ClientHref}, {Label: "Patch cycles", Href: p.ClientHref + "/cycles"}}
	p.CanOperate = s.Actor.Can(patch.PermOperate) && cv.Active()
	staff := mspStaff(s.Actor) && s.Actor.Can(patch.PermOperate)
	owner := s.Actor.Role == patch.RoleClientOwner && s.Actor.Kind == patch.ActorUser
	bars := chart.Bars{Title: "Ring progress", Stacked: true, Horizontal: true, Width: 560,
		Series: []chart.Series{{Name: "Succeeded", Class: "s-ok"}, {Name: "Failed", Class: "s-bad"}, {Name: "Rolled back", Class: "s-warn"},
			{Name: "In progress", Class: "s1"}, {Name: "Pending", Class: "s-info"}, {Name: "Skipped", Class: "s6"}}}
	for _, rg := range cv.Rings {
		rv := RingView{CycleRing: rg, Badge: ringBadge(rg.State), Href: r.URL.Path + "?ring=" + url.QueryEscape(rg.Key)}
		rv.RateBadge = Badge{StatusOK, pctv(rg.Progress.FailureRatePct)}
		if pr := rg.Promotion; pr != nil {
			rv.Threshold = "halts above " + pctv(pr.FailureThresholdPct) + " of at least " + plural(pr.MinSample, "result")
			rv.Approver = approverName(pr.Approver)
			if rg.Progress.Results >= pr.MinSample && rg.Progress.FailureRatePct > pr.FailureThresholdPct {
				rv.RateBadge.Status = StatusBad
			} else if rg.Progress.Failed > 0 {
				rv.RateBadge.Status = StatusWarn
			}
			rv.CanApprove = rg.State == patch.RingAwaitingApproval && cv.Active() &&
				(pr.Approver == patch.ApproverMSP && staff || pr.Approver == patch.ApproverClientOwner && owner)
		}
		p.Rings = append(p.Rings, rv)
		p.RingOpts = append(p.RingOpts, Option{Value: rg.Key, Label: rg.Name})
		pg := rg.Progress
		bars.Categories = append(bars.Categories, rg.Name)
		for i, v := range []int{pg.Succeeded, pg.Failed, pg.RolledBack, pg.InProgress, pg.Pending, pg.Skipped} {
			bars.Series[i].Values = append(bars.Series[i].Values, float64(v))
		}
	}
	p.Chart = bars.SVG()
	for _, u := range cv.Updates {
		p.Updates = append(p.Updates, CycleUpdateRow{CycleUpdate: u})
	}
	p.Reboots = cv.Assets[patch.DeployRebootPending]

	q := r.URL.Query()
	p.Form = newForm(q, "ring", "state")
	page := pageNumber(q)
	f := patch.DeploymentFilter{CycleID: &cv.ID, Limit: deploymentPageSize, Offset: (page - 1) * deploymentPageSize}
	if v := q.Get("ring"); v != "" {
		if rg, _ := cv.Ring(v); rg == nil {
			p.Form.Errors["ring"] = "is not a ring of this cycle"
		} else {
			f.Ring = &v
		}
	}
	p.StateOpts = []Option{{Value: "", Label: "Any state"}, {Value: "problems", Label: "Failed, rolled back or retrying"}}
	for _, st := range patch.DeploymentStates {
		p.StateOpts = append(p.StateOpts, Option{Value: string(st), Label: deploymentBadge(st).Label})
	}
	switch v := q.Get("state"); {
	case v == "":
	case v == "problems":
		f.States = []patch.DeploymentState{patch.DeployFailed, patch.DeployRolledBack, patch.DeployRetryWait, patch.DeployRollingBack}
	case slices.Contains(patch.DeploymentStates, patch.DeploymentState(v)):
		f.States = []patch.DeploymentState{patch.DeploymentState(v)}
	default:
		p.Form.Errors["state"] = "is not a deployment state"
	}
	ds, total, err := c.srv.CycleDeployments(ctx, f)
	if err != nil {
		return err
	}
	for _, d := range ds {
		p.Rows = append(p.Rows, DeploymentRow{DeploymentView: d, Badge: deploymentBadge(d.State), AssetHref: "/assets/" + string(d.AssetID), Steps: deploymentSteps(d.Deployment)})
	}
	p.Total = total
	p.Pager = listPager(r.URL, page, total, deploymentPageSize)
	ts, _, err := c.srv.Tickets(ctx, patch.TicketFilter{CycleID: &cv.ID, Limit: 50})
	if err != nil {
		return err
	}
	p.Tickets = ticketList(ts, s, "/cycles/"+string(cv.ID)+"#tickets")
	if p.ActionForm.Values == nil {
		p.ActionForm = newForm(nil)
	}
	return nil
}

func approverName(a patch.Approver) string {
	switch a {
	case patch.ApproverAutomatic:
		return "automatic"
	case patch.ApproverMSP:
		return "the MSP"
	case patch.ApproverClientOwner:
		return "the client owner"
	}
	return string(a)
}

func (c *Console) cycle(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &CyclePage{}
	if err := c.loadCycle(r.Context(), r, s, p); err != nil {
		return err
	}
	return c.render(w, r, s, formPageStatus(p.Form), tmplCycle, p)
}

// cycleAction runs one of a person's actions on a cycle. A user error
// (a missing reason, a ring not awaiting approval) is shown next to the
// action's form on the re-rendered page.
func (c *Console) cycleAction(action string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		ctx := r.Context()
		id := patch.CycleID(r.PathValue("id"))
		f := r.PostForm
		in := server.CycleActionInput{Reason: f.Get("reason")}
		var (
			cv  *server.CycleView
			err error
			msg string
		)
		switch action {
		case "halt":
			cv, err = c.srv.HaltCycle(ctx, id, in)
			msg = "Cycle halted: nothing new starts until someone resumes it."
		case "resume":
			cv, err = c.srv.ResumeCycle(ctx, id, in)
			msg = "Cycle resumed: the failures so far are waived."
		case "abort":
			cv, err = c.srv.AbortCycle(ctx, id, in)
			msg = "Cycle aborted: unfinished deployments are cancelled."
		case "skip":
			upd := patch.UpdateID(f.Get("update_id"))
			cv, err = c.srv.SkipCycleUpdate(ctx, id, upd, in)
			msg = "Update " + string(upd) + " skipped in this cycle; failed machines deploy the rest again."
		case "approve":
			ring := f.Get("ring")
			cv, err = c.srv.ApproveRing(ctx, id, ring, server.ApproveRingInput{Note: f.Get("note")})
			msg = "Ring " + ring + " approved: the next ring starts."
		case "reboots":
			cv, err = c.srv.ApproveReboots(ctx, id, server.ApproveRebootsInput{})
			msg = "Reboots approved: the machines restart and are verified."
		}
		if err != nil {
			form := newForm(f, "reason", "note", "update_id", "ring")
			if !form.setError(err, "reason", "note") {
				return err
			}
			p := &CyclePage{Action: action + f.Get("ring") + f.Get("update_id"), ActionForm: form}
			if lerr := c.loadCycle(ctx, r, s, p); lerr != nil {
				return lerr
			}
			return c.render(w, r, s, formStatus(err), tmplCycle, p)
		}
		return c.redirect(w, r, "/cycles/"+string(cv.ID), msg)
	}
}

func (c *Console) resolveTicket(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.TicketID(r.PathValue("id"))
	t, err := c.srv.ResolveTicket(r.Context(), id, server.ResolveTicketInput{Resolution: strings.TrimSpace(r.PostForm.Get("resolution"))})
	back := backTo(r.PostForm, "/cycles")
	if err != nil {
		if k := patch.ErrorKind(err); k == patch.KindInvalid || k == patch.KindConflict {
			c.setFlash(w, flashError, patch.ErrorMessage(err))
			http.Redirect(w, r, back, http.StatusSeeOther)
			return nil
		}
		return err
	}
	return c.redirect(w, r, back, "Ticket "+cmp.Or(t.Title, string(t.ID))+" resolved.")
}

// FormFor returns the action form with key (the action, plus the ring or
// update it is about) carrying the last error, or an empty form.
func (p *CyclePage) FormFor(key string) Form {
	if p.Action == key {
		return p.ActionForm
	}
	return newForm(nil)
}
