package agentapi

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// Bounds on list lengths in messages. The body limits bound the total; these
// keep one list from crowding out the rest and keep server-side loops short.
const (
	MaxSoftware  = 50_000
	MaxUpdates   = 20_000
	MaxAddresses = 256
	MaxDisks     = 256
	MaxSessions  = 1_000
	MaxProblems  = 200
	MaxItems     = 1_000
	// MaxText bounds any single string field.
	MaxText = 64 << 10
)

// resultStatuses are the statuses a result may have.
var resultStatuses = []ResultStatus{ResultSucceeded, ResultPartial, ResultFailed, ResultRefused}

// Families are the OS families an inventory may report.
var Families = []string{"linux", "windows", "macos"}

// Validate checks an enrollment request's form.
func (r *EnrollRequest) Validate() error {
	if r.Secret == "" || len(r.Secret) > 200 {
		return fieldErr("secret", "is required")
	}
	if _, err := ParsePublicKey(r.PublicKey); err != nil {
		return fieldErr("public_key", "%v", err)
	}
	if len(r.InventoryHash) > 128 {
		return fieldErr("inventory_hash", "must be at most 128 characters")
	}
	if len(r.AgentVersion) > 100 {
		return fieldErr("agent_version", "must be at most 100 characters")
	}
	return r.Inventory.validate("inventory")
}

// Validate checks a check-in's form. Results are validated one by one with
// Result.Validate, so that one bad result is rejected alone.
func (r *CheckInRequest) Validate() error {
	if len(r.InventoryHash) > 128 {
		return fieldErr("inventory_hash", "must be at most 128 characters")
	}
	if len(r.AgentVersion) > 100 {
		return fieldErr("agent_version", "must be at most 100 characters")
	}
	if r.Inventory != nil {
		if err := r.Inventory.validate("inventory"); err != nil {
			return err
		}
	}
	if len(r.Results) > MaxResultsPerRequest {
		return fieldErr("results", "must hold at most %d results", MaxResultsPerRequest)
	}
	if len(r.Status.LastError) > MaxText {
		return fieldErr("status.last_error", "is too long")
	}
	return nil
}

// Validate checks a results delivery's form.
func (r *ResultsRequest) Validate() error {
	if len(r.Results) == 0 || len(r.Results) > MaxResultsPerRequest {
		return fieldErr("results", "must hold 1 to %d results", MaxResultsPerRequest)
	}
	return nil
}

// Validate checks one result.
func (r *Result) Validate() error {
	if !ValidID(r.ID) {
		return fieldErr("id", "must be 1 to 64 characters of letters, digits, '_' and '-'")
	}
	if r.JobID != "" && !ValidID(r.JobID) {
		return fieldErr("job_id", "must be a job id")
	}
	if !slices.Contains(JobKinds, r.Kind) {
		return fieldErr("kind", "unknown kind %q", r.Kind)
	}
	if !slices.Contains(resultStatuses, r.Status) {
		return fieldErr("status", "unknown status %q", r.Status)
	}
	if r.FinishedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
		return fieldErr("finished_at", "must be set and not before started_at")
	}
	if err := text("error", r.Error); err != nil {
		return err
	}
	has := map[JobKind]bool{JobScan: r.Scan != nil, JobInstall: r.Install != nil, JobReboot: r.Reboot != nil, JobHook: r.Hook != nil,
		JobHealth: r.Health != nil, JobRollback: r.Rollback != nil}
	for k, set := range has {
		if set && k != r.Kind {
			return fieldErr(string(k), "a %s result carries no %s report", r.Kind, k)
		}
	}
	if r.Status == ResultRefused {
		if has[r.Kind] {
			return fieldErr("status", "a refused job has no report")
		}
		return nil
	}
	if !has[r.Kind] {
		if r.Status == ResultFailed {
			return nil // it failed before producing anything
		}
		return fieldErr(string(r.Kind), "is required for a %s %s result", r.Status, r.Kind)
	}
	switch r.Kind {
	case JobScan:
		return r.Scan.validate()
	case JobInstall:
		if len(r.Install.Items) > MaxItems {
			return fieldErr("install.items", "must hold at most %d items", MaxItems)
		}
		return text("install.output", r.Install.Output)
	case JobHook:
		if !ValidHookName(r.Hook.Name) {
			return fieldErr("hook.name", "must be a hook name")
		}
		return text("hook.output", r.Hook.Output)
	case JobHealth:
		if len(r.Health.Checks) > 50 {
			return fieldErr("health.checks", "must hold at most 50 checks")
		}
		for _, c := range r.Health.Checks {
			if err := text("health.checks.detail", c.Detail); err != nil {
				return err
			}
		}
	case JobRollback:
		if len(r.Rollback.Items) > MaxItems {
			return fieldErr("rollback.items", "must hold at most %d items", MaxItems)
		}
		return text("rollback.output", r.Rollback.Output)
	}
	return nil
}

func (s *ScanReport) validate() error {
	if len(s.Missing) > MaxUpdates {
		return fieldErr("scan.missing", "must hold at most %d updates", MaxUpdates)
	}
	for i, src := range s.Sources {
		if !ValidID(src) {
			return fieldErr(fmt.Sprintf("scan.sources[%d]", i), "must be a source name")
		}
	}
	for src, msg := range s.Failed {
		if !ValidID(src) {
			return fieldErr("scan.failed", "keys must be source names")
		}
		if err := text("scan.failed."+src, msg); err != nil {
			return err
		}
		if slices.Contains(s.Sources, src) {
			return fieldErr("scan.failed."+src, "a source cannot both succeed and fail")
		}
	}
	for i := range s.Missing {
		u := &s.Missing[i]
		f := fmt.Sprintf("scan.missing[%d]", i)
		if !slices.Contains(s.Sources, u.Source) {
			return fieldErr(f+".source", "%q is not among the scanned sources", u.Source)
		}
		if u.ID == "" || len(u.ID) > 512 || !utf8.ValidString(u.ID) {
			return fieldErr(f+".id", "must be 1 to 512 characters")
		}
		if len(u.KBs) > 100 || len(u.CVEs) > 5000 || len(u.Supersedes) > 1000 {
			return fieldErr(f, "has too many KBs, CVEs or superseded updates")
		}
		for _, s := range []string{u.Package, u.Title, u.Product, u.InstalledVersion, u.AvailableVersion, u.Classification,
			u.VendorClassification, u.VendorSeverity, u.Advisory, u.Origin} {
			if err := text(f, s); err != nil {
				return err
			}
		}
	}
	return nil
}

func (inv *Inventory) validate(f string) error {
	if inv.Hostname == "" || len(inv.Hostname) > 253 {
		return fieldErr(f+".hostname", "must be 1 to 253 characters")
	}
	if !slices.Contains(Families, inv.OS.Family) {
		return fieldErr(f+".os.family", "must be one of linux, windows, macos (got %q)", inv.OS.Family)
	}
	switch {
	case len(inv.IPAddresses) > MaxAddresses || len(inv.MACAddresses) > MaxAddresses:
		return fieldErr(f+".ip_addresses", "too many addresses")
	case len(inv.Disks) > MaxDisks:
		return fieldErr(f+".disks", "too many disks")
	case len(inv.Users) > MaxSessions:
		return fieldErr(f+".logged_in_users", "too many sessions")
	case len(inv.Software) > MaxSoftware:
		return fieldErr(f+".software", "must list at most %d entries", MaxSoftware)
	case len(inv.Problems) > MaxProblems:
		return fieldErr(f+".problems", "too many problems")
	}
	for _, s := range []string{inv.Hostname, inv.FQDN, inv.ComputerName, inv.Domain, inv.OS.Name, inv.OS.Version, inv.OS.Build,
		inv.OS.Kernel, inv.OS.Arch, inv.Hardware.Serial, inv.Hardware.HardwareUUID, inv.Hardware.MachineID} {
		if err := text(f, s); err != nil {
			return err
		}
	}
	return nil
}

func text(field, s string) error {
	if len(s) > MaxText {
		return fieldErr(field, "is longer than %d bytes", MaxText)
	}
	return nil
}
