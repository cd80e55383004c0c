package patch

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Runbook is a client's patching runbook: what happens around an install.
// The policy says when and where updates go (SLA, windows, rings, reboot
// policy); the runbook says how: which assets are snapshotted first and
// how, which health checks prove an asset still works afterwards, what a
// failed health check rolls back, and how failures are retried and
// escalated. One document per client, stored and versioned whole like the
// policy; a client that never stored one gets DefaultRunbook.
type Runbook struct {
	ClientID ClientID `json:"client_id" yaml:"client_id"`
	Version  int      `json:"version" yaml:"version"`

	// Snapshots are taken before anything installs on matching assets.
	Snapshots []SnapshotRule `json:"snapshots" yaml:"snapshots"`
	// HealthChecks run after the install (and reboot) on matching assets.
	HealthChecks []HealthCheckSet `json:"health_checks" yaml:"health_checks"`
	// Rollback says what a failed health check undoes.
	Rollback RollbackPolicy `json:"rollback" yaml:"rollback"`
	// Remediation says how failed installs are retried and escalated.
	Remediation RemediationPolicy `json:"remediation" yaml:"remediation"`
	// InstallBudget is how long an install (with its snapshot) may take:
	// an attempt starts only when the window stays open that long.
	InstallBudget Duration `json:"install_budget" yaml:"install_budget"`
	// CatchUpGrace is how long after its ring started an asset whose agent
	// is offline may still catch up in a later window; after it the
	// deployment is missed (and the next cycle takes the update).
	CatchUpGrace Duration `json:"catch_up_grace" yaml:"catch_up_grace"`
	// DeployAtDeadline lets a deployment start outside its windows once
	// the SLA due time of its most urgent update has come, rather than
	// breach the SLA waiting for a window.
	DeployAtDeadline bool `json:"deploy_at_deadline,omitempty" yaml:"deploy_at_deadline,omitempty"`
	// EmergencySoak replaces every ring's soak in emergency cycles.
	EmergencySoak Duration `json:"emergency_soak,omitempty" yaml:"emergency_soak,omitempty"`
	// RebootPromptDelay is how long a user-prompted reboot waits after
	// the prompt (the user's last deferral).
	RebootPromptDelay Duration `json:"reboot_prompt_delay,omitempty" yaml:"reboot_prompt_delay,omitempty"`

	UpdatedAt time.Time `json:"updated_at,omitzero" yaml:"updated_at,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty" yaml:"updated_by,omitempty"`
}

// AssetSelector matches assets by class, role, tag or criticality. An
// empty selector matches every asset; each non-empty list must match.
type AssetSelector struct {
	Classes       []string      `json:"classes,omitempty" yaml:"classes,omitempty"`
	Roles         []AssetRole   `json:"roles,omitempty" yaml:"roles,omitempty"`
	Tags          []TagRef      `json:"tags,omitempty" yaml:"tags,omitempty"`
	Criticalities []Criticality `json:"criticalities,omitempty" yaml:"criticalities,omitempty"`
}

// Matches reports whether the selector takes an asset.
func (s AssetSelector) Matches(a *Asset) bool {
	if len(s.Classes) > 0 && !slices.Contains(s.Classes, a.Class) {
		return false
	}
	if len(s.Roles) > 0 && !slices.Contains(s.Roles, a.Role) {
		return false
	}
	if len(s.Criticalities) > 0 && !slices.Contains(s.Criticalities, a.Criticality) {
		return false
	}
	if len(s.Tags) > 0 && !slices.ContainsFunc(s.Tags, func(t TagRef) bool { return t.Matches(a.Tags) }) {
		return false
	}
	return true
}

// SnapshotRule takes a snapshot of matching assets before patching, with
// a hook configured on the agent (an LVM, VSS or hypervisor script the
// machine's administrator installed) or a webhook the server calls, signed,
// on a hypervisor or backup system.
type SnapshotRule struct {
	Name   string        `json:"name" yaml:"name"`
	Assets AssetSelector `json:"assets" yaml:"assets"`
	// Hook names the agent hook that takes the snapshot.
	Hook string `json:"hook,omitempty" yaml:"hook,omitempty"`
	// RestoreHook names the agent hook that restores it (rollback by
	// snapshot).
	RestoreHook string `json:"restore_hook,omitempty" yaml:"restore_hook,omitempty"`
	// Webhook is an https URL the server POSTs a signed request to; a 2xx
	// answer means the snapshot exists.
	Webhook string `json:"webhook,omitempty" yaml:"webhook,omitempty"`
}

// HealthCheckKind names a typed health check. Persisted and on the wire.
type HealthCheckKind string

// Health check kinds. There is no shell: a local command runs only by the
// name of a hook the agent's own configuration defines.
const (
	CheckTCP     HealthCheckKind = "tcp"     // a TCP port accepts a connection
	CheckHTTP    HealthCheckKind = "http"    // a URL answers with the expected status
	CheckService HealthCheckKind = "service" // an OS service is running
	CheckFile    HealthCheckKind = "file"    // a file can be opened and read
	CheckCommand HealthCheckKind = "command" // a hook configured on the agent exits 0
)

// HealthCheckKinds lists the kinds.
var HealthCheckKinds = []HealthCheckKind{CheckTCP, CheckHTTP, CheckService, CheckFile, CheckCommand}

// HealthCheck is one typed check, run by the agent on the asset.
type HealthCheck struct {
	Name string          `json:"name" yaml:"name"`
	Kind HealthCheckKind `json:"kind" yaml:"kind"`
	// Host and Port for tcp.
	Host string `json:"host,omitempty" yaml:"host,omitempty"`
	Port int    `json:"port,omitempty" yaml:"port,omitempty"`
	// URL and ExpectStatus (200 when zero) for http.
	URL          string `json:"url,omitempty" yaml:"url,omitempty"`
	ExpectStatus int    `json:"expect_status,omitempty" yaml:"expect_status,omitempty"`
	// Service for service: a systemd unit, Windows service or launchd
	// label.
	Service string `json:"service,omitempty" yaml:"service,omitempty"`
	// Path for file: an absolute path (a UNC path on Windows).
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Hook for command: the name of a hook in the agent's hooks.json.
	Hook string `json:"hook,omitempty" yaml:"hook,omitempty"`
	// TimeoutSeconds bounds the check (10 s when zero, at most 600).
	TimeoutSeconds int `json:"timeout_seconds,omitempty" yaml:"timeout_seconds,omitempty"`
}

// HealthCheckSet is the health checks of assets matching a selector
// (per role, class or tag: "the EHR servers", "the mail server").
type HealthCheckSet struct {
	Name   string        `json:"name" yaml:"name"`
	Assets AssetSelector `json:"assets" yaml:"assets"`
	Checks []HealthCheck `json:"checks" yaml:"checks"`
}

// RollbackMode says what undoes an install whose health checks failed.
// Persisted.
type RollbackMode string

// Rollback modes.
const (
	// RollbackReinstall reinstalls the previous versions through the
	// backend (apt/dnf downgrade, wusa /uninstall for a KB).
	RollbackReinstall RollbackMode = "reinstall_previous"
	// RollbackSnapshot restores the pre-patch snapshot through the
	// snapshot rule's restore hook; assets without one fall back to
	// reinstall_previous.
	RollbackSnapshot RollbackMode = "restore_snapshot"
	// RollbackNone records the failure and leaves the asset as it is.
	RollbackNone RollbackMode = "none"
)

// RollbackModes lists the modes.
var RollbackModes = []RollbackMode{RollbackReinstall, RollbackSnapshot, RollbackNone}

// RollbackPolicy is the rollback column of the runbook.
type RollbackPolicy struct {
	OnHealthFailure RollbackMode `json:"on_health_failure" yaml:"on_health_failure"`
}

// RemediationPolicy says how failed installs are retried: each attempt
// waits Backoff, doubled after every failure (capped at MaxBackoff), and
// after MaxAttempts failures the deployment is escalated with a ticket.
type RemediationPolicy struct {
	MaxAttempts int      `json:"max_attempts" yaml:"max_attempts"`
	Backoff     Duration `json:"backoff" yaml:"backoff"`
	MaxBackoff  Duration `json:"max_backoff" yaml:"max_backoff"`
}

// DefaultRunbook is the runbook of a client that never stored one: no
// snapshots or health checks (they need the client's systems named),
// rollback by reinstalling the previous version, three attempts an hour
// apart then doubling, an install budget of 30 minutes and three days for
// an offline machine to catch up.
func DefaultRunbook(c ClientID) *Runbook {
	return &Runbook{
		ClientID:          c,
		Snapshots:         []SnapshotRule{},
		HealthChecks:      []HealthCheckSet{},
		Rollback:          RollbackPolicy{OnHealthFailure: RollbackReinstall},
		Remediation:       RemediationPolicy{MaxAttempts: 3, Backoff: "1h", MaxBackoff: "1d"},
		InstallBudget:     "30m",
		CatchUpGrace:      "3d",
		EmergencySoak:     "2h",
		RebootPromptDelay: "15m",
	}
}

// Snapshot returns the first snapshot rule that takes the asset.
func (r *Runbook) Snapshot(a *Asset) (SnapshotRule, bool) {
	for _, s := range r.Snapshots {
		if s.Assets.Matches(a) {
			return s, true
		}
	}
	return SnapshotRule{}, false
}

// Checks returns the health checks of every set that takes the asset, in
// order, without repeating a name.
func (r *Runbook) Checks(a *Asset) []HealthCheck {
	var out []HealthCheck
	seen := map[string]bool{}
	for _, set := range r.HealthChecks {
		if !set.Assets.Matches(a) {
			continue
		}
		for _, c := range set.Checks {
			if !seen[c.Name] {
				seen[c.Name] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// Validate checks a runbook. Errors name the JSON path of the value at
// fault ("health_checks[0].checks[1].port").
func (r *Runbook) Validate() error {
	for i, s := range r.Snapshots {
		f := fmt.Sprintf("snapshots[%d]", i)
		if err := validKey(f+".name", s.Name, 64); err != nil {
			return err
		}
		if err := s.Assets.validate(f + ".assets"); err != nil {
			return err
		}
		if (s.Hook == "") == (s.Webhook == "") {
			return FieldError(f+".hook", "set exactly one of hook (a hook configured on the agent) and webhook")
		}
		if s.Hook != "" && !validHookName(s.Hook) {
			return FieldError(f+".hook", "must be a hook name (a-z, 0-9, '-', '_', at most 64)")
		}
		if s.RestoreHook != "" && !validHookName(s.RestoreHook) {
			return FieldError(f+".restore_hook", "must be a hook name (a-z, 0-9, '-', '_', at most 64)")
		}
		if s.Webhook != "" {
			u, err := url.Parse(s.Webhook)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(s.Webhook) > 2000 {
				return FieldError(f+".webhook", "must be an http(s) URL without credentials")
			}
		}
	}
	byName := map[string]HealthCheck{}
	for i, set := range r.HealthChecks {
		f := fmt.Sprintf("health_checks[%d]", i)
		if err := validKey(f+".name", set.Name, 64); err != nil {
			return err
		}
		if err := set.Assets.validate(f + ".assets"); err != nil {
			return err
		}
		if len(set.Checks) == 0 || len(set.Checks) > 20 {
			return FieldError(f+".checks", "must list 1 to 20 checks")
		}
		for j, c := range set.Checks {
			cf := fmt.Sprintf("%s.checks[%d]", f, j)
			if err := c.Validate(cf); err != nil {
				return err
			}
			// The same check may sit in several sets; one name for two
			// different checks would make a result ambiguous.
			if prev, ok := byName[c.Name]; ok && prev != c {
				return FieldError(cf+".name", "%q names another check already", c.Name)
			}
			byName[c.Name] = c
		}
	}
	if !slices.Contains(RollbackModes, r.Rollback.OnHealthFailure) {
		return FieldError("rollback.on_health_failure", "must be one of reinstall_previous, restore_snapshot, none (got %q)", string(r.Rollback.OnHealthFailure))
	}
	if r.Remediation.MaxAttempts < 1 || r.Remediation.MaxAttempts > 20 {
		return FieldError("remediation.max_attempts", "must be between 1 and 20")
	}
	for _, d := range []struct {
		field    string
		v        Duration
		min, max time.Duration
		optional bool
	}{
		{"remediation.backoff", r.Remediation.Backoff, time.Minute, 30 * 24 * time.Hour, false},
		{"remediation.max_backoff", r.Remediation.MaxBackoff, time.Minute, 90 * 24 * time.Hour, false},
		{"install_budget", r.InstallBudget, time.Minute, 24 * time.Hour, false},
		{"catch_up_grace", r.CatchUpGrace, time.Hour, 90 * 24 * time.Hour, false},
		{"emergency_soak", r.EmergencySoak, 0, 30 * 24 * time.Hour, true},
		{"reboot_prompt_delay", r.RebootPromptDelay, 0, 24 * time.Hour, true},
	} {
		if d.optional && d.v == "" {
			continue
		}
		v, err := d.v.Parse()
		if err != nil {
			return FieldError(d.field, "%v", err)
		}
		if v < d.min || v > d.max {
			return FieldError(d.field, "must be between %s and %s", FormatDuration(d.min), FormatDuration(d.max))
		}
	}
	if r.Remediation.MaxBackoff.MustParse() < r.Remediation.Backoff.MustParse() {
		return FieldError("remediation.max_backoff", "must not be shorter than remediation.backoff")
	}
	return nil
}

func (s AssetSelector) validate(f string) error {
	for i, c := range s.Classes {
		if c != AnyClass {
			if err := validKey(fmt.Sprintf("%s.classes[%d]", f, i), c, 40); err != nil {
				return err
			}
		}
	}
	for i, r := range s.Roles {
		if !slices.Contains(AssetRoles, r) {
			return FieldError(fmt.Sprintf("%s.roles[%d]", f, i), "must be one of server, workstation, kiosk (got %q)", string(r))
		}
	}
	for i, c := range s.Criticalities {
		if !slices.Contains(Criticalities, c) {
			return FieldError(fmt.Sprintf("%s.criticalities[%d]", f, i), "must be one of low, medium, high, critical (got %q)", string(c))
		}
	}
	for i, t := range s.Tags {
		if err := validKey(fmt.Sprintf("%s.tags[%d].key", f, i), t.Key, 64); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks one health check; f is its JSON path.
func (c HealthCheck) Validate(f string) error {
	if err := validKey(f+".name", c.Name, 64); err != nil {
		return err
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > 600 {
		return FieldError(f+".timeout_seconds", "must be between 0 (10 seconds) and 600")
	}
	extra := func(fields map[string]bool) error {
		for name, set := range fields {
			if set {
				return FieldError(f+"."+name, "does not apply to a %s check", c.Kind)
			}
		}
		return nil
	}
	switch c.Kind {
	case CheckTCP:
		if c.Host == "" || len(c.Host) > 253 || strings.ContainsAny(c.Host, " /\\@") || !printable(c.Host) {
			return FieldError(f+".host", "must be a host name or address")
		}
		if c.Port < 1 || c.Port > 65535 {
			return FieldError(f+".port", "must be between 1 and 65535")
		}
		return extra(map[string]bool{"url": c.URL != "", "service": c.Service != "", "path": c.Path != "", "hook": c.Hook != "", "expect_status": c.ExpectStatus != 0})
	case CheckHTTP:
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(c.URL) > 2000 || !printable(c.URL) {
			return FieldError(f+".url", "must be an http(s) URL")
		}
		if c.ExpectStatus != 0 && (c.ExpectStatus < 100 || c.ExpectStatus > 599) {
			return FieldError(f+".expect_status", "must be an HTTP status between 100 and 599")
		}
		return extra(map[string]bool{"host": c.Host != "", "port": c.Port != 0, "service": c.Service != "", "path": c.Path != "", "hook": c.Hook != ""})
	case CheckService:
		if !validServiceName(c.Service) {
			return FieldError(f+".service", "must be a service name (letters, digits, '.', '-', '_', '@', ':'; at most 256)")
		}
		return extra(map[string]bool{"host": c.Host != "", "port": c.Port != 0, "url": c.URL != "", "path": c.Path != "", "hook": c.Hook != "", "expect_status": c.ExpectStatus != 0})
	case CheckFile:
		if !(strings.HasPrefix(c.Path, "/") || strings.HasPrefix(c.Path, `\\`) || (len(c.Path) > 2 && c.Path[1] == ':' && (c.Path[2] == '\\' || c.Path[2] == '/'))) ||
			len(c.Path) > 1000 || !printable(c.Path) {
			return FieldError(f+".path", "must be an absolute path (or a UNC path)")
		}
		return extra(map[string]bool{"host": c.Host != "", "port": c.Port != 0, "url": c.URL != "", "service": c.Service != "", "hook": c.Hook != "", "expect_status": c.ExpectStatus != 0})
	case CheckCommand:
		if !validHookName(c.Hook) {
			return FieldError(f+".hook", "must name a hook configured on the agent (a-z, 0-9, '-', '_', at most 64); commands are never sent")
		}
		return extra(map[string]bool{"host": c.Host != "", "port": c.Port != 0, "url": c.URL != "", "service": c.Service != "", "path": c.Path != "", "expect_status": c.ExpectStatus != 0})
	}
	return FieldError(f+".kind", "must be one of tcp, http, service, file, command (got %q)", string(c.Kind))
}

// validHookName mirrors agentapi.ValidHookName (the domain imports only
// the standard library).
func validHookName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validServiceName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_@: ", r)) {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
