package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Policy editing in the console. The form edits the stored document in
// place: general rules, every SLA matrix cell (deadline, windows, reboot
// policy, manual approval), the maintenance windows (add, change, delete),
// the rings' shares, exclusions and gates, and the auto-approval rules.
// Tiers, listed ring members and blackout dates are kept as they are (the
// policy file, `patchring policy apply`, edits those).
//
// Inputs are named by the JSON path of the value they edit
// ("sla.matrix[3].deadline"), the same path the server's validation names
// in its error, so an error lands next to the input it is about. "Preview"
// runs the same validation as a dry run and shows the exact changes;
// "Save" stores the document at the version the form was read at.

// PolicyEditPage is the policy form.
type PolicyEditPage struct {
	Page
	Client  *ClientHeader
	Form    Form
	Policy  *patch.Policy
	Matrix  []MatrixRowEdit
	Tiers   []patch.Tier
	Windows []WindowEdit
	Rings   []RingEdit
	Rules   []RuleEdit
	// Preview is the dry run's answer.
	Preview                                                       *server.PolicyChange
	Anchors, RebootModes, Approvers, WindowKinds, Weekdays, Weeks []Option
}

// MatrixRowEdit is one class of the matrix with its cells per tier.
type MatrixRowEdit struct {
	Class string
	Name  string
	Cells []*CellEdit
}

// CellEdit names the inputs of one matrix cell; nil cells (no cell of
// their own) use the "*" row.
type CellEdit struct {
	I                                        int
	Tier                                     string
	Deadline, Windows, Mode, Slot, Deferrals string
	Manual                                   string
}

// WindowEdit names the inputs of one window; New is the empty row that
// adds one.
type WindowEdit struct {
	I    int
	New  bool
	Name string
	// Orig is the window's name when the form was read (to keep its
	// blackouts and effective dates).
	Orig string
	P    string // input name prefix: "windows[2]"
}

// RingEdit names the inputs of one ring.
type RingEdit struct {
	I    int
	Ring patch.Ring
	Last bool
	P    string
}

// RuleEdit names the inputs of one approval rule.
type RuleEdit struct {
	I   int
	New bool
	P   string
}

// In returns the input name of a field under the row's prefix.
func (w WindowEdit) In(f string) string { return w.P + "." + f }

// In returns the input name of a field under the ring's prefix.
func (r RingEdit) In(f string) string { return r.P + "." + f }

// In returns the input name of a field under the rule's prefix.
func (r RuleEdit) In(f string) string { return r.P + "." + f }

var weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// policyValues writes a policy as form values, named by JSON path.
func policyValues(p *patch.Policy) url.Values {
	v := url.Values{}
	set := func(k, s string) { v.Set(k, s) }
	list := func(k string, ss []string) { v.Set(k, strings.Join(ss, ", ")) }
	set("version", strconv.Itoa(p.Version))
	set("sla.anchor", string(p.SLA.Anchor))
	set("sla.due_soon_pct", strconv.Itoa(p.SLA.DueSoonPct))
	if p.Emergency.Enabled {
		set("emergency.enabled", "on")
	}
	set("emergency.notice", string(p.Emergency.Notice))
	list("emergency.tiers", p.Emergency.Tiers)
	set("exceptions.max_days", strconv.Itoa(p.Exceptions.MaxDays))
	set("exceptions.legacy_max_days", strconv.Itoa(p.Exceptions.LegacyMaxDays))
	set("agent_offline_after", string(p.AgentOfflineAfter))
	for i, c := range p.SLA.Matrix {
		f := fmt.Sprintf("sla.matrix[%d]", i)
		set(f+".deadline", string(c.Deadline))
		list(f+".windows", c.Windows)
		set(f+".reboot.mode", string(c.Reboot.Mode))
		set(f+".reboot.slot", c.Reboot.Slot)
		if c.Reboot.Mode == patch.RebootUserPrompted {
			set(f+".reboot.deferrals", strconv.Itoa(c.Reboot.Deferrals))
		}
		if c.ManualApproval {
			set(f+".manual_approval", "on")
		}
	}
	for i, w := range p.Windows {
		f := fmt.Sprintf("windows[%d]", i)
		set(f+".name", w.Name)
		set(f+".orig", w.Name)
		set(f+".duration", w.Duration)
		set(f+".time_zone", w.TimeZone)
		switch {
		case w.Weekly != nil:
			set(f+".kind", "weekly")
			for _, d := range w.Weekly.Days {
				v.Add(f+".weekly.days", strings.ToLower(d))
			}
			set(f+".weekly.start", w.Weekly.Start)
		case w.MonthlyWeekday != nil:
			set(f+".kind", "monthly_weekday")
			set(f+".monthly_weekday.week", strconv.Itoa(w.MonthlyWeekday.Week))
			set(f+".monthly_weekday.day", strings.ToLower(w.MonthlyWeekday.Day))
			set(f+".monthly_weekday.offset_days", strconv.Itoa(w.MonthlyWeekday.OffsetDays))
			set(f+".monthly_weekday.start", w.MonthlyWeekday.Start)
		case w.MonthlyDay != nil:
			set(f+".kind", "monthly_day")
			set(f+".monthly_day.day", strconv.Itoa(w.MonthlyDay.Day))
			set(f+".monthly_day.start", w.MonthlyDay.Start)
		case w.RRule != "":
			set(f+".kind", "rrule")
			set(f+".rrule", w.RRule)
		}
	}
	for i, r := range p.Rings {
		f := fmt.Sprintf("rings[%d]", i)
		set(f+".name", r.Name)
		if r.Percent != 0 {
			set(f+".percent", strconv.FormatFloat(r.Percent, 'f', -1, 64))
		}
		list(f+".exclude_classes", r.ExcludeClasses)
		var tags []string
		for _, t := range r.Tags {
			tags = append(tags, t.String())
		}
		list(f+".tags", tags)
		if pr := r.Promotion; pr != nil {
			set(f+".promotion.soak", string(pr.Soak))
			set(f+".promotion.failure_threshold_pct", strconv.FormatFloat(pr.FailureThresholdPct, 'f', -1, 64))
			set(f+".promotion.min_sample", strconv.Itoa(pr.MinSample))
			set(f+".promotion.approver", string(pr.Approver))
		}
	}
	for i, r := range p.Approval.Rules {
		f := fmt.Sprintf("approval.rules[%d]", i)
		set(f+".name", r.Name)
		list(f+".classifications", r.Classifications)
		list(f+".tiers", r.Tiers)
		list(f+".products", r.Products)
		list(f+".sources", r.Sources)
		set(f+".after_days", strconv.Itoa(r.AfterDays))
	}
	return v
}

// splitList reads a comma-separated input.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// formInt reads a whole number; a bad one is a field error.
func formInt(v url.Values, k string) (int, error) {
	s := strings.TrimSpace(v.Get(k))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, patch.FieldError(k, "must be a whole number (got %q)", s)
	}
	return n, nil
}

func formFloat(v url.Values, k string) (float64, error) {
	s := strings.TrimSpace(v.Get(k))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, patch.FieldError(k, "must be a number (got %q)", s)
	}
	return n, nil
}

// applyPolicyForm changes the stored policy by the form's values. It
// reports input errors (not numbers) as field errors named like the
// inputs; the server's validation does the rest.
func applyPolicyForm(cur *patch.Policy, v url.Values) (*patch.Policy, error) {
	p := *cur
	p.SLA.Matrix = slices.Clone(cur.SLA.Matrix)
	p.Rings = slices.Clone(cur.Rings)
	var err error
	if p.Version, err = formInt(v, "version"); err != nil {
		return nil, err
	}
	p.SLA.Anchor = patch.Anchor(v.Get("sla.anchor"))
	if p.SLA.DueSoonPct, err = formInt(v, "sla.due_soon_pct"); err != nil {
		return nil, err
	}
	p.Emergency.Enabled = v.Get("emergency.enabled") != ""
	p.Emergency.Notice = patch.Duration(strings.TrimSpace(v.Get("emergency.notice")))
	p.Emergency.Tiers = splitList(v.Get("emergency.tiers"))
	if p.Exceptions.MaxDays, err = formInt(v, "exceptions.max_days"); err != nil {
		return nil, err
	}
	if p.Exceptions.LegacyMaxDays, err = formInt(v, "exceptions.legacy_max_days"); err != nil {
		return nil, err
	}
	p.AgentOfflineAfter = patch.Duration(strings.TrimSpace(v.Get("agent_offline_after")))

	for i := range p.SLA.Matrix {
		f := fmt.Sprintf("sla.matrix[%d]", i)
		c := &p.SLA.Matrix[i]
		c.Deadline = patch.Duration(strings.TrimSpace(v.Get(f + ".deadline")))
		c.Windows = splitList(v.Get(f + ".windows"))
		c.Reboot = patch.RebootPolicy{Mode: patch.RebootMode(v.Get(f + ".reboot.mode"))}
		if c.Reboot.Mode == patch.RebootScheduled {
			c.Reboot.Slot = strings.TrimSpace(v.Get(f + ".reboot.slot"))
		}
		if c.Reboot.Mode == patch.RebootUserPrompted {
			if c.Reboot.Deferrals, err = formInt(v, f+".reboot.deferrals"); err != nil {
				return nil, err
			}
		}
		c.ManualApproval = v.Get(f+".manual_approval") != ""
	}

	// Windows: the rows read, minus deleted ones, plus a filled-in new row.
	orig := map[string]patch.MaintenanceWindow{}
	for _, w := range cur.Windows {
		orig[w.Name] = w
	}
	p.Windows = nil
	for i := 0; i <= len(cur.Windows); i++ {
		f := fmt.Sprintf("windows[%d]", i)
		name := strings.TrimSpace(v.Get(f + ".name"))
		if v.Get(f+".delete") != "" || i == len(cur.Windows) && name == "" {
			continue
		}
		w := patch.MaintenanceWindow{Name: name, Duration: strings.TrimSpace(v.Get(f + ".duration")), TimeZone: strings.TrimSpace(v.Get(f + ".time_zone"))}
		if o, ok := orig[v.Get(f+".orig")]; ok {
			w.Blackouts, w.EffectiveFrom, w.EffectiveUntil = o.Blackouts, o.EffectiveFrom, o.EffectiveUntil
		}
		switch v.Get(f + ".kind") {
		case "weekly":
			w.Weekly = &patch.WeeklyRecurrence{Days: v[f+".weekly.days"], Start: strings.TrimSpace(v.Get(f + ".weekly.start"))}
			if w.Weekly.Days == nil {
				w.Weekly.Days = []string{}
			}
		case "monthly_weekday":
			m := &patch.MonthlyWeekdayRecurs{Day: v.Get(f + ".monthly_weekday.day"), Start: strings.TrimSpace(v.Get(f + ".monthly_weekday.start"))}
			if m.Week, err = formInt(v, f+".monthly_weekday.week"); err != nil {
				return nil, err
			}
			if m.OffsetDays, err = formInt(v, f+".monthly_weekday.offset_days"); err != nil {
				return nil, err
			}
			w.MonthlyWeekday = m
		case "monthly_day":
			m := &patch.MonthlyDayRecurs{Start: strings.TrimSpace(v.Get(f + ".monthly_day.start"))}
			if m.Day, err = formInt(v, f+".monthly_day.day"); err != nil {
				return nil, err
			}
			w.MonthlyDay = m
		case "rrule":
			w.RRule = strings.TrimSpace(v.Get(f + ".rrule"))
		}
		p.Windows = append(p.Windows, w)
	}
	if p.Windows == nil {
		p.Windows = []patch.MaintenanceWindow{}
	}

	for i := range p.Rings {
		f := fmt.Sprintf("rings[%d]", i)
		r := &p.Rings[i]
		r.Name = strings.TrimSpace(v.Get(f + ".name"))
		if r.Percent, err = formFloat(v, f+".percent"); err != nil {
			return nil, err
		}
		r.ExcludeClasses = splitList(v.Get(f + ".exclude_classes"))
		r.Tags = nil
		for _, t := range splitList(v.Get(f + ".tags")) {
			k, val, _ := strings.Cut(t, "=")
			r.Tags = append(r.Tags, patch.TagRef{Key: strings.TrimSpace(k), Value: strings.TrimSpace(val)})
		}
		if r.Promotion != nil {
			pr := *r.Promotion
			pr.Soak = patch.Duration(strings.TrimSpace(v.Get(f + ".promotion.soak")))
			if pr.FailureThresholdPct, err = formFloat(v, f+".promotion.failure_threshold_pct"); err != nil {
				return nil, err
			}
			if pr.MinSample, err = formInt(v, f+".promotion.min_sample"); err != nil {
				return nil, err
			}
			pr.Approver = patch.Approver(v.Get(f + ".promotion.approver"))
			r.Promotion = &pr
		}
	}

	p.Approval.Rules = nil
	for i := 0; i <= len(cur.Approval.Rules); i++ {
		f := fmt.Sprintf("approval.rules[%d]", i)
		name := strings.TrimSpace(v.Get(f + ".name"))
		if v.Get(f+".delete") != "" || i == len(cur.Approval.Rules) && name == "" {
			continue
		}
		r := patch.ApprovalRule{Name: name, Classifications: splitList(v.Get(f + ".classifications")), Tiers: splitList(v.Get(f + ".tiers")),
			Products: splitList(v.Get(f + ".products")), Sources: splitList(v.Get(f + ".sources"))}
		if r.AfterDays, err = formInt(v, f+".after_days"); err != nil {
			return nil, err
		}
		p.Approval.Rules = append(p.Approval.Rules, r)
	}
	if p.Approval.Rules == nil {
		p.Approval.Rules = []patch.ApprovalRule{}
	}
	return &p, nil
}

// indexSuffix matches a trailing list index or sub-field of a path.
var indexSuffix = regexp.MustCompile(`(\[\d+\]|\.[a-z_]+)$`)

// policyInput maps a server error's field to the input that shows it:
// the exact input when there is one, else the nearest enclosing one
// ("sla.matrix[1].windows[0]" → "sla.matrix[1].windows"); a window
// without a recurrence goes to its kind.
func policyInput(field string, inputs map[string]bool) string {
	if m := regexp.MustCompile(`^windows\[\d+\]$`).FindString(field); m != "" {
		return field + ".kind"
	}
	for f := field; f != ""; {
		if inputs[f] {
			return f
		}
		next := indexSuffix.ReplaceAllString(f, "")
		if next == f {
			break
		}
		f = next
	}
	return field
}

func (c *Console) policyEditPage(r *http.Request, s *session, form Form, pol *patch.Policy) (*PolicyEditPage, error) {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabPolicy)
	if err != nil {
		return nil, err
	}
	if pol == nil {
		if pol, err = c.srv.PolicyOf(ctx, h.Client.ID); err != nil {
			return nil, err
		}
	}
	p := &PolicyEditPage{Client: h, Form: form, Policy: pol, Tiers: pol.Tiers}
	p.Title, p.Section = h.Client.Name+" · Edit policy", c.clientSection(s)
	p.Crumbs = []Link{{Label: h.Client.Name, Href: h.Href}, {Label: "Policy", Href: h.Href + "/policy"}}
	if p.Form.Values == nil {
		p.Form = Form{Values: policyValues(pol), Errors: map[string]string{}}
	}
	// The matrix as rows of classes (the client's, then "*") and columns
	// of tiers.
	classes := []struct{ key, name string }{}
	for _, ac := range h.Client.AssetClasses {
		classes = append(classes, struct{ key, name string }{ac.Key, ac.Name})
	}
	classes = append(classes, struct{ key, name string }{patch.AnyClass, "Any other class (*)"})
	for _, cl := range classes {
		row := MatrixRowEdit{Class: cl.key, Name: cl.name}
		any := false
		for _, t := range pol.Tiers {
			var ce *CellEdit
			for i, cell := range pol.SLA.Matrix {
				if cell.Class == cl.key && cell.Tier == t.Key {
					f := fmt.Sprintf("sla.matrix[%d]", i)
					ce = &CellEdit{I: i, Tier: t.Key, Deadline: f + ".deadline", Windows: f + ".windows", Mode: f + ".reboot.mode",
						Slot: f + ".reboot.slot", Deferrals: f + ".reboot.deferrals", Manual: f + ".manual_approval"}
					any = true
				}
			}
			row.Cells = append(row.Cells, ce)
		}
		if any {
			p.Matrix = append(p.Matrix, row)
		}
	}
	for i, w := range pol.Windows {
		p.Windows = append(p.Windows, WindowEdit{I: i, Name: w.Name, Orig: w.Name, P: fmt.Sprintf("windows[%d]", i)})
	}
	p.Windows = append(p.Windows, WindowEdit{I: len(pol.Windows), New: true, P: fmt.Sprintf("windows[%d]", len(pol.Windows))})
	for i, rg := range pol.Rings {
		p.Rings = append(p.Rings, RingEdit{I: i, Ring: rg, Last: i == len(pol.Rings)-1, P: fmt.Sprintf("rings[%d]", i)})
	}
	for i := range pol.Approval.Rules {
		p.Rules = append(p.Rules, RuleEdit{I: i, P: fmt.Sprintf("approval.rules[%d]", i)})
	}
	p.Rules = append(p.Rules, RuleEdit{I: len(pol.Approval.Rules), New: true, P: fmt.Sprintf("approval.rules[%d]", len(pol.Approval.Rules))})
	p.Anchors = []Option{{Value: string(patch.AnchorFirstSeen), Label: "first seen by a scan"}, {Value: string(patch.AnchorRelease), Label: "vendor release (when earlier)"}}
	p.RebootModes = []Option{{Value: string(patch.RebootScheduled), Label: "scheduled"}, {Value: string(patch.RebootUserPrompted), Label: "user prompted"},
		{Value: string(patch.RebootManual), Label: "manual approval"}, {Value: string(patch.RebootNever), Label: "never"}}
	p.Approvers = []Option{{Value: string(patch.ApproverAutomatic), Label: "automatic"}, {Value: string(patch.ApproverMSP), Label: "the MSP"}, {Value: string(patch.ApproverClientOwner), Label: "the client owner"}}
	p.WindowKinds = []Option{{Value: "weekly", Label: "weekly"}, {Value: "monthly_weekday", Label: "nth weekday of the month"}, {Value: "monthly_day", Label: "day of the month"}, {Value: "rrule", Label: "RRULE"}}
	for _, d := range weekdays {
		p.Weekdays = append(p.Weekdays, Option{Value: d, Label: strings.ToUpper(d[:1]) + d[1:3]})
	}
	for i := 1; i <= 5; i++ {
		p.Weeks = append(p.Weeks, Option{Value: strconv.Itoa(i), Label: []string{"1st", "2nd", "3rd", "4th", "5th"}[i-1]})
	}
	p.Weeks = append(p.Weeks, Option{Value: "-1", Label: "last"})
	return p, nil
}

// Checked reports whether a checkbox input is set in the form.
func (p *PolicyEditPage) Checked(name, value string) bool {
	return slices.Contains(p.Form.Values[name], value)
}

// Choices marks the option of an input's value as selected.
func (p *PolicyEditPage) Choices(name string, opts []Option) []Option {
	out := make([]Option, len(opts))
	cur := p.Form.Get(name)
	for i, o := range opts {
		o.Selected = o.Value == cur
		out[i] = o
	}
	return out
}

func (c *Console) editPolicy(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.policyEditPage(r, s, Form{}, nil)
	if err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, tmplPolicyEdit, p)
}

func (c *Console) savePolicy(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	id := patch.ClientID(r.PathValue("id"))
	cur, err := c.srv.PolicyOf(ctx, id)
	if err != nil {
		return err
	}
	form := Form{Values: r.PostForm, Errors: map[string]string{}}
	dry := r.PostForm.Get("action") == "preview"
	next, err := applyPolicyForm(cur, r.PostForm)
	if err == nil && next.Version != cur.Version {
		// The server treats version 0 as "overwrite"; a form read from the
		// defaults must not silently replace a policy stored since.
		err = &patch.Error{Kind: patch.KindConflict, Field: "version", Message: fmt.Sprintf(
			"The policy changed since version %d was read (it is at version %d now): reload the form and make your change again.", next.Version, cur.Version)}
	}
	var change *server.PolicyChange
	if err == nil {
		change, err = c.srv.PutPolicy(ctx, id, next, dry)
	}
	if err != nil || dry {
		inputs := map[string]bool{}
		for k := range r.PostForm {
			inputs[k] = true
		}
		for k := range policyValues(cur) {
			inputs[k] = true
		}
		delete(inputs, "version") // hidden: its errors go above the form
		if err != nil {
			renamed := renameField(err, func(f string) string { return policyInput(f, inputs) })
			var ok bool
			if f := patch.ErrorField(renamed); inputs[f] {
				ok = form.setError(renamed, f)
			} else {
				ok = form.setError(renamed)
			}
			if !ok {
				return err
			}
		}
		p, lerr := c.policyEditPage(r, s, form, cur)
		if lerr != nil {
			return lerr
		}
		p.Preview = change
		status := http.StatusOK
		if err != nil {
			status = formStatus(err)
		}
		return c.render(w, r, s, status, tmplPolicyEdit, p)
	}
	msg := fmt.Sprintf("Policy saved as version %d: %s; %s re-evaluated.", change.Policy.Version, plural(len(change.Changes), "change"), plural(change.Evaluated, "finding"))
	for _, wn := range change.Warnings {
		msg += " Warning: " + wn
	}
	return c.redirect(w, r, "/clients/"+string(id)+"/policy", msg)
}
