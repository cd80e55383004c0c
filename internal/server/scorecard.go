package server

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
)

// ComplianceMetrics are the operational metrics of a client (or the MSP)
// over a period.
type ComplianceMetrics struct {
	ClientID        patch.ClientID           `json:"client_id,omitempty"`
	Period          compliance.Span          `json:"period"`
	At              time.Time                `json:"at"`
	SLAAttainment   []compliance.Attainment  `json:"sla_attainment"`
	TimeToRemediate []compliance.Remediation `json:"time_to_remediate"`
	FailureRates    []compliance.FailureRate `json:"failure_rates"`
	// InstallSource is "rollouts", or "none" while no rollout engine
	// supplies install outcomes (the failure rates are then empty).
	InstallSource string                    `json:"install_source"`
	Exceptions    compliance.ExceptionAging `json:"exceptions"`
	Tickets       compliance.TicketCounts   `json:"tickets"`
	// TicketSource is "tickets", or "alerts" while every alert raised
	// counts as one patch ticket.
	TicketSource string `json:"ticket_source"`
}

// period checks a requested period, defaulting to the month to date.
func (s *Server) period(p compliance.Span) (compliance.Span, error) {
	now := s.now()
	if p.To.IsZero() || p.To.After(now) {
		p.To = now
	}
	if p.From.IsZero() {
		first, _ := compliance.MonthOf(patch.DayOf(p.To))
		p.From = first.Start()
	}
	if !p.From.Before(p.To) {
		return p, patch.FieldError("from", "must be before to")
	}
	if p.To.Sub(p.From) > 400*24*time.Hour {
		return p, patch.FieldError("from", "a period covers at most 400 days")
	}
	return p, nil
}

// metricClients returns the client asked for, or every client for the
// MSP (unscoped callers only).
func (s *Server) metricClients(ctx context.Context, client *patch.ClientID) ([]*patch.Client, error) {
	if client != nil {
		c, err := s.st.Clients.FindClientByID(ctx, *client)
		if err != nil {
			return nil, err
		}
		return []*patch.Client{c}, nil
	}
	sc, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.All {
		return nil, patch.Errorf(patch.KindForbidden, "MSP-wide metrics are for MSP staff.")
	}
	return s.clientsInScope(ctx)
}

// metricFacts are one client's findings (with their assets) for a period.
type metricFacts struct {
	client   *patch.Client
	findings []compliance.Finding
	refs     []*patch.Finding
	hosts    map[patch.AssetID]string
}

func (s *Server) loadMetricFacts(ctx context.Context, c *patch.Client, from time.Time) (*metricFacts, error) {
	facts, err := s.st.ComplianceFacts.FindComplianceFacts(ctx, patch.ComplianceFactFilter{ClientID: &c.ID, Since: from})
	if err != nil {
		return nil, err
	}
	m := &metricFacts{client: c, hosts: map[patch.AssetID]string{}}
	for _, cf := range facts {
		m.hosts[cf.Asset.ID] = cf.Asset.Hostname
		for _, f := range cf.Findings {
			m.findings = append(m.findings, compliance.FindingOf(f))
			m.refs = append(m.refs, f)
		}
	}
	return m, nil
}

// ComplianceMetrics computes SLA attainment by tier, time to remediate by
// tier, install failure rates by ring, exception aging and after-hours
// tickets for a client, or for the whole MSP when client is nil.
func (s *Server) ComplianceMetrics(ctx context.Context, client *patch.ClientID, p compliance.Span) (*ComplianceMetrics, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	p, err := s.period(p)
	if err != nil {
		return nil, err
	}
	clients, err := s.metricClients(ctx, client)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &ComplianceMetrics{Period: p, At: now, InstallSource: "none", TicketSource: "alerts"}
	if client != nil {
		out.ClientID = *client
	}
	var fs []compliance.Finding
	var xs []*patch.Exception
	var tickets []compliance.Ticket
	for _, c := range clients {
		m, err := s.loadMetricFacts(ctx, c, p.From)
		if err != nil {
			return nil, err
		}
		fs = append(fs, m.findings...)
		cx, err := s.allExceptions(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		xs = append(xs, cx...)
		ts, err := s.patchTickets(ctx, c.ID, p)
		if err != nil {
			return nil, err
		}
		tickets = append(tickets, ts...)
	}
	o := s.copts()
	out.SLAAttainment = compliance.SLAAttainment(fs, p, now)
	out.TimeToRemediate = compliance.RemediationTimes(fs, p)
	out.Exceptions = compliance.AgeExceptions(xs, p, now)
	out.Tickets = compliance.CountTickets(tickets, p, o.Hours)
	if o.Tickets != nil {
		out.TicketSource = "tickets"
	}
	var installs []compliance.InstallCount
	if o.Installs != nil {
		out.InstallSource = "rollouts"
		if installs, err = o.Installs.InstallCounts(ctx, client, p); err != nil {
			return nil, err
		}
	}
	out.FailureRates = compliance.FailureRates(installs)
	return out, nil
}

// patchTickets returns a client's patch tickets raised in p: from the
// ticket source when one is wired, else one per alert raised.
func (s *Server) patchTickets(ctx context.Context, client patch.ClientID, p compliance.Span) ([]compliance.Ticket, error) {
	if t := s.copts().Tickets; t != nil {
		return t.PatchTickets(ctx, &client, p)
	}
	return s.alertTickets(ctx, client, p)
}

// alertTickets returns one ticket per alert raised for a client in p.
func (s *Server) alertTickets(ctx context.Context, client patch.ClientID, p compliance.Span) ([]compliance.Ticket, error) {
	if s.st.Alerts == nil {
		return nil, nil
	}
	zones, err := s.zones(ctx, client)
	if err != nil {
		return nil, err
	}
	var fallback *time.Location
	for _, z := range zones {
		fallback = z
		break
	}
	assetZone := map[patch.AssetID]*time.Location{}
	var out []compliance.Ticket
	for off := 0; ; {
		page, total, err := s.st.Alerts.FindAlerts(ctx, patch.AlertFilter{ClientID: &client, Limit: patch.MaxLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, a := range page {
			if !p.Contains(a.RaisedAt) {
				continue
			}
			z := fallback
			if a.SubjectType == "asset" {
				id := patch.AssetID(a.SubjectID)
				if az, ok := assetZone[id]; ok {
					z = az
				} else if as, err := s.st.Assets.FindAssetByID(ctx, id); err == nil {
					if sz, ok := zones[as.SiteID]; ok {
						z = sz
					}
					assetZone[id] = z
				}
			}
			out = append(out, compliance.Ticket{ID: string(a.ID), ClientID: a.ClientID, Kind: a.Kind, At: a.RaisedAt, Zone: z})
		}
		off += len(page)
		// Alerts come newest first: stop once past the period.
		if len(page) == 0 || off >= total || page[len(page)-1].RaisedAt.Before(p.From) {
			return out, nil
		}
	}
}

// Metrics whose numbers can be traced to findings.
const (
	MetricSLA = "sla_attainment"
	MetricTTR = "time_to_remediate"
)

// MetricFinding is one finding behind a metric.
type MetricFinding struct {
	FindingID  patch.FindingID `json:"finding_id"`
	AssetID    patch.AssetID   `json:"asset_id"`
	Hostname   string          `json:"hostname"`
	UpdateID   patch.UpdateID  `json:"update_id"`
	Title      string          `json:"title"`
	Tier       string          `json:"tier"`
	Emergency  bool            `json:"emergency"`
	SLAAnchor  time.Time       `json:"sla_anchor"`
	DueAt      time.Time       `json:"due_at,omitzero"`
	ResolvedAt time.Time       `json:"resolved_at,omitzero"`
	// Outcome is the SLA outcome (met, missed, emergency, excepted); for
	// time to remediate, "remediated" with the hours it took.
	Outcome          string   `json:"outcome"`
	HoursToRemediate *float64 `json:"hours_to_remediate,omitempty"`
}

// MetricFindings lists the findings a client's metric counted in p,
// optionally of one tier and outcome, ordered by tier, due time and id.
func (s *Server) MetricFindings(ctx context.Context, client patch.ClientID, metric string, tier, outcome *string, p compliance.Span, limit, offset int) ([]MetricFinding, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if metric != MetricSLA && metric != MetricTTR {
		return nil, 0, patch.FieldError("metric", "must be sla_attainment or time_to_remediate (got %q)", metric)
	}
	p, err := s.period(p)
	if err != nil {
		return nil, 0, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, client)
	if err != nil {
		return nil, 0, err
	}
	m, err := s.loadMetricFacts(ctx, c, p.From)
	if err != nil {
		return nil, 0, err
	}
	now := s.now()
	var out []MetricFinding
	for i := range m.findings {
		f, ref := &m.findings[i], m.refs[i]
		if tier != nil && f.Tier != *tier {
			continue
		}
		mf := MetricFinding{FindingID: f.ID, AssetID: ref.AssetID, Hostname: m.hosts[ref.AssetID], UpdateID: ref.UpdateID, Tier: f.Tier,
			Emergency: f.Emergency, SLAAnchor: f.SLAAnchor, DueAt: f.DueAt, ResolvedAt: f.ResolvedAt}
		switch metric {
		case MetricSLA:
			o := compliance.SLAOf(f, p, now)
			if o == compliance.SLANotCounted {
				continue
			}
			mf.Outcome = o.String()
		case MetricTTR:
			d, ok := compliance.RemediatedIn(f, p)
			if !ok {
				continue
			}
			h := d.Hours()
			mf.Outcome, mf.HoursToRemediate = "remediated", &h
		}
		if outcome != nil && mf.Outcome != *outcome {
			continue
		}
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b MetricFinding) int {
		return cmp.Or(cmp.Compare(a.Tier, b.Tier), a.DueAt.Compare(b.DueAt), cmp.Compare(a.FindingID, b.FindingID))
	})
	total := len(out)
	limit = patch.PageLimit(limit)
	offset = min(max(offset, 0), total)
	out = out[offset:min(offset+limit, total)]
	titles := make([]FindingRating, len(out))
	for i := range out {
		titles[i] = FindingRating{Finding: &patch.Finding{UpdateID: out[i].UpdateID}}
	}
	if err := s.withUpdates(ctx, titles); err != nil {
		return nil, 0, err
	}
	for i := range out {
		if u := titles[i].Update; u != nil {
			out[i].Title = u.Title
		}
	}
	if out == nil {
		out = []MetricFinding{}
	}
	return out, total, nil
}

// Scorecard is the internal one-page scorecard: for the MSP and each
// client in scope, compliance %, exception aging, failure rate and
// after-hours tickets, this week (to now) against last week.
func (s *Server) Scorecard(ctx context.Context) (*compliance.WeeklyScorecard, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	sc, err := patch.ScopeFromContext(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	today := patch.DayOf(now)
	monday := compliance.WeekOf(today)
	lastMonday := monday.Add(-7)
	this := compliance.Span{From: monday.Start(), To: now}
	last := compliance.Span{From: lastMonday.Start(), To: monday.Start()}
	clients, err := s.clientsInScope(ctx)
	if err != nil {
		return nil, err
	}
	o := s.copts()
	out := &compliance.WeeklyScorecard{GeneratedAt: now, Week: monday}
	type facts struct {
		daily                  []*patch.RatingSnapshot
		xs                     []*patch.Exception
		thisInst, lastInst     []compliance.InstallCount
		thisTickets, lastTicks []compliance.Ticket
	}
	load := func(client *patch.ClientID) (*facts, error) {
		f := &facts{}
		all := string(compliance.DimAll)
		empty := ""
		rows, err := s.st.Snapshots.FindSnapshots(ctx, patch.SnapshotFilter{ClientID: client, MSP: client == nil, Dim: &all, Key: &empty, From: lastMonday, To: today})
		if err != nil {
			return nil, err
		}
		live, err := s.liveRows(ctx, client, compliance.DimAll, "")
		if err != nil {
			return nil, err
		}
		f.daily = append(rows, live...)
		if o.Installs != nil {
			if f.thisInst, err = o.Installs.InstallCounts(ctx, client, this); err != nil {
				return nil, err
			}
			if f.lastInst, err = o.Installs.InstallCounts(ctx, client, last); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
	row := func(id patch.ClientID, name string, f *facts) compliance.ScorecardRow {
		w := func(from, to patch.Day, at time.Time, inst []compliance.InstallCount, ts []compliance.Ticket) compliance.ScorecardWeek {
			return compliance.Week(compliance.WeekFacts{From: from, To: to, At: at, Daily: f.daily, Exceptions: f.xs, Installs: inst, Tickets: ts, Hours: o.Hours})
		}
		return compliance.Row(id, name, w(monday, monday.Add(6), now, f.thisInst, f.thisTickets),
			w(lastMonday, monday.Add(-1), monday.Start(), f.lastInst, f.lastTicks))
	}
	msp := &facts{}
	var rows []compliance.ScorecardRow
	for _, c := range clients {
		f, err := load(&c.ID)
		if err != nil {
			return nil, err
		}
		if f.xs, err = s.allExceptions(ctx, c.ID); err != nil {
			return nil, err
		}
		ts, err := s.patchTickets(ctx, c.ID, compliance.Span{From: last.From, To: this.To})
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if this.Contains(t.At) {
				f.thisTickets = append(f.thisTickets, t)
			} else {
				f.lastTicks = append(f.lastTicks, t)
			}
		}
		msp.xs = append(msp.xs, f.xs...)
		msp.thisTickets, msp.lastTicks = append(msp.thisTickets, f.thisTickets...), append(msp.lastTicks, f.lastTicks...)
		rows = append(rows, row(c.ID, c.Name, f))
	}
	if sc.All {
		f, err := load(nil)
		if err != nil {
			return nil, err
		}
		f.xs, f.thisTickets, f.lastTicks = msp.xs, msp.thisTickets, msp.lastTicks
		name := "MSP"
		if m, err := s.st.MSP.FindMSP(ctx); err == nil {
			name = m.Name
		}
		out.Rows = append(out.Rows, row("", name, f))
	}
	out.Rows = append(out.Rows, rows...)
	return out, nil
}

// GapAsset is an asset reported beside the rating as a coverage gap.
type GapAsset struct {
	AssetID   patch.AssetID  `json:"asset_id"`
	Hostname  string         `json:"hostname"`
	OS        patch.OSFamily `json:"os"`
	Class     string         `json:"class"`
	Rated     bool           `json:"rated"`
	RatingPct *float64       `json:"rating_pct"`
	Gaps      []string       `json:"gaps"`
}

// ClientComplianceReport is one client's compliance page: ratings by
// kind, class, OS, tier and site against their targets, the month to
// date, the exclusions and coverage gaps beside them, the monitors and
// the month's operational metrics.
type ClientComplianceReport struct {
	ClientID   patch.ClientID           `json:"client_id"`
	Name       string                   `json:"name"`
	ComputedAt time.Time                `json:"computed_at"`
	Overall    compliance.GroupRating   `json:"overall"`
	ByKind     []compliance.GroupRating `json:"by_kind"`
	ByClass    []compliance.GroupRating `json:"by_class"`
	ByOS       []compliance.GroupRating `json:"by_os"`
	ByTier     []compliance.GroupRating `json:"by_tier"`
	BySite     []compliance.GroupRating `json:"by_site"`
	// MonthToDate averages each group's daily ratings this month, today's
	// live rating included: the figures the monthly targets are held to.
	MonthToDate  []compliance.PeriodAverage `json:"month_to_date"`
	CoverageGaps []GapAsset                 `json:"coverage_gaps"`
	// Monitors counts the client's monitor states by monitor and status.
	Monitors map[patch.MonitorKind]map[patch.MonitorStatus]int `json:"monitors"`
	Metrics  *ComplianceMetrics                                `json:"metrics"`
}

// ClientCompliance builds a client's compliance page.
func (s *Server) ClientCompliance(ctx context.Context, client patch.ClientID) (*ClientComplianceReport, error) {
	view, err := s.ComplianceRatings(ctx, RatingQuery{ClientID: &client})
	if err != nil {
		return nil, err
	}
	c, err := s.st.Clients.FindClientByID(ctx, client)
	if err != nil {
		return nil, err
	}
	rep := &ClientComplianceReport{ClientID: c.ID, Name: c.Name, ComputedAt: view.ComputedAt, CoverageGaps: []GapAsset{},
		Monitors: map[patch.MonitorKind]map[patch.MonitorStatus]int{}}
	for _, r := range view.Ratings {
		switch r.Dim {
		case compliance.DimAll:
			rep.Overall = r
		case compliance.DimKind:
			rep.ByKind = append(rep.ByKind, r)
		case compliance.DimClass:
			rep.ByClass = append(rep.ByClass, r)
		case compliance.DimOS:
			rep.ByOS = append(rep.ByOS, r)
		case compliance.DimTier:
			rep.ByTier = append(rep.ByTier, r)
		case compliance.DimSite:
			rep.BySite = append(rep.BySite, r)
		}
	}
	now := s.now()
	today := patch.DayOf(now)
	first, _ := compliance.MonthOf(today)
	rows, err := s.st.Snapshots.FindSnapshots(ctx, patch.SnapshotFilter{ClientID: &client, From: first, To: today})
	if err != nil {
		return nil, err
	}
	live, _ := compliance.SnapshotRows(today, view.Ratings, nil, now)
	rep.MonthToDate = compliance.Averages(append(rows, live...), first, today)
	var members []compliance.Summary
	if err := s.withIndex(ctx, func(ix *compliance.Index, _ time.Time) {
		members = ix.Members(compliance.GroupKey{Client: client, Dim: compliance.DimAll})
	}); err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.Gaps == 0 {
			continue
		}
		v := m.View()
		rep.CoverageGaps = append(rep.CoverageGaps, GapAsset{AssetID: v.AssetID, Hostname: v.Hostname, OS: v.OS, Class: v.Class,
			Rated: v.Rated, RatingPct: v.RatingPct, Gaps: v.Gaps})
	}
	if s.st.Monitors != nil {
		for off := 0; ; {
			page, total, err := s.st.Monitors.FindMonitorStates(ctx, patch.MonitorFilter{ClientID: &client, Limit: patch.MaxLimit, Offset: off})
			if err != nil {
				return nil, err
			}
			for _, st := range page {
				if rep.Monitors[st.Kind] == nil {
					rep.Monitors[st.Kind] = map[patch.MonitorStatus]int{}
				}
				rep.Monitors[st.Kind][st.Status]++
			}
			off += len(page)
			if len(page) == 0 || off >= total {
				break
			}
		}
	}
	if rep.Metrics, err = s.ComplianceMetrics(ctx, &client, compliance.Span{}); err != nil {
		return nil, err
	}
	return rep, nil
}
