package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// The asset page's sections: missing updates with their due time, SLA
// status and why each is not patched; the asset's compliance rating and
// how each finding counted; its monitors; the inventory its agent
// reported; installed software; rollout deployments and agent jobs; and
// the asset's entries of the client's evidence chain. Each is rendered
// from its own partial (templates/shared/asset.tmpl) into an AssetSlot.

func (c *Console) assetDetailRoutes() {
	c.handle("POST /assets/{id}/scan", c.requestScan)
}

// assetView is what the section partials receive.
type assetView struct {
	Asset *patch.Asset
	CSRF  string
	Href  string
	// CanOperate shows the operator's actions (approve, request a scan).
	CanOperate bool
}

// partial renders a shared template into HTML for a slot.
func (c *Console) partial(name string, data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := c.pages[tmplAsset].ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return template.HTML(buf.String()), nil
}

// AssetFindings is the missing-updates section.
type AssetFindings struct {
	assetView
	Table    FindingsTable
	Open     int
	Resolved []FindingRow
	Windows  *server.AssetWindow
	Scans    []*patch.ScanStatus
	HasAgent bool
}

// AssetComplianceSection is the asset's rating traced to its findings.
type AssetComplianceSection struct {
	assetView
	Rating   RatingView
	Gaps     []string
	Findings []CategorisedFinding
	Counts   patch.FindingCounts
}

// CategorisedFinding is a finding with the rating category it fell in.
type CategorisedFinding struct {
	server.FindingRating
	Title    string
	Category string
	Counted  string
}

// categoryText says what each rating category means for the numbers.
var categoryText = map[compliance.Category][2]string{
	compliance.Installed:    {"Installed", "for"},
	compliance.Missing:      {"Missing", "against"},
	compliance.Excepted:     {"Excepted", "beside"},
	compliance.Emergency:    {"Emergency, missing", "beside"},
	compliance.NotApproved:  {"Not approved", "beside"},
	compliance.NotEvaluated: {"Not evaluated", "beside"},
	compliance.NotDue:       {"Not due yet", "not counted"},
	compliance.Replaced:     {"Replaced", "not counted"},
}

// AssetMonitors is the monitors section.
type AssetMonitors struct {
	assetView
	Rows []MonitorStateRow
}

// AssetInventorySection is what the agent reported about the machine.
type AssetInventorySection struct {
	assetView
	Agents    []*patch.Agent
	Inventory *server.InventoryView
	Host      *inventory.Host
	Now       time.Time
}

// AssetSoftwareSection lists installed software.
type AssetSoftwareSection struct {
	assetView
	Query string
	Rows  []*patch.Software
	Total int
	Limit int
}

// AssetJobsSection lists rollout deployments and agent jobs.
type AssetJobsSection struct {
	assetView
	Deployments []*patch.Deployment
	CycleNames  map[patch.CycleID]string
	Jobs        []*patch.AgentJob
}

// AssetEvidenceSection is the asset's part of the evidence chain.
type AssetEvidenceSection struct {
	assetView
	Entries []EvidenceRow
	Total   int
	AllHref string
}

// EvidenceRow is one chain entry ready to show.
type EvidenceRow struct {
	*patch.EvidenceEntry
	Details []Change
}

// evidenceRows prepares chain entries, newest first.
func evidenceRows(es []*patch.EvidenceEntry) []EvidenceRow {
	out := make([]EvidenceRow, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		row := EvidenceRow{EvidenceEntry: e}
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			row.Details = append(row.Details, Change{Field: k, After: e.Details[k]})
		}
		out = append(out, row)
	}
	return out
}

// softwareLimit bounds the software list on the asset page; a search
// narrows it.
const softwareLimit = 100

// evidenceLimit is how many of the asset's latest chain entries the page
// shows.
const evidenceLimit = 20

// assetSections builds the sections of the asset page.
func (c *Console) assetSections(ctx context.Context, r *http.Request, s *session, a *patch.Asset) ([]AssetSlot, error) {
	v := assetView{Asset: a, CSRF: s.CSRF, Href: "/assets/" + string(a.ID), CanOperate: s.Actor.Can(patch.PermOperate)}
	var slots []AssetSlot
	add := func(key, title, tmpl string, data any) error {
		body, err := c.partial(tmpl, data)
		if err != nil {
			return err
		}
		slots = append(slots, AssetSlot{Key: key, Title: title, Body: body})
		return nil
	}
	pol, err := c.srv.PolicyOf(ctx, a.ClientID)
	if err != nil {
		return nil, err
	}
	tiers := map[string]string{}
	for _, t := range pol.Tiers {
		tiers[t.Key] = t.Name
	}

	// Missing updates.
	agents, _, err := c.srv.Agents(ctx, patch.AgentFilter{AssetID: &a.ID, Limit: 10})
	if err != nil {
		return nil, err
	}
	fs := &AssetFindings{assetView: v}
	fs.HasAgent = slices.ContainsFunc(agents, func(ag *patch.Agent) bool { return ag.RevokedAt.IsZero() })
	open := patch.FindingOpen
	vs, n, err := c.srv.Findings(ctx, server.FindingQuery{ClientID: a.ClientID, AssetID: &a.ID, State: &open, Limit: patch.MaxLimit})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(vs, func(x, y *server.FindingView) int { return compareDue(x.DueAt, y.DueAt) })
	fs.Open = n
	fs.Table = FindingsTable{Rows: c.findingRows(vs, tiers, v.CanOperate), CSRF: s.CSRF, Back: v.Href + "#findings"}
	if v.CanOperate {
		fs.Table.Decide = "/clients/" + string(a.ClientID) + "/decisions"
	}
	resolved := patch.FindingResolved
	rs, _, err := c.srv.Findings(ctx, server.FindingQuery{ClientID: a.ClientID, AssetID: &a.ID, State: &resolved, Limit: 10})
	if err != nil {
		return nil, err
	}
	fs.Resolved = c.findingRows(rs, tiers, false)
	if fs.Windows, err = c.srv.NextWindowFor(ctx, a.ID); err != nil {
		return nil, err
	}
	if fs.Scans, err = c.srv.AssetScanStatus(ctx, a.ID); err != nil {
		return nil, err
	}
	if err := add("findings", "Missing updates", "asset-findings", fs); err != nil {
		return nil, err
	}

	// Compliance.
	cv, err := c.srv.AssetCompliance(ctx, a.ID, nil)
	if err != nil {
		return nil, err
	}
	cs := &AssetComplianceSection{assetView: v, Counts: cv.Rating.Findings}
	met := cv.Rating.RatingPct != nil && *cv.Rating.RatingPct >= cv.Rating.TargetPct
	cs.Rating = RatingView{Pct: cv.Rating.RatingPct, Strict: cv.Rating.StrictPct, Target: &cv.Rating.TargetPct}
	if cv.Rating.Rated {
		cs.Rating.Met = &met
	}
	for _, g := range cv.Rating.Gaps {
		cs.Gaps = append(cs.Gaps, gapName(g))
	}
	for _, f := range cv.Findings {
		cf := CategorisedFinding{FindingRating: f, Title: string(f.UpdateID)}
		if f.Update != nil {
			cf.Title = cmp.Or(f.Update.Title, f.Update.Package, string(f.UpdateID))
		}
		txt := categoryText[f.Category]
		cf.Category, cf.Counted = cmp.Or(txt[0], fmt.Sprint(f.Category)), txt[1]
		cs.Findings = append(cs.Findings, cf)
	}
	if err := add("compliance", "Compliance rating", "asset-compliance", cs); err != nil {
		return nil, err
	}

	// Monitors.
	ms := &AssetMonitors{assetView: v}
	for _, st := range cv.Monitors {
		ms.Rows = append(ms.Rows, MonitorStateRow{MonitorState: st, Hostname: a.Hostname, Badge: monitorBadge(st.Status), Title: monitorTitle(st.Kind)})
	}
	slices.SortFunc(ms.Rows, func(x, y MonitorStateRow) int {
		return cmp.Compare(slices.Index(monitorKinds, x.Kind), slices.Index(monitorKinds, y.Kind))
	})
	if err := add("monitors", "Monitors", "asset-monitors", ms); err != nil {
		return nil, err
	}

	// Inventory.
	inv := &AssetInventorySection{assetView: v, Agents: agents, Now: c.now()}
	switch iv, err := c.srv.AssetInventory(ctx, a.ID); {
	case err == nil:
		inv.Inventory = iv
		var h inventory.Host
		if json.Unmarshal(iv.Document, &h) == nil {
			inv.Host = &h
		}
	case patch.ErrorKind(err) != patch.KindNotFound:
		return nil, err
	}
	if err := add("inventory", "Inventory", "asset-inventory", inv); err != nil {
		return nil, err
	}

	// Installed software.
	sw := &AssetSoftwareSection{assetView: v, Query: strings.TrimSpace(r.URL.Query().Get("software")), Limit: softwareLimit}
	sf := patch.SoftwareFilter{AssetID: &a.ID, Limit: softwareLimit}
	if sw.Query != "" {
		if len(sw.Query) > 200 {
			sw.Query = sw.Query[:200]
		}
		sf.Query = &sw.Query
	}
	if sw.Rows, sw.Total, err = c.srv.AssetSoftware(ctx, sf); err != nil {
		return nil, err
	}
	if err := add("software", "Installed software", "asset-software", sw); err != nil {
		return nil, err
	}

	// Deployments and jobs.
	js := &AssetJobsSection{assetView: v}
	if js.Deployments, _, err = c.srv.AssetDeployments(ctx, a.ID, 20); err != nil {
		return nil, err
	}
	js.CycleNames = map[patch.CycleID]string{}
	for _, d := range js.Deployments {
		if _, ok := js.CycleNames[d.CycleID]; ok {
			continue
		}
		js.CycleNames[d.CycleID] = string(d.CycleID)
		if cy, err := c.srv.Cycle(ctx, d.CycleID); err == nil {
			js.CycleNames[d.CycleID] = cy.Name
		}
	}
	if js.Jobs, _, err = c.srv.AgentJobs(ctx, patch.AgentJobFilter{AssetID: &a.ID, Limit: 20}); err != nil {
		return nil, err
	}
	if err := add("jobs", "Deployments and jobs", "asset-jobs", js); err != nil {
		return nil, err
	}

	// Evidence timeline: the latest entries about this asset.
	ev := &AssetEvidenceSection{assetView: v, AllHref: "/clients/" + string(a.ClientID) + "/evidence?asset=" + string(a.ID)}
	ef := patch.EvidenceFilter{ClientID: a.ClientID, AssetID: &a.ID, Limit: 1}
	_, total, err := c.srv.EvidenceEntries(ctx, ef)
	if err != nil {
		return nil, err
	}
	ef.Limit, ef.Offset = evidenceLimit, max(0, total-evidenceLimit)
	es, _, err := c.srv.EvidenceEntries(ctx, ef)
	if err != nil {
		return nil, err
	}
	ev.Entries, ev.Total = evidenceRows(es), total
	if err := add("evidence", "Evidence timeline", "asset-evidence", ev); err != nil {
		return nil, err
	}
	return slots, nil
}

// compareDue orders due times, earliest first, findings without one last.
func compareDue(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return a.Compare(b)
}

func (c *Console) requestScan(w http.ResponseWriter, r *http.Request, s *session) error {
	id := patch.AssetID(r.PathValue("id"))
	j, err := c.srv.RequestScan(r.Context(), id)
	if err != nil {
		if patch.ErrorKind(err) == patch.KindConflict {
			c.setFlash(w, flashError, patch.ErrorMessage(err))
			http.Redirect(w, r, "/assets/"+string(id), http.StatusSeeOther)
			return nil
		}
		return err
	}
	return c.redirect(w, r, "/assets/"+string(id)+"#findings", "Scan requested (job "+string(j.ID)+"): the agent scans at its next check-in.")
}
