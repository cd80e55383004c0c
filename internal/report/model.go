package report

import (
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// Document is one report's content: a *PatchHealth, *PatchDetail, *QBR,
// *Inventory or *Scorecard. Every format is rendered from it.
type Document interface {
	Head() *Meta
}

// Meta heads every report.
type Meta struct {
	ID    patch.ReportID   `json:"id"`
	Kind  patch.ReportKind `json:"kind"`
	Title string           `json:"title"`
	// MSP is the name of the managed service provider.
	MSP string `json:"msp"`
	// ClientID and Client are empty for MSP-wide reports.
	ClientID patch.ClientID `json:"client_id,omitempty"`
	Client   string         `json:"client,omitempty"`
	Period   patch.Period   `json:"period"`
	// AsOf is the instant the report's point-in-time facts (open
	// findings, active exceptions, inventory) describe: the end of the
	// period, or the generation time for a period not yet over.
	AsOf time.Time `json:"as_of"`
	// Partial is true when the period was not over at generation.
	Partial     bool      `json:"partial"`
	GeneratedAt time.Time `json:"generated_at"`
	GeneratedBy string    `json:"generated_by"`
	// Generator is the program and version.
	Generator string `json:"generator"`
}

// Head returns the report's head.
func (m *Meta) Head() *Meta { return m }

// FileBase is the base of the report's file names:
// "patch-health-riverside-family-clinic-2026-10".
func (m *Meta) FileBase() string {
	name := "msp"
	if m.Client != "" {
		name = slug(m.Client)
	}
	return string(m.Kind) + "-" + name + "-" + m.Period.Key
}

// Rating is one group's rating over the period: the compliance engine's
// average of its daily snapshots, with a display label.
type Rating struct {
	Label string `json:"label"`
	compliance.PeriodAverage
	// Now is the group's rating at AsOf (the last snapshot of the
	// period), with the finding counts behind it.
	Now *patch.RatingSnapshot `json:"now,omitempty"`
}

// Series is one line of a trend chart: a value per day (nil: no
// snapshot that day).
type Series struct {
	Name   string     `json:"name"`
	Values []*float64 `json:"values"`
	// Target, when set, is drawn as a dashed reference line.
	Target *float64 `json:"target,omitempty"`
}

// Trend is a daily chart.
type Trend struct {
	Days   []patch.Day `json:"days"`
	Series []Series    `json:"series"`
}

// Empty reports whether the trend has no value at all.
func (t *Trend) Empty() bool {
	for _, s := range t.Series {
		for _, v := range s.Values {
			if v != nil {
				return false
			}
		}
	}
	return true
}

// Failure is one failed install or rollback in the period and what
// became of it, read from the evidence chain.
type Failure struct {
	At       time.Time     `json:"at"`
	AssetID  patch.AssetID `json:"asset_id"`
	Hostname string        `json:"hostname"`
	Update   string        `json:"update"`
	// Event is the failure event: install_failed, rolled_back,
	// rollback_failed, health_check_failed, verify_failed,
	// snapshot_failed.
	Event  string `json:"event"`
	Detail string `json:"detail,omitempty"`
	// Remediation says how it was resolved ("verified installed",
	// "excepted", …) or is empty while it is open.
	Remediation  string    `json:"remediation,omitempty"`
	RemediatedAt time.Time `json:"remediated_at,omitzero"`
}

// Exception is an entry of the exception register as a report shows it.
type Exception struct {
	ID        patch.ExceptionID    `json:"id"`
	Lane      patch.ExceptionLane  `json:"lane"`
	State     patch.ExceptionState `json:"state"`
	Scope     string               `json:"scope"`
	Assets    []string             `json:"assets,omitempty"`
	Reason    string               `json:"reason"`
	TicketRef string               `json:"ticket_ref"`
	Controls  []string             `json:"controls"`
	// SignedOffBy names the client owner who signed it off, if anyone did.
	SignedOffBy  string    `json:"signed_off_by,omitempty"`
	SignedOffAt  time.Time `json:"signed_off_at,omitzero"`
	StartsAt     time.Time `json:"starts_at,omitzero"`
	ExpiresAt    time.Time `json:"expires_at"`
	DaysToExpiry int       `json:"days_to_expiry"`
	OpenDays     int       `json:"open_days"`
}

// Risk is a finding ranked by risk: for "top risks reduced", one verified
// installed in the period; for the prioritisation log, any.
type Risk struct {
	Rank           int             `json:"rank"`
	FindingID      patch.FindingID `json:"finding_id"`
	AssetID        patch.AssetID   `json:"asset_id"`
	Hostname       string          `json:"hostname"`
	EPHI           bool            `json:"ephi"`
	Criticality    string          `json:"criticality"`
	Update         string          `json:"update"`
	KBs            []string        `json:"kbs,omitempty"`
	CVEs           []string        `json:"cves,omitempty"`
	CVSS           float64         `json:"cvss,omitempty"`
	KnownExploited bool            `json:"known_exploited"`
	Tier           string          `json:"tier"`
	Emergency      bool            `json:"emergency"`
	DetectedAt     time.Time       `json:"detected_at"`
	DueAt          time.Time       `json:"due_at,omitzero"`
	ResolvedAt     time.Time       `json:"resolved_at,omitzero"`
	// MetSLA is set for resolved findings with a due time.
	MetSLA *bool `json:"met_sla,omitempty"`
}

// GapCount is how many assets have one coverage gap.
type GapCount struct {
	Gap    string   `json:"gap"`
	Label  string   `json:"label"`
	Assets int      `json:"assets"`
	Hosts  []string `json:"hosts,omitempty"`
}

// PatchHealth is the monthly, client-facing Patch Health report.
type PatchHealth struct {
	Meta
	// Highlights are the report's findings in plain language.
	Highlights []string `json:"highlights"`
	// ByKind are the servers and workstations ratings against the
	// service description's targets; ByOS, ByTier and ByClass the other
	// breakdowns. There is deliberately no single blended number.
	ByKind  []Rating `json:"by_kind"`
	ByOS    []Rating `json:"by_os"`
	ByTier  []Rating `json:"by_tier"`
	ByClass []Rating `json:"by_class"`
	// Excluded are the findings left out of the rating at AsOf, shown
	// beside it: excepted, emergency, not approved, not yet evaluated.
	Excluded patch.FindingCounts `json:"excluded"`
	// Trend is the 30 days to AsOf.
	Trend        Trend                    `json:"trend"`
	SLA          []compliance.Attainment  `json:"sla"`
	Remediation  []compliance.Remediation `json:"remediation"`
	FailureRates []compliance.FailureRate `json:"failure_rates"`
	Failures     []Failure                `json:"failures"`
	Exceptions   []Exception              `json:"exceptions"`
	TopRisks     []Risk                   `json:"top_risks"`
	Gaps         []GapCount               `json:"gaps"`
}

// FindingLine is one finding of an asset in the Patch Detail report.
type FindingLine struct {
	FindingID      patch.FindingID    `json:"finding_id"`
	Update         string             `json:"update"`
	Package        string             `json:"package,omitempty"`
	Version        string             `json:"version,omitempty"`
	Installed      string             `json:"installed_version,omitempty"`
	KBs            []string           `json:"kbs,omitempty"`
	CVEs           []string           `json:"cves,omitempty"`
	KnownExploited bool               `json:"known_exploited"`
	Tier           string             `json:"tier"`
	Emergency      bool               `json:"emergency"`
	Approval       patch.Approval     `json:"approval"`
	State          patch.FindingState `json:"state"`
	Resolution     patch.Resolution   `json:"resolution,omitempty"`
	SLAStatus      patch.SLAStatus    `json:"sla_status"`
	ExceptionID    string             `json:"exception_id,omitempty"`
	FirstSeen      time.Time          `json:"first_seen"`
	DueAt          time.Time          `json:"due_at,omitzero"`
	ResolvedAt     time.Time          `json:"resolved_at,omitzero"`
}

// AssetDetail is one asset with its full patch state.
type AssetDetail struct {
	ID          patch.AssetID `json:"id"`
	Hostname    string        `json:"hostname"`
	Site        string        `json:"site"`
	OS          string        `json:"os"`
	OSFamily    string        `json:"os_family"`
	Role        string        `json:"role"`
	Class       string        `json:"class"`
	Criticality string        `json:"criticality"`
	// EPHI is "yes", "no" or "" (not classified).
	EPHI     string    `json:"ephi"`
	Owner    string    `json:"owner"`
	Managed  bool      `json:"managed"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	LastScan time.Time `json:"last_scan,omitzero"`
	// RatingPct is the asset's rating at AsOf; nil when it cannot be rated.
	RatingPct *float64 `json:"rating_pct"`
	Gaps      []string `json:"gaps"`
	// Open are the findings open at AsOf; Fixed those verified installed
	// in the period.
	Open  []FindingLine `json:"open"`
	Fixed []FindingLine `json:"fixed"`
}

// PatchDetail lists every asset with its full patch state, for on- and
// off-boarding.
type PatchDetail struct {
	Meta
	Assets []AssetDetail `json:"assets"`
}

// MonthScore is one month of a quarter: the servers and workstations
// averages against their targets.
type MonthScore struct {
	Month patch.Period `json:"month"`
	Kinds []Rating     `json:"kinds"`
}

// QBR is the quarterly executive summary for a client's management, in
// plain language.
type QBR struct {
	Meta
	// Summary are short paragraphs for a non-technical reader.
	Summary []string     `json:"summary"`
	Months  []MonthScore `json:"months"`
	// Quarter are the quarter's averages by kind.
	Quarter []Rating `json:"quarter"`
	Trend   Trend    `json:"trend"`
	// Fixed is how many findings were verified installed in the quarter;
	// CriticalFixed those of the most urgent tiers or known exploited.
	Fixed         int                     `json:"fixed"`
	CriticalFixed int                     `json:"critical_fixed"`
	SLA           []compliance.Attainment `json:"sla"`
	Exceptions    []Exception             `json:"exceptions"`
	TopRisks      []Risk                  `json:"top_risks"`
	// Attention lists what management should know or decide.
	Attention []string `json:"attention"`
}

// InventoryAsset is one asset of the inventory export.
type InventoryAsset struct {
	ID           patch.AssetID     `json:"id"`
	Hostname     string            `json:"hostname"`
	FQDN         string            `json:"fqdn"`
	Site         string            `json:"site"`
	Location     string            `json:"location"`
	Owner        string            `json:"owner"`
	Role         string            `json:"role"`
	Class        string            `json:"class"`
	Criticality  string            `json:"criticality"`
	EPHI         string            `json:"ephi"`
	OSFamily     string            `json:"os_family"`
	OS           string            `json:"os"`
	OSVersion    string            `json:"os_version"`
	OSBuild      string            `json:"os_build"`
	Serial       string            `json:"serial_number"`
	IPs          []string          `json:"ip_addresses"`
	MACs         []string          `json:"mac_addresses"`
	Managed      bool              `json:"managed"`
	Source       string            `json:"source"`
	FirstSeen    time.Time         `json:"first_seen"`
	LastSeen     time.Time         `json:"last_seen,omitzero"`
	Tags         map[string]string `json:"tags"`
	SoftwareSeen int               `json:"software"`
}

// SoftwareItem is one installed package on one asset.
type SoftwareItem struct {
	AssetID     patch.AssetID `json:"asset_id"`
	Hostname    string        `json:"hostname"`
	Name        string        `json:"name"`
	Version     string        `json:"version"`
	Vendor      string        `json:"vendor,omitempty"`
	Source      string        `json:"source"`
	InstallDate time.Time     `json:"install_date,omitzero"`
}

// Count is a labelled number.
type Count struct {
	Label string `json:"label"`
	N     int    `json:"n"`
}

// Inventory is the date-stamped monthly asset and software inventory.
type Inventory struct {
	Meta
	// Counts summarise the assets by OS, role, ePHI and management.
	Counts   []Count          `json:"counts"`
	Assets   []InventoryAsset `json:"assets"`
	Software []SoftwareItem   `json:"software"`
}

// ScorecardClient is one client's (or the MSP's) weeks.
type ScorecardClient struct {
	ClientID patch.ClientID             `json:"client_id,omitempty"`
	Name     string                     `json:"name"`
	Weeks    []compliance.ScorecardWeek `json:"weeks"`
}

// Scorecard is the internal one-page scorecard: compliance, exception
// aging, failure rate and after-hours tickets, week over week.
type Scorecard struct {
	Meta
	Rows []ScorecardClient `json:"rows"`
}
