package compliance

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// ScorecardWeek is one week of the internal scorecard for one client or
// the MSP: the playbook's four operational metrics.
type ScorecardWeek struct {
	// From and To are the week's Monday and Sunday.
	From patch.Day `json:"from"`
	To   patch.Day `json:"to"`
	// CompliancePct is the mean of the week's daily overall ratings
	// (today's live rating stands in for a day without a snapshot).
	CompliancePct *float64 `json:"compliance_pct"`
	StrictPct     *float64 `json:"strict_pct"`
	TargetPct     *float64 `json:"target_pct"`
	// Exception aging at the week's end (or now, for the current week).
	ExceptionsActive       int      `json:"exceptions_active"`
	ExceptionsMeanOpenDays *float64 `json:"exceptions_mean_open_days"`
	ExceptionsMaxOpenDays  int      `json:"exceptions_max_open_days"`
	ExceptionsExpiringSoon int      `json:"exceptions_expiring_soon"`
	ExceptionsExpired      int      `json:"exceptions_expired"`
	// Install outcomes in the week.
	Installs        int      `json:"installs"`
	InstallFailures int      `json:"install_failures"`
	FailureRatePct  *float64 `json:"failure_rate_pct"`
	// Patch tickets raised in the week, and those after business hours.
	Tickets           int `json:"tickets"`
	AfterHoursTickets int `json:"after_hours_tickets"`
}

// WeekFacts are what one scorecard week is computed from.
type WeekFacts struct {
	From, To patch.Day
	// At is the instant exceptions are aged at: the week's end, or now.
	At time.Time
	// Daily are the group "all" snapshots of the client (or the MSP).
	Daily      []*patch.RatingSnapshot
	Exceptions []*patch.Exception
	Installs   []InstallCount
	Tickets    []Ticket
	Hours      BusinessHours
}

// Week computes one scorecard week.
func Week(f WeekFacts) ScorecardWeek {
	w := ScorecardWeek{From: f.From, To: f.To}
	var rs, ss, ts []*float64
	for _, d := range f.Daily {
		if d.Day >= f.From && d.Day <= f.To && d.Dim == string(DimAll) {
			rs, ss, ts = append(rs, d.RatingPct), append(ss, d.StrictPct), append(ts, d.TargetPct)
		}
	}
	w.CompliancePct, w.StrictPct, w.TargetPct = Average(rs), Average(ss), Average(ts)
	p := Span{From: f.From.Start(), To: f.To.End()}
	ag := AgeExceptions(f.Exceptions, p, f.At)
	w.ExceptionsActive, w.ExceptionsMeanOpenDays, w.ExceptionsMaxOpenDays = ag.Active, ag.MeanOpenDays, ag.MaxOpenDays
	w.ExceptionsExpiringSoon, w.ExceptionsExpired = ag.ExpiringSoon, ag.ExpiredInPeriod
	fr := FailureRates(f.Installs)[0]
	w.Installs, w.InstallFailures, w.FailureRatePct = fr.Succeeded+fr.Failed, fr.Failed, fr.RatePct
	tc := CountTickets(f.Tickets, p, f.Hours)
	w.Tickets, w.AfterHoursTickets = tc.Total, tc.AfterHours
	return w
}

// ScorecardRow is one client's (or the MSP's) scorecard, week over week.
type ScorecardRow struct {
	ClientID patch.ClientID `json:"client_id,omitempty"`
	Name     string         `json:"name"`
	ThisWeek ScorecardWeek  `json:"this_week"`
	LastWeek ScorecardWeek  `json:"last_week"`
	// Changes from last week: percentage points and counts.
	ComplianceChangePts  *float64 `json:"compliance_change_pts"`
	FailureRateChangePts *float64 `json:"failure_rate_change_pts"`
	AfterHoursChange     int      `json:"after_hours_change"`
	ExceptionsChange     int      `json:"exceptions_change"`
}

// Row pairs two weeks.
func Row(id patch.ClientID, name string, this, last ScorecardWeek) ScorecardRow {
	r := ScorecardRow{ClientID: id, Name: name, ThisWeek: this, LastWeek: last,
		AfterHoursChange: this.AfterHoursTickets - last.AfterHoursTickets, ExceptionsChange: this.ExceptionsActive - last.ExceptionsActive}
	diff := func(a, b *float64) *float64 {
		if a == nil || b == nil {
			return nil
		}
		v := round2(*a - *b)
		return &v
	}
	r.ComplianceChangePts = diff(this.CompliancePct, last.CompliancePct)
	r.FailureRateChangePts = diff(this.FailureRatePct, last.FailureRatePct)
	return r
}

// WeeklyScorecard is the one-page internal scorecard.
type WeeklyScorecard struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Week is the Monday of the current week.
	Week patch.Day `json:"week"`
	// Rows are the MSP first, then each client.
	Rows []ScorecardRow `json:"rows"`
}

// ScorecardCSVHeader is the header row of the scorecard CSV.
var ScorecardCSVHeader = []string{"client_id", "client", "week", "compliance_pct", "strict_pct", "target_pct",
	"exceptions_active", "exceptions_mean_open_days", "exceptions_max_open_days", "exceptions_expiring_soon", "exceptions_expired",
	"installs", "install_failures", "failure_rate_pct", "tickets", "after_hours_tickets"}

// WriteCSV writes the scorecard as CSV, one row per client and week
// (last week first), so a spreadsheet can chart it.
func (sc *WeeklyScorecard) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ScorecardCSVHeader); err != nil {
		return fmt.Errorf("write scorecard CSV: %w", err)
	}
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
	for _, r := range sc.Rows {
		id := string(r.ClientID)
		if id == "" {
			id = "msp"
		}
		for _, wk := range []ScorecardWeek{r.LastWeek, r.ThisWeek} {
			rec := []string{id, csvSafe(r.Name), string(wk.From), f(wk.CompliancePct), f(wk.StrictPct), f(wk.TargetPct),
				strconv.Itoa(wk.ExceptionsActive), f(wk.ExceptionsMeanOpenDays), strconv.Itoa(wk.ExceptionsMaxOpenDays),
				strconv.Itoa(wk.ExceptionsExpiringSoon), strconv.Itoa(wk.ExceptionsExpired), strconv.Itoa(wk.Installs),
				strconv.Itoa(wk.InstallFailures), f(wk.FailureRatePct), strconv.Itoa(wk.Tickets), strconv.Itoa(wk.AfterHoursTickets)}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write scorecard CSV: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write scorecard CSV: %w", err)
	}
	return nil
}

// csvSafe defuses spreadsheet formula injection in free text: a cell a
// spreadsheet would evaluate is prefixed with a single quote.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
