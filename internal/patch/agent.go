package patch

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Agent-related ID types.
type (
	AgentID            string
	EnrollmentSecretID string
	AgentJobID         string
)

// More ID prefixes.
const (
	PrefixAgent            = "agt"
	PrefixEnrollmentSecret = "enr"
	PrefixAgentJob         = "job"
)

// EnrollmentSecretPrefix starts every enrollment secret, so that secret
// scanners can find leaked ones and nobody mistakes one for an API token.
const EnrollmentSecretPrefix = "pre_"

// MaxEnrollmentSecretLifetime bounds an enrollment secret's expiry. Secrets
// without an expiry are allowed (a golden image enrolls for years) but must
// be revoked explicitly.
const MaxEnrollmentSecretLifetime = 5 * 365 * 24 * time.Hour

// EnrollmentSecret lets agents enroll into one client. Only the SHA-256 of
// the secret is stored; the secret is shown once, at creation.
type EnrollmentSecret struct {
	ID       EnrollmentSecretID `json:"id"`
	ClientID ClientID           `json:"client_id"`
	// SiteID, when set, is the site of assets this secret creates.
	SiteID SiteID `json:"site_id,omitempty"`
	// Class, when set, is the asset class of assets this secret creates;
	// otherwise the class follows the role the agent reports.
	Class string `json:"class,omitempty"`
	Name  string `json:"name"`
	// Hint is the start of the secret, to recognise it in a list.
	Hint string `json:"hint"`
	Hash string `json:"-"`
	// MaxUses limits how many enrollments the secret allows; 0 means no
	// limit.
	MaxUses    int       `json:"max_uses"`
	Uses       int       `json:"uses"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Reasons an enrollment secret cannot be used. Stores wrap them in a
// KindUnauthenticated error whose message does not say which (an attacker
// learns nothing), so the server can still count refusals by reason.
var (
	ErrSecretUnknown = errors.New("enrollment secret unknown")
	ErrSecretRevoked = errors.New("enrollment secret revoked")
	ErrSecretExpired = errors.New("enrollment secret expired")
	ErrSecretUsedUp  = errors.New("enrollment secret used up")
)

// Validate checks the secret's own fields.
func (e *EnrollmentSecret) Validate() error {
	if e.ClientID == "" {
		return FieldError("client_id", "is required")
	}
	if err := validName("name", e.Name, 100); err != nil {
		return err
	}
	if e.Class != "" {
		if err := validKey("class", e.Class, 40); err != nil {
			return err
		}
	}
	if e.MaxUses < 0 || e.MaxUses > 1_000_000 {
		return FieldError("max_uses", "must be between 0 (no limit) and 1000000")
	}
	return nil
}

// Usable returns nil if the secret may enroll an agent at now, or one of
// ErrSecretRevoked, ErrSecretExpired and ErrSecretUsedUp.
func (e *EnrollmentSecret) Usable(now time.Time) error {
	switch {
	case !e.RevokedAt.IsZero():
		return ErrSecretRevoked
	case !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt):
		return ErrSecretExpired
	case e.MaxUses > 0 && e.Uses >= e.MaxUses:
		return ErrSecretUsedUp
	}
	return nil
}

// EnrollmentSecretFilter selects enrollment secrets, newest first.
type EnrollmentSecretFilter struct {
	ID       *EnrollmentSecretID
	ClientID *ClientID
	// Active selects secrets that can (true) or cannot (false) enroll now.
	Active *bool
	Offset int
	Limit  int
}

// AgentStatus is whether an agent reports as expected. Computed when read.
type AgentStatus string

// Agent statuses.
const (
	// AgentOnline: the agent checked in before the deadline the server
	// gave it.
	AgentOnline AgentStatus = "online"
	// AgentOffline: the deadline passed without a check-in.
	AgentOffline AgentStatus = "offline"
	// AgentRevoked: the agent's key was revoked (by an operator, or
	// because the machine enrolled again); it can no longer connect.
	AgentRevoked AgentStatus = "revoked"
)

// Agent is an enrolled endpoint agent: one key on one machine. A machine
// that enrolls again gets a new agent and the old one is revoked; both
// point at the same asset.
type Agent struct {
	ID           AgentID            `json:"id"`
	ClientID     ClientID           `json:"client_id"`
	AssetID      AssetID            `json:"asset_id"`
	EnrollmentID EnrollmentSecretID `json:"enrollment_id"`
	// PublicKey is the agent's Ed25519 key in agentapi text form.
	PublicKey  string `json:"public_key"`
	Hostname   string `json:"hostname"`
	Version    string `json:"version"`
	Protocol   int    `json:"protocol"`
	RemoteAddr string `json:"remote_addr"`
	// InventoryHash is the hash of the inventory the server holds.
	InventoryHash string    `json:"inventory_hash"`
	EnrolledAt    time.Time `json:"enrolled_at"`
	LastCheckIn   time.Time `json:"last_check_in,omitzero"`
	// ExpectedBy is when the agent is due next (its next check-in plus a
	// grace period); after it the agent counts as offline.
	ExpectedBy time.Time `json:"expected_by,omitzero"`

	// What the agent reported about itself at its last check-in.
	OutboxLength  int       `json:"outbox_length"`
	OutboxDropped int64     `json:"outbox_dropped"`
	RefusedJobs   int64     `json:"refused_jobs"`
	LastError     string    `json:"last_error,omitempty"`
	LastScanAt    time.Time `json:"last_scan_at,omitzero"`

	RevokedAt     time.Time `json:"revoked_at,omitzero"`
	RevokedReason string    `json:"revoked_reason,omitempty"`

	// Status is computed by the store at read time.
	Status AgentStatus `json:"status"`
}

// StatusAt computes the agent's status at now.
func (a *Agent) StatusAt(now time.Time) AgentStatus {
	switch {
	case !a.RevokedAt.IsZero():
		return AgentRevoked
	case !a.ExpectedBy.IsZero() && now.Before(a.ExpectedBy):
		return AgentOnline
	}
	return AgentOffline
}

// Actor returns the actor of a request made by the agent: confined to the
// agent's client and holding no permission of the operator API.
func (a *Agent) Actor() Actor {
	return Actor{Kind: ActorAgent, ID: string(a.ID), Name: a.Hostname, ClientID: a.ClientID}
}

// AgentFilter selects agents, newest enrollment first.
type AgentFilter struct {
	ID       *AgentID
	ClientID *ClientID
	AssetID  *AssetID
	Status   *AgentStatus
	Offset   int
	Limit    int
}

// AssetFacts are what an agent reports about its machine that the asset
// record holds. They replace the asset's own values at every inventory sync.
type AssetFacts struct {
	Hostname     string
	FQDN         string
	OS           OS
	IPAddresses  []string
	MACAddresses []string
	SerialNumber string
	// Role is used only when enrollment creates the asset; operators own
	// it afterwards.
	Role AssetRole
	// IdentityKeys are the machine's stable identities, best first (see
	// inventory.Host.IdentityKeys). The first is stored on the asset; any
	// of them re-attaches a re-enrolled machine.
	IdentityKeys []string
}

// Sanitize makes reported facts acceptable to an asset record instead of
// refusing them: a machine with an odd host name or a bogus address must
// still report its updates. Host names are lower-cased with characters an
// asset name cannot hold replaced by '-' (an FQDN that cannot be repaired
// is dropped), free text is trimmed to its limit without control
// characters, and addresses that do not parse are left out.
func (f *AssetFacts) Sanitize() {
	f.Hostname = sanitizeHostname(f.Hostname)
	if f.Hostname == "" {
		f.Hostname = "unknown"
	}
	f.FQDN = sanitizeHostname(f.FQDN)
	if validHostname("fqdn", f.FQDN) != nil {
		f.FQDN = ""
	}
	for _, p := range []*string{&f.OS.Name, &f.OS.Version, &f.OS.Build, &f.OS.Kernel, &f.OS.Arch, &f.SerialNumber} {
		*p = sanitizeText(*p, 200)
	}
	if !slices.Contains(OSFamilies, f.OS.Family) {
		f.OS.Family = OSOther
	}
	if !slices.Contains(AssetRoles, f.Role) {
		f.Role = RoleWorkstation
	}
	ips := make([]string, 0, len(f.IPAddresses))
	for _, ip := range f.IPAddresses {
		if a, err := netip.ParseAddr(ip); err == nil && len(ips) < 64 {
			ips = append(ips, a.String())
		}
	}
	f.IPAddresses = ips
	macs := make([]string, 0, len(f.MACAddresses))
	for _, m := range f.MACAddresses {
		m = strings.ToLower(strings.ReplaceAll(m, "-", ":"))
		if validMAC(m) && len(macs) < 64 {
			macs = append(macs, m)
		}
	}
	f.MACAddresses = macs
	keys := f.IdentityKeys[:0:0]
	for _, k := range f.IdentityKeys {
		if k != "" && len(k) <= 200 && utf8.ValidString(k) {
			keys = append(keys, k)
		}
	}
	f.IdentityKeys = keys
}

func sanitizeHostname(s string) string {
	s = strings.Trim(strings.ToLower(strings.TrimSpace(s)), ".")
	var labels []string
	for _, l := range strings.Split(s, ".") {
		var b strings.Builder
		for _, r := range l {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				b.WriteRune(r)
			} else {
				b.WriteByte('-')
			}
		}
		if l := b.String(); l != "" {
			labels = append(labels, l[:min(len(l), 63)])
		}
	}
	s = strings.Join(labels, ".")
	return strings.Trim(s[:min(len(s), 253)], ".")
}

func sanitizeText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return strings.TrimSpace(s)
}

// Software is one piece of software installed on an asset.
type Software struct {
	AssetID     AssetID   `json:"asset_id"`
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Vendor      string    `json:"vendor,omitempty"`
	Source      string    `json:"source"`
	Arch        string    `json:"arch,omitempty"`
	InstallDate time.Time `json:"install_date,omitzero"`
}

// SoftwareFilter selects installed software, by name.
type SoftwareFilter struct {
	AssetID  *AssetID
	ClientID *ClientID
	Source   *string
	// Query matches a substring of the name or vendor, case-insensitively.
	Query  *string
	Offset int
	Limit  int
}

// InventorySnapshot is the last full inventory an agent sent for an asset.
type InventorySnapshot struct {
	AssetID     AssetID   `json:"asset_id"`
	ClientID    ClientID  `json:"client_id"`
	Hash        string    `json:"hash"`
	CollectedAt time.Time `json:"collected_at,omitzero"`
	ReceivedAt  time.Time `json:"received_at"`
	// Document is the inventory as the agent sent it.
	Document json.RawMessage `json:"document"`
}

// AgentInventory is a full inventory as a check-in or an enrollment
// delivers it: the facts for the asset record, the software list and the
// whole document.
type AgentInventory struct {
	Hash        string
	CollectedAt time.Time
	Facts       AssetFacts
	Software    []Software
	Document    json.RawMessage
}

// Enrollment is an agent's request to join a client.
type Enrollment struct {
	// SecretHash is HashSecret of the enrollment secret presented.
	SecretHash string
	// Agent holds the new agent's ID, PublicKey, Hostname, Version,
	// Protocol, RemoteAddr and ExpectedBy; the store fills the rest.
	Agent Agent
	// Nonce is the request's nonce; it is remembered until NonceExpires in
	// the same transaction, so a replayed enrollment is refused.
	Nonce        string
	NonceExpires time.Time
	Inventory    AgentInventory
}

// EnrollmentResult is what an enrollment did.
type EnrollmentResult struct {
	Agent *Agent `json:"agent"`
	Asset *Asset `json:"asset"`
	// Reattached is true when an existing asset was taken over.
	Reattached bool `json:"reattached"`
	// Revoked lists the asset's earlier agents, revoked by this enrollment.
	Revoked []AgentID `json:"revoked,omitempty"`
}

// AgentReport is what an agent says about itself at a check-in.
type AgentReport struct {
	OutboxLength  int
	OutboxDropped int64
	RefusedJobs   int64
	LastError     string
	LastScanAt    time.Time
}

// CheckIn is one agent check-in, applied atomically by RecordCheckIn.
type CheckIn struct {
	AgentID    AgentID
	Version    string
	Protocol   int
	RemoteAddr string
	// InventoryHash is the agent's current inventory hash.
	InventoryHash string
	// Inventory is set when the agent sent its full inventory.
	Inventory *AgentInventory
	Report    AgentReport
	// Results are results delivered with the check-in.
	Results []AgentResult
	// ExpectedBy is the deadline of the next check-in.
	ExpectedBy time.Time
	// MaxJobs bounds how many jobs are handed out; RedeliverAfter is how
	// long a delivered job waits for its result before it is handed out
	// again (the agent recognises a job it already ran).
	MaxJobs        int
	RedeliverAfter time.Duration
}

// CheckInOutcome is what a check-in did and what the agent gets back.
type CheckInOutcome struct {
	Agent *Agent
	// InventoryNeeded is true when the server holds no inventory with the
	// agent's current hash.
	InventoryNeeded bool
	Results         []ResultOutcome
	// Jobs are the jobs to hand to the agent, now marked delivered.
	Jobs []*AgentJob
}

// AgentResult is one result an agent delivered (see agentapi.Result).
type AgentResult struct {
	ID         string
	JobID      AgentJobID
	Kind       string
	Status     string
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
	// Scan, for a scan result, is applied to the asset's findings. Its
	// AssetID is set by the store.
	Scan *ScanResult
	// Document is the whole result as the agent sent it.
	Document json.RawMessage
}

// ResultOutcome says what happened to one delivered result.
type ResultOutcome struct {
	ID string `json:"id"`
	// Duplicate is true when the result had been stored before; it was
	// acknowledged again and not applied twice.
	Duplicate bool `json:"duplicate"`
	// Stale is true for a scan older than one already applied: it is
	// stored but does not change findings.
	Stale bool         `json:"stale"`
	Scan  *ScanOutcome `json:"scan,omitempty"`
}

// JobState is where an agent job stands. Persisted.
type JobState string

// Job states.
const (
	JobPending   JobState = "pending"   // waiting for the agent's next check-in
	JobDelivered JobState = "delivered" // handed to the agent, no result yet
	JobSucceeded JobState = "succeeded"
	JobPartial   JobState = "partial"
	JobFailed    JobState = "failed"
	JobRefused   JobState = "refused" // the agent would not run it
	JobExpired   JobState = "expired" // not delivered or answered in time
)

// JobDone reports whether a job state is final.
func JobDone(s JobState) bool {
	return slices.Contains([]JobState{JobSucceeded, JobPartial, JobFailed, JobRefused, JobExpired}, s)
}

// AgentJob is a typed action for one agent (see agentapi.Job). Payload is
// the kind's payload as JSON; the server signs the job when it hands it out.
type AgentJob struct {
	ID          AgentJobID      `json:"id"`
	ClientID    ClientID        `json:"client_id"`
	AssetID     AssetID         `json:"asset_id"`
	AgentID     AgentID         `json:"agent_id"`
	Kind        string          `json:"kind"`
	Payload     json.RawMessage `json:"payload"`
	State       JobState        `json:"state"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	ExpiresAt   time.Time       `json:"expires_at"`
	DeliveredAt time.Time       `json:"delivered_at,omitzero"`
	Deliveries  int             `json:"deliveries"`
	CompletedAt time.Time       `json:"completed_at,omitzero"`
	// ResultID is the result that completed the job.
	ResultID string `json:"result_id,omitempty"`
}

// AgentJobFilter selects agent jobs, newest first.
type AgentJobFilter struct {
	ID      *AgentJobID
	AssetID *AssetID
	AgentID *AgentID
	State   *JobState
	Offset  int
	Limit   int
}

// EnrollmentStore persists enrollment secrets and enrolls agents.
//
// Besides the rules common to every store (see store.go), creating and
// revoking secrets is audited, and secrets of another client are
// KindNotFound.
type EnrollmentStore interface {
	// CreateEnrollmentSecret stores e; its ID, Hash and Hint must be set.
	// A SiteID of another client gives KindInvalid on site_id; an unknown
	// Class gives KindInvalid on class.
	CreateEnrollmentSecret(ctx context.Context, e *EnrollmentSecret) error
	FindEnrollmentSecretByID(ctx context.Context, id EnrollmentSecretID) (*EnrollmentSecret, error)
	FindEnrollmentSecrets(ctx context.Context, f EnrollmentSecretFilter) ([]*EnrollmentSecret, int, error)
	// RevokeEnrollmentSecret revokes a secret; revoking twice is not an
	// error. Agents enrolled with it keep working.
	RevokeEnrollmentSecret(ctx context.Context, id EnrollmentSecretID) (*EnrollmentSecret, error)
	// Enroll redeems a secret in one transaction: it counts the use,
	// finds the machine's asset (by any of its identity keys, else an
	// unmanaged asset of the client with the same hostname and no
	// identity, else creates one), makes it managed by the agent, revokes
	// the asset's earlier agents, stores the agent and the inventory, and
	// remembers the nonce. It needs no actor (the secret is the
	// credential) and acts as the new agent. An unknown, revoked, expired
	// or used-up secret gives KindUnauthenticated wrapping ErrSecretUnknown,
	// ErrSecretRevoked, ErrSecretExpired or ErrSecretUsedUp, and a public
	// key or nonce seen before gives KindConflict; nothing is stored then.
	Enroll(ctx context.Context, e Enrollment) (*EnrollmentResult, error)
}

// AgentStore persists agents and what they report.
type AgentStore interface {
	// AuthenticateAgent returns an agent that may connect. It needs no
	// actor (it is how an agent's actor is obtained). An unknown agent
	// gives KindUnauthenticated; a revoked one KindForbidden.
	AuthenticateAgent(ctx context.Context, id AgentID) (*Agent, error)
	FindAgentByID(ctx context.Context, id AgentID) (*Agent, error)
	FindAgents(ctx context.Context, f AgentFilter) ([]*Agent, int, error)
	// RevokeAgent revokes an agent's key (audited); revoking twice is not
	// an error.
	RevokeAgent(ctx context.Context, id AgentID, reason string) (*Agent, error)
	// UseNonce remembers a request nonce of the agent in the context's
	// actor until expires; a nonce seen before gives KindConflict.
	UseNonce(ctx context.Context, nonce string, expires time.Time) error
	// RecordCheckIn applies a check-in of the agent in the context's actor
	// in one transaction: the agent's state, the asset's facts (last seen,
	// managed by the agent, and the reported facts when an inventory came
	// with it), the inventory snapshot and software list when the hash
	// changed, the results (scans update findings), and the jobs handed
	// out. A revoked agent gives KindForbidden.
	RecordCheckIn(ctx context.Context, c CheckIn) (*CheckInOutcome, error)
	// RecordResults stores results of the agent in the context's actor in
	// one transaction, idempotently by result ID.
	RecordResults(ctx context.Context, rs []AgentResult) ([]ResultOutcome, error)
}

// InventoryStore reads what agents reported about assets.
type InventoryStore interface {
	// FindInventory returns an asset's last inventory; KindNotFound if
	// the asset is out of scope or has none.
	FindInventory(ctx context.Context, asset AssetID) (*InventorySnapshot, error)
	FindSoftware(ctx context.Context, f SoftwareFilter) ([]*Software, int, error)
}

// AgentJobStore persists jobs for agents.
type AgentJobStore interface {
	// CreateAgentJob stores a pending job (audited). The agent must be
	// in scope and not revoked (KindConflict otherwise).
	CreateAgentJob(ctx context.Context, j *AgentJob) error
	FindAgentJobs(ctx context.Context, f AgentJobFilter) ([]*AgentJob, int, error)
	// PruneAgentData deletes remembered nonces that expired before
	// nonces and delivered results received before results (their ids are
	// no longer needed to recognise a re-send). Unscoped actors only.
	PruneAgentData(ctx context.Context, nonces, results time.Time) (int, error)
}
