package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/report"
)

// Reports: generating a document (reportdata.go), rendering it in every
// format (package report) and storing the files with the report's
// metadata in the database (patch.ReportStore), on demand or on the
// monthly schedule. docs/reports.md describes each report.

// ReportRequest asks for a report.
type ReportRequest struct {
	// ClientID is required except for the MSP-wide scorecard.
	ClientID patch.ClientID   `json:"client_id,omitempty" doc:"Client; empty only for the MSP-wide internal scorecard"`
	Kind     patch.ReportKind `json:"kind" enum:"patch-health,patch-detail,qbr,inventory,scorecard"`
	Period   string           `json:"period" doc:"A month (2026-10) or a quarter (2026-Q4), in UTC" example:"2026-10"`
}

// GenerateReport builds, renders and stores a report. Any reader may
// generate client-facing reports of a client in scope (generation is
// audited); the internal scorecard is for MSP staff only.
func (s *Server) GenerateReport(ctx context.Context, in ReportRequest) (*patch.Report, error) {
	return s.generateReport(ctx, in, patch.TriggerOnDemand)
}

func (s *Server) generateReport(ctx context.Context, in ReportRequest, trigger patch.ReportTrigger) (*patch.Report, error) {
	a, err := patch.Authorize(ctx, patch.PermRead)
	if err != nil {
		return nil, err
	}
	if err := patch.ValidateReportKind("kind", in.Kind); err != nil {
		return nil, err
	}
	p, err := patch.ParsePeriod("period", in.Period)
	if err != nil {
		return nil, err
	}
	if !p.Start.Before(s.now()) {
		return nil, patch.FieldError("period", "%s has not started yet", p.Key)
	}
	if in.Kind.Internal() && !patch.ScopeOf(a).All {
		return nil, patch.Errorf(patch.KindForbidden, "The internal scorecard is for MSP staff only.")
	}
	var c *patch.Client
	switch {
	case in.ClientID != "":
		if c, err = s.st.Clients.FindClientByID(ctx, in.ClientID); err != nil {
			return nil, err
		}
	case in.Kind != patch.ReportScorecard:
		return nil, patch.FieldError("client_id", "is required for a %s report", in.Kind)
	}
	doc, err := s.buildReport(ctx, in.Kind, c, p)
	if err != nil {
		return nil, err
	}
	m := doc.Head()
	m.ID = patch.ReportID(patch.NewID(patch.PrefixReport, s.now()))
	files, err := report.Render(doc)
	if err != nil {
		return nil, fmt.Errorf("render %s report: %w", in.Kind, err)
	}
	r := &patch.Report{ID: m.ID, ClientID: in.ClientID, Kind: in.Kind, Period: p, Title: m.Title, Trigger: trigger,
		Summary: reportSummary(doc)}
	contents := map[string][]byte{}
	for _, f := range files {
		r.Files = append(r.Files, patch.ReportFile{Name: f.Name, Format: f.Format, ContentType: f.Format.ContentType()})
		contents[f.Name] = f.Data
	}
	if err := s.st.Reports.CreateReport(ctx, r, contents); err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "report generated", "report", r.ID, "kind", r.Kind, "client", r.ClientID, "period", p.Key, "trigger", trigger)
	return r, nil
}

// buildReport fills the document of a kind.
func (s *Server) buildReport(ctx context.Context, kind patch.ReportKind, c *patch.Client, p patch.Period) (report.Document, error) {
	if kind == patch.ReportQBR && !p.Quarter() {
		// A QBR of a month is allowed but reads as a quarter to date.
		p = patch.QuarterPeriod(p.Start)
	}
	rc := s.newReportCtx(ctx, c, p)
	switch kind {
	case patch.ReportPatchHealth:
		return s.buildPatchHealth(rc)
	case patch.ReportPatchDetail:
		return s.buildPatchDetail(rc)
	case patch.ReportQBR:
		return s.buildQBR(rc)
	case patch.ReportInventory:
		return s.buildInventory(rc)
	case patch.ReportScorecard:
		return s.buildScorecard(rc)
	}
	return nil, patch.FieldError("kind", "unknown report kind %q", kind)
}

// reportSummary picks a report's headline numbers for lists.
func reportSummary(d report.Document) map[string]string {
	out := map[string]string{}
	rating := func(prefix string, rs []report.Rating) {
		for _, r := range rs {
			if r.RatingPct != nil {
				out[prefix+r.Key+"_pct"] = fmt.Sprintf("%.2f", *r.RatingPct)
			}
			if r.Met != nil {
				out[prefix+r.Key+"_met"] = fmt.Sprint(*r.Met)
			}
		}
	}
	switch d := d.(type) {
	case *report.PatchHealth:
		rating("", d.ByKind)
		out["exceptions"] = fmt.Sprint(len(d.Exceptions))
		out["failures"] = fmt.Sprint(len(d.Failures))
	case *report.QBR:
		rating("", d.Quarter)
		out["fixed"] = fmt.Sprint(d.Fixed)
	case *report.PatchDetail:
		out["assets"] = fmt.Sprint(len(d.Assets))
	case *report.Inventory:
		out["assets"] = fmt.Sprint(len(d.Assets))
		out["software"] = fmt.Sprint(len(d.Software))
	case *report.Scorecard:
		out["rows"] = fmt.Sprint(len(d.Rows))
	}
	return out
}

// Reports lists generated reports, newest first.
func (s *Server) Reports(ctx context.Context, f patch.ReportFilter) ([]*patch.Report, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if f.Kind != nil {
		if err := patch.ValidateReportKind("kind", *f.Kind); err != nil {
			return nil, 0, err
		}
	}
	if f.Period != nil {
		p, err := patch.ParsePeriod("period", *f.Period)
		if err != nil {
			return nil, 0, err
		}
		f.Period = &p.Key
	}
	return s.st.Reports.FindReports(ctx, f)
}

// Report returns a report's metadata.
func (s *Server) Report(ctx context.Context, id patch.ReportID) (*patch.Report, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Reports.FindReportByID(ctx, id)
}

// ReportFile returns one file of a report: by name, or else the first file
// of a format.
func (s *Server) ReportFile(ctx context.Context, id patch.ReportID, format patch.ReportFormat, name string) (patch.ReportFile, []byte, error) {
	r, err := s.Report(ctx, id)
	if err != nil {
		return patch.ReportFile{}, nil, err
	}
	var rf patch.ReportFile
	var ok bool
	if name != "" {
		for _, f := range r.Files {
			if f.Name == name {
				rf, ok = f, true
			}
		}
		if !ok {
			return patch.ReportFile{}, nil, patch.Errorf(patch.KindNotFound, "Report %s has no file %q.", id, name)
		}
	} else if rf, ok = r.File(format); !ok {
		return patch.ReportFile{}, nil, patch.FieldError("format", "must be one of pdf, html, csv, json (got %q)", format)
	}
	data, err := s.st.Reports.ReportContent(ctx, id, rf.Name)
	return rf, data, err
}

// Scheduled reports: on the first of each month, for the month before,
// every client gets its Patch Health, Patch Detail and inventory; after a
// quarter, its QBR; the MSP gets the internal scorecard. They are
// generated once the period has been over for ScheduleDelay, so the last
// day's compliance snapshot exists.
const ScheduleDelay = 2 * time.Hour

// scheduledKinds are the kinds generated per client each month.
var scheduledKinds = []patch.ReportKind{patch.ReportPatchHealth, patch.ReportPatchDetail, patch.ReportInventory}

// GenerateScheduledReports generates the scheduled reports that are due
// and missing and returns how many it made. It is idempotent: a report
// that exists (made by this or another server) is skipped.
func (s *Server) GenerateScheduledReports(ctx context.Context) (int, error) {
	sys := evidenceSystem(ctx, "report scheduler")
	now := s.now().UTC()
	month := patch.MonthPeriod(patch.MonthPeriod(now).Start.Add(-time.Millisecond))
	if now.Before(month.End.Add(ScheduleDelay)) {
		return 0, nil
	}
	clients, err := s.clientsInScope(sys)
	if err != nil {
		return 0, err
	}
	type job struct {
		client patch.ClientID
		kind   patch.ReportKind
		period patch.Period
	}
	var jobs []job
	for _, c := range clients {
		if !c.CreatedAt.IsZero() && !c.CreatedAt.Before(month.End) {
			continue // the client did not exist in the month
		}
		for _, k := range scheduledKinds {
			jobs = append(jobs, job{c.ID, k, month})
		}
		if q := patch.QuarterPeriod(month.Start); q.End.Equal(month.End) {
			jobs = append(jobs, job{c.ID, patch.ReportQBR, q})
		}
	}
	jobs = append(jobs, job{"", patch.ReportScorecard, month})
	n := 0
	var errs []error
	for _, j := range jobs {
		trig, key := patch.TriggerSchedule, j.period.Key
		f := patch.ReportFilter{Kind: &j.kind, Period: &key, Trigger: &trig, Limit: 1}
		if j.client != "" {
			f.ClientID = &j.client
		} else {
			f.MSP = true
		}
		if _, total, err := s.st.Reports.FindReports(sys, f); err != nil {
			errs = append(errs, err)
			continue
		} else if total > 0 {
			continue
		}
		_, err := s.generateReport(sys, ReportRequest{ClientID: j.client, Kind: j.kind, Period: key}, patch.TriggerSchedule)
		switch {
		case patch.ErrorKind(err) == patch.KindConflict:
			// another server made it first
		case err != nil:
			errs = append(errs, fmt.Errorf("%s report of %s for %s: %w", j.kind, j.client, key, err))
		default:
			n++
		}
	}
	return n, errors.Join(errs...)
}

// RunReportScheduler generates due scheduled reports at once and then
// every ReportInterval, until ctx is done.
func (s *Server) RunReportScheduler(ctx context.Context) error {
	o := s.evidence.withDefaults()
	for {
		n, err := s.GenerateScheduledReports(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			s.logger.ErrorContext(ctx, "scheduled reports", "generated", n, "err", err)
		case n > 0:
			s.logger.InfoContext(ctx, "scheduled reports generated", "count", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.ReportInterval):
		}
	}
}
