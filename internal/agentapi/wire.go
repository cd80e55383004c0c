package agentapi

import (
	"encoding/json"
	"fmt"
	"time"
)

// EnrollRequest is the body of POST /agent/v1/enroll. The request is signed
// with the private key matching PublicKey, under key id [EnrollKeyID].
type EnrollRequest struct {
	ProtocolVersion int    `json:"protocol_version"`
	AgentVersion    string `json:"agent_version"`
	// Secret is the enrollment secret the operator created for the client.
	Secret string `json:"secret"`
	// PublicKey is the agent's new Ed25519 public key (see EncodePublicKey).
	PublicKey string `json:"public_key"`
	// Inventory is the machine's full inventory; the server uses its
	// identity keys to re-attach a re-enrolled machine to its asset.
	Inventory     Inventory `json:"inventory"`
	InventoryHash string    `json:"inventory_hash"`
}

// EnrollResponse is the answer to a successful enrollment.
type EnrollResponse struct {
	ProtocolVersion int    `json:"protocol_version"`
	AgentID         string `json:"agent_id"`
	AssetID         string `json:"asset_id"`
	ClientID        string `json:"client_id"`
	// Reattached is true when the machine was already known (by its
	// hardware identity) and the enrollment took over its asset.
	Reattached bool `json:"reattached"`
	// CommandKeys are the server's job-signing public keys; the agent pins
	// them and refuses jobs signed by anything else.
	CommandKeys []CommandKey `json:"command_keys"`
	Pacing
}

// CommandKey is a public key the server signs jobs with.
type CommandKey struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
}

// Pacing is what the server tells the agent about when to come back.
type Pacing struct {
	// NextCheckInSeconds is when to check in next, jitter included.
	NextCheckInSeconds int `json:"next_check_in_seconds"`
	// ScanIntervalSeconds is how often to scan for missing updates
	// without being asked.
	ScanIntervalSeconds int `json:"scan_interval_seconds"`
}

// CheckInRequest is the body of POST /agent/v1/checkin. Without an
// inventory and results it is a few hundred bytes.
type CheckInRequest struct {
	ProtocolVersion int    `json:"protocol_version"`
	AgentVersion    string `json:"agent_version"`
	// InventoryHash is the hash of the agent's current inventory.
	InventoryHash string `json:"inventory_hash"`
	// Inventory is sent only when its hash differs from the one the
	// server acknowledged last, or when the server asked for it.
	Inventory *Inventory `json:"inventory,omitempty"`
	// Results are the oldest results of the agent's outbox, at most
	// MaxResultsPerRequest.
	Results []Result    `json:"results,omitempty"`
	Status  AgentStatus `json:"status"`
}

// AgentStatus is the agent's health as it sees it.
type AgentStatus struct {
	// OutboxLength is how many results wait to be delivered besides
	// those in this request.
	OutboxLength int `json:"outbox_length"`
	// OutboxDropped counts results dropped because the outbox was full,
	// since enrollment.
	OutboxDropped int64 `json:"outbox_dropped"`
	// LastError is the last problem the agent hit (a failed scan, an
	// unreachable server), if any.
	LastError  string    `json:"last_error,omitempty"`
	LastScanAt time.Time `json:"last_scan_at,omitzero"`
	// RefusedJobs counts jobs refused for a bad signature, a wrong agent
	// or an expiry, since enrollment.
	RefusedJobs int64 `json:"refused_jobs,omitempty"`
}

// CheckInResponse is the answer to a check-in.
type CheckInResponse struct {
	ProtocolVersion int       `json:"protocol_version"`
	ServerTime      time.Time `json:"server_time"`
	Pacing
	// InventoryNeeded asks for the full inventory with the next check-in:
	// the server does not hold one with the agent's hash.
	InventoryNeeded bool `json:"inventory_needed"`
	// Acknowledged lists the ids of results the server stored (now or
	// before); the agent removes them from its outbox.
	Acknowledged []string `json:"acknowledged"`
	// Rejected lists results the server will never accept; the agent
	// drops them too and logs why.
	Rejected []Rejection `json:"rejected,omitempty"`
	// CommandKeys repeats the server's job-signing keys; the agent keeps
	// its pinned keys and ignores keys it did not pin at enrollment.
	CommandKeys []CommandKey `json:"command_keys,omitempty"`
	Jobs        []SignedJob  `json:"jobs,omitempty"`
}

// Rejection says why a result was refused.
type Rejection struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// ResultsRequest is the body of POST /agent/v1/results: a batch of outbox
// results delivered outside a check-in (a backlog after being offline, or a
// job's outcome as soon as it is known).
type ResultsRequest struct {
	ProtocolVersion int      `json:"protocol_version"`
	Results         []Result `json:"results"`
}

// ResultsResponse is the answer to a results delivery.
type ResultsResponse struct {
	ProtocolVersion int         `json:"protocol_version"`
	Acknowledged    []string    `json:"acknowledged"`
	Rejected        []Rejection `json:"rejected,omitempty"`
}

// ErrorBody is the body of every error response (the same shape as the
// operator API's).
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// ResultStatus is how a piece of work ended.
type ResultStatus string

// Result statuses.
const (
	ResultSucceeded ResultStatus = "succeeded"
	// ResultPartial: some of the work failed (one scan source of several,
	// some install targets).
	ResultPartial ResultStatus = "partial"
	ResultFailed  ResultStatus = "failed"
	// ResultRefused: the agent did not run a job (bad signature, wrong
	// agent, expired, unknown kind or hook).
	ResultRefused ResultStatus = "refused"
)

// Result is the outcome of one piece of work: a job, or a scan the agent
// ran on its own schedule. Exactly the report matching Kind is set (none
// for a refused job).
type Result struct {
	// ID is chosen by the agent when the work finished (see NewID) and
	// makes delivery idempotent.
	ID string `json:"id"`
	// JobID is the job this answers; empty for scheduled scans.
	JobID      string       `json:"job_id,omitempty"`
	Kind       JobKind      `json:"kind"`
	Status     ResultStatus `json:"status"`
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt time.Time    `json:"finished_at"`
	Error      string       `json:"error,omitempty"`

	Scan    *ScanReport    `json:"scan,omitempty"`
	Install *InstallReport `json:"install,omitempty"`
	Reboot  *RebootReport  `json:"reboot,omitempty"`
	Hook    *HookReport    `json:"hook,omitempty"`
	// Health and Rollback answer the protocol 2 kinds (runbook.go).
	Health   *HealthReport  `json:"health,omitempty"`
	Rollback *InstallReport `json:"rollback,omitempty"`
}

// ScanReport is what a scan found.
type ScanReport struct {
	// Sources lists the backends that scanned successfully. Findings of
	// other sources are left alone by the server.
	Sources []string `json:"sources"`
	// Failed maps backends that failed to their error.
	Failed map[string]string `json:"failed,omitempty"`
	// Missing are the updates missing on the host.
	Missing []Update `json:"missing"`
	// RebootRequired is nil when no backend could tell.
	RebootRequired *bool `json:"reboot_required,omitempty"`
}

// Update is one missing update, as the agent's package-manager backend
// reported it (the fields of pkgmgr.Update).
type Update struct {
	Source               string    `json:"source"`
	ID                   string    `json:"id"`
	Package              string    `json:"package"`
	Title                string    `json:"title"`
	Product              string    `json:"product,omitempty"`
	InstalledVersion     string    `json:"installed_version,omitempty"`
	AvailableVersion     string    `json:"available_version,omitempty"`
	Classification       string    `json:"classification"`
	VendorClassification string    `json:"vendor_classification,omitempty"`
	VendorSeverity       string    `json:"vendor_severity,omitempty"`
	Advisory             string    `json:"advisory,omitempty"`
	KBs                  []string  `json:"kbs,omitempty"`
	CVEs                 []string  `json:"cves,omitempty"`
	CVSS                 float64   `json:"cvss,omitempty"`
	KnownExploited       bool      `json:"known_exploited,omitempty"`
	Origin               string    `json:"origin,omitempty"`
	ReleaseDate          time.Time `json:"release_date,omitzero"`
	Size                 int64     `json:"size,omitempty"`
	RebootRequired       bool      `json:"reboot_required,omitempty"`
	Supersedes           []string  `json:"supersedes,omitempty"`
}

// InstallReport is what an install job did (the fields of
// pkgmgr.InstallResult).
type InstallReport struct {
	Source         string       `json:"source"`
	Items          []ItemResult `json:"items"`
	RebootRequired bool         `json:"reboot_required"`
	Output         string       `json:"output,omitempty"`
}

// ItemResult is the outcome of one install target.
type ItemResult struct {
	ID          string `json:"id"`
	Package     string `json:"package"`
	Status      string `json:"status"` // installed, failed, skipped
	FromVersion string `json:"from_version,omitempty"`
	ToVersion   string `json:"to_version,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

// RebootReport says when the agent asked the OS to restart.
type RebootReport struct {
	ScheduledAt time.Time `json:"scheduled_at"`
}

// HookReport is what a configured hook did.
type HookReport struct {
	Name     string `json:"name"`
	ExitCode int    `json:"exit_code"`
	// Output is the tail of the hook's combined output.
	Output string `json:"output,omitempty"`
}

// FieldError is a validation error about one field of a message.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Decode unmarshals a protocol message. Unknown fields are ignored (see the
// package doc); a body that is not one JSON value of the right shape is an
// error.
func Decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}
