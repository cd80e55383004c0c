package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/schedule"
)

// Sources are the update sources approval rules may name.
var Sources = []string{"apt", "dnf", "wua", "winget", "softwareupdate", "brew"}

// Limits of policy values.
const (
	MinDeadline      = time.Hour
	MaxDeadline      = 365 * 24 * time.Hour
	MaxExceptionDays = 365
	MaxLegacyDays    = 3 * 365
)

// Validate checks a policy for a client with the given asset classes. It
// reports the first problem in document order as a patch.Error of kind
// invalid whose Field is the JSON path of the offending value
// ("sla.matrix[3].deadline"), so that "policy apply" can point at the line.
func Validate(p *patch.Policy, classes []patch.AssetClass) error {
	v := validator{p: p}
	for _, ac := range classes {
		v.classes = append(v.classes, ac.Key)
	}
	v.all()
	return v.err
}

type validator struct {
	p       *patch.Policy
	classes []string
	err     error
}

// fail records the first problem.
func (v *validator) fail(field, format string, args ...any) {
	if v.err == nil {
		v.err = patch.FieldError(field, format, args...)
	}
}

func (v *validator) key(field, s string) {
	if s == "" {
		v.fail(field, "is required")
		return
	}
	if len(s) > 40 {
		v.fail(field, "must be at most 40 characters")
		return
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')) {
			v.fail(field, "must start with a lowercase letter and contain only a-z, 0-9, '-', '_' and '.' (got %q)", s)
			return
		}
	}
}

func (v *validator) name(field, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		v.fail(field, "is required")
	case len([]rune(s)) > max:
		v.fail(field, "must be at most %d characters", max)
	case strings.ContainsFunc(s, func(r rune) bool { return r < ' ' }):
		v.fail(field, "must not contain control characters")
	}
}

func (v *validator) duration(field string, d patch.Duration, lo, hi time.Duration) time.Duration {
	x, err := d.Parse()
	if err != nil {
		v.fail(field, "%v", err)
		return 0
	}
	if x < lo || x > hi {
		v.fail(field, "must be between %s and %s (got %s)", patch.FormatDuration(lo), patch.FormatDuration(hi), d)
	}
	return x
}

func (v *validator) tier(field, key string) {
	if _, ok := v.p.Tier(key); !ok {
		v.fail(field, "unknown tier %q (tiers: %s)", key, strings.Join(v.tierKeys(), ", "))
	}
}

func (v *validator) tierKeys() []string {
	ks := make([]string, len(v.p.Tiers))
	for i, t := range v.p.Tiers {
		ks[i] = t.Key
	}
	return ks
}

func (v *validator) class(field, key string) {
	if !slices.Contains(v.classes, key) {
		v.fail(field, "unknown asset class %q (classes: %s)", key, strings.Join(v.classes, ", "))
	}
}

func (v *validator) all() {
	p := v.p
	if p.ClientID == "" {
		v.fail("client_id", "is required")
	}
	if p.Version < 0 {
		v.fail("version", "must not be negative")
	}
	v.tiers()
	v.windows()
	v.sla()
	v.emergency()
	v.approval()
	v.rings()
	if p.Exceptions.MaxDays < 1 || p.Exceptions.MaxDays > MaxExceptionDays {
		v.fail("exceptions.max_days", "must be between 1 and %d days", MaxExceptionDays)
	}
	if p.Exceptions.LegacyMaxDays < 1 || p.Exceptions.LegacyMaxDays > MaxLegacyDays {
		v.fail("exceptions.legacy_max_days", "must be between 1 and %d days", MaxLegacyDays)
	}
	v.duration("agent_offline_after", p.AgentOfflineAfter, time.Hour, 90*24*time.Hour)
}

func (v *validator) tiers() {
	ts := v.p.Tiers
	if len(ts) == 0 || len(ts) > 10 {
		v.fail("tiers", "must list 1 to 10 tiers")
		return
	}
	owner := map[patch.Level]string{}
	seen := map[string]bool{}
	for i, t := range ts {
		f := fmt.Sprintf("tiers[%d]", i)
		v.key(f+".key", t.Key)
		if seen[t.Key] {
			v.fail(f+".key", "duplicate tier %q", t.Key)
		}
		seen[t.Key] = true
		v.name(f+".name", t.Name, 100)
		for j, l := range t.Levels {
			lf := fmt.Sprintf("%s.levels[%d]", f, j)
			if !slices.Contains(patch.Levels, l) {
				v.fail(lf, "must be one of critical, high, medium, low, none (got %q)", string(l))
				continue
			}
			if o, dup := owner[l]; dup {
				v.fail(lf, "level %s is already in tier %s", l, o)
			}
			owner[l] = t.Key
		}
	}
	for _, l := range patch.Levels {
		if _, ok := owner[l]; !ok {
			v.fail("tiers", "level %s is in no tier: every level needs one", l)
		}
	}
}

func (v *validator) windows() {
	if len(v.p.Windows) > 50 {
		v.fail("windows", "must list at most 50 windows")
	}
	seen := map[string]bool{}
	for i, w := range v.p.Windows {
		f := fmt.Sprintf("windows[%d]", i)
		v.key(f+".name", w.Name)
		if seen[w.Name] {
			v.fail(f+".name", "duplicate window %q", w.Name)
		}
		seen[w.Name] = true
		if err := ScheduleWindow(w).Validate(); err != nil {
			var fes schedule.FieldErrors
			if errors.As(err, &fes) && len(fes) > 0 {
				fe := fes.WithPrefix(f)[0]
				v.fail(fe.Path, "%s", fe.Message)
			} else {
				v.fail(f, "%v", err)
			}
		}
	}
}

func (v *validator) sla() {
	s := v.p.SLA
	if s.Anchor != patch.AnchorFirstSeen && s.Anchor != patch.AnchorRelease {
		v.fail("sla.anchor", "must be first_seen or release (got %q)", string(s.Anchor))
	}
	if s.DueSoonPct < 1 || s.DueSoonPct > 99 {
		v.fail("sla.due_soon_pct", "must be between 1 and 99")
	}
	if len(s.Matrix) > 1000 {
		v.fail("sla.matrix", "must have at most 1000 cells")
	}
	seen := map[[2]string]int{}
	for i, c := range s.Matrix {
		f := fmt.Sprintf("sla.matrix[%d]", i)
		if c.Class != patch.AnyClass {
			v.class(f+".class", c.Class)
		}
		v.tier(f+".tier", c.Tier)
		k := [2]string{c.Class, c.Tier}
		if j, dup := seen[k]; dup {
			v.fail(f, "duplicate cell for class %s and tier %s (also sla.matrix[%d])", c.Class, c.Tier, j)
		}
		seen[k] = i
		v.duration(f+".deadline", c.Deadline, MinDeadline, MaxDeadline)
		for j, w := range c.Windows {
			if _, ok := v.p.Window(w); !ok {
				v.fail(fmt.Sprintf("%s.windows[%d]", f, j), "unknown window %q", w)
			}
		}
		v.reboot(f+".reboot", c.Reboot)
	}
	for _, t := range v.p.Tiers {
		_, wild := seen[[2]string{patch.AnyClass, t.Key}]
		for _, cl := range v.classes {
			if _, ok := seen[[2]string{cl, t.Key}]; !ok && !wild {
				v.fail("sla.matrix", "no cell for class %s and tier %s (add one, or a class \"*\" cell for the tier)", cl, t.Key)
			}
		}
	}
}

func (v *validator) reboot(f string, r patch.RebootPolicy) {
	switch r.Mode {
	case patch.RebootScheduled:
		if r.Slot == "" {
			v.fail(f+".slot", "is required for scheduled reboots (such as \"sunday 02:00\")")
		} else if _, err := schedule.ParseSlot(r.Slot); err != nil {
			v.fail(f+".slot", "must be a weekly slot such as \"sunday 02:00\" (got %q)", r.Slot)
		}
	case patch.RebootUserPrompted:
		if r.Deferrals < 0 || r.Deferrals > 10 {
			v.fail(f+".deferrals", "must be between 0 and 10")
		}
	case patch.RebootManual, patch.RebootNever:
	default:
		v.fail(f+".mode", "must be one of scheduled, user_prompted, manual, never (got %q)", string(r.Mode))
		return
	}
	if r.Mode != patch.RebootScheduled && r.Slot != "" {
		v.fail(f+".slot", "only scheduled reboots have a slot")
	}
	if r.Mode != patch.RebootUserPrompted && r.Deferrals != 0 {
		v.fail(f+".deferrals", "only user-prompted reboots have deferrals")
	}
}

func (v *validator) emergency() {
	e := v.p.Emergency
	for i, t := range e.Tiers {
		v.tier(fmt.Sprintf("emergency.tiers[%d]", i), t)
	}
	if e.Enabled || e.Notice != "" {
		v.duration("emergency.notice", e.Notice, 0, 30*24*time.Hour)
	}
}

func (v *validator) approval() {
	rs := v.p.Approval.Rules
	if len(rs) > 50 {
		v.fail("approval.rules", "must list at most 50 rules")
	}
	seen := map[string]bool{}
	for i, r := range rs {
		f := fmt.Sprintf("approval.rules[%d]", i)
		v.key(f+".name", r.Name)
		if seen[r.Name] {
			v.fail(f+".name", "duplicate rule %q", r.Name)
		}
		seen[r.Name] = true
		for j, c := range r.Classifications {
			if _, ok := classificationLevels[c]; !ok && c != "unclassified" {
				v.fail(fmt.Sprintf("%s.classifications[%d]", f, j), "unknown classification %q", c)
			}
		}
		for j, t := range r.Tiers {
			v.tier(fmt.Sprintf("%s.tiers[%d]", f, j), t)
		}
		for j, p := range r.Products {
			v.name(fmt.Sprintf("%s.products[%d]", f, j), p, 200)
		}
		for j, s := range r.Sources {
			if !slices.Contains(Sources, s) {
				v.fail(fmt.Sprintf("%s.sources[%d]", f, j), "must be one of %s (got %q)", strings.Join(Sources, ", "), s)
			}
		}
		if r.AfterDays < 0 || r.AfterDays > 365 {
			v.fail(f+".after_days", "must be between 0 and 365")
		}
	}
}

func (v *validator) rings() {
	rs := v.p.Rings
	if len(rs) == 0 || len(rs) > 10 {
		v.fail("rings", "must list 1 to 10 rings")
		return
	}
	seen := map[string]bool{}
	var pct float64
	for i, r := range rs {
		f := fmt.Sprintf("rings[%d]", i)
		last := i == len(rs)-1
		v.key(f+".key", r.Key)
		if seen[r.Key] {
			v.fail(f+".key", "duplicate ring %q", r.Key)
		}
		seen[r.Key] = true
		v.name(f+".name", r.Name, 100)
		if r.MSPCanary && (i != 0 || last) {
			v.fail(f+".msp_canary", "only the first of several rings can be the MSP-wide canary")
		}
		if r.MSPCanary && (r.Percent != 0 || len(r.Tags) > 0 || len(r.Assets) > 0) {
			v.fail(f+".msp_canary", "the MSP-wide canary ring takes its members from the MSP canary: remove assets, tags and percent")
		}
		if len(r.Assets) > 1000 {
			v.fail(f+".assets", "must list at most 1000 assets")
		}
		for j, a := range r.Assets {
			if !patch.ValidID(patch.PrefixAsset, string(a)) {
				v.fail(fmt.Sprintf("%s.assets[%d]", f, j), "is not an asset id (got %q)", a)
			}
		}
		for j, t := range r.Tags {
			v.key(fmt.Sprintf("%s.tags[%d].key", f, j), t.Key)
		}
		if r.Percent < 0 || r.Percent > 100 || r.Percent != r.Percent {
			v.fail(f+".percent", "must be between 0 and 100")
		}
		if last && r.Percent != 0 {
			v.fail(f+".percent", "the last ring takes every asset left: it has no percentage")
		}
		pct += r.Percent
		for j, c := range r.ExcludeClasses {
			v.class(fmt.Sprintf("%s.exclude_classes[%d]", f, j), c)
		}
		switch {
		case last && r.Promotion != nil:
			v.fail(f+".promotion", "the last ring has no next ring to promote to")
		case !last && r.Promotion == nil:
			v.fail(f+".promotion", "is required: say how ring %s is promoted to %s", r.Key, rs[i+1].Key)
		case r.Promotion != nil:
			v.promotion(f+".promotion", r.Promotion)
		}
	}
	if pct > 100 {
		v.fail("rings", "percentages add up to %.4g%%, more than 100%%", pct)
	}
}

func (v *validator) promotion(f string, p *patch.Promotion) {
	v.duration(f+".soak", p.Soak, 0, 90*24*time.Hour)
	if p.FailureThresholdPct < 0 || p.FailureThresholdPct > 100 || p.FailureThresholdPct != p.FailureThresholdPct {
		v.fail(f+".failure_threshold_pct", "must be between 0 and 100")
	}
	if p.MinSample < 0 || p.MinSample > 100000 {
		v.fail(f+".min_sample", "must be between 0 and 100000")
	}
	if !slices.Contains(patch.Approvers, p.Approver) {
		v.fail(f+".approver", "must be one of automatic, msp, client_owner (got %q)", string(p.Approver))
	}
}

// ValidateMSPCanary checks the MSP canary ring.
func ValidateMSPCanary(c *patch.MSPCanary) error {
	v := validator{p: &patch.Policy{}}
	for j, a := range c.Assets {
		if !patch.ValidID(patch.PrefixAsset, string(a)) {
			v.fail(fmt.Sprintf("assets[%d]", j), "is not an asset id (got %q)", a)
		}
	}
	for j, t := range c.Tags {
		v.key(fmt.Sprintf("tags[%d].key", j), t.Key)
	}
	if c.Promotion != nil {
		v.promotion("promotion", c.Promotion)
	}
	return v.err
}

// Warnings are problems a valid policy may still have: an SLA cell whose
// windows can leave a finding waiting longer than its deadline. They are
// shown on apply, not refused. zone is where the windows are evaluated
// (the client's main site).
func Warnings(p *patch.Policy, now time.Time, zone *time.Location) []string {
	ws := NewWindows(p)
	var out []string
	for i, c := range p.SLA.Matrix {
		if len(c.Windows) == 0 {
			continue
		}
		d := c.Deadline.MustParse()
		gap := ws.LongestGap(c.Windows, now, zone)
		switch {
		case gap == 0:
			out = append(out, fmt.Sprintf("sla.matrix[%d]: windows %s never open in the next year: %s/%s findings cannot be deployed", i, strings.Join(c.Windows, ", "), c.Class, c.Tier))
		case gap > d:
			out = append(out, fmt.Sprintf("sla.matrix[%d]: windows %s can be %s apart, longer than the %s deadline of %s/%s findings", i, strings.Join(c.Windows, ", "), roundDuration(gap), c.Deadline, c.Class, c.Tier))
		}
	}
	return out
}

func roundDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	}
	return d.Round(time.Minute).String()
}
