package patch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// FindingCounts count a group's findings by how the Patch Health
// Compliance rating treats them at one instant (see package compliance
// and docs/compliance.md). Installed and Missing make the rating; the
// others are excluded from it and shown beside it, and the strict rating
// counts them as missing.
type FindingCounts struct {
	// Installed: verified installed, due (plus grace) by the instant, and
	// due or installed within the rating window. Includes
	// EmergencyInstalled.
	Installed int `json:"installed"`
	// Missing: approved, past due (plus grace), not installed at the
	// instant, not excepted, not an emergency update.
	Missing int `json:"missing"`
	// Excepted: past due and missing, but covered by an active exception.
	Excepted int `json:"excepted"`
	// EmergencyMissing: past-due emergency (out-of-band) updates not
	// installed; the service description excludes them from service levels.
	EmergencyMissing int `json:"emergency_missing"`
	// EmergencyInstalled: emergency updates among Installed.
	EmergencyInstalled int `json:"emergency_installed"`
	// NotApproved: past due and missing, but pending approval or declined.
	NotApproved int `json:"not_approved"`
	// NotEvaluated: missing, with no due time yet (the SLA evaluator has
	// not run on them).
	NotEvaluated int `json:"not_evaluated"`
}

// Add adds o to c, times sign (1 or -1).
func (c *FindingCounts) Add(o FindingCounts, sign int) {
	c.Installed += sign * o.Installed
	c.Missing += sign * o.Missing
	c.Excepted += sign * o.Excepted
	c.EmergencyMissing += sign * o.EmergencyMissing
	c.EmergencyInstalled += sign * o.EmergencyInstalled
	c.NotApproved += sign * o.NotApproved
	c.NotEvaluated += sign * o.NotEvaluated
}

// Zero reports whether every count is zero.
func (c FindingCounts) Zero() bool { return c == FindingCounts{} }

// MonitorKind names a monitor. Persisted; also the kind of the alerts a
// monitor raises.
type MonitorKind string

// Monitors. The first four are the service description's RMM monitors.
const (
	MonitorUpdatesFailed      MonitorKind = "updates_failed"
	MonitorUpdatesInstalled   MonitorKind = "updates_installed"
	MonitorMissingServicePack MonitorKind = "updates_missing_service_pack"
	MonitorUpdatesOutOfDate   MonitorKind = "updates_out_of_date"
	MonitorNotServiceable     MonitorKind = "not_serviceable"
	MonitorAgentOffline       MonitorKind = "agent_offline"
)

// MonitorKinds lists the monitors in display order.
var MonitorKinds = []MonitorKind{MonitorUpdatesFailed, MonitorUpdatesInstalled, MonitorMissingServicePack,
	MonitorUpdatesOutOfDate, MonitorNotServiceable, MonitorAgentOffline}

// Title is the monitor's display name, as the service description writes it.
func (k MonitorKind) Title() string {
	switch k {
	case MonitorUpdatesFailed:
		return "UPDATES – Failed"
	case MonitorUpdatesInstalled:
		return "UPDATES – Installed"
	case MonitorMissingServicePack:
		return "UPDATES – Missing Service Pack"
	case MonitorUpdatesOutOfDate:
		return "UPDATES – Out of Date"
	case MonitorNotServiceable:
		return "Not serviceable"
	case MonitorAgentOffline:
		return "Agent offline"
	}
	return string(k)
}

// MonitorStatus is a monitor's state for one asset. Persisted.
type MonitorStatus string

// Monitor statuses. Warning and critical are alerting; ok and unknown are
// not (unknown: the monitor lacks the facts to decide, say before the
// first scan).
const (
	MonitorOK       MonitorStatus = "ok"
	MonitorWarning  MonitorStatus = "warning"
	MonitorCritical MonitorStatus = "critical"
	MonitorUnknown  MonitorStatus = "unknown"
)

// MonitorStatuses lists the statuses.
var MonitorStatuses = []MonitorStatus{MonitorOK, MonitorWarning, MonitorCritical, MonitorUnknown}

// Alerting reports whether the status calls for an alert.
func (s MonitorStatus) Alerting() bool { return s == MonitorWarning || s == MonitorCritical }

// MonitorState is the current state of one monitor on one asset. Status
// is the confirmed status: a change becomes confirmed only after it held
// for the settle time (see package compliance), so a blip raises nothing.
type MonitorState struct {
	AssetID  AssetID       `json:"asset_id"`
	ClientID ClientID      `json:"client_id"`
	Kind     MonitorKind   `json:"kind"`
	Title    string        `json:"title"`
	Status   MonitorStatus `json:"status"`
	// Since is when Status was confirmed.
	Since   time.Time         `json:"since"`
	Summary string            `json:"summary"`
	Details map[string]string `json:"details,omitempty"`
	// Fingerprint identifies what the monitor saw (for UPDATES –
	// Installed, the latest verified install); a change of it at the same
	// status is recorded as an event without an alert.
	Fingerprint string `json:"-"`
	// PendingStatus, when set, is a different status observed since
	// PendingSince and not yet confirmed.
	PendingStatus MonitorStatus `json:"pending_status,omitempty"`
	PendingSince  time.Time     `json:"pending_since,omitzero"`
	// Flapping is true while the monitor changes too often; its alerts are
	// then replaced by one flapping alert until it settles.
	Flapping bool `json:"flapping"`
	// Changes are the times of recent confirmed changes (the flap window).
	Changes []time.Time `json:"-"`
	// AlertID is the monitor's open alert, if any.
	AlertID     AlertID   `json:"alert_id,omitempty"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	// Version counts stored changes; SaveMonitors refuses a state whose
	// version moved on since it was read (KindConflict).
	Version int `json:"-"`
}

// MonitorEvent is one entry of a monitor's history: a confirmed status
// change, or a change of what it saw at the same status.
type MonitorEvent struct {
	ID       string        `json:"id"`
	ClientID ClientID      `json:"client_id"`
	AssetID  AssetID       `json:"asset_id"`
	Kind     MonitorKind   `json:"kind"`
	At       time.Time     `json:"at"`
	From     MonitorStatus `json:"from,omitempty"`
	To       MonitorStatus `json:"to"`
	Summary  string        `json:"summary"`
	// Details are the monitor's details at the event.
	Details map[string]string `json:"details,omitempty"`
	// Suppressed is true when the change raised or resolved no alert
	// because the monitor was flapping.
	Suppressed bool    `json:"suppressed"`
	AlertID    AlertID `json:"alert_id,omitempty"`
}

// AlertAction says what a monitor change does to the monitor's alert.
type AlertAction string

// Alert actions. Raising while an alert of the same client, kind and
// subject is open does nothing (the alerts table allows one open alert
// per client, kind and subject): that is the de-duplication.
const (
	AlertNone     AlertAction = ""
	AlertRaise    AlertAction = "raise"
	AlertEscalate AlertAction = "escalate" // change the open alert's severity and message
	AlertResolve  AlertAction = "resolve"
)

// MonitorChange is one monitor's new state for SaveMonitors, with the
// event to record and what to do to its alert.
type MonitorChange struct {
	State  MonitorState
	Event  *MonitorEvent
	Action AlertAction
	// Alert is the alert to raise or the new severity and message of the
	// open one (Action raise or escalate).
	Alert *Alert
}

// MonitorFilter selects monitor states, by asset and kind.
type MonitorFilter struct {
	ClientID *ClientID
	AssetID  *AssetID
	Kind     *MonitorKind
	Status   *MonitorStatus
	Offset   int
	Limit    int
}

// MonitorEventFilter selects monitor events, newest first.
type MonitorEventFilter struct {
	ClientID *ClientID
	AssetID  *AssetID
	Kind     *MonitorKind
	Since    *time.Time
	Offset   int
	Limit    int
}

// MonitorStore persists monitor states, their history and their alerts.
type MonitorStore interface {
	FindMonitorStates(ctx context.Context, f MonitorFilter) ([]*MonitorState, int, error)
	FindMonitorEvents(ctx context.Context, f MonitorEventFilter) ([]*MonitorEvent, int, error)
	// SaveMonitors stores the new states of one asset's monitors with
	// their events and alert actions in one transaction, and returns the
	// stored states (new Version, AlertID of the open alert). A state
	// whose Version is not the stored one (another evaluation saved
	// first) gives KindConflict and nothing is written; the asset must be
	// in scope. Monitor states are derived data and not audited; their
	// events are their history, and their alerts are recorded in the
	// alerts table (raising an alert that is open already changes
	// nothing).
	SaveMonitors(ctx context.Context, asset AssetID, changes []MonitorChange) ([]*MonitorState, error)
}

// OSBaseline is a client's minimum OS build or feature release for one OS
// family: an asset below it is missing a service pack. Match narrows the
// baseline to OS names containing it (case-insensitive), so that one
// client can hold Windows Server and Windows 11 to different builds; the
// baseline with the longest matching Match applies.
type OSBaseline struct {
	Family OSFamily `json:"family" enum:"windows,macos,linux,other"`
	Match  string   `json:"match,omitempty" maxLength:"100" doc:"Substring of the OS name this baseline applies to, such as 'Server' or 'Ubuntu'; empty for the whole family"`
	// MinVersion is compared part by part with the asset's OS version
	// (Windows "10.0.19045", macOS "14.7", Ubuntu "22.04").
	MinVersion string `json:"min_version" minLength:"1" maxLength:"50" doc:"Lowest acceptable OS version, compared numerically part by part: 10.0.19045, 14.7, 22.04"`
	Note       string `json:"note,omitempty" maxLength:"500"`
}

// ValidateOSBaselines checks a client's baseline list: known families,
// versions that start with a number, one baseline per family and match.
func ValidateOSBaselines(bs []OSBaseline) error {
	if len(bs) > 100 {
		return FieldError("baselines", "must list at most 100 baselines")
	}
	seen := map[string]bool{}
	for i, b := range bs {
		f := fmt.Sprintf("baselines[%d]", i)
		if !slices.Contains(OSFamilies, b.Family) {
			return FieldError(f+".family", "must be one of windows, macos, linux, other (got %q)", string(b.Family))
		}
		if err := validText(f+".match", b.Match, 100); err != nil {
			return err
		}
		v := strings.TrimSpace(b.MinVersion)
		if v == "" || len(v) > 50 || v[0] < '0' || v[0] > '9' {
			return FieldError(f+".min_version", "must be a version starting with a number, such as 10.0.19045 (got %q)", b.MinVersion)
		}
		if err := validText(f+".note", b.Note, 500); err != nil {
			return err
		}
		k := string(b.Family) + "\x00" + strings.ToLower(strings.TrimSpace(b.Match))
		if seen[k] {
			return FieldError(f+".match", "duplicate baseline for family %s and match %q", b.Family, b.Match)
		}
		seen[k] = true
	}
	return nil
}

// BaselineStore persists the clients' OS baselines.
type BaselineStore interface {
	// FindOSBaselines returns a client's baselines; none is not an error.
	// KindNotFound for a client out of scope.
	FindOSBaselines(ctx context.Context, client ClientID) ([]OSBaseline, error)
	// SetOSBaselines replaces a client's baselines (validated) and writes
	// a compliance.baselines audit entry with both lists.
	SetOSBaselines(ctx context.Context, client ClientID, bs []OSBaseline) error
}

// ComplianceFacts are the stored facts of one asset that the compliance
// rating and the monitors read.
type ComplianceFacts struct {
	Asset *Asset
	Scans []*ScanStatus
	// Findings are the asset's open findings and those resolved or due
	// after the filter's Since.
	Findings []*Finding
}

// ComplianceFactFilter selects the facts of assets in scope.
type ComplianceFactFilter struct {
	ClientID *ClientID
	AssetID  *AssetID
	// Since bounds resolved findings: those resolved and due before it
	// are left out (they no longer count anywhere in the rating).
	Since time.Time
}

// ComplianceFactStore reads compliance facts in bulk.
type ComplianceFactStore interface {
	// FindComplianceFacts returns the facts of the matching assets, in
	// asset-ID order. Assets of other clients are not returned.
	FindComplianceFacts(ctx context.Context, f ComplianceFactFilter) ([]*ComplianceFacts, error)
}

// Day is a calendar day in UTC, "2006-01-02": the unit of compliance
// snapshots. A day's snapshot is the rating at its end (the next midnight
// UTC).
type Day string

// DayLayout is the format of a Day.
const DayLayout = "2006-01-02"

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day { return Day(t.UTC().Format(DayLayout)) }

// ParseDay parses a day; field names the input in the error.
func ParseDay(field, s string) (Day, error) {
	t, err := time.Parse(DayLayout, s)
	if err != nil {
		return "", FieldError(field, "must be a date such as 2026-11-30 (got %q)", s)
	}
	return DayOf(t), nil
}

// Start returns the day's first instant (midnight UTC).
func (d Day) Start() time.Time {
	t, _ := time.Parse(DayLayout, string(d))
	return t
}

// End returns the instant the day's snapshot describes: the next midnight.
func (d Day) End() time.Time { return d.Start().AddDate(0, 0, 1) }

// Add returns the day n days later.
func (d Day) Add(n int) Day { return DayOf(d.Start().AddDate(0, 0, n)) }

// RatingSnapshot is one rating of one group on one day, as it was
// computed at the day's end. Snapshots are kept so that a monthly average
// is the mean of real daily values and a past month can be re-reported
// exactly, whatever changed since.
type RatingSnapshot struct {
	Day Day `json:"day"`
	// ClientID is empty for the MSP-wide rows.
	ClientID ClientID `json:"client_id,omitempty"`
	// Dim and Key name the group: all/"", class/<class key>, kind/server,
	// tier/<tier key>, os/<family>, site/<site id>.
	Dim string `json:"dim"`
	Key string `json:"key"`
	// RatingPct is nil when no asset of the group could be rated.
	RatingPct *float64 `json:"rating_pct"`
	StrictPct *float64 `json:"strict_pct"`
	TargetPct *float64 `json:"target_pct"`
	Met       *bool    `json:"met"`
	Assets    int      `json:"assets"`
	Rated     int      `json:"rated"`
	Compliant int      `json:"compliant"`
	// Findings are the group's findings by rating treatment.
	Findings FindingCounts `json:"findings"`
	// Gaps counts the group's assets with each coverage gap.
	Gaps    map[string]int `json:"gaps"`
	TakenAt time.Time      `json:"taken_at"`
}

// AssetDay is one asset's rating on one day: the rows a day's group
// ratings were computed from, kept so that a past day's number can be
// traced to its assets.
type AssetDay struct {
	Day       Day           `json:"day"`
	ClientID  ClientID      `json:"client_id"`
	AssetID   AssetID       `json:"asset_id"`
	Hostname  string        `json:"hostname"`
	SiteID    SiteID        `json:"site_id,omitempty"`
	OS        OSFamily      `json:"os"`
	Class     string        `json:"class"`
	Kind      ClassKind     `json:"kind"`
	Rated     bool          `json:"rated"`
	RatingPct *float64      `json:"rating_pct"`
	StrictPct *float64      `json:"strict_pct"`
	TargetPct float64       `json:"target_pct"`
	Findings  FindingCounts `json:"findings"`
	// Tiers are the findings by severity tier.
	Tiers map[string]FindingCounts `json:"tiers"`
	Gaps  []string                 `json:"gaps"`
}

// SnapshotFilter selects group ratings, oldest day first.
type SnapshotFilter struct {
	// ClientID selects one client's rows; MSP selects the MSP-wide rows
	// (unscoped callers only). Neither: every row in scope.
	ClientID *ClientID
	MSP      bool
	Dim      *string
	Key      *string
	// From and To bound the days, inclusive; empty is open.
	From Day
	To   Day
}

// AssetDayFilter selects asset-days, by hostname.
type AssetDayFilter struct {
	ClientID *ClientID
	AssetID  *AssetID
	Day      *Day
	From, To Day
	Class    *string
	Kind     *ClassKind
	OS       *OSFamily
	SiteID   *SiteID
	// RatedOnly selects the rated assets.
	RatedOnly bool
	Offset    int
	Limit     int
}

// SnapshotStore persists daily compliance snapshots.
type SnapshotStore interface {
	// SaveSnapshot replaces the whole snapshot of one day (every group
	// row and every asset row) in one transaction, so taking a day twice
	// leaves one copy, and writes a compliance.snapshot audit entry.
	// Unscoped actors only (KindForbidden otherwise).
	SaveSnapshot(ctx context.Context, day Day, groups []*RatingSnapshot, assets []*AssetDay) error
	// SnapshotDays returns the days between from and to (inclusive) that
	// have a snapshot.
	SnapshotDays(ctx context.Context, from, to Day) ([]Day, error)
	FindSnapshots(ctx context.Context, f SnapshotFilter) ([]*RatingSnapshot, error)
	FindAssetDays(ctx context.Context, f AssetDayFilter) ([]*AssetDay, int, error)
}
