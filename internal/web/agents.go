package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Settings → Agents (docs/agent.md): enrollment secrets — create one with
// the copy-paste install commands shown once, see their uses and expiry,
// revoke — and the enrolled agents with their status, version and last
// check-in, each revocable with a reason.

func (c *Console) agentRoutes() {
	c.handle("GET /settings/agents", c.agentSettings)
	c.handle("POST /settings/enrollment", c.createEnrollmentSecret)
	c.handle("POST /settings/enrollment/{id}/revoke", c.revokeEnrollmentSecret)
	c.handle("POST /settings/agents/{id}/revoke", c.revokeAgent)
}

// settingsTabs are the settings pages.
var settingsTabs = []struct{ Key, Label, Href string }{
	{"general", "Organisation, users and tokens", "/settings"},
	{"agents", "Agents and enrollment", "/settings/agents"},
	{"notifications", "Notification channels", "/settings/notifications"},
}

// SettingsTabs returns the settings navigation with current marked.
func settingsNav(current string) []NavLink {
	out := make([]NavLink, 0, len(settingsTabs))
	for _, t := range settingsTabs {
		out = append(out, NavLink{Label: t.Label, Href: t.Href, Current: t.Key == current})
	}
	return out
}

// AgentsPage is Settings → Agents.
type AgentsPage struct {
	Page
	Tabs       []NavLink
	CanOperate bool
	Form       Form
	NewSecret  *server.NewEnrollmentSecret
	Clients    []Option
	Sites      []Option
	Secrets    []SecretRow
	Agents     []AgentRow
	AgentTotal int
	Pager      Pager
	Filter     Form
	Statuses   []Option
	FilterOpts []Option
}

// SecretRow is an enrollment secret in the list.
type SecretRow struct {
	*patch.EnrollmentSecret
	ClientName string
	Badge      Badge
	Active     bool
}

// AgentRow is an enrolled agent.
type AgentRow struct {
	*patch.Agent
	ClientName string
	AssetHref  string
	Badge      Badge
}

func agentBadge(s patch.AgentStatus) Badge {
	switch s {
	case patch.AgentOnline:
		return Badge{StatusOK, "Online"}
	case patch.AgentOffline:
		return Badge{StatusWarn, "Offline"}
	case patch.AgentRevoked:
		return Badge{StatusBad, "Revoked"}
	}
	return Badge{StatusUnknown, string(s)}
}

const agentPageSize = 50

func (c *Console) loadAgents(ctx context.Context, r *http.Request, s *session, p *AgentsPage) error {
	p.Title, p.Section = "Agents and enrollment", sectionSettings
	p.Crumbs = []Link{{Label: "Settings", Href: "/settings"}}
	p.Tabs = settingsNav("agents")
	p.CanOperate = s.Actor.Can(patch.PermOperate)
	clients, _, err := c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	names := map[patch.ClientID]string{}
	p.FilterOpts = []Option{{Value: "", Label: "Every client"}}
	for _, cl := range clients {
		names[cl.ID] = cl.Name
		p.Clients = append(p.Clients, Option{Value: string(cl.ID), Label: cl.Name})
		p.FilterOpts = append(p.FilterOpts, Option{Value: string(cl.ID), Label: cl.Name})
		sites, _, err := c.srv.Sites(ctx, patch.SiteFilter{ClientID: &cl.ID, Limit: patch.MaxLimit})
		if err != nil {
			return err
		}
		for _, st := range sites {
			p.Sites = append(p.Sites, Option{Value: string(st.ID), Label: cl.Name + " · " + st.Name})
		}
	}
	p.Sites = append([]Option{{Value: "", Label: "— none —"}}, p.Sites...)
	if p.Form.Values == nil {
		p.Form = newForm(nil)
	}
	now := c.now()
	secrets, _, err := c.srv.EnrollmentSecrets(ctx, patch.EnrollmentSecretFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	for _, e := range secrets {
		row := SecretRow{EnrollmentSecret: e, ClientName: names[e.ClientID]}
		switch {
		case !e.RevokedAt.IsZero():
			row.Badge = Badge{StatusBad, "Revoked"}
		case !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt):
			row.Badge = Badge{StatusUnknown, "Expired"}
		case e.MaxUses > 0 && e.Uses >= e.MaxUses:
			row.Badge = Badge{StatusUnknown, "Used up"}
		default:
			row.Badge, row.Active = Badge{StatusOK, "Active"}, true
		}
		p.Secrets = append(p.Secrets, row)
	}

	q := r.URL.Query()
	p.Filter = newForm(q, "client", "status")
	page := pageNumber(q)
	f := patch.AgentFilter{Limit: agentPageSize, Offset: (page - 1) * agentPageSize}
	if v := q.Get("client"); v != "" {
		id := patch.ClientID(v)
		f.ClientID = &id
	}
	p.Statuses = []Option{{Value: "", Label: "Any status"}}
	for _, st := range []patch.AgentStatus{patch.AgentOnline, patch.AgentOffline, patch.AgentRevoked} {
		p.Statuses = append(p.Statuses, Option{Value: string(st), Label: agentBadge(st).Label})
	}
	if v := q.Get("status"); v != "" {
		st := patch.AgentStatus(v)
		f.Status = &st
	}
	agents, total, err := c.srv.Agents(ctx, f)
	if err != nil {
		if !p.Filter.setError(err, "client", "status") {
			return err
		}
	}
	for _, a := range agents {
		p.Agents = append(p.Agents, AgentRow{Agent: a, ClientName: names[a.ClientID], AssetHref: "/assets/" + string(a.AssetID), Badge: agentBadge(a.Status)})
	}
	p.AgentTotal = total
	p.Pager = listPager(r.URL, page, total, agentPageSize)
	return nil
}

func (c *Console) agentSettings(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &AgentsPage{}
	if err := c.loadAgents(r.Context(), r, s, p); err != nil {
		return err
	}
	return c.render(w, r, s, formPageStatus(p.Filter), tmplAgents, p)
}

func (c *Console) createEnrollmentSecret(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	p := &AgentsPage{Form: newForm(f, "client_id", "name", "site_id", "class", "max_uses", "expires_at")}
	inputs := []string{"client_id", "name", "site_id", "class", "max_uses", "expires_at"}
	fail := func(err error) error {
		if !p.Form.setError(err, inputs...) {
			return err
		}
		if lerr := c.loadAgents(r.Context(), r, s, p); lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplAgents, p)
	}
	in := server.EnrollmentSecretInput{ClientID: patch.ClientID(f.Get("client_id")), Name: strings.TrimSpace(f.Get("name")),
		SiteID: patch.SiteID(f.Get("site_id")), Class: strings.TrimSpace(f.Get("class"))}
	if v := strings.TrimSpace(f.Get("max_uses")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fail(patch.FieldError("max_uses", "must be a whole number, 0 for no limit"))
		}
		in.MaxUses = n
	}
	exp, err := dateInput("expires_at", f.Get("expires_at"), true)
	if err != nil {
		return fail(err)
	}
	in.ExpiresAt = exp
	ns, err := c.srv.CreateEnrollmentSecret(r.Context(), in)
	if err != nil {
		return fail(err)
	}
	// The secret and its commands are shown on this response only.
	p.Form = newForm(nil)
	p.NewSecret = ns
	if err := c.loadAgents(r.Context(), r, s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplAgents, p)
}

func (c *Console) revokeEnrollmentSecret(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := c.srv.RevokeEnrollmentSecret(r.Context(), patch.EnrollmentSecretID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return c.redirect(w, r, "/settings/agents", "Enrollment secret "+e.Name+" revoked: no new machine can enroll with it; enrolled agents keep working.")
}

func (c *Console) revokeAgent(w http.ResponseWriter, r *http.Request, s *session) error {
	a, err := c.srv.RevokeAgent(r.Context(), patch.AgentID(r.PathValue("id")), strings.TrimSpace(r.PostForm.Get("reason")))
	if err != nil {
		if k := patch.ErrorKind(err); k == patch.KindInvalid || k == patch.KindConflict {
			c.setFlash(w, flashError, patch.ErrorMessage(err))
			http.Redirect(w, r, "/settings/agents", http.StatusSeeOther)
			return nil
		}
		return err
	}
	return c.redirect(w, r, "/settings/agents", "Agent on "+a.Hostname+" revoked: its requests are refused and the machine must enroll again.")
}
