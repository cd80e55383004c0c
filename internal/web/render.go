package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

//go:embed templates
var templateFS embed.FS

// Template names: one per file in templates/pages.
const (
	tmplLogin       = "login"
	tmplError       = "error"
	tmplOverview    = "overview"
	tmplAssets      = "assets"
	tmplClientSites = "client_sites"
	tmplClientUsers = "client_users"
	tmplAsset       = "asset"
	tmplAudit       = "audit"
	tmplSettings    = "settings"
	tmplUser        = "user"
	tmplAccount     = "account"

	tmplCompliance       = "compliance"
	tmplComplianceAssets = "compliance_assets"
	tmplMonitors         = "monitors"
	tmplMetricFindings   = "metric_findings"
	tmplFindings         = "findings"
	tmplCycles           = "cycles"
	tmplCycle            = "cycle"
	tmplExceptions       = "exceptions"
	tmplException        = "exception"
	tmplPolicy           = "policy"
	tmplPolicyEdit       = "policy_edit"
	tmplRings            = "rings"
	tmplReports          = "reports"
	tmplReport           = "report"
	tmplEvidence         = "evidence"
	tmplAgents           = "agents"
	tmplChannels         = "channels"
	tmplRunbook          = "runbook"
)

// Page is what the layout needs. Every page struct embeds it; handlers set
// Title, Section and Crumbs, and render fills in the rest.
type Page struct {
	Title string
	// Section is the key of the navigation item to highlight.
	Section string
	Crumbs  []Link
	// Filled by render:
	Actor     patch.Actor
	LoggedIn  bool
	CSRF      string
	MSPName   string
	Nav       []NavLink
	Flash     *Flash
	Version   string
	RequestID string
	Now       time.Time
}

func (p *Page) page() *Page { return p }

// pageData is a typed page struct.
type pageData interface{ page() *Page }

// Link is a labelled URL.
type Link struct {
	Label string
	Href  string
}

// render executes page template name with data into a buffer and writes it
// with status, so a template error becomes a clean error page rather than
// half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data pageData) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("render: no template %q", name)
	}
	p := data.page()
	p.Version = c.version
	p.RequestID = patch.RequestIDFromContext(r.Context())
	p.Now = c.now()
	if f := c.takeFlash(w, r); p.Flash == nil {
		p.Flash = f
	}
	if s != nil {
		p.Actor, p.LoggedIn, p.CSRF = s.Actor, true, s.CSRF
		p.Nav = c.nav(s.Actor, p.Section)
		if m, err := c.srv.MSP(r.Context()); err == nil {
			p.MSPName = m.Name
		}
	}
	if p.MSPName == "" {
		p.MSPName = "Patchring"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// renderOrLog renders for handlers that cannot return an error.
func (c *Console) renderOrLog(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data pageData) {
	if err := c.render(w, r, s, status, name, data); err != nil {
		c.fail(w, r, s, err)
	}
}

// parseTemplates parses the layout and partials once, then each page on a
// clone of them.
func (c *Console) parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(c.funcs()).ParseFS(templateFS, "templates/layout.tmpl", "templates/partials.tmpl", "templates/shared/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/pages/*.tmpl")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		pages[strings.TrimSuffix(path.Base(f), ".tmpl")] = t
	}
	return pages, nil
}

// funcs are the template functions. Keep them about presentation; data
// belongs in page structs.
func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":     c.static.url,
		"when":      formatTime,
		"day":       formatDay,
		"ago":       func(t time.Time) string { return ago(c.now(), t) },
		"isoTime":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"osName":    osName,
		"roleName":  roleName,
		"plural":    plural,
		"num":       formatInt,
		"field":     field,
		"choice":    choice,
		"deref":     func(s *string) string { return deref(s) },
		"hasPrefix": strings.HasPrefix,
		"badge":     newBadge,
		// Patch-management presentation (rating.go).
		"pct":       pct,
		"pctv":      pctv,
		"hours":     hours,
		"gapName":   gapName,
		"slaBadge":  slaStatusBadge,
		"monBadge":  monitorBadge,
		"monTitle":  monitorTitle,
		"duration":  durationWords,
		"until":     func(t time.Time) string { return ago(c.now(), t) },
		"past":      func(t time.Time) bool { return !t.IsZero() && t.Before(c.now()) },
		"isZero":    func(t time.Time) bool { return t.IsZero() },
		"add":       func(a, b int) int { return a + b },
		"isTrue":    func(b *bool) bool { return b != nil && *b },
		"bytes":     formatBytes,
		"uint":      func(n int64) uint64 { return uint64(max(n, 0)) },
		"uint64int": func(n uint64) int { return int(min(n, uint64(math.MaxInt))) },
		"depBadge":  deploymentBadge,
		"short":     formatShort,
		"jobBadge":  jobBadge,
		"whole": func(f *float64) string {
			if f == nil {
				return "—"
			}
			return formatInt(int(math.Round(*f)))
		},
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// formatTime shows a time in UTC, to the minute. Sites have their own time
// zones, so the console shows one unambiguous zone rather than guessing
// the viewer's.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// formatDay shows the UTC date of a time.
func formatDay(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02")
}

// ago renders a duration before now in words.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// durationWords writes a duration as days, hours or minutes.
func durationWords(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/time.Minute), "minute")
}

// plural writes "1 asset", "2 assets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "x") {
		return formatInt(n) + " " + noun + "es"
	}
	if len(noun) > 1 && strings.HasSuffix(noun, "y") && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])) {
		return formatInt(n) + " " + noun[:len(noun)-1] + "ies"
	}
	return formatInt(n) + " " + noun + "s"
}

// formatInt groups thousands: 10,000.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

var osNames = map[patch.OSFamily]string{
	patch.OSWindows: "Windows",
	patch.OSMacOS:   "macOS",
	patch.OSLinux:   "Linux",
	patch.OSOther:   "Other",
}

func osName(f patch.OSFamily) string {
	if n, ok := osNames[f]; ok {
		return n
	}
	return string(f)
}

var roleNames = map[patch.Role]string{
	patch.RoleMSPAdmin:    "MSP admin",
	patch.RoleTechnician:  "Technician",
	patch.RoleAuditor:     "Auditor",
	patch.RoleClientOwner: "Client owner",
}

func roleName(r patch.Role) string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return string(r)
}

// Status is the state a badge shows. Every status has an icon and a word,
// so it reads without colour.
type Status string

// Statuses.
const (
	StatusOK      Status = "ok"
	StatusWarn    Status = "warn"
	StatusBad     Status = "bad"
	StatusInfo    Status = "info"
	StatusUnknown Status = "unknown"
)

// Badge is a status with its label.
type Badge struct {
	Status Status
	Label  string
}

// newBadge builds a badge in templates: {{template "badge" (badge "ok" "Online")}}.
func newBadge(s, label string) Badge { return Badge{Status: Status(s), Label: label} }

// Form carries a form's submitted values and errors back to its page.
type Form struct {
	Values url.Values
	// Errors are messages per input name.
	Errors map[string]string
	// Error is a message about the whole form.
	Error string
}

// newForm keeps the submitted values of the named inputs (never
// passwords).
func newForm(v url.Values, keep ...string) Form {
	f := Form{Values: url.Values{}, Errors: map[string]string{}}
	for _, k := range keep {
		if vs, ok := v[k]; ok {
			f.Values[k] = vs
		}
	}
	return f
}

// Get returns a submitted value.
func (f Form) Get(k string) string { return f.Values.Get(k) }

// Err returns the error of an input.
func (f Form) Err(k string) string { return f.Errors[k] }

// HasErrors reports whether the form has any error.
func (f Form) HasErrors() bool { return f.Error != "" || len(f.Errors) > 0 }

// setError shows err on the form: a patch error about one of the form's
// inputs goes next to it, other user errors above the form. It reports
// false for errors that are not the user's to fix (internal, unavailable),
// which the caller returns instead.
func (f *Form) setError(err error, inputs ...string) bool {
	switch patch.ErrorKind(err) {
	case patch.KindInvalid, patch.KindConflict, patch.KindForbidden, patch.KindNotFound, patch.KindTooLarge:
	default:
		return false
	}
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	field, msg := patch.ErrorField(err), patch.ErrorMessage(err)
	for _, in := range inputs {
		if field == in {
			f.Errors[in] = msg
			return true
		}
	}
	if field != "" {
		msg = field + ": " + msg
	}
	f.Error = msg
	return true
}

// SelectView is one labelled select for the "select" partial.
type SelectView struct {
	ID       string
	Name     string
	Label    string
	Options  []Option
	Error    string
	Required bool
	Hint     string
}

// choice builds a SelectView from a form, selecting the submitted value:
// {{template "select" (choice .Form "role" "Role" .Roles "required")}}.
// Extra arguments are as for field ("required", "hint=…", "id=PREFIX").
func choice(f Form, name, label string, opts []Option, extra ...string) SelectView {
	fv := field(f, name, label, "select", extra...)
	v := SelectView{ID: fv.ID, Name: name, Label: label, Error: fv.Error, Required: fv.Required, Hint: fv.Hint}
	cur := f.Get(name)
	for _, o := range opts {
		o.Selected = o.Value == cur
		v.Options = append(v.Options, o)
	}
	return v
}

// FieldView is one labelled input for the "field" partial.
type FieldView struct {
	// ID is the input's element id: "f-" and the name, or the prefix
	// given with "id=" when two forms on a page share input names.
	ID           string
	Name         string
	Label        string
	Type         string
	Value        string
	Error        string
	Autocomplete string
	Required     bool
	Hint         string
	Placeholder  string
}

// field builds a FieldView from a form: {{template "field" (field .Form
// "email" "E-mail" "email")}}. Extra arguments are "required",
// "autocomplete=…", "hint=…", "placeholder=…" and "id=PREFIX" (the input's id becomes
// f-PREFIX-NAME).
func field(f Form, name, label, typ string, extra ...string) FieldView {
	v := FieldView{ID: "f-" + name, Name: name, Label: label, Type: typ, Error: f.Err(name)}
	if typ != "password" {
		v.Value = f.Get(name)
	}
	for _, e := range extra {
		switch {
		case e == "required":
			v.Required = true
		case strings.HasPrefix(e, "autocomplete="):
			v.Autocomplete = strings.TrimPrefix(e, "autocomplete=")
		case strings.HasPrefix(e, "hint="):
			v.Hint = strings.TrimPrefix(e, "hint=")
		case strings.HasPrefix(e, "placeholder="):
			v.Placeholder = strings.TrimPrefix(e, "placeholder=")
		case strings.HasPrefix(e, "id="):
			v.ID = "f-" + strings.TrimPrefix(e, "id=") + "-" + name
		}
	}
	return v
}
