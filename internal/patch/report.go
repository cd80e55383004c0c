package patch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReportID identifies a generated report.
type ReportID string

// PrefixReport is the ID prefix of reports.
const PrefixReport = "rep"

// ReportKind names a kind of report. Persisted and on the wire.
type ReportKind string

// Report kinds. All but the scorecard are client-facing; the scorecard is
// the MSP's internal one-page review and is never shown to a client.
const (
	ReportPatchHealth ReportKind = "patch-health" // monthly, client-facing
	ReportPatchDetail ReportKind = "patch-detail" // every asset with its patch state (on- and off-boarding)
	ReportQBR         ReportKind = "qbr"          // quarterly business review executive summary
	ReportInventory   ReportKind = "inventory"    // date-stamped asset and software inventory
	ReportScorecard   ReportKind = "scorecard"    // internal scorecard, per client or MSP-wide
)

// ReportKinds lists the kinds in display order.
var ReportKinds = []ReportKind{ReportPatchHealth, ReportPatchDetail, ReportQBR, ReportInventory, ReportScorecard}

// Internal reports whether the kind is for MSP staff only.
func (k ReportKind) Internal() bool { return k == ReportScorecard }

// Title is the kind's display name.
func (k ReportKind) Title() string {
	switch k {
	case ReportPatchHealth:
		return "Patch Health Report"
	case ReportPatchDetail:
		return "Patch Detail Report"
	case ReportQBR:
		return "Quarterly Business Review: Patch Management Summary"
	case ReportInventory:
		return "Asset and Software Inventory"
	case ReportScorecard:
		return "Internal Patching Scorecard"
	}
	return string(k)
}

// ValidateReportKind checks a kind named by field.
func ValidateReportKind(field string, k ReportKind) error {
	if !slices.Contains(ReportKinds, k) {
		return FieldError(field, "must be one of patch-health, patch-detail, qbr, inventory, scorecard (got %q)", string(k))
	}
	return nil
}

// ReportFormat is a file format a report is rendered in. Persisted.
type ReportFormat string

// Report formats. Every report is rendered in all four at once, from one
// document, so the formats can never disagree.
const (
	FormatPDF  ReportFormat = "pdf"
	FormatHTML ReportFormat = "html"
	FormatCSV  ReportFormat = "csv"
	FormatJSON ReportFormat = "json"
)

// ReportFormats lists the formats.
var ReportFormats = []ReportFormat{FormatPDF, FormatHTML, FormatCSV, FormatJSON}

// ContentType returns the media type of the format.
func (f ReportFormat) ContentType() string {
	switch f {
	case FormatPDF:
		return "application/pdf"
	case FormatHTML:
		return "text/html; charset=utf-8"
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatJSON:
		return "application/json"
	}
	return "application/octet-stream"
}

// ReportTrigger says why a report was generated. Persisted.
type ReportTrigger string

// Report triggers.
const (
	TriggerOnDemand ReportTrigger = "on_demand"
	TriggerSchedule ReportTrigger = "schedule"
	TriggerBundle   ReportTrigger = "bundle" // generated for an evidence bundle that lacked it
)

// Period is a reporting period: a calendar month ("2026-10") or quarter
// ("2026-Q4") in UTC, the time zone of the compliance snapshots. Start is
// inclusive and End exclusive.
type Period struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ParsePeriod parses "2026-10" or "2026-Q4"; field names the input in
// the error.
func ParsePeriod(field, s string) (Period, error) {
	bad := FieldError(field, "must be a month such as 2026-10 or a quarter such as 2026-Q4 (got %q)", s)
	ys, rest, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok || len(ys) != 4 {
		return Period{}, bad
	}
	y, err := strconv.Atoi(ys)
	if err != nil || y < 2000 || y > 9998 {
		return Period{}, bad
	}
	if q, ok := strings.CutPrefix(strings.ToUpper(rest), "Q"); ok {
		n, err := strconv.Atoi(q)
		if err != nil || len(q) != 1 || n < 1 || n > 4 {
			return Period{}, bad
		}
		start := time.Date(y, time.Month(3*n-2), 1, 0, 0, 0, 0, time.UTC)
		return Period{Key: fmt.Sprintf("%04d-Q%d", y, n), Start: start, End: start.AddDate(0, 3, 0)}, nil
	}
	m, err := strconv.Atoi(rest)
	if err != nil || len(rest) != 2 || m < 1 || m > 12 {
		return Period{}, bad
	}
	return MonthPeriod(time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)), nil
}

// MonthPeriod returns the calendar month (UTC) containing t.
func MonthPeriod(t time.Time) Period {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Period{Key: start.Format("2006-01"), Start: start, End: start.AddDate(0, 1, 0)}
}

// QuarterPeriod returns the calendar quarter (UTC) containing t.
func QuarterPeriod(t time.Time) Period {
	t = t.UTC()
	q := (int(t.Month())-1)/3 + 1
	start := time.Date(t.Year(), time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC)
	return Period{Key: fmt.Sprintf("%04d-Q%d", t.Year(), q), Start: start, End: start.AddDate(0, 3, 0)}
}

// Quarter reports whether the period is a quarter.
func (p Period) Quarter() bool { return strings.Contains(p.Key, "Q") }

// Months returns the calendar months of the period in order.
func (p Period) Months() []Period {
	var out []Period
	for t := p.Start; t.Before(p.End); t = t.AddDate(0, 1, 0) {
		out = append(out, MonthPeriod(t))
	}
	return out
}

// Contains reports whether t is in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// String returns the period's key.
func (p Period) String() string { return p.Key }

// Label returns the period for people: "October 2026", "Q4 2026".
func (p Period) Label() string {
	if p.Quarter() {
		return fmt.Sprintf("Q%d %d", (int(p.Start.Month())-1)/3+1, p.Start.Year())
	}
	return p.Start.Format("January 2006")
}

// ReportFile is one rendered file of a report; the content is fetched
// separately.
type ReportFile struct {
	Name        string       `json:"name"`
	Format      ReportFormat `json:"format"`
	ContentType string       `json:"content_type"`
	Size        int64        `json:"size"`
	SHA256      string       `json:"sha256"`
}

// Report is a generated report: the document of one kind for one client
// (or the MSP) and period, as it was at GeneratedAt, in every format.
// Reports are immutable; generating again makes a new one.
type Report struct {
	ID ReportID `json:"id"`
	// ClientID is empty for MSP-wide reports (the internal scorecard).
	ClientID    ClientID      `json:"client_id,omitempty"`
	Kind        ReportKind    `json:"kind"`
	Period      Period        `json:"period"`
	Title       string        `json:"title"`
	Trigger     ReportTrigger `json:"trigger"`
	GeneratedAt time.Time     `json:"generated_at"`
	GeneratedBy Actor         `json:"generated_by"`
	// Summary holds the report's headline numbers as text, for lists.
	Summary map[string]string `json:"summary,omitempty"`
	Files   []ReportFile      `json:"files"`
}

// File returns the report's file of format f.
func (r *Report) File(f ReportFormat) (ReportFile, bool) {
	for _, rf := range r.Files {
		if rf.Format == f {
			return rf, true
		}
	}
	return ReportFile{}, false
}

// ReportFilter selects reports, newest first.
type ReportFilter struct {
	ID       *ReportID
	ClientID *ClientID
	// MSP selects the MSP-wide reports (unscoped callers only).
	MSP     bool
	Kind    *ReportKind
	Period  *string
	Trigger *ReportTrigger
	Offset  int
	Limit   int
}

// ReportStore persists generated reports.
type ReportStore interface {
	// CreateReport stores r with the contents of its files (keyed by file
	// name, one per entry of r.Files) in one transaction, audited as
	// report.generate. A client-scoped actor may only store its client's
	// reports and never an internal one (KindForbidden). A second
	// scheduled report of the same client, kind and period gives
	// KindConflict.
	CreateReport(ctx context.Context, r *Report, contents map[string][]byte) error
	// FindReportByID returns a report's metadata; KindNotFound when it is
	// out of scope or internal and the caller is client-scoped.
	FindReportByID(ctx context.Context, id ReportID) (*Report, error)
	FindReports(ctx context.Context, f ReportFilter) ([]*Report, int, error)
	// ReportContent returns the bytes of one file of a report, with the
	// same visibility as FindReportByID.
	ReportContent(ctx context.Context, id ReportID, name string) ([]byte, error)
}
