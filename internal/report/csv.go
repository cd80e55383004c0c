package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// CSV layouts. Tabular reports (Patch Detail, Inventory, Scorecard) are
// one wide table with a header row. Summary reports (Patch Health, QBR)
// mix ratings, lists and trends, so they use one long table,
//
//	section,item,field,value
//
// in which every number of the report is one row: a spreadsheet pivots
// it, and a script finds "rating_by_kind,server,rating_pct" without
// parsing several tables out of one file. Free text is defused against
// formula injection.

type csvBuf struct {
	buf bytes.Buffer
	w   *csv.Writer
	err error
}

func newCSV(header ...string) *csvBuf {
	c := &csvBuf{}
	c.w = csv.NewWriter(&c.buf)
	c.row(header...)
	return c
}

func (c *csvBuf) row(fields ...string) {
	if c.err != nil {
		return
	}
	for i, f := range fields {
		fields[i] = csvSafe(f)
	}
	c.err = c.w.Write(fields)
}

func (c *csvBuf) bytes() ([]byte, error) {
	c.w.Flush()
	if err := c.w.Error(); err != nil && c.err == nil {
		c.err = err
	}
	if c.err != nil {
		return nil, fmt.Errorf("write CSV: %w", c.err)
	}
	return c.buf.Bytes(), nil
}

// long writes section,item,field,value rows.
type long struct{ *csvBuf }

func newLong(m *Meta) long {
	l := long{newCSV("section", "item", "field", "value")}
	l.kv("report", "", "kind", string(m.Kind))
	l.kv("report", "", "title", m.Title)
	l.kv("report", "", "msp", m.MSP)
	l.kv("report", "", "client_id", string(m.ClientID))
	l.kv("report", "", "client", m.Client)
	l.kv("report", "", "period", m.Period.Key)
	l.kv("report", "", "period_start", rfc(m.Period.Start))
	l.kv("report", "", "period_end", rfc(m.Period.End))
	l.kv("report", "", "as_of", rfc(m.AsOf))
	l.kv("report", "", "partial", strconv.FormatBool(m.Partial))
	l.kv("report", "", "generated_at", rfc(m.GeneratedAt))
	l.kv("report", "", "report_id", string(m.ID))
	return l
}

func (l long) kv(section, item, field, value string) { l.row(section, item, field, value) }

func (l long) rating(section string, r Rating) {
	k := r.Key
	if k == "" {
		k = "all"
	}
	l.kv(section, k, "label", r.Label)
	l.kv(section, k, "rating_pct", num(r.RatingPct))
	l.kv(section, k, "strict_pct", num(r.StrictPct))
	l.kv(section, k, "target_pct", num(r.TargetPct))
	if r.Met != nil {
		l.kv(section, k, "met", strconv.FormatBool(*r.Met))
	} else {
		l.kv(section, k, "met", "")
	}
	l.kv(section, k, "days", strconv.Itoa(r.Days))
	l.kv(section, k, "days_met", strconv.Itoa(r.DaysMet))
	l.kv(section, k, "min_pct", num(r.MinPct))
	l.kv(section, k, "max_pct", num(r.MaxPct))
	if r.Now != nil {
		l.kv(section, k, "assets", strconv.Itoa(r.Now.Assets))
		l.kv(section, k, "rated", strconv.Itoa(r.Now.Rated))
	}
}

func (l long) counts(section, item string, c patch.FindingCounts) {
	l.kv(section, item, "installed", strconv.Itoa(c.Installed))
	l.kv(section, item, "missing", strconv.Itoa(c.Missing))
	l.kv(section, item, "excepted", strconv.Itoa(c.Excepted))
	l.kv(section, item, "emergency_missing", strconv.Itoa(c.EmergencyMissing))
	l.kv(section, item, "not_approved", strconv.Itoa(c.NotApproved))
	l.kv(section, item, "not_evaluated", strconv.Itoa(c.NotEvaluated))
}

func (l long) trend(t Trend) {
	for _, s := range t.Series {
		for i, v := range s.Values {
			l.kv("trend", string(t.Days[i]), s.Name, num(v))
		}
		if s.Target != nil {
			l.kv("trend", "target", s.Name, num(s.Target))
		}
	}
}

func (l long) sla(as []compliance.Attainment) {
	for _, a := range as {
		k := a.Tier
		if k == "" {
			k = "all"
		}
		l.kv("sla_attainment", k, "met", strconv.Itoa(a.Met))
		l.kv("sla_attainment", k, "missed", strconv.Itoa(a.Missed))
		l.kv("sla_attainment", k, "attainment_pct", num(a.AttainmentPct))
		l.kv("sla_attainment", k, "emergency_excluded", strconv.Itoa(a.Emergency))
		l.kv("sla_attainment", k, "excepted_excluded", strconv.Itoa(a.Excepted))
	}
}

func (l long) exceptions(xs []Exception) {
	for _, x := range xs {
		id := string(x.ID)
		l.kv("exceptions", id, "lane", string(x.Lane))
		l.kv("exceptions", id, "state", string(x.State))
		l.kv("exceptions", id, "scope", x.Scope)
		l.kv("exceptions", id, "assets", strings.Join(x.Assets, " "))
		l.kv("exceptions", id, "reason", x.Reason)
		l.kv("exceptions", id, "ticket", x.TicketRef)
		l.kv("exceptions", id, "controls", strings.Join(x.Controls, "; "))
		l.kv("exceptions", id, "signed_off_by", x.SignedOffBy)
		l.kv("exceptions", id, "signed_off_at", rfc(x.SignedOffAt))
		l.kv("exceptions", id, "expires_at", rfc(x.ExpiresAt))
		l.kv("exceptions", id, "days_to_expiry", strconv.Itoa(x.DaysToExpiry))
		l.kv("exceptions", id, "open_days", strconv.Itoa(x.OpenDays))
	}
}

func (l long) risks(section string, rs []Risk) {
	for _, r := range rs {
		id := strconv.Itoa(r.Rank)
		l.kv(section, id, "finding_id", string(r.FindingID))
		l.kv(section, id, "hostname", r.Hostname)
		l.kv(section, id, "ephi", yesNo(r.EPHI))
		l.kv(section, id, "update", r.Update)
		l.kv(section, id, "kbs", strings.Join(r.KBs, " "))
		l.kv(section, id, "cves", strings.Join(r.CVEs, " "))
		l.kv(section, id, "known_exploited", strconv.FormatBool(r.KnownExploited))
		l.kv(section, id, "tier", r.Tier)
		l.kv(section, id, "detected_at", rfc(r.DetectedAt))
		l.kv(section, id, "due_at", rfc(r.DueAt))
		l.kv(section, id, "resolved_at", rfc(r.ResolvedAt))
	}
}

func patchHealthCSV(d *PatchHealth) ([]byte, error) {
	l := newLong(&d.Meta)
	for i, h := range d.Highlights {
		l.kv("highlights", strconv.Itoa(i+1), "text", h)
	}
	for _, r := range d.ByKind {
		l.rating("rating_by_kind", r)
	}
	for _, r := range d.ByOS {
		l.rating("rating_by_os", r)
	}
	for _, r := range d.ByTier {
		l.rating("rating_by_tier", r)
	}
	for _, r := range d.ByClass {
		l.rating("rating_by_class", r)
	}
	l.counts("excluded", "as_of", d.Excluded)
	l.trend(d.Trend)
	l.sla(d.SLA)
	for _, r := range d.Remediation {
		k := r.Tier
		if k == "" {
			k = "all"
		}
		l.kv("time_to_remediate", k, "count", strconv.Itoa(r.Count))
		l.kv("time_to_remediate", k, "median_hours", num(r.MedianHours))
		l.kv("time_to_remediate", k, "p90_hours", num(r.P90Hours))
	}
	for _, r := range d.FailureRates {
		k := r.Ring
		if k == "" {
			k = "all"
		}
		l.kv("failure_rate", k, "succeeded", strconv.Itoa(r.Succeeded))
		l.kv("failure_rate", k, "failed", strconv.Itoa(r.Failed))
		l.kv("failure_rate", k, "rate_pct", num(r.RatePct))
	}
	for i, f := range d.Failures {
		id := strconv.Itoa(i + 1)
		l.kv("failures", id, "at", rfc(f.At))
		l.kv("failures", id, "hostname", f.Hostname)
		l.kv("failures", id, "update", f.Update)
		l.kv("failures", id, "event", f.Event)
		l.kv("failures", id, "detail", f.Detail)
		l.kv("failures", id, "remediation", f.Remediation)
		l.kv("failures", id, "remediated_at", rfc(f.RemediatedAt))
	}
	l.exceptions(d.Exceptions)
	l.risks("top_risks_reduced", d.TopRisks)
	for _, g := range d.Gaps {
		l.kv("coverage_gaps", g.Gap, "assets", strconv.Itoa(g.Assets))
		l.kv("coverage_gaps", g.Gap, "hosts", strings.Join(g.Hosts, " "))
	}
	return l.bytes()
}

func qbrCSV(d *QBR) ([]byte, error) {
	l := newLong(&d.Meta)
	for i, s := range d.Summary {
		l.kv("summary", strconv.Itoa(i+1), "text", s)
	}
	for _, r := range d.Quarter {
		l.rating("quarter_by_kind", r)
	}
	for _, m := range d.Months {
		for _, r := range m.Kinds {
			l.rating("month_"+m.Month.Key, r)
		}
	}
	l.trend(d.Trend)
	l.kv("remediation", "quarter", "fixed", strconv.Itoa(d.Fixed))
	l.kv("remediation", "quarter", "critical_fixed", strconv.Itoa(d.CriticalFixed))
	l.sla(d.SLA)
	l.exceptions(d.Exceptions)
	l.risks("top_risks_reduced", d.TopRisks)
	for i, a := range d.Attention {
		l.kv("attention", strconv.Itoa(i+1), "text", a)
	}
	return l.bytes()
}

// PatchDetailCSVHeader is the header of the Patch Detail CSV: one row per
// asset and finding (an asset without findings has one row with the
// finding columns empty).
var PatchDetailCSVHeader = []string{"asset_id", "hostname", "site", "os", "os_family", "role", "class", "criticality", "ephi", "owner",
	"managed", "last_seen", "last_scan", "asset_rating_pct", "coverage_gaps",
	"finding_id", "finding_state", "update", "package", "version", "installed_version", "kbs", "cves", "known_exploited", "tier",
	"emergency", "approval", "sla_status", "exception_id", "first_seen", "due_at", "resolved_at", "resolution"}

func patchDetailCSV(d *PatchDetail) ([]byte, error) {
	c := newCSV(PatchDetailCSVHeader...)
	for _, a := range d.Assets {
		head := []string{string(a.ID), a.Hostname, a.Site, a.OS, a.OSFamily, a.Role, a.Class, a.Criticality, a.EPHI, a.Owner,
			strconv.FormatBool(a.Managed), rfc(a.LastSeen), rfc(a.LastScan), num(a.RatingPct), strings.Join(a.Gaps, " ")}
		lines := append(append([]FindingLine{}, a.Open...), a.Fixed...)
		if len(lines) == 0 {
			c.row(append(head, make([]string, len(PatchDetailCSVHeader)-len(head))...)...)
			continue
		}
		for _, f := range lines {
			c.row(append(append([]string{}, head...), string(f.FindingID), string(f.State), f.Update, f.Package, f.Version, f.Installed,
				strings.Join(f.KBs, " "), strings.Join(f.CVEs, " "), strconv.FormatBool(f.KnownExploited), f.Tier,
				strconv.FormatBool(f.Emergency), string(f.Approval), string(f.SLAStatus), f.ExceptionID, rfc(f.FirstSeen), rfc(f.DueAt),
				rfc(f.ResolvedAt), string(f.Resolution))...)
		}
	}
	return c.bytes()
}

// InventoryCSVHeader is the header of the asset inventory CSV.
var InventoryCSVHeader = []string{"as_of", "asset_id", "hostname", "fqdn", "site", "location", "owner", "role", "class", "criticality",
	"ephi", "os_family", "os", "os_version", "os_build", "serial_number", "ip_addresses", "mac_addresses", "managed", "source",
	"first_seen", "last_seen", "software_packages", "tags"}

// SoftwareCSVHeader is the header of the software inventory CSV.
var SoftwareCSVHeader = []string{"as_of", "asset_id", "hostname", "name", "version", "vendor", "source", "install_date"}

func inventoryCSV(d *Inventory) ([]byte, error) {
	asOf := rfc(d.AsOf)
	c := newCSV(InventoryCSVHeader...)
	for _, a := range d.Assets {
		tags := make([]string, 0, len(a.Tags))
		for _, k := range sortedKeys(a.Tags) {
			tags = append(tags, k+"="+a.Tags[k])
		}
		c.row(asOf, string(a.ID), a.Hostname, a.FQDN, a.Site, a.Location, a.Owner, a.Role, a.Class, a.Criticality, a.EPHI, a.OSFamily,
			a.OS, a.OSVersion, a.OSBuild, a.Serial, strings.Join(a.IPs, " "), strings.Join(a.MACs, " "), strconv.FormatBool(a.Managed),
			a.Source, rfc(a.FirstSeen), rfc(a.LastSeen), strconv.Itoa(a.SoftwareSeen), strings.Join(tags, ";"))
	}
	return c.bytes()
}

func softwareCSV(d *Inventory) ([]byte, error) {
	asOf := rfc(d.AsOf)
	c := newCSV(SoftwareCSVHeader...)
	for _, s := range d.Software {
		c.row(asOf, string(s.AssetID), s.Hostname, s.Name, s.Version, s.Vendor, s.Source, rfc(s.InstallDate))
	}
	return c.bytes()
}

func scorecardCSV(d *Scorecard) ([]byte, error) {
	c := newCSV(compliance.ScorecardCSVHeader...)
	for _, r := range d.Rows {
		id := string(r.ClientID)
		if id == "" {
			id = "msp"
		}
		for _, wk := range r.Weeks {
			c.row(id, r.Name, string(wk.From), num(wk.CompliancePct), num(wk.StrictPct), num(wk.TargetPct),
				strconv.Itoa(wk.ExceptionsActive), num(wk.ExceptionsMeanOpenDays), strconv.Itoa(wk.ExceptionsMaxOpenDays),
				strconv.Itoa(wk.ExceptionsExpiringSoon), strconv.Itoa(wk.ExceptionsExpired), strconv.Itoa(wk.Installs),
				strconv.Itoa(wk.InstallFailures), num(wk.FailureRatePct), strconv.Itoa(wk.Tickets), strconv.Itoa(wk.AfterHoursTickets))
		}
	}
	return c.bytes()
}
