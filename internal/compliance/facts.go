package compliance

import (
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Asset is what the rating needs to know about one asset.
type Asset struct {
	ID       patch.AssetID
	ClientID patch.ClientID
	SiteID   patch.SiteID
	Hostname string
	OS       patch.OSFamily
	// Class is the asset's class key; Kind and Target are the class's
	// kind and monthly target (0–100).
	Class  string
	Kind   patch.ClassKind
	Target float64
	// Managed is true when an agent reports from the asset.
	Managed bool
	// LastScan is the last successful scan of any source; zero if never.
	LastScan time.Time
	// FailingSources are sources whose last scan attempt failed.
	FailingSources []string
	// Unsupported, when not empty, says why the OS is not serviceable.
	Unsupported string
	// UnsupportedSoftware lists installed software the client's list
	// marks unsupported.
	UnsupportedSoftware []string
	Findings            []Finding
}

// Finding is one (asset, update) finding: the scan facts and the fields
// the SLA evaluator maintains.
type Finding struct {
	ID        patch.FindingID
	Tier      string
	Emergency bool
	Approval  patch.Approval
	// DueAt is the SLA deadline; zero when the finding was not evaluated.
	DueAt      time.Time
	FirstSeen  time.Time
	SLAAnchor  time.Time
	State      patch.FindingState
	Resolution patch.Resolution
	ResolvedAt time.Time
	// Excepted is true when an active exception covers the finding.
	Excepted bool
}

// FindingOf converts a stored finding.
func FindingOf(f *patch.Finding) Finding {
	return Finding{ID: f.ID, Tier: f.Tier, Emergency: f.Emergency, Approval: f.Approval, DueAt: f.DueAt,
		FirstSeen: f.FirstSeen, SLAAnchor: f.SLAAnchor, State: f.State, Resolution: f.Resolution,
		ResolvedAt: f.ResolvedAt, Excepted: f.ExceptionID != ""}
}

// Options tune the rating. The zero value takes the defaults named on
// each field.
type Options struct {
	// Grace is added to every due time before a finding counts (0).
	Grace time.Duration
	// Window is how far back installs earn credit (30 days).
	Window time.Duration
	// StaleScanAfter is how old the last successful scan may be before
	// the asset is a coverage gap (7 days).
	StaleScanAfter time.Duration
}

// Default option values.
const (
	DefaultWindow         = 30 * 24 * time.Hour
	DefaultStaleScanAfter = 7 * 24 * time.Hour
)

// WithDefaults fills zero fields.
func (o Options) WithDefaults() Options {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.StaleScanAfter <= 0 {
		o.StaleScanAfter = DefaultStaleScanAfter
	}
	if o.Grace < 0 {
		o.Grace = 0
	}
	return o
}
