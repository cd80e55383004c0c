package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// The exception register (docs/policy.md): every exception in scope with
// its aging and expiry, a client's register with the request form, and an
// exception's page with what it covers, the client owner's sign-off and
// revocation. Only a client-owner user of the exception's client can sign
// off (the server checks); the console shows the form to client owners.

func (c *Console) exceptionRoutes() {
	c.handle("GET /exceptions", c.allExceptions)
	c.handle("GET /clients/{id}/exceptions", c.clientExceptions)
	c.handle("POST /clients/{id}/exceptions", c.requestException)
	c.handle("GET /exceptions/{id}", c.exception)
	c.handle("POST /exceptions/{id}/sign-off", c.signOffException)
	c.handle("POST /exceptions/{id}/revoke", c.revokeException)
}

// ExceptionRow is an exception in the register.
type ExceptionRow struct {
	*patch.Exception
	Href       string
	ClientName string
	ClientHref string
	Badge      Badge
	Scope      string
	// OpenDays are whole days since it took effect (since the request
	// while it awaits sign-off); ToExpiry are days left, rounded up.
	OpenDays int
	ToExpiry int
	Expiry   Badge
}

func exceptionBadge(s patch.ExceptionState) Badge {
	switch s {
	case patch.ExceptionRequested:
		return Badge{StatusWarn, "Awaiting sign-off"}
	case patch.ExceptionApproved:
		return Badge{StatusInfo, "Signed off, not started"}
	case patch.ExceptionActive:
		return Badge{StatusOK, "Active"}
	case patch.ExceptionExpired:
		return Badge{StatusUnknown, "Expired"}
	case patch.ExceptionRevoked:
		return Badge{StatusBad, "Revoked"}
	}
	return Badge{StatusUnknown, string(s)}
}

func (c *Console) exceptionRow(x *patch.Exception, names map[patch.ClientID]string, host func(patch.AssetID) string) ExceptionRow {
	now := c.now()
	r := ExceptionRow{Exception: x, Href: "/exceptions/" + string(x.ID), ClientName: names[x.ClientID], ClientHref: "/clients/" + string(x.ClientID),
		Badge: exceptionBadge(x.State), Scope: x.Scope.String()}
	if ids := x.Scope.AssetIDs; len(ids) > 0 && len(ids) <= 3 && host != nil {
		var hs []string
		for _, id := range ids {
			hs = append(hs, host(id))
		}
		_, updates, _ := strings.Cut(r.Scope, " × ")
		r.Scope = strings.Join(hs, ", ") + " × " + updates
	}
	since := x.RequestedAt
	switch {
	case !x.ActivatedAt.IsZero():
		since = x.ActivatedAt
	case !x.ApprovedAt.IsZero():
		since = x.ApprovedAt
	}
	end := now
	if x.State.Ended() && !x.EndedAt.IsZero() {
		end = x.EndedAt
	}
	r.OpenDays = max(0, int(end.Sub(since)/(24*time.Hour)))
	r.ToExpiry = int(math.Ceil(x.ExpiresAt.Sub(now).Hours() / 24))
	switch {
	case x.State.Ended():
		r.Expiry = Badge{StatusUnknown, "ended " + formatDay(cmp.Or(x.EndedAt, x.ExpiresAt))}
	case r.ToExpiry <= 14:
		r.Expiry = Badge{StatusBad, plural(max(r.ToExpiry, 0), "day") + " left"}
	case r.ToExpiry <= 30:
		r.Expiry = Badge{StatusWarn, plural(r.ToExpiry, "day") + " left"}
	default:
		r.Expiry = Badge{StatusOK, plural(r.ToExpiry, "day") + " left"}
	}
	return r
}

// ExceptionsPage is the register: every client's, or one client's with
// the request form.
type ExceptionsPage struct {
	Page
	Client *ClientHeader
	// AllClients shows the client column and filter (MSP staff's register).
	AllClients bool
	Form       Form
	Views      []Option
	Clients    []Option
	Lanes      []Option
	Rows       []ExceptionRow
	Total      int
	Pager      Pager
	// Aging counts the exceptions in effect by days open.
	Aging []Count
	// Request is the request form, on a client's page for those who may
	// request.
	CanRequest   bool
	Request      Form
	ControlKinds []Option
	LaneOpts     []Option
	MaxDays      int
	LegacyDays   int
	Controls     []int
}

const exceptionPageSize = 50

// exceptionViews are the register's views: which states, or expiring.
var exceptionViews = []Option{
	{Value: "", Label: "Current (awaiting, signed off, active)"},
	{Value: "expiring", Label: "Ending within 30 days"},
	{Value: "requested", Label: "Awaiting sign-off"},
	{Value: "active", Label: "Active"},
	{Value: "ended", Label: "Expired or revoked"},
	{Value: "all", Label: "All"},
}

func (c *Console) loadExceptions(ctx context.Context, r *http.Request, p *ExceptionsPage, client *patch.ClientID) error {
	q := r.URL.Query()
	view := q.Get("view")
	if view == "" && q.Get("state") != "" {
		view = q.Get("state") // ?state=requested from elsewhere
	}
	p.Form = newForm(q, "client", "lane")
	p.Form.Values.Set("view", view)
	page := pageNumber(q)
	f := patch.ExceptionFilter{ClientID: client, Limit: exceptionPageSize, Offset: (page - 1) * exceptionPageSize}
	switch view {
	case "":
		f.States = []patch.ExceptionState{patch.ExceptionRequested, patch.ExceptionApproved, patch.ExceptionActive}
	case "expiring":
		f.States = []patch.ExceptionState{patch.ExceptionApproved, patch.ExceptionActive}
		before := c.now().Add(expiringWithin)
		f.ExpiresBefore = &before
	case "requested", "active":
		f.States = []patch.ExceptionState{patch.ExceptionState(view)}
	case "ended":
		f.States = []patch.ExceptionState{patch.ExceptionExpired, patch.ExceptionRevoked}
	case "all":
	default:
		p.Form.Errors["view"] = "is not a view of the register"
	}
	p.Views = exceptionViews
	p.Lanes = []Option{{Value: "", Label: "Any lane"}, {Value: string(patch.LaneStandard), Label: "Standard"}, {Value: string(patch.LaneLegacy), Label: "Legacy (isolated)"}}
	switch l := q.Get("lane"); l {
	case "":
	case string(patch.LaneStandard), string(patch.LaneLegacy):
		lane := patch.ExceptionLane(l)
		f.Lane = &lane
	default:
		p.Form.Errors["lane"] = "must be standard or legacy"
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
	if client == nil && q.Get("client") != "" {
		id := patch.ClientID(q.Get("client"))
		f.ClientID = &id
	}
	xs, total, err := c.srv.Exceptions(ctx, f)
	if err != nil {
		return err
	}
	host := c.hostLookup(ctx)
	for _, x := range xs {
		p.Rows = append(p.Rows, c.exceptionRow(x, names, host))
	}
	p.Total = total
	p.Pager = listPager(r.URL, page, total, exceptionPageSize)

	// Aging of the exceptions in effect, by days open (docs/compliance.md).
	active, _, err := c.srv.Exceptions(ctx, patch.ExceptionFilter{ClientID: f.ClientID, States: []patch.ExceptionState{patch.ExceptionActive}, Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	buckets := []struct {
		label  string
		lo, hi int
	}{{"0–30 days open", 0, 30}, {"31–60 days", 31, 60}, {"61–90 days", 61, 90}, {"over 90 days", 91, math.MaxInt}}
	for _, b := range buckets {
		n := 0
		for _, x := range active {
			if d := c.exceptionRow(x, names, nil).OpenDays; d >= b.lo && d <= b.hi {
				n++
			}
		}
		p.Aging = append(p.Aging, Count{Label: b.label, N: n, Href: exceptionsHref(client, "active"), Warn: b.lo > 60})
	}
	return nil
}

func exceptionsHref(client *patch.ClientID, view string) string {
	base := "/exceptions"
	if client != nil {
		base = "/clients/" + string(*client) + "/exceptions"
	}
	if view == "" {
		return base
	}
	return base + "?view=" + view
}

func (c *Console) allExceptions(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &ExceptionsPage{AllClients: mspStaff(s.Actor)}
	p.Title, p.Section = "Exception register", sectionExcept
	if err := c.loadExceptions(r.Context(), r, p, nil); err != nil {
		return err
	}
	return c.render(w, r, s, formPageStatus(p.Form), tmplExceptions, p)
}

func (c *Console) clientExceptionsPage(ctx context.Context, r *http.Request, s *session, req Form) (*ExceptionsPage, error) {
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabExceptions)
	if err != nil {
		return nil, err
	}
	p := &ExceptionsPage{Client: h, Request: req, CanRequest: s.Actor.Can(patch.PermRequestChanges), Controls: []int{0, 1, 2}}
	p.Title, p.Section = h.Client.Name+" · Exceptions", c.clientSection(s)
	if err := c.loadExceptions(ctx, r, p, &h.Client.ID); err != nil {
		return nil, err
	}
	pol, err := c.srv.PolicyOf(ctx, h.Client.ID)
	if err != nil {
		return nil, err
	}
	p.MaxDays, p.LegacyDays = pol.Exceptions.MaxDays, pol.Exceptions.LegacyMaxDays
	p.ControlKinds = []Option{{Value: "", Label: "—"}}
	for _, k := range patch.ControlKinds {
		p.ControlKinds = append(p.ControlKinds, Option{Value: string(k), Label: controlName(k)})
	}
	p.LaneOpts = []Option{{Value: string(patch.LaneStandard), Label: "Standard: defer some findings"}, {Value: string(patch.LaneLegacy), Label: "Legacy: isolate assets that cannot take updates"}}
	if p.Request.Values.Get("asset_mode") == "" {
		p.Request.Values.Set("asset_mode", "assets")
	}
	if p.Request.Values.Get("update_mode") == "" {
		p.Request.Values.Set("update_mode", "updates")
	}
	return p, nil
}

var controlNames = map[patch.ControlKind]string{
	patch.ControlSegmentation:     "Network segmentation",
	patch.ControlRestrictedAccess: "Restricted access",
	patch.ControlExtraMonitoring:  "Extra monitoring",
	patch.ControlOther:            "Other",
}

func controlName(k patch.ControlKind) string { return cmp.Or(controlNames[k], string(k)) }

func (c *Console) clientExceptions(w http.ResponseWriter, r *http.Request, s *session) error {
	req := newForm(r.URL.Query(), "assets", "updates")
	if req.Get("assets") != "" || req.Get("updates") != "" {
		req.Values.Set("open", "1") // prefilled from an asset or a finding
	}
	p, err := c.clientExceptionsPage(r.Context(), r, s, req)
	if err != nil {
		return err
	}
	return c.render(w, r, s, formPageStatus(p.Form), tmplExceptions, p)
}

// exceptionFields maps the server's field paths to the request form's
// inputs, so each error shows next to the input it is about.
func exceptionField(f string) string {
	switch {
	case f == "scope":
		return "asset_mode"
	case strings.HasPrefix(f, "scope.asset_ids"):
		return "assets"
	case strings.HasPrefix(f, "scope.update_ids"):
		return "updates"
	case f == "scope.all_updates":
		return "update_mode"
	case strings.HasPrefix(f, "scope.tag"):
		return "tag"
	case f == "scope.product":
		return "product"
	}
	if m := controlField.FindStringSubmatch(f); m != nil {
		return "control_" + map[string]string{"kind": "kind", "description": "desc"}[m[2]] + "_" + m[1]
	}
	return f
}

var controlField = regexp.MustCompile(`^controls\[(\d+)\]\.(kind|description)$`)

// renameField returns err with its field renamed for the form.
func renameField(err error, rename func(string) string) error {
	var pe *patch.Error
	if !errors.As(err, &pe) || pe.Field == "" {
		return err
	}
	cp := *pe
	cp.Field = rename(pe.Field)
	return &cp
}

// dateInput parses a date input as the start of that UTC day, or the end
// of it with end set.
func dateInput(field, v string, end bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, patch.FieldError(field, "must be a date such as 2027-06-30")
	}
	if end {
		return d.Add(24*time.Hour - time.Second), nil
	}
	return d, nil
}

// resolveAssets turns host names or asset ids into asset ids of a client.
func (c *Console) resolveAssets(ctx context.Context, client patch.ClientID, text string) ([]patch.AssetID, error) {
	var out []patch.AssetID
	for _, tok := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' }) {
		if strings.HasPrefix(tok, patch.PrefixAsset+"_") {
			out = append(out, patch.AssetID(tok))
			continue
		}
		q := tok
		as, _, err := c.srv.Assets(ctx, patch.AssetFilter{ClientID: &client, Query: &q, Limit: 50})
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(as, func(a *patch.Asset) bool { return strings.EqualFold(a.Hostname, tok) })
		if i < 0 {
			return nil, patch.FieldError("assets", "no asset of this client is called %q", tok)
		}
		out = append(out, as[i].ID)
	}
	return out, nil
}

func (c *Console) requestException(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	client := patch.ClientID(r.PathValue("id"))
	f := r.PostForm
	keep := []string{"lane", "asset_mode", "assets", "tag", "update_mode", "updates", "product", "reason", "ticket_ref", "starts_at", "expires_at"}
	for i := range 3 {
		keep = append(keep, "control_kind_"+strconv.Itoa(i), "control_desc_"+strconv.Itoa(i))
	}
	var x *patch.Exception
	in, err := c.buildException(ctx, client, f)
	if err == nil {
		x, err = c.srv.RequestException(ctx, *in)
	}
	if err != nil {
		form := newForm(f, keep...)
		form.Values.Set("open", "1")
		err = renameField(err, exceptionField)
		if !form.setError(err, keep...) {
			return err
		}
		p, lerr := c.clientExceptionsPage(ctx, r, s, form)
		if lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplExceptions, p)
	}
	return c.redirect(w, r, "/exceptions/"+string(x.ID), "Exception requested. It pauses no SLA clock until the client owner signs it off.")
}

// buildException reads the request form into the server's input.
func (c *Console) buildException(ctx context.Context, client patch.ClientID, f url.Values) (*server.ExceptionInput, error) {
	in := &server.ExceptionInput{ClientID: client, Lane: patch.ExceptionLane(f.Get("lane")), Reason: strings.TrimSpace(f.Get("reason")),
		TicketRef: strings.TrimSpace(f.Get("ticket_ref"))}
	switch f.Get("asset_mode") {
	case "all":
		in.Scope.AllAssets = true
	case "tag":
		k, v, _ := strings.Cut(strings.TrimSpace(f.Get("tag")), "=")
		if strings.TrimSpace(k) == "" {
			return nil, patch.FieldError("tag", "is required: a tag such as ephi=yes")
		}
		in.Scope.Tag = &patch.TagRef{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
	default:
		ids, err := c.resolveAssets(ctx, client, f.Get("assets"))
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, patch.FieldError("assets", "is required: host names or asset ids, or choose a tag or all assets")
		}
		in.Scope.AssetIDs = ids
	}
	switch f.Get("update_mode") {
	case "all":
		in.Scope.AllUpdates = true
	case "product":
		in.Scope.Product = strings.TrimSpace(f.Get("product"))
		if in.Scope.Product == "" {
			return nil, patch.FieldError("product", "is required: a product such as Windows Server 2019")
		}
	default:
		for _, u := range strings.FieldsFunc(f.Get("updates"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
			in.Scope.UpdateIDs = append(in.Scope.UpdateIDs, patch.UpdateID(u))
		}
		if len(in.Scope.UpdateIDs) == 0 {
			return nil, patch.FieldError("updates", "is required: update ids, or choose a product or all updates")
		}
	}
	for i := range 3 {
		k, d := f.Get(fmt.Sprintf("control_kind_%d", i)), strings.TrimSpace(f.Get(fmt.Sprintf("control_desc_%d", i)))
		if k == "" && d == "" {
			continue
		}
		if k == "" {
			return nil, patch.FieldError(fmt.Sprintf("control_kind_%d", i), "is required with a description")
		}
		in.Controls = append(in.Controls, patch.CompensatingControl{Kind: patch.ControlKind(k), Description: d})
	}
	var err error
	if in.ExpiresAt, err = dateInput("expires_at", f.Get("expires_at"), true); err != nil {
		return nil, err
	}
	if in.StartsAt, err = dateInput("starts_at", f.Get("starts_at"), false); err != nil {
		return nil, err
	}
	if !in.StartsAt.IsZero() && !in.StartsAt.After(c.now()) {
		in.StartsAt = time.Time{} // today: from the sign-off
	}
	return in, nil
}

// ExceptionPage is one exception.
type ExceptionPage struct {
	Page
	Row        ExceptionRow
	Findings   FindingsTable
	Assets     []Link
	CanSignOff bool
	CanRevoke  bool
	SignForm   Form
	RevokeForm Form
	Changes    []AuditRow
}

func (c *Console) loadException(ctx context.Context, r *http.Request, s *session, p *ExceptionPage) error {
	x, err := c.srv.Exception(ctx, patch.ExceptionID(r.PathValue("id")))
	if err != nil {
		return err
	}
	cl, err := c.srv.Client(ctx, x.ClientID)
	if err != nil {
		return err
	}
	p.Row = c.exceptionRow(x, map[patch.ClientID]string{cl.ID: cl.Name}, c.hostLookup(ctx))
	p.Title, p.Section = "Exception "+string(x.ID), sectionExcept
	if clientScoped(s.Actor) {
		p.Section = sectionClient
	}
	p.Crumbs = []Link{{Label: cl.Name, Href: "/clients/" + string(cl.ID)}, {Label: "Exceptions", Href: "/clients/" + string(cl.ID) + "/exceptions"}}
	owner := s.Actor.Role == patch.RoleClientOwner
	p.CanSignOff = owner && x.State == patch.ExceptionRequested
	p.CanRevoke = !x.State.Ended() && (s.Actor.Can(patch.PermOperate) || owner)
	for _, id := range x.Scope.AssetIDs {
		label := string(id)
		if a, err := c.srv.Asset(ctx, id); err == nil {
			label = a.Hostname
		}
		p.Assets = append(p.Assets, Link{Label: label, Href: "/assets/" + string(id)})
	}
	vs, err := c.srv.ExceptionFindings(ctx, x.ID)
	if err != nil {
		return err
	}
	pol, err := c.srv.PolicyOf(ctx, x.ClientID)
	if err != nil {
		return err
	}
	tiers := map[string]string{}
	for _, t := range pol.Tiers {
		tiers[t.Key] = t.Name
	}
	p.Findings = FindingsTable{Rows: c.findingRows(vs, tiers, false), ShowAsset: true}
	id := string(x.ID)
	entries, _, err := c.srv.AuditLog(ctx, patch.AuditFilter{EntityID: &id, Limit: 20})
	switch {
	case err == nil:
		p.Changes = c.auditRows(entries, map[patch.ClientID]string{cl.ID: cl.Name})
	case patch.ErrorKind(err) != patch.KindForbidden:
		return err
	}
	if p.SignForm.Values == nil {
		p.SignForm = newForm(nil)
	}
	if p.RevokeForm.Values == nil {
		p.RevokeForm = newForm(nil)
	}
	return nil
}

func (c *Console) exception(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &ExceptionPage{}
	if err := c.loadException(r.Context(), r, s, p); err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplException, p)
}

func (c *Console) signOffException(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ExceptionID(r.PathValue("id"))
	x, err := c.srv.SignOffException(r.Context(), id, strings.TrimSpace(r.PostForm.Get("note")))
	if err != nil {
		p := &ExceptionPage{SignForm: newForm(r.PostForm, "note")}
		if k := patch.ErrorKind(err); k == patch.KindNotFound || !p.SignForm.setError(err, "note") {
			return err
		}
		if lerr := c.loadException(r.Context(), r, s, p); lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplException, p)
	}
	msg := "Signed off: the exception is approved"
	if x.State == patch.ExceptionActive {
		msg += " and in effect until " + formatTime(x.ExpiresAt) + "."
	} else {
		msg += "; it takes effect on " + formatTime(x.StartsAt) + "."
	}
	return c.redirect(w, r, "/exceptions/"+string(id), msg)
}

func (c *Console) revokeException(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ExceptionID(r.PathValue("id"))
	_, err := c.srv.RevokeException(r.Context(), id, strings.TrimSpace(r.PostForm.Get("reason")))
	if err != nil {
		p := &ExceptionPage{RevokeForm: newForm(r.PostForm, "reason")}
		if k := patch.ErrorKind(err); k == patch.KindNotFound || !p.RevokeForm.setError(err, "reason") {
			return err
		}
		if lerr := c.loadException(r.Context(), r, s, p); lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplException, p)
	}
	return c.redirect(w, r, "/exceptions/"+string(id), "Exception revoked: its findings are back under the SLA.")
}

// hostLookup returns a cached host-name lookup for one request: an asset
// the caller cannot see (or that was deleted) shows its id.
func (c *Console) hostLookup(ctx context.Context) func(patch.AssetID) string {
	cache := map[patch.AssetID]string{}
	return func(id patch.AssetID) string {
		if h, ok := cache[id]; ok {
			return h
		}
		h := string(id)
		if a, err := c.srv.Asset(ctx, id); err == nil {
			h = a.Hostname
		}
		cache[id] = h
		return h
	}
}
