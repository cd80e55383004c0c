package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
)

// GroupQuery names a rating group.
type GroupQuery struct {
	ClientID string `query:"client_id" doc:"The client; empty for the MSP-wide groups (MSP staff only)"`
	Dim      string `query:"dim" enum:"all,kind,class,os,tier,site" doc:"Dimension (default all)"`
	Key      string `query:"key" doc:"Group within the dimension: a class key, server or workstation, an OS family, a tier key or a site id (none for assets without a site)"`
}

func (q GroupQuery) key() compliance.GroupKey {
	k := compliance.GroupKey{Client: patch.ClientID(q.ClientID), Dim: compliance.Dim(q.Dim), Key: q.Key}
	if k.Dim == "" {
		k.Dim = compliance.DimAll
	}
	return k
}

// PeriodQuery bounds a metric period.
type PeriodQuery struct {
	From time.Time `query:"from" doc:"Start (RFC 3339); default the first of this month (UTC)"`
	To   time.Time `query:"to" doc:"End, exclusive (RFC 3339); default now"`
}

func (q PeriodQuery) period() compliance.Span { return compliance.Span{From: q.From, To: q.To} }

func optDay(field, s string) (patch.Day, error) {
	if s == "" {
		return "", nil
	}
	return patch.ParseDay(field, s)
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// BackfillInput asks for snapshots of past days.
type BackfillInput struct {
	Days    int  `json:"days" minimum:"1" maximum:"400" doc:"Snapshot the last N complete days (yesterday back)"`
	Replace bool `json:"replace,omitempty" doc:"Recompute days that have a snapshot already"`
}

// BaselinesInput replaces a client's OS baselines.
type BaselinesInput struct {
	Baselines []patch.OSBaseline `json:"baselines" maxItems:"100"`
}

func (a *API) complianceRoutes() {
	tags := []string{"Compliance"}
	register(a, huma.Operation{OperationID: "list-ratings", Method: http.MethodGet, Path: "/compliance/ratings",
		Summary: "Current Patch Health Compliance ratings by class kind, class, OS, tier and site, against their targets", Tags: tags},
		func(ctx context.Context, in *struct {
			ClientID string `query:"client_id" doc:"Only this client's groups"`
			MSP      bool   `query:"msp" doc:"Only the MSP-wide groups (MSP staff only)"`
			Dim      string `query:"dim" enum:"all,kind,class,os,tier,site"`
			Key      string `query:"key"`
		}) (*body[*server.RatingsView], error) {
			q := server.RatingQuery{MSP: in.MSP, Key: optStr(in.Key)}
			if in.ClientID != "" {
				id := patch.ClientID(in.ClientID)
				q.ClientID = &id
			}
			if in.Dim != "" {
				d := compliance.Dim(in.Dim)
				q.Dim = &d
			}
			v, err := a.srv.ComplianceRatings(ctx, q)
			return ok(v), err
		})
	register(a, huma.Operation{OperationID: "get-client-compliance", Method: http.MethodGet, Path: "/clients/{id}/compliance",
		Summary: "A client's compliance page: ratings by OS, tier, class and site against targets, month to date, exclusions, coverage gaps, monitors and metrics", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*server.ClientComplianceReport], error) {
			r, err := a.srv.ClientCompliance(ctx, patch.ClientID(in.ID))
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "list-rating-assets", Method: http.MethodGet, Path: "/compliance/assets",
		Summary: "The assets a rating was computed from, with their own numbers (drill-down from a group)", Tags: tags},
		func(ctx context.Context, in *GroupQuery) (*body[[]compliance.AssetRating], error) {
			as, err := a.srv.ComplianceGroupAssets(ctx, in.key())
			return ok(as), err
		})
	register(a, huma.Operation{OperationID: "get-asset-compliance", Method: http.MethodGet, Path: "/assets/{id}/compliance",
		Summary: "An asset's rating traced to its findings, each with how the rating counted it; with day, as of that day's snapshot", Tags: tags},
		func(ctx context.Context, in *struct {
			IDPath
			Day string `query:"day" doc:"A past day (2026-11-30): classify at that day's snapshot and compare with the stored row"`
		}) (*body[*server.AssetComplianceView], error) {
			d, err := optDay("day", in.Day)
			if err != nil {
				return nil, err
			}
			var dp *patch.Day
			if d != "" {
				dp = &d
			}
			v, err := a.srv.AssetCompliance(ctx, patch.AssetID(in.ID), dp)
			return ok(v), err
		})
	register(a, huma.Operation{OperationID: "evaluate-asset-compliance", Method: http.MethodPost, Path: "/assets/{id}/compliance/evaluate",
		Summary: "Re-rate an asset and evaluate its monitors now (what a check-in does)", Tags: tags},
		func(ctx context.Context, in *IDPath) (*body[*server.AssetEvaluation], error) {
			v, err := a.srv.EvaluateAssetCompliance(ctx, patch.AssetID(in.ID))
			return ok(v), err
		})
	register(a, huma.Operation{OperationID: "get-rating-history", Method: http.MethodGet, Path: "/compliance/history",
		Summary: "A group's daily ratings (default the last 30 days, today live) and their average against the target", Tags: tags},
		func(ctx context.Context, in *struct {
			GroupQuery
			From string `query:"from" doc:"First day (2026-11-01)"`
			To   string `query:"to" doc:"Last day (default today)"`
		}) (*body[*server.History], error) {
			from, err := optDay("from", in.From)
			if err != nil {
				return nil, err
			}
			to, err := optDay("to", in.To)
			if err != nil {
				return nil, err
			}
			k := in.key()
			q := server.HistoryQuery{Dim: k.Dim, Key: k.Key, From: from, To: to}
			if k.Client != "" {
				q.ClientID = &k.Client
			}
			h, err := a.srv.ComplianceHistory(ctx, q)
			return ok(h), err
		})
	register(a, huma.Operation{OperationID: "list-history-assets", Method: http.MethodGet, Path: "/compliance/history/assets",
		Summary: "The per-asset rows a past day's rating of a group was computed from", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			GroupQuery
			Day string `query:"day" required:"true" doc:"The day (2026-11-30)"`
		}) (*struct{ Body Page[*patch.AssetDay] }, error) {
			d, err := patch.ParseDay("day", in.Day)
			if err != nil {
				return nil, err
			}
			if in.ClientID == "" {
				return nil, patch.FieldError("client_id", "is required")
			}
			k := in.key()
			as, n, err := a.srv.HistoryAssets(ctx, k.Client, d, k.Dim, k.Key, in.Limit, in.Offset)
			return page(as, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "take-snapshots", Method: http.MethodPost, Path: "/compliance/snapshots",
		Summary: "Snapshot every rating for past days (backfill); days with a snapshot are skipped unless replace is set", Tags: tags},
		func(ctx context.Context, in *body[BackfillInput]) (*body[*server.SnapshotResult], error) {
			r, err := a.srv.BackfillSnapshots(ctx, in.Body.Days, in.Body.Replace)
			return ok(r), err
		})
	register(a, huma.Operation{OperationID: "get-metrics", Method: http.MethodGet, Path: "/compliance/metrics",
		Summary: "SLA attainment and time to remediate by tier, failure rate by ring, exception aging and after-hours tickets", Tags: tags},
		func(ctx context.Context, in *struct {
			ClientID string `query:"client_id" doc:"The client; empty for the whole MSP (MSP staff only)"`
			PeriodQuery
		}) (*body[*server.ComplianceMetrics], error) {
			var c *patch.ClientID
			if in.ClientID != "" {
				id := patch.ClientID(in.ClientID)
				c = &id
			}
			m, err := a.srv.ComplianceMetrics(ctx, c, in.period())
			return ok(m), err
		})
	register(a, huma.Operation{OperationID: "list-metric-findings", Method: http.MethodGet, Path: "/compliance/metrics/findings",
		Summary: "The findings behind a client's SLA attainment or time to remediate (drill-down)", Tags: tags},
		func(ctx context.Context, in *struct {
			Paging
			PeriodQuery
			ClientID string `query:"client_id" required:"true"`
			Metric   string `query:"metric" required:"true" enum:"sla_attainment,time_to_remediate"`
			Tier     string `query:"tier"`
			Outcome  string `query:"outcome" enum:"met,missed,emergency,excepted,remediated"`
		}) (*struct{ Body Page[server.MetricFinding] }, error) {
			fs, n, err := a.srv.MetricFindings(ctx, patch.ClientID(in.ClientID), in.Metric, optStr(in.Tier), optStr(in.Outcome), in.period(), in.Limit, in.Offset)
			return page(fs, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "get-scorecard", Method: http.MethodGet, Path: "/compliance/scorecard",
		Summary: "The internal scorecard: compliance %, exception aging, failure rate and after-hours tickets, per client and for the MSP, week over week", Tags: tags},
		func(ctx context.Context, _ *struct{}) (*body[*compliance.WeeklyScorecard], error) {
			sc, err := a.srv.Scorecard(ctx)
			return ok(sc), err
		})
	register(a, huma.Operation{OperationID: "export-scorecard", Method: http.MethodGet, Path: "/compliance/scorecard.csv",
		Summary: "The internal scorecard as CSV, one row per client and week", Tags: tags,
		Responses: map[string]*huma.Response{"200": {Description: "CSV file", Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}}}},
		func(ctx context.Context, _ *struct{}) (*csvFile, error) {
			sc, err := a.srv.Scorecard(ctx)
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			if err := sc.WriteCSV(&buf); err != nil {
				return nil, err
			}
			return &csvFile{ContentType: "text/csv; charset=utf-8", Disposition: fmt.Sprintf(`attachment; filename="scorecard-%s.csv"`, sc.Week),
				ExportedAt: sc.GeneratedAt.UTC().Format(time.RFC3339), Count: len(sc.Rows), Body: buf.Bytes()}, nil
		})

	mtags := []string{"Monitors"}
	register(a, huma.Operation{OperationID: "list-client-monitors", Method: http.MethodGet, Path: "/clients/{id}/monitors",
		Summary: "The UPDATES monitors of every managed asset of a client, worst first", Tags: mtags},
		func(ctx context.Context, in *IDPath) (*body[[]server.AssetMonitors], error) {
			ms, err := a.srv.ClientMonitors(ctx, patch.ClientID(in.ID))
			return ok(ms), err
		})
	register(a, huma.Operation{OperationID: "list-monitors", Method: http.MethodGet, Path: "/monitors",
		Summary: "Monitor states", Tags: mtags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string `query:"client_id"`
			AssetID  string `query:"asset_id"`
			Kind     string `query:"kind" enum:"updates_failed,updates_installed,updates_missing_service_pack,updates_out_of_date,not_serviceable,agent_offline"`
			Status   string `query:"status" enum:"ok,warning,critical,unknown"`
		}) (*struct{ Body Page[*patch.MonitorState] }, error) {
			f := patch.MonitorFilter{Limit: in.Limit, Offset: in.Offset, ClientID: (*patch.ClientID)(optStr(in.ClientID)),
				AssetID: (*patch.AssetID)(optStr(in.AssetID)), Kind: (*patch.MonitorKind)(optStr(in.Kind)), Status: (*patch.MonitorStatus)(optStr(in.Status))}
			ms, n, err := a.srv.MonitorStates(ctx, f)
			return page(ms, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "list-monitor-events", Method: http.MethodGet, Path: "/monitors/events",
		Summary: "Monitor history, newest first", Tags: mtags},
		func(ctx context.Context, in *struct {
			Paging
			ClientID string    `query:"client_id"`
			AssetID  string    `query:"asset_id"`
			Kind     string    `query:"kind" enum:"updates_failed,updates_installed,updates_missing_service_pack,updates_out_of_date,not_serviceable,agent_offline"`
			Since    time.Time `query:"since"`
		}) (*struct{ Body Page[*patch.MonitorEvent] }, error) {
			f := patch.MonitorEventFilter{Limit: in.Limit, Offset: in.Offset, ClientID: (*patch.ClientID)(optStr(in.ClientID)),
				AssetID: (*patch.AssetID)(optStr(in.AssetID)), Kind: (*patch.MonitorKind)(optStr(in.Kind))}
			if !in.Since.IsZero() {
				f.Since = &in.Since
			}
			es, n, err := a.srv.MonitorEvents(ctx, f)
			return page(es, n, in.Limit, in.Offset), err
		})
	register(a, huma.Operation{OperationID: "get-os-baselines", Method: http.MethodGet, Path: "/clients/{id}/os-baselines",
		Summary: "A client's OS baselines (UPDATES – Missing Service Pack)", Tags: mtags},
		func(ctx context.Context, in *IDPath) (*body[BaselinesInput], error) {
			bs, err := a.srv.OSBaselines(ctx, patch.ClientID(in.ID))
			return ok(BaselinesInput{Baselines: bs}), err
		})
	register(a, huma.Operation{OperationID: "put-os-baselines", Method: http.MethodPut, Path: "/clients/{id}/os-baselines",
		Summary: "Replace a client's OS baselines and re-evaluate its monitors", Tags: mtags},
		func(ctx context.Context, in *struct {
			IDPath
			Body BaselinesInput
		}) (*body[BaselinesInput], error) {
			bs, err := a.srv.SetOSBaselines(ctx, patch.ClientID(in.ID), in.Body.Baselines)
			return ok(BaselinesInput{Baselines: bs}), err
		})
}
