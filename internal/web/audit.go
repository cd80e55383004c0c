package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

func (c *Console) auditRoutes() {
	c.handle("GET /audit", c.audit)
}

// auditPageSize is the number of entries per page.
const auditPageSize = 50

// AuditPage is the audit log.
type AuditPage struct {
	Page
	Form    Form
	Clients []Option
	Types   []Option
	Rows    []AuditRow
	Total   int
	Pager   Pager
}

// AuditRow is one audit entry, ready to show.
type AuditRow struct {
	*patch.AuditEntry
	ActorLabel string
	ClientName string
	ClientHref string
	EntityHref string
	Changes    []Change
}

// Change is one field an audited change touched.
type Change struct {
	Field, Before, After string
}

// entityTypes are the audited entity types offered as a filter.
var entityTypes = []string{"client", "site", "asset", "user", "token", "msp", "policy", "exception", "cycle", "report", "enrollment_secret", "agent"}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	q := r.URL.Query()
	p := &AuditPage{Form: newForm(q, "client", "type", "action", "entity", "actor")}
	p.Title, p.Section = "Audit log", sectionAudit
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		page = n
	}
	f := patch.AuditFilter{Limit: auditPageSize, Offset: (page - 1) * auditPageSize}
	opt := func(k string) *string {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			return &v
		}
		return nil
	}
	if v := opt("client"); v != nil {
		id := patch.ClientID(*v)
		f.ClientID = &id
	}
	f.EntityType, f.Action, f.EntityID, f.ActorID = opt("type"), opt("action"), opt("entity"), opt("actor")
	entries, total, err := c.srv.AuditLog(ctx, f)
	if err != nil {
		return err
	}
	clients, _, err := c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	names := map[patch.ClientID]string{}
	for _, cl := range clients {
		names[cl.ID] = cl.Name
		p.Clients = append(p.Clients, Option{Value: string(cl.ID), Label: cl.Name, Selected: string(cl.ID) == q.Get("client")})
	}
	for _, t := range entityTypes {
		p.Types = append(p.Types, Option{Value: t, Label: t, Selected: t == q.Get("type")})
	}
	p.Rows = c.auditRows(entries, names)
	p.Total = total
	p.Pager = auditPager(q, page, total)
	return c.render(w, r, s, http.StatusOK, tmplAudit, p)
}

func auditPager(q url.Values, page, total int) Pager {
	pages := max(1, (total+auditPageSize-1)/auditPageSize)
	p := Pager{Page: page, Pages: pages, Total: total}
	if total > 0 {
		p.First = (page-1)*auditPageSize + 1
		p.Last = min(total, page*auditPageSize)
	}
	link := func(n int) string {
		v := maps.Clone(q)
		if v == nil {
			v = url.Values{}
		}
		v.Set("page", strconv.Itoa(n))
		return "/audit?" + v.Encode()
	}
	if page > 1 {
		p.PrevHref, p.HasPrev = link(min(page-1, pages)), true
	}
	if page < pages {
		p.NextHref, p.HasNext = link(page+1), true
	}
	return p
}

// auditRows prepares entries for display.
func (c *Console) auditRows(entries []*patch.AuditEntry, clientNames map[patch.ClientID]string) []AuditRow {
	rows := make([]AuditRow, 0, len(entries))
	for _, e := range entries {
		row := AuditRow{AuditEntry: e, ActorLabel: e.Actor.Name}
		if e.Actor.Kind != patch.ActorUser && e.Actor.Kind != "" {
			row.ActorLabel += " (" + string(e.Actor.Kind) + ")"
		}
		if e.ClientID != "" {
			row.ClientName, row.ClientHref = clientNames[e.ClientID], "/clients/"+string(e.ClientID)
			if row.ClientName == "" {
				row.ClientName = string(e.ClientID)
			}
		}
		switch e.EntityType {
		case "asset":
			row.EntityHref = "/assets/" + e.EntityID
		case "client":
			row.EntityHref = "/clients/" + e.EntityID
		case "user":
			row.EntityHref = "/settings/users/" + e.EntityID
		case "exception":
			row.EntityHref = "/exceptions/" + e.EntityID
		case "cycle":
			row.EntityHref = "/cycles/" + e.EntityID
		case "report":
			row.EntityHref = "/reports/" + e.EntityID
		}
		if e.Action == "asset.delete" || e.Action == "client.delete" || e.Action == "user.delete" {
			row.EntityHref = ""
		}
		row.Changes = diffJSON(e.Before, e.After)
		rows = append(rows, row)
	}
	return rows
}

// ignoredFields change on every update and say nothing.
var ignoredFields = map[string]bool{"updated_at": true, "last_seen_at": true}

// diffJSON lists the top-level fields that differ between two JSON objects.
func diffJSON(before, after json.RawMessage) []Change {
	var b, a map[string]json.RawMessage
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	var out []Change
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if ignoredFields[k] {
			continue
		}
		bv, av := b[k], a[k]
		if bytes.Equal(bv, av) {
			continue
		}
		out = append(out, Change{Field: k, Before: showJSON(bv), After: showJSON(av)})
	}
	return out
}

// showJSON shortens a JSON value for a table cell.
func showJSON(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return "—"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if s == "" {
			return "(empty)"
		}
		v = json.RawMessage(s)
	}
	const maxLen = 160
	out := string(v)
	if len(out) > maxLen {
		cut := maxLen
		for cut > 0 && out[cut]&0xC0 == 0x80 {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}
