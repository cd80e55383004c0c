package agentapi

import (
	"fmt"
	"net/url"
	"strings"
)

// Jobs of the patching runbook (protocol 2): health checks after an
// install, and rollback to the previous versions. Snapshots and restores
// are JobHook jobs naming hooks the machine's administrator configured.

// Job kinds added in protocol 2.
const (
	// JobHealth runs typed health checks and reports each.
	JobHealth JobKind = "health"
	// JobRollback returns packages to earlier versions with one backend
	// (apt/dnf downgrade, wusa /uninstall for a KB).
	JobRollback JobKind = "rollback"
)

// Health check kinds. They are typed so that the server never sends a
// command: a local command runs only as a hook the agent's own
// configuration names.
const (
	CheckTCP     = "tcp"
	CheckHTTP    = "http"
	CheckService = "service"
	CheckFile    = "file"
	CheckCommand = "command"
)

// HealthPayload lists the checks to run.
type HealthPayload struct {
	Checks []HealthCheck `json:"checks"`
}

// HealthCheck is one typed check (the fields of patch.HealthCheck).
type HealthCheck struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Host and Port for tcp.
	Host string `json:"host,omitempty"`
	Port int    `json:"port,omitempty"`
	// URL and ExpectStatus (200 when zero) for http.
	URL          string `json:"url,omitempty"`
	ExpectStatus int    `json:"expect_status,omitempty"`
	// Service for service.
	Service string `json:"service,omitempty"`
	// Path for file.
	Path string `json:"path,omitempty"`
	// Hook for command.
	Hook           string `json:"hook,omitempty"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"`
}

// RollbackPayload asks one backend to return packages to the versions
// given (Target.Version is the version to return to).
type RollbackPayload struct {
	Source  string   `json:"source"`
	Targets []Target `json:"targets"`
}

// HealthReport is what the health checks found.
type HealthReport struct {
	Checks []CheckResult `json:"checks"`
}

// CheckResult is one check's outcome.
type CheckResult struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says why a check failed (or what it saw), in one line.
	Detail     string `json:"detail,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// validateRunbookJob validates the payloads of JobHealth and JobRollback.
func validateRunbookJob(j Job) error {
	switch j.Kind {
	case JobHealth:
		var p HealthPayload
		if err := j.DecodePayload(&p); err != nil {
			return err
		}
		if len(p.Checks) == 0 || len(p.Checks) > 50 {
			return fieldErr("payload.checks", "must list 1 to 50 checks")
		}
		for i, c := range p.Checks {
			if err := c.Validate(); err != nil {
				if fe, ok := err.(*FieldError); ok {
					fe.Field = fmt.Sprintf("payload.checks[%d].%s", i, fe.Field)
				}
				return err
			}
		}
	case JobRollback:
		var p RollbackPayload
		if err := j.DecodePayload(&p); err != nil {
			return err
		}
		if !ValidID(p.Source) {
			return fieldErr("payload.source", "must be a source name")
		}
		if len(p.Targets) == 0 || len(p.Targets) > 1000 {
			return fieldErr("payload.targets", "must list 1 to 1000 targets")
		}
		for i, t := range p.Targets {
			for _, f := range []struct{ name, v string }{{"id", t.ID}, {"package", t.Package}, {"version", t.Version}} {
				if f.v == "" || !plainText(f.v, 512) {
					return fieldErr(fmt.Sprintf("payload.targets[%d].%s", i, f.name), "must be 1 to 512 printable characters")
				}
			}
		}
	default:
		return fieldErr("kind", "unknown job kind %q", j.Kind)
	}
	return nil
}

// Validate checks one health check: every kind has exactly its fields.
func (c HealthCheck) Validate() error {
	if !ValidHookName(c.Name) {
		return fieldErr("name", "must be a check name (a-z, 0-9, '-', '_', at most 64)")
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > 600 {
		return fieldErr("timeout_seconds", "must be between 0 and 600")
	}
	set := map[string]bool{"host": c.Host != "", "port": c.Port != 0, "url": c.URL != "", "expect_status": c.ExpectStatus != 0,
		"service": c.Service != "", "path": c.Path != "", "hook": c.Hook != ""}
	allowed := map[string][]string{
		CheckTCP: {"host", "port"}, CheckHTTP: {"url", "expect_status"}, CheckService: {"service"}, CheckFile: {"path"}, CheckCommand: {"hook"},
	}
	fields, ok := allowed[c.Kind]
	if !ok {
		return fieldErr("kind", "unknown check kind %q", c.Kind)
	}
	for f, isSet := range set {
		if isSet && !contains(fields, f) {
			return fieldErr(f, "does not apply to a %s check", c.Kind)
		}
	}
	switch c.Kind {
	case CheckTCP:
		if c.Host == "" || len(c.Host) > 253 || strings.ContainsAny(c.Host, " /\\@") || !plainText(c.Host, 253) {
			return fieldErr("host", "must be a host name or address")
		}
		if c.Port < 1 || c.Port > 65535 {
			return fieldErr("port", "must be between 1 and 65535")
		}
	case CheckHTTP:
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !plainText(c.URL, 2000) {
			return fieldErr("url", "must be an http(s) URL")
		}
		if c.ExpectStatus != 0 && (c.ExpectStatus < 100 || c.ExpectStatus > 599) {
			return fieldErr("expect_status", "must be an HTTP status")
		}
	case CheckService:
		if c.Service == "" || !plainText(c.Service, 256) || strings.ContainsAny(c.Service, "/\\;&|$`'\"<>") {
			return fieldErr("service", "must be a service name")
		}
	case CheckFile:
		if c.Path == "" || !plainText(c.Path, 1000) {
			return fieldErr("path", "must be an absolute path")
		}
	case CheckCommand:
		if !ValidHookName(c.Hook) {
			return fieldErr("hook", "must name a hook configured on the agent")
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
