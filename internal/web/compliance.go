package web

import (
	"cmp"
	"context"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/web/chart"
)

// The compliance tab: Patch Health Compliance by device type, OS, class,
// tier and site against their targets, the 30-day trend, what is left out
// of the rating and why, coverage gaps, monitors and the month's
// operational metrics. Every number links to the rows behind it: a group
// to its assets (complianceAssets), an asset to its findings by category
// (the asset page), a monitor count to the monitors (clientMonitors), an
// SLA figure to its findings (complianceMetricFindings).

func (c *Console) complianceRoutes() {
	c.handle("GET /clients/{id}/compliance", c.clientCompliance)
	c.handle("GET /clients/{id}/compliance/assets", c.complianceAssets)
	c.handle("GET /clients/{id}/compliance/findings", c.complianceMetricFindings)
	c.handle("GET /clients/{id}/monitors", c.clientMonitors)
}

func complianceHref(client patch.ClientID) string {
	return "/clients/" + string(client) + "/compliance"
}

// groupHref links to the assets a group's rating is computed from.
func groupHref(client patch.ClientID, dim compliance.Dim, key string) string {
	v := url.Values{"dim": {string(dim)}}
	if key != "" {
		v.Set("key", key)
	}
	return complianceHref(client) + "/assets?" + v.Encode()
}

// fillCompliance puts each client's overall rating in the Compliance slot
// and the rating by OS family and asset class next to those counts. The
// ratings of every client come from the server's in-memory index in one
// call.
func (c *Console) fillCompliance(ctx context.Context, tiles []*ClientTile, _ []patch.AssetCount) error {
	q := server.RatingQuery{}
	if len(tiles) == 1 {
		q.ClientID = &tiles[0].Client.ID
	}
	view, err := c.srv.ComplianceRatings(ctx, q)
	if err != nil {
		return err
	}
	type key struct {
		client patch.ClientID
		dim    compliance.Dim
		key    string
	}
	byKey := make(map[key]compliance.GroupRating, len(view.Ratings))
	for _, r := range view.Ratings {
		byKey[key{r.ClientID, r.Dim, r.Key}] = r
	}
	for _, t := range tiles {
		id := t.Client.ID
		if r, ok := byKey[key{id, compliance.DimAll, ""}]; ok {
			rv := ratingOf(r, complianceHref(id))
			m := &Metric{Value: pct(r.RatingPct), Detail: rv.Title(), Href: rv.Href, Status: rv.Status()}
			if r.TargetPct != nil {
				m.Value += " / target " + pct(r.TargetPct)
			}
			t.Compliance = m
		}
		for i := range t.ByOS {
			if r, ok := byKey[key{id, compliance.DimOS, t.ByOS[i].Key}]; ok {
				rv := ratingOf(r, groupHref(id, compliance.DimOS, t.ByOS[i].Key))
				t.ByOS[i].Rating = &rv
			}
		}
		for i := range t.ByClass {
			if r, ok := byKey[key{id, compliance.DimClass, t.ByClass[i].Key}]; ok {
				rv := ratingOf(r, groupHref(id, compliance.DimClass, t.ByClass[i].Key))
				t.ByClass[i].Rating = &rv
			}
		}
	}
	return nil
}

// expiringWithin is how far ahead an exception counts as expiring.
const expiringWithin = 30 * 24 * time.Hour

// fillAttention sets the attention numbers: SLA breaches, halted cycles,
// expiring exceptions, failed updates and agents offline, all from one
// grouped query.
func (c *Console) fillAttention(ctx context.Context, tiles []*ClientTile, _ []patch.AssetCount) error {
	f := patch.ClientCountFilter{ExpiringBefore: c.now().Add(expiringWithin)}
	if len(tiles) == 1 {
		f.ClientID = &tiles[0].Client.ID
	}
	counts, err := c.srv.ClientCounts(ctx, f)
	if err != nil {
		return err
	}
	for _, t := range tiles {
		n := counts[t.Client.ID]
		base := "/clients/" + string(t.Client.ID)
		t.SLABreaches = countMetric(n.SLABreached, StatusBad, base+"/findings?sla=breached",
			plural(n.SLABreached, "open finding")+" past the SLA deadline · "+formatInt(n.SLADueSoon)+" due soon")
		t.HaltedCycles = countMetric(n.HaltedCycles, StatusBad, base+"/cycles?state=halted",
			plural(n.HaltedCycles, "cycle")+" halted by a failure-rate breach · "+formatInt(n.RunningCycles)+" running")
		t.ExpiringExceptions = countMetric(n.ExpiringExceptions, StatusWarn, base+"/exceptions?view=expiring",
			plural(n.ExpiringExceptions, "exception")+" ending within 30 days · "+formatInt(n.AwaitingSignOff)+" awaiting sign-off")
		t.FailedUpdates = countMetric(n.FailedUpdates, StatusBad, base+"/monitors?kind=updates_failed&alarm=1",
			plural(n.FailedUpdates, "asset")+" with failed installs (UPDATES – Failed)")
		t.AgentsOffline = countMetric(n.AgentsOffline, StatusWarn, base+"/monitors?kind=agent_offline&alarm=1",
			plural(n.AgentsOffline, "asset")+" whose agent is offline")
	}
	return nil
}

// countMetric is a count that needs attention when it is not zero.
func countMetric(n int, bad Status, href, detail string) *Metric {
	st := StatusOK
	if n > 0 {
		st = bad
	}
	return &Metric{Value: formatInt(n), Detail: detail, Href: href, Status: st}
}

// GroupRow is one group of a rating table.
type GroupRow struct {
	Label    string
	Rating   RatingView
	Month    *compliance.PeriodAverage
	Findings patch.FindingCounts
	Gaps     int
	Assets   int
	Rated    int
}

// DimSection is one dimension of the compliance tab: a chart and a table
// of its groups.
type DimSection struct {
	Key, Title, Note string
	Chart            template.HTML
	Rows             []GroupRow
}

// TrendChart is a 30-day trend with its caption.
type TrendChart struct {
	Title string
	SVG   template.HTML
	Avg   *compliance.PeriodAverage
}

// MonitorCell is the number of a client's assets whose monitor has a
// status, linking to them.
type MonitorCell struct {
	Status patch.MonitorStatus
	N      int
	Href   string
}

// MonitorRow is one monitor's statuses across a client's assets.
type MonitorRow struct {
	Kind  patch.MonitorKind
	Title string
	Cells []MonitorCell
}

// AttainmentRow is SLA attainment of one tier with the link to its
// findings.
type AttainmentRow struct {
	compliance.Attainment
	Label      string
	MetHref    string
	MissedHref string
}

// CompliancePage is a client's compliance tab.
type CompliancePage struct {
	Page
	Client     *ClientHeader
	ComputedAt time.Time
	Overall    GroupRow
	Kinds      []GroupRow
	ByOS       []GroupRow
	ByClass    []GroupRow
	ByTier     []GroupRow
	BySite     []GroupRow
	Trends     []TrendChart
	Dims       []DimSection
	Gaps       []server.GapAsset
	GapNames   []string
	Monitors   []MonitorRow
	Metrics    *server.ComplianceMetrics
	Attainment []AttainmentRow
	Remediate  []compliance.Remediation
	TierNames  map[string]string
	Statuses   []patch.MonitorStatus
	// Alerts are the client's open alerts; Baselines its OS baselines.
	Alerts     []AlertRow
	Baselines  []patch.OSBaseline
	CanOperate bool
	Families   []Option
	BaseRows   []int
}

// AlertRow is an open alert.
type AlertRow struct {
	*patch.Alert
	Badge   Badge
	Subject string
	Href    string
}

// monitorTitles name the monitors as the service description does.
var monitorTitles = map[patch.MonitorKind]string{
	patch.MonitorUpdatesFailed:      "UPDATES – Failed",
	patch.MonitorUpdatesInstalled:   "UPDATES – Installed",
	patch.MonitorMissingServicePack: "UPDATES – Missing Service Pack",
	patch.MonitorUpdatesOutOfDate:   "UPDATES – Out of Date",
	patch.MonitorNotServiceable:     "Not serviceable",
	patch.MonitorAgentOffline:       "Agent offline",
}

var monitorKinds = []patch.MonitorKind{patch.MonitorUpdatesFailed, patch.MonitorUpdatesInstalled, patch.MonitorMissingServicePack,
	patch.MonitorUpdatesOutOfDate, patch.MonitorNotServiceable, patch.MonitorAgentOffline}

var monitorStatuses = []patch.MonitorStatus{patch.MonitorCritical, patch.MonitorWarning, patch.MonitorOK, patch.MonitorUnknown}

func monitorTitle(k patch.MonitorKind) string {
	if t, ok := monitorTitles[k]; ok {
		return t
	}
	return string(k)
}

func monitorBadge(s patch.MonitorStatus) Badge {
	switch s {
	case patch.MonitorCritical:
		return Badge{StatusBad, "Critical"}
	case patch.MonitorWarning:
		return Badge{StatusWarn, "Warning"}
	case patch.MonitorOK:
		return Badge{StatusOK, "OK"}
	}
	return Badge{StatusUnknown, "Unknown"}
}

func (c *Console) clientCompliance(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabCompliance)
	if err != nil {
		return err
	}
	id := h.Client.ID
	rep, err := c.srv.ClientCompliance(ctx, id)
	if err != nil {
		return err
	}
	pol, err := c.srv.PolicyOf(ctx, id)
	if err != nil {
		return err
	}
	p := &CompliancePage{Client: h, ComputedAt: rep.ComputedAt, Metrics: rep.Metrics, TierNames: map[string]string{}, Statuses: monitorStatuses}
	p.Title, p.Section = h.Client.Name+" · Compliance", c.clientSection(s)
	for _, t := range pol.Tiers {
		p.TierNames[t.Key] = t.Name
	}
	month := map[[2]string]*compliance.PeriodAverage{}
	for i := range rep.MonthToDate {
		a := &rep.MonthToDate[i]
		month[[2]string{a.Dim, a.Key}] = a
	}
	row := func(g compliance.GroupRating, label string) GroupRow {
		gr := GroupRow{Label: label, Rating: ratingOf(g, groupHref(id, g.Dim, g.Key)), Month: month[[2]string{string(g.Dim), g.Key}],
			Findings: g.Findings, Assets: g.Assets, Rated: g.Rated}
		for _, n := range g.Gaps {
			gr.Gaps += n
		}
		if gr.Label == "" {
			gr.Label = cmp.Or(g.Label, g.Key)
		}
		return gr
	}
	p.Overall = row(rep.Overall, "All assets")
	for _, g := range rep.ByKind {
		p.Kinds = append(p.Kinds, row(g, kindName(patch.ClassKind(g.Key))))
	}
	for _, g := range rep.ByOS {
		p.ByOS = append(p.ByOS, row(g, osName(patch.OSFamily(g.Key))))
	}
	for _, g := range rep.ByClass {
		p.ByClass = append(p.ByClass, row(g, ""))
	}
	for _, g := range rep.ByTier {
		p.ByTier = append(p.ByTier, row(g, cmp.Or(p.TierNames[g.Key], g.Key)))
	}
	for _, g := range rep.BySite {
		p.BySite = append(p.BySite, row(g, ""))
	}
	p.Dims = []DimSection{
		{Key: "os", Title: "By operating system", Rows: p.ByOS, Chart: ratingChart("Compliance by operating system against target", p.ByOS)},
		{Key: "class", Title: "By asset class", Note: "Each class is held to its own target.", Rows: p.ByClass, Chart: ratingChart("Compliance by asset class against each class's target", p.ByClass)},
		{Key: "tier", Title: "By severity tier", Note: "A tier's rating counts each asset's findings of that tier only.", Rows: p.ByTier, Chart: ratingChart("Compliance by severity tier against target", p.ByTier)},
		{Key: "site", Title: "By site", Rows: p.BySite, Chart: ratingChart("Compliance by site against target", p.BySite)},
	}

	// 30-day trends of the two groups the service description sets
	// targets for (servers, workstations).
	trend := []struct {
		dim   compliance.Dim
		key   string
		title string
	}{{compliance.DimKind, string(patch.ClassKindServer), "Servers"}, {compliance.DimKind, string(patch.ClassKindWorkstation), "Workstations"}}
	for _, tr := range trend {
		hist, err := c.srv.ComplianceHistory(ctx, server.HistoryQuery{ClientID: &id, Dim: tr.dim, Key: tr.key})
		if err != nil {
			return err
		}
		p.Trends = append(p.Trends, TrendChart{Title: tr.title, SVG: trendChart(tr.title+", last 30 days", c.now(), hist), Avg: hist.Average})
	}

	p.Gaps = rep.CoverageGaps
	slices.SortFunc(p.Gaps, func(a, b server.GapAsset) int { return cmp.Compare(a.Hostname, b.Hostname) })
	for _, k := range monitorKinds {
		mr := MonitorRow{Kind: k, Title: monitorTitle(k)}
		for _, st := range monitorStatuses {
			n := rep.Monitors[k][st]
			mr.Cells = append(mr.Cells, MonitorCell{Status: st, N: n, Href: monitorsHref(id, k, st)})
		}
		p.Monitors = append(p.Monitors, mr)
	}
	if m := rep.Metrics; m != nil {
		for _, a := range m.SLAAttainment {
			ar := AttainmentRow{Attainment: a, Label: "All tiers"}
			if a.Tier != "" {
				ar.Label = cmp.Or(p.TierNames[a.Tier], a.Tier)
			}
			ar.MetHref = metricHref(id, "sla_attainment", a.Tier, "met")
			ar.MissedHref = metricHref(id, "sla_attainment", a.Tier, "missed")
			p.Attainment = append(p.Attainment, ar)
		}
		p.Remediate = m.TimeToRemediate
	}
	open := true
	alerts, _, err := c.srv.Alerts(ctx, patch.AlertFilter{ClientID: &id, Open: &open, Limit: 100})
	if err != nil {
		return err
	}
	host := c.hostLookup(ctx)
	for _, a := range alerts {
		row := AlertRow{Alert: a, Badge: Badge{StatusWarn, "Warning"}, Subject: a.SubjectID}
		if a.Severity == patch.AlertCritical {
			row.Badge = Badge{StatusBad, "Critical"}
		} else if a.Severity == patch.AlertInfo {
			row.Badge = Badge{StatusInfo, "Info"}
		}
		switch a.SubjectType {
		case "asset":
			row.Subject, row.Href = host(patch.AssetID(a.SubjectID)), "/assets/"+a.SubjectID
		case "exception":
			row.Href = "/exceptions/" + a.SubjectID
		}
		p.Alerts = append(p.Alerts, row)
	}
	if p.Baselines, err = c.srv.OSBaselines(ctx, id); err != nil {
		return err
	}
	p.CanOperate = s.Actor.Can(patch.PermOperate)
	for _, fam := range patch.OSFamilies {
		p.Families = append(p.Families, Option{Value: string(fam), Label: osName(fam)})
	}
	return c.render(w, r, s, http.StatusOK, tmplCompliance, p)
}

func kindName(k patch.ClassKind) string {
	switch k {
	case patch.ClassKindServer:
		return "Servers"
	case patch.ClassKindWorkstation:
		return "Workstations"
	}
	return string(k)
}

func monitorsHref(client patch.ClientID, k patch.MonitorKind, st patch.MonitorStatus) string {
	v := url.Values{"kind": {string(k)}}
	if st != "" {
		v.Set("status", string(st))
	}
	return "/clients/" + string(client) + "/monitors?" + v.Encode()
}

func metricHref(client patch.ClientID, metric, tier, outcome string) string {
	v := url.Values{"metric": {metric}}
	if tier != "" {
		v.Set("tier", tier)
	}
	if outcome != "" {
		v.Set("outcome", outcome)
	}
	return complianceHref(client) + "/findings?" + v.Encode()
}

// ratingChart draws rated groups as horizontal bars, green when they meet
// their own target and red when not, with each target marked. Groups
// without a rated asset are left out (the table shows them with a dash).
func ratingChart(title string, rows []GroupRow) template.HTML {
	b := chart.Bars{Title: title, Stacked: true, TotalsOnly: true, Horizontal: true, Max: 100, Unit: "%", Width: 460,
		Series: []chart.Series{{Name: "Meets target", Class: "s-ok"}, {Name: "Below target", Class: "s-bad"}}}
	for _, r := range rows {
		if r.Rating.Pct == nil {
			continue
		}
		b.Categories = append(b.Categories, r.Label)
		met, below := *r.Rating.Pct, 0.0
		if r.Rating.Met != nil && !*r.Rating.Met {
			met, below = 0, *r.Rating.Pct
		}
		b.Series[0].Values = append(b.Series[0].Values, met)
		b.Series[1].Values = append(b.Series[1].Values, below)
		t := math.NaN()
		if r.Rating.Target != nil {
			t = *r.Rating.Target
		}
		b.Targets = append(b.Targets, t)
	}
	return b.SVG()
}

// trendChart draws a group's daily ratings of the last 30 days against
// its target (the mean of the days' targets).
func trendChart(title string, now time.Time, h *server.History) template.HTML {
	today := patch.DayOf(now)
	labels := make([]string, 30)
	rating := make([]float64, 30)
	strict := make([]float64, 30)
	idx := map[patch.Day]int{}
	for i := range labels {
		d := today.Add(i - 29)
		labels[i] = d.Start().Format("Jan 2")
		rating[i], strict[i] = math.NaN(), math.NaN()
		idx[d] = i
	}
	for _, d := range h.Days {
		i, ok := idx[d.Day]
		if !ok || d.RatingPct == nil {
			continue
		}
		rating[i] = *d.RatingPct
		if d.StrictPct != nil {
			strict[i] = *d.StrictPct
		}
	}
	var target *float64
	if h.Average != nil {
		target = h.Average.TargetPct
	}
	return chart.Line{Title: title, Labels: labels, Min: 0, Max: 100, Unit: "%", Target: target, Width: 560, Height: 220,
		Series: []chart.Series{{Name: "Rating", Values: rating, Class: "s1"}, {Name: "Strict", Values: strict, Class: "s6"}}}.SVG()
}

// ComplianceAssetsPage lists the assets a group's rating is computed
// from, worst first.
type ComplianceAssetsPage struct {
	Page
	Client  *ClientHeader
	Group   string
	Rating  RatingView
	Rows    []ComplianceAssetRow
	Total   int
	Shown   int
	Limited bool
	Back    string
	// Trend is the group's daily rating over the last 30 days.
	Trend TrendChart
}

// ComplianceAssetRow is one asset of a group.
type ComplianceAssetRow struct {
	compliance.AssetRating
	Href      string
	Rating    RatingView
	Gaps      []string
	ClassName string
}

// complianceAssetLimit bounds the rows of a group page; the worst assets
// come first, so the limit cuts the ones that need nothing.
const complianceAssetLimit = 500

func (c *Console) complianceAssets(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabCompliance)
	if err != nil {
		return err
	}
	id := h.Client.ID
	dim := compliance.Dim(r.URL.Query().Get("dim"))
	if dim == "" {
		dim = compliance.DimAll
	}
	key := r.URL.Query().Get("key")
	if dim == compliance.DimAll {
		key = ""
	}
	rows, err := c.srv.ComplianceGroupAssets(ctx, compliance.GroupKey{Client: id, Dim: dim, Key: key})
	if err != nil {
		return err
	}
	view, err := c.srv.ComplianceRatings(ctx, server.RatingQuery{ClientID: &id, Dim: &dim, Key: &key})
	if err != nil {
		return err
	}
	p := &ComplianceAssetsPage{Client: h, Total: len(rows), Back: complianceHref(id)}
	p.Group = groupLabel(h.Client, dim, key)
	if len(view.Ratings) == 1 {
		p.Group = groupLabel(h.Client, dim, cmp.Or(view.Ratings[0].Label, key))
		if dim == compliance.DimClass || dim == compliance.DimSite {
			p.Group = dimName(dim) + " " + cmp.Or(view.Ratings[0].Label, key)
		}
		p.Rating = ratingOf(view.Ratings[0], "")
	}
	p.Title, p.Section = h.Client.Name+" · "+p.Group, c.clientSection(s)
	p.Crumbs = []Link{{Label: h.Client.Name, Href: h.Href}, {Label: "Compliance", Href: complianceHref(id)}}
	hist, err := c.srv.ComplianceHistory(ctx, server.HistoryQuery{ClientID: &id, Dim: dim, Key: key})
	if err != nil {
		return err
	}
	p.Trend = TrendChart{Title: p.Group, SVG: trendChart(p.Group+", last 30 days", c.now(), hist), Avg: hist.Average}
	// Worst first: lowest rating, then unrated, then by host name.
	slices.SortStableFunc(rows, func(a, b compliance.AssetRating) int {
		switch {
		case a.Rated != b.Rated:
			if a.Rated {
				return -1
			}
			return 1
		case a.RatingPct != nil && b.RatingPct != nil && *a.RatingPct != *b.RatingPct:
			return cmp.Compare(*a.RatingPct, *b.RatingPct)
		}
		return cmp.Compare(a.Hostname, b.Hostname)
	})
	if len(rows) > complianceAssetLimit {
		rows, p.Limited = rows[:complianceAssetLimit], true
	}
	p.Shown = len(rows)
	for _, a := range rows {
		met := a.RatingPct != nil && *a.RatingPct >= a.TargetPct
		row := ComplianceAssetRow{AssetRating: a, Href: "/assets/" + string(a.AssetID) + "#compliance", ClassName: a.Class,
			Rating: RatingView{Pct: a.RatingPct, Strict: a.StrictPct, Target: &a.TargetPct}}
		if a.Rated {
			row.Rating.Met = &met
		}
		if ac, ok := h.Client.Class(a.Class); ok {
			row.ClassName = ac.Name
		}
		for _, g := range a.Gaps {
			row.Gaps = append(row.Gaps, gapName(g))
		}
		p.Rows = append(p.Rows, row)
	}
	return c.render(w, r, s, http.StatusOK, tmplComplianceAssets, p)
}

func dimName(d compliance.Dim) string {
	switch d {
	case compliance.DimKind:
		return "Device type"
	case compliance.DimClass:
		return "Class"
	case compliance.DimOS:
		return "Operating system"
	case compliance.DimTier:
		return "Tier"
	case compliance.DimSite:
		return "Site"
	}
	return "All assets"
}

// groupLabel names a group for a heading.
func groupLabel(cl *patch.Client, d compliance.Dim, key string) string {
	switch d {
	case compliance.DimAll:
		return "All assets"
	case compliance.DimKind:
		return kindName(patch.ClassKind(key))
	case compliance.DimOS:
		return osName(patch.OSFamily(key))
	case compliance.DimClass:
		if ac, ok := cl.Class(key); ok {
			return "Class " + ac.Name
		}
	case compliance.DimTier:
		return "Tier " + key
	}
	return dimName(d) + " " + key
}

// MonitorsPage lists a client's monitor states, filtered.
type MonitorsPage struct {
	Page
	Client   *ClientHeader
	Form     Form
	Kinds    []Option
	Statuses []Option
	Rows     []MonitorStateRow
	Total    int
	Pager    Pager
}

// MonitorStateRow is one asset's monitor.
type MonitorStateRow struct {
	*patch.MonitorState
	Hostname  string
	AssetHref string
	Badge     Badge
	Title     string
}

const monitorPageSize = 50

func (c *Console) clientMonitors(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabCompliance)
	if err != nil {
		return err
	}
	id := h.Client.ID
	q := r.URL.Query()
	p := &MonitorsPage{Client: h, Form: newForm(q, "kind", "status", "alarm")}
	p.Title, p.Section = h.Client.Name+" · Monitors", c.clientSection(s)
	p.Crumbs = []Link{{Label: h.Client.Name, Href: h.Href}, {Label: "Compliance", Href: complianceHref(id)}}
	page := pageNumber(q)
	f := patch.MonitorFilter{ClientID: &id, Limit: monitorPageSize, Offset: (page - 1) * monitorPageSize}
	p.Kinds = []Option{{Value: "", Label: "Every monitor"}}
	for _, k := range monitorKinds {
		p.Kinds = append(p.Kinds, Option{Value: string(k), Label: monitorTitle(k), Selected: q.Get("kind") == string(k)})
	}
	p.Statuses = []Option{{Value: "", Label: "Any status"}, {Value: "alarm", Label: "Warning or critical", Selected: q.Get("alarm") == "1"}}
	for _, st := range monitorStatuses {
		p.Statuses = append(p.Statuses, Option{Value: string(st), Label: monitorBadge(st).Label, Selected: q.Get("status") == string(st) && q.Get("alarm") != "1"})
	}
	if k := q.Get("kind"); k != "" {
		if !slices.Contains(monitorKinds, patch.MonitorKind(k)) {
			p.Form.Errors["kind"] = "is not a monitor"
		} else {
			kind := patch.MonitorKind(k)
			f.Kind = &kind
		}
	}
	var states []*patch.MonitorState
	var total int
	switch st := q.Get("status"); {
	case q.Get("alarm") == "1" || st == "alarm":
		// Warning and critical, critical first: two reads of the same
		// filter, paged together.
		for _, want := range []patch.MonitorStatus{patch.MonitorCritical, patch.MonitorWarning} {
			ff := f
			ff.Status = &want
			ff.Limit, ff.Offset = patch.MaxLimit, 0
			for {
				page, n, err := c.srv.MonitorStates(ctx, ff)
				if err != nil {
					return err
				}
				states = append(states, page...)
				ff.Offset += len(page)
				if len(page) == 0 || ff.Offset >= n {
					break
				}
			}
		}
		total = len(states)
		lo := min(f.Offset, total)
		states = states[lo:min(lo+monitorPageSize, total)]
	default:
		if st != "" {
			if !slices.Contains(monitorStatuses, patch.MonitorStatus(st)) {
				p.Form.Errors["status"] = "is not a monitor status"
			} else {
				status := patch.MonitorStatus(st)
				f.Status = &status
			}
		}
		states, total, err = c.srv.MonitorStates(ctx, f)
		if err != nil {
			return err
		}
	}
	names, err := c.hostnames(ctx, id, func(yield func(patch.AssetID) bool) {
		for _, st := range states {
			if !yield(st.AssetID) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	for _, st := range states {
		p.Rows = append(p.Rows, MonitorStateRow{MonitorState: st, Hostname: names[st.AssetID], AssetHref: "/assets/" + string(st.AssetID) + "#monitors",
			Badge: monitorBadge(st.Status), Title: monitorTitle(st.Kind)})
	}
	p.Total = total
	p.Pager = listPager(r.URL, page, total, monitorPageSize)
	status := http.StatusOK
	if p.Form.HasErrors() {
		status = http.StatusBadRequest
	}
	return c.render(w, r, s, status, tmplMonitors, p)
}

// hostnames looks up the host names of assets of one client.
func (c *Console) hostnames(ctx context.Context, client patch.ClientID, ids func(func(patch.AssetID) bool)) (map[patch.AssetID]string, error) {
	out := map[patch.AssetID]string{}
	for id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		a, err := c.srv.Asset(ctx, id)
		switch {
		case err == nil:
			out[id] = a.Hostname
		case patch.ErrorKind(err) == patch.KindNotFound:
			out[id] = string(id)
		default:
			return nil, err
		}
	}
	return out, nil
}

// pageNumber reads ?page=, 1 by default.
func pageNumber(q url.Values) int {
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		return n
	}
	return 1
}

// listPager pages any list whose filters are in u's query.
func listPager(u *url.URL, page, total, size int) Pager {
	pages := max(1, (total+size-1)/size)
	p := Pager{Page: page, Pages: pages, Total: total}
	if total > 0 {
		p.First = min((page-1)*size+1, total)
		p.Last = min(total, page*size)
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range u.Query() {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		return u.Path + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevHref, p.HasPrev = link(min(page-1, pages)), true
	}
	if page < pages {
		p.NextHref, p.HasNext = link(page+1), true
	}
	return p
}

// MetricFindingsPage lists the findings behind an SLA attainment or
// time-to-remediate figure.
type MetricFindingsPage struct {
	Page
	Client  *ClientHeader
	Heading string
	Rows    []server.MetricFinding
	Total   int
	Pager   Pager
	Period  compliance.Span
}

func (c *Console) complianceMetricFindings(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	h, err := c.clientHeader(ctx, s, patch.ClientID(r.PathValue("id")), tabCompliance)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	metric := cmp.Or(q.Get("metric"), "sla_attainment")
	opt := func(k string) *string {
		if v := q.Get(k); v != "" {
			return &v
		}
		return nil
	}
	page := pageNumber(q)
	rows, total, err := c.srv.MetricFindings(ctx, h.Client.ID, metric, opt("tier"), opt("outcome"), compliance.Span{}, monitorPageSize, (page-1)*monitorPageSize)
	if err != nil {
		return err
	}
	p := &MetricFindingsPage{Client: h, Rows: rows, Total: total, Pager: listPager(r.URL, page, total, monitorPageSize)}
	p.Heading = "SLA attainment this month"
	if metric == "time_to_remediate" {
		p.Heading = "Time to remediate this month"
	}
	if t := q.Get("tier"); t != "" {
		p.Heading += " · tier " + t
	}
	if o := q.Get("outcome"); o != "" {
		p.Heading += " · " + o
	}
	p.Title, p.Section = h.Client.Name+" · "+p.Heading, c.clientSection(s)
	p.Crumbs = []Link{{Label: h.Client.Name, Href: h.Href}, {Label: "Compliance", Href: complianceHref(h.Client.ID)}}
	return c.render(w, r, s, http.StatusOK, tmplMetricFindings, p)
}
