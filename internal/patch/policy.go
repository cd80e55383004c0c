package patch

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Policy is a client's patch policy: the SLA the MSP sells, as one
// document. It is stored whole, exchanged whole (the API's GET and PUT, the
// CLI's "policy export" and "policy apply") and versioned, so a change is
// always a before/after pair in the audit log and an apply is atomic.
//
// The rules that interpret it (severity mapping, SLA clocks, approvals,
// ring membership, exceptions, "why not patched") live in package policy;
// validation that needs the schedule math (windows, reboot slots) does too.
// A client without a stored policy is held to policy.Default.
type Policy struct {
	ClientID ClientID `json:"client_id" yaml:"client_id"`
	// Version counts stored changes; 0 means the defaults, never stored.
	// A PUT carrying a non-zero Version must match the stored one.
	Version int `json:"version" yaml:"version"`

	// Tiers are the severity tiers, most urgent first. Every severity
	// level maps to exactly one tier.
	Tiers []Tier `json:"tiers" yaml:"tiers"`
	// SLA is the SLA matrix and how clocks run.
	SLA SLA `json:"sla" yaml:"sla"`
	// Windows are the client's named maintenance windows; SLA cells refer
	// to them by name.
	Windows []MaintenanceWindow `json:"windows" yaml:"windows"`
	// Emergency says which updates count as emergency (out-of-band).
	Emergency EmergencyRule `json:"emergency" yaml:"emergency"`
	// Approval holds the auto-approval rules.
	Approval ApprovalPolicy `json:"approval" yaml:"approval"`
	// Rings are the rollout rings in order, canary first; the last ring
	// takes every asset no earlier ring placed.
	Rings []Ring `json:"rings" yaml:"rings"`
	// Exceptions bounds the exception register.
	Exceptions ExceptionPolicy `json:"exceptions" yaml:"exceptions"`
	// AgentOfflineAfter is how long without a check-in before a managed
	// asset counts as offline in "why not patched".
	AgentOfflineAfter Duration `json:"agent_offline_after" yaml:"agent_offline_after"`

	UpdatedAt time.Time `json:"updated_at,omitzero" yaml:"updated_at,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty" yaml:"updated_by,omitempty"`
}

// Level is Patchring's normalised vendor severity, computed from vendor
// data by a fixed, documented mapping (see package policy and
// docs/policy.md). A client's tiers group levels.
type Level string

// Levels, most severe first. LevelNone is an update without any severity
// information.
const (
	LevelCritical Level = "critical"
	LevelHigh     Level = "high"
	LevelMedium   Level = "medium"
	LevelLow      Level = "low"
	LevelNone     Level = "none"
)

// Levels lists the levels, most severe first.
var Levels = []Level{LevelCritical, LevelHigh, LevelMedium, LevelLow, LevelNone}

// Tier is a severity tier of a client's policy ("critical", "high",
// "routine" by default).
type Tier struct {
	Key  string `json:"key" yaml:"key"`
	Name string `json:"name" yaml:"name"`
	// Levels are the severity levels that fall in this tier.
	Levels []Level `json:"levels" yaml:"levels"`
}

// SLA is the SLA matrix and the rules of its clocks.
type SLA struct {
	// Anchor is when a finding's clock starts: AnchorFirstSeen (the scan
	// that first found it, carried over supersedence) or AnchorRelease
	// (the vendor's release date when known and earlier, else first seen).
	Anchor Anchor `json:"anchor" yaml:"anchor"`
	// DueSoonPct: an open finding is due soon when at most this share of
	// its deadline remains (1–99).
	DueSoonPct int `json:"due_soon_pct" yaml:"due_soon_pct"`
	// Matrix has one cell per asset class × tier. Class "*" covers the
	// classes without a row of their own.
	Matrix []SLACell `json:"matrix" yaml:"matrix"`
}

// Anchor names where SLA clocks start. Persisted.
type Anchor string

// Anchors.
const (
	AnchorFirstSeen Anchor = "first_seen"
	AnchorRelease   Anchor = "release"
)

// AnyClass is the class of an SLA cell that covers every class without a
// cell of its own.
const AnyClass = "*"

// SLACell is one cell of the SLA matrix: what the MSP promises for
// findings of one tier on assets of one class.
type SLACell struct {
	Class string `json:"class" yaml:"class"`
	Tier  string `json:"tier" yaml:"tier"`
	// Deadline is the time from the clock's anchor to deployed and
	// verified ("24h", "7d").
	Deadline Duration `json:"deadline" yaml:"deadline"`
	// Windows names the maintenance windows deployments may use; empty
	// means at any time.
	Windows []string `json:"windows,omitempty" yaml:"windows,omitempty"`
	// Reboot is how an install that needs a restart gets one.
	Reboot RebootPolicy `json:"reboot" yaml:"reboot"`
	// ManualApproval makes auto-approval rules skip this cell: every
	// update needs a person's approval (do-not-disrupt systems).
	ManualApproval bool `json:"manual_approval,omitempty" yaml:"manual_approval,omitempty"`
}

// RebootMode is how a reboot is obtained. Persisted.
type RebootMode string

// Reboot modes.
const (
	RebootScheduled    RebootMode = "scheduled"     // at the weekly Slot
	RebootUserPrompted RebootMode = "user_prompted" // the user is asked, with at most Deferrals deferrals
	RebootManual       RebootMode = "manual"        // a person approves each reboot
	RebootNever        RebootMode = "never"         // Patchring never reboots
)

// RebootModes lists the modes.
var RebootModes = []RebootMode{RebootScheduled, RebootUserPrompted, RebootManual, RebootNever}

// RebootPolicy is the reboot column of the SLA matrix.
type RebootPolicy struct {
	Mode RebootMode `json:"mode" yaml:"mode"`
	// Slot is the weekly reboot time of RebootScheduled, such as
	// "sunday 02:00", in the site's zone (see schedule.ParseSlot).
	Slot string `json:"slot,omitempty" yaml:"slot,omitempty"`
	// Deferrals is how often a user may postpone a RebootUserPrompted
	// reboot (0–10).
	Deferrals int `json:"deferrals,omitempty" yaml:"deferrals,omitempty"`
}

// String describes the reboot policy for people.
func (r RebootPolicy) String() string {
	switch r.Mode {
	case RebootScheduled:
		return "scheduled " + r.Slot
	case RebootUserPrompted:
		return fmt.Sprintf("user prompted (%d deferrals)", r.Deferrals)
	case RebootManual:
		return "manual approval"
	case RebootNever:
		return "never"
	}
	return string(r.Mode)
}

// MaintenanceWindow is a named recurring window. Its fields mirror
// schedule.Window exactly (same JSON and YAML names), because the domain
// imports only the standard library; package policy converts between the
// two and a test keeps them from drifting apart.
type MaintenanceWindow struct {
	Name           string                `json:"name" yaml:"name"`
	TimeZone       string                `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`
	Weekly         *WeeklyRecurrence     `json:"weekly,omitempty" yaml:"weekly,omitempty"`
	MonthlyWeekday *MonthlyWeekdayRecurs `json:"monthly_weekday,omitempty" yaml:"monthly_weekday,omitempty"`
	MonthlyDay     *MonthlyDayRecurs     `json:"monthly_day,omitempty" yaml:"monthly_day,omitempty"`
	RRule          string                `json:"rrule,omitempty" yaml:"rrule,omitempty"`
	Duration       string                `json:"duration" yaml:"duration"`
	Blackouts      []BlackoutDates       `json:"blackouts,omitempty" yaml:"blackouts,omitempty"`
	EffectiveFrom  string                `json:"effective_from,omitempty" yaml:"effective_from,omitempty"`
	EffectiveUntil string                `json:"effective_until,omitempty" yaml:"effective_until,omitempty"`
}

// WeeklyRecurrence mirrors schedule.Weekly.
type WeeklyRecurrence struct {
	Days  []string `json:"days" yaml:"days"`
	Start string   `json:"start" yaml:"start"`
}

// MonthlyWeekdayRecurs mirrors schedule.MonthlyWeekday.
type MonthlyWeekdayRecurs struct {
	Week       int    `json:"week" yaml:"week"`
	Day        string `json:"day" yaml:"day"`
	OffsetDays int    `json:"offset_days,omitempty" yaml:"offset_days,omitempty"`
	Start      string `json:"start" yaml:"start"`
}

// MonthlyDayRecurs mirrors schedule.MonthlyDay.
type MonthlyDayRecurs struct {
	Day   int    `json:"day" yaml:"day"`
	Start string `json:"start" yaml:"start"`
}

// BlackoutDates mirrors schedule.Blackout.
type BlackoutDates struct {
	From   string `json:"from" yaml:"from"`
	To     string `json:"to" yaml:"to"`
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
}

// EmergencyRule decides which updates are emergency (out-of-band)
// updates: tracked like any other, reported apart, and excluded from SLA
// attainment as the service description allows. See docs/policy.md.
type EmergencyRule struct {
	Enabled bool `json:"enabled" yaml:"enabled"`
	// Tiers are the tiers whose updates can be emergencies; empty means
	// the most urgent tier only.
	Tiers []string `json:"tiers,omitempty" yaml:"tiers,omitempty"`
	// Notice: a known-exploited update first reported by an agent within
	// this time of its release came with too little notice.
	Notice Duration `json:"notice" yaml:"notice"`
}

// ApprovalPolicy holds the auto-approval rules.
type ApprovalPolicy struct {
	Rules []ApprovalRule `json:"rules" yaml:"rules"`
}

// ApprovalRule approves matching updates automatically, AfterDays after
// their release (or after they were first seen when the release date is
// unknown). Empty lists match anything; all non-empty ones must match.
type ApprovalRule struct {
	Name            string   `json:"name" yaml:"name"`
	Classifications []string `json:"classifications,omitempty" yaml:"classifications,omitempty"`
	Tiers           []string `json:"tiers,omitempty" yaml:"tiers,omitempty"`
	// Products match Update.Product, case-insensitively.
	Products []string `json:"products,omitempty" yaml:"products,omitempty"`
	// Sources match Update.Source ("apt", "wua", …).
	Sources   []string `json:"sources,omitempty" yaml:"sources,omitempty"`
	AfterDays int      `json:"after_days" yaml:"after_days"`
}

// Approver is who approves a ring transition. Persisted.
type Approver string

// Approvers.
const (
	ApproverAutomatic   Approver = "automatic"    // the rollout engine, when the gates pass
	ApproverMSP         Approver = "msp"          // an MSP technician or admin
	ApproverClientOwner Approver = "client_owner" // the client's owner
)

// Approvers lists the approvers.
var Approvers = []Approver{ApproverAutomatic, ApproverMSP, ApproverClientOwner}

// Ring is a rollout ring. An asset is placed in the first ring (in order)
// that claims it: pinned by the asset's own Ring field, listed in Assets,
// matching one of Tags, or falling in the ring's share of the stable
// 0–100 % line (Percent). The last ring takes the rest.
type Ring struct {
	Key  string `json:"key" yaml:"key"`
	Name string `json:"name" yaml:"name"`
	// MSPCanary makes the ring the MSP-wide canary ring: its members are
	// those of the MSP's canary (across clients). Only the first ring.
	MSPCanary bool      `json:"msp_canary,omitempty" yaml:"msp_canary,omitempty"`
	Assets    []AssetID `json:"assets,omitempty" yaml:"assets,omitempty"`
	Tags      []TagRef  `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Percent is the share of the fleet, 0–100, placed by stable hashing:
	// adding assets never moves existing ones.
	Percent float64 `json:"percent,omitempty" yaml:"percent,omitempty"`
	// ExcludeClasses are asset classes this ring never takes by tag or
	// percentage (critical systems are not canaries).
	ExcludeClasses []string `json:"exclude_classes,omitempty" yaml:"exclude_classes,omitempty"`
	// Promotion gates the move from this ring to the next; empty for the
	// last ring.
	Promotion *Promotion `json:"promotion,omitempty" yaml:"promotion,omitempty"`
}

// TagRef selects assets by tag; an empty Value matches any value.
type TagRef struct {
	Key   string `json:"key" yaml:"key"`
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
}

// Matches reports whether tags contain the tag.
func (t TagRef) Matches(tags map[string]string) bool {
	v, ok := tags[t.Key]
	return ok && (t.Value == "" || v == t.Value)
}

// String renders "key" or "key=value".
func (t TagRef) String() string {
	if t.Value == "" {
		return t.Key
	}
	return t.Key + "=" + t.Value
}

// Promotion is the gate between a ring and the next.
type Promotion struct {
	// Soak is how long the ring must run without incident.
	Soak Duration `json:"soak" yaml:"soak"`
	// FailureThresholdPct halts the cycle when more than this share of
	// the ring's results failed …
	FailureThresholdPct float64 `json:"failure_threshold_pct" yaml:"failure_threshold_pct"`
	// … once at least MinSample results are in.
	MinSample int      `json:"min_sample" yaml:"min_sample"`
	Approver  Approver `json:"approver" yaml:"approver"`
}

// ExceptionPolicy bounds exceptions: every exception has a hard expiry no
// further than the maximum from its request.
type ExceptionPolicy struct {
	MaxDays       int `json:"max_days" yaml:"max_days"`
	LegacyMaxDays int `json:"legacy_max_days" yaml:"legacy_max_days"`
}

// MSPCanary is the MSP-wide canary ring: assets of any client that see
// updates first. A client ring with MSPCanary set takes its members from
// here.
type MSPCanary struct {
	Assets    []AssetID  `json:"assets" yaml:"assets"`
	Tags      []TagRef   `json:"tags" yaml:"tags"`
	Promotion *Promotion `json:"promotion,omitempty" yaml:"promotion,omitempty"`
	Version   int        `json:"version" yaml:"version"`
	UpdatedAt time.Time  `json:"updated_at,omitzero" yaml:"updated_at,omitempty"`
}

// Duration is a policy duration written for people: Go syntax ("24h",
// "2h30m") plus whole days and weeks ("7d", "2w", "1d12h"). It is a string
// so that documents round-trip exactly as written.
type Duration string

// Parse returns the duration. Negative durations are refused.
func (d Duration) Parse() (time.Duration, error) {
	s := strings.TrimSpace(string(d))
	if s == "" {
		return 0, fmt.Errorf("is required (such as 24h or 7d)")
	}
	var total time.Duration
	rest := s
	for _, unit := range []struct {
		suffix byte
		size   time.Duration
	}{{'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}} {
		i := strings.IndexByte(rest, unit.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("must be a duration such as 24h, 7d or 2w (got %q)", s)
		}
		total += time.Duration(n) * unit.size
		rest = rest[i+1:]
	}
	if rest != "" {
		g, err := time.ParseDuration(rest)
		if err != nil || strings.ContainsAny(rest, "-+") {
			return 0, fmt.Errorf("must be a duration such as 24h, 7d or 2w (got %q)", s)
		}
		if total+g < total {
			return 0, fmt.Errorf("is too long (got %q)", s)
		}
		total += g
	}
	return total, nil
}

// MustParse returns the duration, or 0 if it does not parse; for values
// that were validated.
func (d Duration) MustParse() time.Duration {
	v, _ := d.Parse()
	return v
}

// FormatDuration writes a duration the way policies do: whole days as
// "7d", otherwise Go syntax.
func FormatDuration(d time.Duration) Duration {
	if d > 0 && d%(24*time.Hour) == 0 {
		return Duration(strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d")
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return Duration(s)
}

// Cell returns the SLA cell for an asset class and tier: the class's own
// cell, else the "*" cell of the tier.
func (p *Policy) Cell(class, tier string) (SLACell, bool) {
	var wild *SLACell
	for i, c := range p.SLA.Matrix {
		if c.Tier != tier {
			continue
		}
		if c.Class == class {
			return c, true
		}
		if c.Class == AnyClass {
			wild = &p.SLA.Matrix[i]
		}
	}
	if wild != nil {
		return *wild, true
	}
	return SLACell{}, false
}

// Tier returns the tier with the given key.
func (p *Policy) Tier(key string) (Tier, bool) {
	for _, t := range p.Tiers {
		if t.Key == key {
			return t, true
		}
	}
	return Tier{}, false
}

// Window returns the named maintenance window.
func (p *Policy) Window(name string) (MaintenanceWindow, bool) {
	for _, w := range p.Windows {
		if w.Name == name {
			return w, true
		}
	}
	return MaintenanceWindow{}, false
}

// PolicyStore persists client policies and the MSP-wide canary ring.
type PolicyStore interface {
	// FindPolicy returns the stored policy of a client. KindNotFound when
	// the client is not in scope or has no stored policy yet (callers then
	// apply the defaults, after checking that the client exists).
	FindPolicy(ctx context.Context, client ClientID) (*Policy, error)
	// PutPolicy stores p, already validated, as its client's policy. When
	// p.Version is not zero it must equal the stored version (0 if none is
	// stored), else KindConflict. It sets Version, UpdatedAt and UpdatedBy
	// and writes a policy.update audit entry with both documents.
	PutPolicy(ctx context.Context, p *Policy) error
	// FindMSPCanary returns the MSP canary ring (empty if never set).
	FindMSPCanary(ctx context.Context) (*MSPCanary, error)
	// PutMSPCanary replaces the MSP canary ring. Unscoped actors only
	// (KindForbidden otherwise); the same version rule as PutPolicy.
	PutMSPCanary(ctx context.Context, c *MSPCanary) error
}
