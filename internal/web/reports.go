package web

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// Reports and evidence (docs/reports.md, docs/evidence.md): generate a
// report now, list and download them (PDF, HTML, CSV, JSON), download the
// signed evidence bundle of a period, browse a client's evidence chain and
// have the server verify it. Downloads carry the API's sandboxing
// Content-Security-Policy, so an HTML report opened in the browser runs
// nothing.

func (c *Console) reportRoutes() {
	c.handle("GET /reports", c.allReports)
	c.handle("POST /reports", c.generateReport)
	c.handle("GET /clients/{id}/reports", c.clientReports)
	c.handle("POST /clients/{id}/reports", c.generateReport)
	c.handle("GET /reports/{id}", c.report)
	c.handle("GET /reports/{id}/download", c.downloadReport)
	c.handle("POST /clients/{id}/evidence/bundle", c.evidenceBundle)
	c.handle("GET /clients/{id}/evidence", c.clientEvidence)
}

// downloadCSP lets a report's inline styles and SVG render and nothing
// run (the API's downloadCSP).
const downloadCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"

// ReportRow is a report in a list.
type ReportRow struct {
	*patch.Report
	Href       string
	ClientName string
	ClientHref string
	KindTitle  string
	// Files link to the downloads by format.
	Files []Link
}

func reportRow(r *patch.Report, names map[patch.ClientID]string) ReportRow {
	row := ReportRow{Report: r, Href: "/reports/" + string(r.ID), ClientName: names[r.ClientID], KindTitle: r.Kind.Title()}
	if r.ClientID != "" {
		row.ClientHref = "/clients/" + string(r.ClientID)
		row.ClientName = cmp.Or(row.ClientName, string(r.ClientID))
	} else {
		row.ClientName = "MSP-wide"
	}
	for _, f := range r.Files {
		row.Files = append(row.Files, Link{Label: strings.ToUpper(string(f.Format)), Href: downloadHref(r.ID, f)})
	}
	return row
}

func downloadHref(id patch.ReportID, f patch.ReportFile) string {
	return "/reports/" + string(id) + "/download?name=" + f.Name
}

// ReportsPage lists reports with the forms that make more.
type ReportsPage struct {
	Page
	Client *ClientHeader
	// AllClients shows the client column and filter (MSP staff's list).
	AllClients bool
	Form       Form
	Kinds      []Option
	Clients    []Option
	Rows       []ReportRow
	Total      int
	Pager      Pager
	// Generate is the generation form; Bundle the evidence bundle's.
	Generate    Form
	GenKinds    []Option
	Periods     []Option
	Bundle      Form
	CanGenerate bool
	Action      string
}

const reportPageSize = 25

// recentPeriods offers this and the last months and quarters, newest
// first.
func recentPeriods(now time.Time) []Option {
	var out []Option
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i := range 12 {
		d := m.AddDate(0, -i, 0)
		label := d.Format("January 2006")
		if i == 0 {
			label += " (to date)"
		}
		out = append(out, Option{Value: d.Format("2006-01"), Label: label})
	}
	q := (int(now.Month()) - 1) / 3
	y := now.Year()
	for i := range 4 {
		qq, yy := q-i, y
		for qq < 0 {
			qq += 4
			yy--
		}
		label := fmt.Sprintf("Q%d %d", qq+1, yy)
		if i == 0 {
			label += " (to date)"
		}
		out = append(out, Option{Value: fmt.Sprintf("%d-Q%d", yy, qq+1), Label: label})
	}
	return out
}

func (c *Console) loadReports(ctx context.Context, r *http.Request, s *session, p *ReportsPage, client *patch.ClientID) error {
	q := r.URL.Query()
	p.Form = newForm(q, "kind", "client")
	page := pageNumber(q)
	f := patch.ReportFilter{ClientID: client, Limit: reportPageSize, Offset: (page - 1) * reportPageSize}
	p.Kinds = []Option{{Value: "", Label: "Every kind"}}
	for _, k := range patch.ReportKinds {
		if k.Internal() && !mspStaff(s.Actor) {
			continue
		}
		p.Kinds = append(p.Kinds, Option{Value: string(k), Label: k.Title()})
		if client != nil && k.Internal() {
			continue
		}
		p.GenKinds = append(p.GenKinds, Option{Value: string(k), Label: k.Title()})
	}
	if client == nil && mspStaff(s.Actor) {
		p.GenKinds = []Option{{Value: string(patch.ReportScorecard), Label: patch.ReportScorecard.Title() + " (MSP-wide)"}}
	}
	if k := q.Get("kind"); k != "" {
		kind := patch.ReportKind(k)
		if err := patch.ValidateReportKind("kind", kind); err != nil {
			p.Form.Errors["kind"] = patch.ErrorMessage(err)
		} else {
			f.Kind = &kind
		}
	}
	clients, _, err := c.srv.Clients(ctx, patch.ClientFilter{Limit: patch.MaxLimit})
	if err != nil {
		return err
	}
	names := map[patch.ClientID]string{}
	p.Clients = []Option{{Value: "", Label: "Every client"}}
	for _, cl := range clients {
		names[cl.ID] = cl.Name
		p.Clients = append(p.Clients, Option{Value: string(cl.ID), Label: cl.Name})
	}
	if client == nil {
		switch v := q.Get("client"); v {
		case "":
		case "msp":
			f.MSP = true
		default:
			id := patch.ClientID(v)
			f.ClientID = &id
		}
		if mspStaff(s.Actor) {
			p.Clients = append(p.Clients, Option{Value: "msp", Label: "MSP-wide (scorecard)"})
		}
	}
	rs, total, err := c.srv.Reports(ctx, f)
	if err != nil {
		return err
	}
	for _, rep := range rs {
		p.Rows = append(p.Rows, reportRow(rep, names))
	}
	p.Total = total
	p.Pager = listPager(r.URL, page, total, reportPageSize)
	p.Periods = recentPeriods(c.now())
	p.AllClients = client == nil && mspStaff(s.Actor)
	p.CanGenerate = len(p.GenKinds) > 0
	if p.Generate.Values == nil {
		p.Generate = newForm(nil)
	}
	if p.Bundle.Values == nil {
		p.Bundle = newForm(nil)
	}
	if p.Generate.Get("period") == "" && len(p.Periods) > 1 {
		p.Generate.Values.Set("period", p.Periods[1].Value) // last month
	}
	if p.Bundle.Get("period") == "" && len(p.Periods) > 1 {
		p.Bundle.Values.Set("period", p.Periods[1].Value)
	}
	return nil
}

func (c *Console) allReports(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &ReportsPage{}
	p.Title, p.Section = "Reports", sectionReports
	if err := c.loadReports(r.Context(), r, s, p, nil); err != nil {
		return err
	}
	return c.render(w, r, s, formPageStatus(p.Form), tmplReports, p)
}

func (c *Console) clientReportsPage(r *http.Request, s *session, p *ReportsPage) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabReports)
	if err != nil {
		return err
	}
	p.Client = h
	p.Title, p.Section = h.Client.Name+" · Reports", c.clientSection(s)
	return c.loadReports(ctx, r, s, p, &h.Client.ID)
}

func (c *Console) clientReports(w http.ResponseWriter, r *http.Request, s *session) error {
	p := &ReportsPage{}
	if err := c.clientReportsPage(r, s, p); err != nil {
		return err
	}
	return c.render(w, r, s, formPageStatus(p.Form), tmplReports, p)
}

func (c *Console) generateReport(w http.ResponseWriter, r *http.Request, s *session) error {
	in := server.ReportRequest{ClientID: patch.ClientID(r.PathValue("id")), Kind: patch.ReportKind(r.PostForm.Get("kind")), Period: strings.TrimSpace(r.PostForm.Get("period"))}
	rep, err := c.srv.GenerateReport(r.Context(), in)
	if err != nil {
		p := &ReportsPage{Generate: newForm(r.PostForm, "kind", "period"), Action: "generate"}
		if !p.Generate.setError(err, "kind", "period") {
			return err
		}
		var lerr error
		if in.ClientID != "" {
			lerr = c.clientReportsPage(r, s, p)
		} else {
			p.Title, p.Section = "Reports", sectionReports
			lerr = c.loadReports(r.Context(), r, s, p, nil)
		}
		if lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplReports, p)
	}
	return c.redirect(w, r, "/reports/"+string(rep.ID), rep.Title+" generated: download it below.")
}

// ReportPage is one report.
type ReportPage struct {
	Page
	Row     ReportRow
	Summary []Change
	Files   []ReportFileRow
}

// ReportFileRow is a file of a report.
type ReportFileRow struct {
	patch.ReportFile
	Href string
}

func (c *Console) report(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	rep, err := c.srv.Report(ctx, patch.ReportID(r.PathValue("id")))
	if err != nil {
		return err
	}
	names := map[patch.ClientID]string{}
	if rep.ClientID != "" {
		if cl, err := c.srv.Client(ctx, rep.ClientID); err == nil {
			names[cl.ID] = cl.Name
		}
	}
	p := &ReportPage{Row: reportRow(rep, names)}
	p.Title, p.Section = rep.Title, sectionReports
	if clientScoped(s.Actor) {
		p.Section = sectionClient
	}
	if rep.ClientID != "" {
		p.Crumbs = []Link{{Label: p.Row.ClientName, Href: p.Row.ClientHref}, {Label: "Reports", Href: p.Row.ClientHref + "/reports"}}
	} else {
		p.Crumbs = []Link{{Label: "Reports", Href: "/reports"}}
	}
	for _, k := range sortedKeys(rep.Summary) {
		p.Summary = append(p.Summary, Change{Field: k, After: rep.Summary[k]})
	}
	for _, f := range rep.Files {
		p.Files = append(p.Files, ReportFileRow{ReportFile: f, Href: downloadHref(rep.ID, f)})
	}
	return c.render(w, r, s, http.StatusOK, tmplReport, p)
}

func (c *Console) downloadReport(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	f, data, err := c.srv.ReportFile(r.Context(), patch.ReportID(r.PathValue("id")), patch.ReportFormat(cmp.Or(q.Get("format"), "pdf")), q.Get("name"))
	if err != nil {
		return err
	}
	disp := "attachment"
	if f.Format == patch.FormatHTML || f.Format == patch.FormatPDF {
		disp = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Disposition", fmt.Sprintf(`%s; filename="%s"`, disp, fileName(strings.TrimSuffix(f.Name, "."+string(f.Format)))+"."+string(f.Format)))
	h.Set("Content-Security-Policy", downloadCSP)
	h.Set("X-Content-SHA256", f.SHA256)
	_, err = w.Write(data)
	return err
}

// evidenceBundle writes the signed evidence bundle of a period. It is a
// form post because it may generate and store the period's missing
// reports.
func (c *Console) evidenceBundle(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.ClientID(r.PathValue("id"))
	var buf bytes.Buffer
	sum, err := c.srv.WriteEvidenceBundle(r.Context(), server.BundleRequest{ClientID: id, Period: strings.TrimSpace(r.PostForm.Get("period"))}, &buf)
	if err != nil {
		p := &ReportsPage{Bundle: newForm(r.PostForm, "period"), Action: "bundle"}
		if !p.Bundle.setError(err, "period") {
			return err
		}
		if lerr := c.clientReportsPage(r, s, p); lerr != nil {
			return lerr
		}
		return c.render(w, r, s, formStatus(err), tmplReports, p)
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, fileName(strings.TrimSuffix(sum.FileName, ".zip"))+".zip"))
	h.Set("Content-Security-Policy", downloadCSP)
	_, err = w.Write(buf.Bytes())
	return err
}

// EvidencePage is a client's evidence chain.
type EvidencePage struct {
	Page
	Client      *ClientHeader
	Form        Form
	Types       []Option
	Rows        []EvidenceRow
	Total       int
	Pager       Pager
	Checkpoints []*patch.EvidenceCheckpoint
	Verify      *server.ChainVerification
	Asset       string
	VerifyHref  string
}

const evidencePageSize = 50

// evidenceTypes are the chain's event types offered as a filter.
var evidenceTypes = []string{
	patch.EventDetected, patch.EventApproved, patch.EventDeclined, patch.EventExcepted, patch.EventExceptionSignedOff,
	patch.EventExceptionExpired, patch.EventExceptionRevoked, patch.EventScheduled, patch.EventSent, patch.EventInstalled,
	patch.EventInstallFailed, patch.EventVerified, patch.EventSuperseded, patch.EventCycleCreated, patch.EventRingPromoted,
	patch.EventRolledBack, patch.EventHealthCheckFailed, patch.EventCycleHalted, patch.EventCycleResumed, patch.EventUpdateSkipped,
	patch.EventKeyRotated,
}

// sortedKeys returns a map's keys in order.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (c *Console) clientEvidence(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabReports)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := &EvidencePage{Client: h, Form: newForm(q, "type", "asset"), VerifyHref: h.Href + "/evidence?verify=1"}
	p.Title, p.Section = h.Client.Name+" · Evidence chain", c.clientSection(s)
	p.Crumbs = []Link{{Label: h.Client.Name, Href: h.Href}, {Label: "Reports", Href: h.Href + "/reports"}}
	f := patch.EvidenceFilter{ClientID: h.Client.ID}
	p.Types = []Option{{Value: "", Label: "Every event"}}
	for _, t := range evidenceTypes {
		p.Types = append(p.Types, Option{Value: t, Label: t})
	}
	if t := q.Get("type"); t != "" {
		f.Types = []string{t}
	}
	if a := q.Get("asset"); a != "" {
		id := patch.AssetID(a)
		f.AssetID = &id
		p.Asset = c.hostLookup(ctx)(id)
	}
	// Newest first: read the total, then the page from the end.
	f.Limit = 1
	_, total, err := c.srv.EvidenceEntries(ctx, f)
	if err != nil {
		return err
	}
	page := pageNumber(q)
	hi := total - (page-1)*evidencePageSize
	lo := max(0, hi-evidencePageSize)
	if hi > 0 {
		f.Offset, f.Limit = lo, hi-lo
		es, _, err := c.srv.EvidenceEntries(ctx, f)
		if err != nil {
			return err
		}
		p.Rows = evidenceRows(es)
	}
	p.Total = total
	p.Pager = listPager(r.URL, page, total, evidencePageSize)
	if p.Checkpoints, err = c.srv.EvidenceCheckpoints(ctx, h.Client.ID); err != nil {
		return err
	}
	if len(p.Checkpoints) > 5 {
		p.Checkpoints = p.Checkpoints[len(p.Checkpoints)-5:]
	}
	if q.Get("verify") == "1" {
		if p.Verify, err = c.srv.VerifyEvidenceChain(ctx, h.Client.ID); err != nil {
			return err
		}
	}
	return c.render(w, r, s, http.StatusOK, tmplEvidence, p)
}
