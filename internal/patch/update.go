package patch

import (
	"context"
	"time"
)

// UpdateID identifies an update in the catalog.
type UpdateID string

// FindingID identifies a finding.
type FindingID string

// More ID prefixes.
const (
	PrefixUpdate  = "upd"
	PrefixFinding = "fnd"
)

// UpdateSource names the tool that reports an update: "apt", "dnf", "wua"
// (Windows Update Agent), "winget", "softwareupdate", "brew". The values
// match package pkgmgr's Source; they are repeated here because the domain
// imports nothing but the standard library.
type UpdateSource string

// Update is one entry of the update catalog: a specific update from one
// source, shared by every asset and client that needs it. Its metadata is
// public vendor data, not tenant data, so the catalog is not client-scoped;
// what a client decides about an update (approval, tier override) is.
type Update struct {
	ID     UpdateID     `json:"id"`
	Source UpdateSource `json:"source"`
	// VendorID is the source's stable identity of the update (see
	// pkgmgr.Update.ID): "openssl=3.0.15-1~deb12u1", "<UpdateID>.<rev>".
	VendorID             string    `json:"vendor_id"`
	Package              string    `json:"package"`
	Title                string    `json:"title"`
	Product              string    `json:"product"`
	Version              string    `json:"version"`
	Classification       string    `json:"classification"`
	VendorClassification string    `json:"vendor_classification,omitempty"`
	VendorSeverity       string    `json:"vendor_severity,omitempty"`
	Advisory             string    `json:"advisory,omitempty"`
	KBs                  []string  `json:"kbs"`
	CVEs                 []string  `json:"cves"`
	CVSS                 float64   `json:"cvss,omitempty"`
	KnownExploited       bool      `json:"known_exploited,omitempty"`
	ReleaseDate          time.Time `json:"release_date,omitzero"`
	RebootRequired       bool      `json:"reboot_required"`
	Size                 int64     `json:"size,omitempty"`
	Supersedes           []string  `json:"supersedes"`
	// FirstSeen is when any agent first reported the update.
	FirstSeen time.Time `json:"first_seen"`
}

// FindingState is whether a finding is still open. Persisted.
type FindingState string

// Finding states.
const (
	FindingOpen     FindingState = "open"     // the update is missing on the asset
	FindingResolved FindingState = "resolved" // it no longer is: see Resolution
)

// Resolution says how a finding closed. Persisted.
type Resolution string

// Resolutions. Only ResolvedVerified counts as an install in compliance:
// a later scan showed the update present. A superseded finding hands its
// SLA clock to its successor, so superseding never resets a deadline.
const (
	ResolvedVerified   Resolution = "verified"   // a scan after it no longer reports it missing
	ResolvedSuperseded Resolution = "superseded" // a newer update of the same package replaced it
	ResolvedRetired    Resolution = "retired"    // the asset or its source was removed
)

// Finding is one (asset, update) pair: an update a scan found missing on an
// asset, from the first scan that reported it until a scan no longer does.
// The policy fields (Tier … EvaluatedAt) are maintained by the SLA
// evaluator from the client's policy, approvals and exceptions.
type Finding struct {
	ID       FindingID `json:"id"`
	ClientID ClientID  `json:"client_id"`
	AssetID  AssetID   `json:"asset_id"`
	UpdateID UpdateID  `json:"update_id"`
	// Update is filled by finders that join the catalog.
	Update *Update `json:"update,omitempty"`

	InstalledVersion string       `json:"installed_version"`
	State            FindingState `json:"state"`
	Resolution       Resolution   `json:"resolution,omitempty"`
	FirstSeen        time.Time    `json:"first_seen"`
	LastSeen         time.Time    `json:"last_seen"`
	ResolvedAt       time.Time    `json:"resolved_at,omitzero"`
	// SLAAnchor is when the SLA clock started: FirstSeen, or the anchor of
	// the finding this one superseded.
	SLAAnchor time.Time `json:"sla_anchor"`
	// SupersededBy is the finding that replaced this one, if any.
	SupersededBy FindingID `json:"superseded_by,omitempty"`

	// Policy-derived fields.
	Tier        string    `json:"tier"`
	Emergency   bool      `json:"emergency"`
	Approval    Approval  `json:"approval"`
	DueAt       time.Time `json:"due_at,omitzero"`
	SLAStatus   SLAStatus `json:"sla_status"`
	ExceptionID string    `json:"exception_id,omitempty"`
	EvaluatedAt time.Time `json:"evaluated_at,omitzero"`
}

// Approval is a client's decision about an update. Persisted.
type Approval string

// Approval states.
const (
	ApprovalPending  Approval = "pending"
	ApprovalApproved Approval = "approved"
	ApprovalDeclined Approval = "declined"
)

// SLAStatus is where a finding stands against its deadline. Persisted.
type SLAStatus string

// SLA statuses. Open findings are on track, due soon or breached (or
// paused while an approved exception covers them); resolved ones met their
// deadline or met it late. The empty status means not evaluated yet.
const (
	SLAOnTrack  SLAStatus = "on_track"
	SLADueSoon  SLAStatus = "due_soon"
	SLABreached SLAStatus = "breached"
	SLAPaused   SLAStatus = "paused"
	SLAMet      SLAStatus = "met"
	SLAMetLate  SLAStatus = "met_late"
)

// ScanResult is what one agent scan found on one asset.
type ScanResult struct {
	AssetID AssetID
	At      time.Time
	// Sources lists the sources that scanned successfully. Open findings
	// of other sources are left alone: a failed winget run must not mark
	// every winget update installed.
	Sources []UpdateSource
	// Failed maps sources that failed to their error text.
	Failed map[UpdateSource]string
	// Missing are the updates reported missing, with the version installed
	// now (InstalledVersion) in each.
	Missing []ScannedUpdate
}

// ScannedUpdate is one missing update in a scan.
type ScannedUpdate struct {
	Update
	InstalledVersion string
}

// ScanOutcome counts what recording a scan changed.
type ScanOutcome struct {
	Opened     []FindingID `json:"opened"`
	Verified   []FindingID `json:"verified"`
	Superseded []FindingID `json:"superseded"`
	StillOpen  int         `json:"still_open"`
}

// ScanStatus is the last scan of one source on one asset.
type ScanStatus struct {
	AssetID     AssetID      `json:"asset_id"`
	Source      UpdateSource `json:"source"`
	LastAttempt time.Time    `json:"last_attempt"`
	LastSuccess time.Time    `json:"last_success,omitzero"`
	LastError   string       `json:"last_error,omitempty"`
	Missing     int          `json:"missing"`
}

// FindingFilter selects findings. Nil fields do not filter.
type FindingFilter struct {
	ID       *FindingID
	ClientID *ClientID
	AssetID  *AssetID
	UpdateID *UpdateID
	State    *FindingState
	Source   *UpdateSource
	Tier     *string
	// SLAStatus matches the stored SLA status.
	SLAStatus *SLAStatus
	// ResolvedSince selects findings resolved at or after the time.
	ResolvedSince *time.Time
	// WithUpdate joins the catalog entry into Finding.Update.
	WithUpdate bool
	Offset     int
	Limit      int
}

// UpdateFilter selects catalog entries.
type UpdateFilter struct {
	ID       *UpdateID
	Source   *UpdateSource
	VendorID *string
	// ClientID selects updates with at least one open finding in the
	// client (and applies the caller's scope).
	ClientID *ClientID
	Query    *string
	Offset   int
	Limit    int
}

// FindingStore persists the update catalog, findings and scan status.
type FindingStore interface {
	// RecordScan applies one scan to an asset's findings atomically:
	// catalog entries are upserted, reported updates open (or refresh)
	// findings, and open findings of the scanned sources that were not
	// reported are resolved as verified or, when the same package is
	// reported at another version, superseded. The asset must be in scope.
	RecordScan(ctx context.Context, s ScanResult) (ScanOutcome, error)
	FindFindings(ctx context.Context, f FindingFilter) ([]*Finding, int, error)
	FindUpdates(ctx context.Context, f UpdateFilter) ([]*Update, int, error)
	FindScanStatus(ctx context.Context, asset AssetID) ([]*ScanStatus, error)
}
