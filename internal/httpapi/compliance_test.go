package httpapi_test

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/compliance"
	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// newComplianceHarness wires every store the compliance API reads.
func newComplianceHarness(t *testing.T) (*harness, *patchtest.Clock) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC))
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Agents: db, Inventory: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db}, server.Options{Now: clock.Now})
	reg := prometheus.NewRegistry()
	m := httpapi.NewMetrics(reg)
	api := httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m})
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", api.Handler())
	ts := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, db: db, srv: srv, api: api, ts: ts}
	tok, err := srv.CreateToken(patch.NewContextWithActor(t.Context(), patch.SystemActor("test")), server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	h.admin = tok.Secret
	return h, clock
}

func TestComplianceAPI(t *testing.T) {
	h, clock := newComplianceHarness(t)
	var a, b patch.Client
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "Alpha"}, &a)
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "Beta"}, &b)
	admin := patchtest.AdminContext(t.Context())
	// srv-1 stands for an agent-managed server (the demo seeds the same
	// way); prn-1 is a printer seen on the network.
	srv1 := patchtest.Asset(a.ID, "srv-1", patchtest.Linux)
	srv1.Managed, srv1.Source, srv1.LastSeen = true, patch.SourceAgent, clock.Now()
	must(t, h.db.CreateAsset(admin, srv1))
	var prn patch.Asset
	h.mustCreate(h.admin, "/api/v1/assets", map[string]any{"client_id": a.ID, "hostname": "prn-1", "role": "workstation",
		"os": map[string]any{"family": "other"}, "discovered": true}, &prn)
	upd := patch.ScannedUpdate{Update: patch.Update{Source: "apt", VendorID: "openssl=3.0.15-1~deb12u1", Package: "openssl", Title: "openssl 3.0.15",
		Product: "Debian 12", Version: "3.0.15-1~deb12u1", Classification: "security", VendorSeverity: "high", CVEs: []string{"CVE-2024-5535"}}}
	scan := func() {
		t.Helper()
		_, err := h.db.RecordScan(admin, patch.ScanResult{AssetID: srv1.ID, At: clock.Now(), Sources: []patch.UpdateSource{"apt"}, Missing: []patch.ScannedUpdate{upd}})
		must(t, err)
	}
	scan()
	if r := h.do(h.admin, http.MethodPost, "/api/v1/clients/"+string(a.ID)+"/evaluate", nil, ""); r.status != http.StatusOK {
		t.Fatalf("evaluate: %d %s", r.status, r.body)
	}
	// High on a server: due in 14 days. Three weeks later it is overdue
	// (and the agent, which has not checked in since, is offline).
	clock.Advance(21 * 24 * time.Hour)
	scan()
	owner := h.token(patch.RoleClientOwner, a.ID)
	ownerB := h.token(patch.RoleClientOwner, b.ID)

	var view server.RatingsView
	r := h.do(owner, http.MethodGet, "/api/v1/compliance/ratings?client_id="+string(a.ID)+"&dim=os", nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("ratings: %d %s", r.status, r.body)
	}
	r.json(t, &view)
	byKey := map[string]compliance.GroupRating{}
	for _, g := range view.Ratings {
		byKey[g.Key] = g
	}
	if g := byKey["linux"]; g.RatingPct == nil || *g.RatingPct != 0 || g.Findings.Missing != 1 || *g.TargetPct != 95 || *g.Met {
		t.Errorf("linux rating = %+v", g)
	}
	if g := byKey["other"]; g.RatingPct != nil || g.Gaps["unmanaged"] != 1 {
		t.Errorf("other rating = %+v", g)
	}

	// Traceable: group → assets → findings.
	var assets []compliance.AssetRating
	h.do(owner, http.MethodGet, "/api/v1/compliance/assets?client_id="+string(a.ID)+"&dim=os&key=linux", nil, "").json(t, &assets)
	if len(assets) != 1 || assets[0].AssetID != srv1.ID {
		t.Fatalf("group assets = %+v", assets)
	}
	var av server.AssetComplianceView
	h.do(owner, http.MethodGet, "/api/v1/assets/"+string(srv1.ID)+"/compliance", nil, "").json(t, &av)
	if len(av.Findings) != 1 || av.Findings[0].Category != compliance.Missing || av.Findings[0].Update.Package != "openssl" {
		t.Fatalf("asset compliance = %+v", av)
	}
	if !strings.Contains(string(h.do(owner, http.MethodGet, "/api/v1/assets/"+string(srv1.ID)+"/compliance", nil, "").body), `"category":"missing"`) {
		t.Errorf("category is not a string in JSON")
	}

	// The client page, monitors, history, metrics and drill-down.
	var rep server.ClientComplianceReport
	r = h.do(owner, http.MethodGet, "/api/v1/clients/"+string(a.ID)+"/compliance", nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("client compliance: %d %s", r.status, r.body)
	}
	r.json(t, &rep)
	if len(rep.ByOS) != 2 || len(rep.ByTier) != 1 || len(rep.CoverageGaps) != 1 || rep.Metrics == nil || rep.Metrics.SLAAttainment[0].Missed != 1 {
		t.Errorf("client report = %+v", rep)
	}
	var ev server.AssetEvaluation
	h.do(h.admin, http.MethodPost, "/api/v1/assets/"+string(srv1.ID)+"/compliance/evaluate", nil, "").json(t, &ev)
	if len(ev.Changed) != len(patch.MonitorKinds) {
		t.Errorf("evaluation changed %d monitors", len(ev.Changed))
	}
	var ms []server.AssetMonitors
	h.do(owner, http.MethodGet, "/api/v1/clients/"+string(a.ID)+"/monitors", nil, "").json(t, &ms)
	if len(ms) != 1 || ms[0].Worst != patch.MonitorCritical {
		t.Errorf("monitors = %+v", ms)
	}
	var states struct {
		Items []patch.MonitorState
		Total int
	}
	h.do(owner, http.MethodGet, "/api/v1/monitors?status=warning", nil, "").json(t, &states)
	if states.Total != 1 || states.Items[0].Kind != patch.MonitorUpdatesOutOfDate {
		t.Errorf("warning monitors = %+v", states)
	}
	var snap server.SnapshotResult
	r = h.do(h.admin, http.MethodPost, "/api/v1/compliance/snapshots", map[string]any{"days": 30}, "")
	if r.status != http.StatusOK {
		t.Fatalf("backfill: %d %s", r.status, r.body)
	}
	r.json(t, &snap)
	if len(snap.Taken) != 30 {
		t.Errorf("backfill took %d days", len(snap.Taken))
	}
	var hist server.History
	h.do(owner, http.MethodGet, "/api/v1/compliance/history?client_id="+string(a.ID), nil, "").json(t, &hist)
	// The client's assets exist from 2 Nov: 21 stored days and today's live one.
	if len(hist.Days) != 22 || hist.Days[0].Day != "2026-11-02" || hist.Average == nil {
		t.Fatalf("history = %d days, average %+v", len(hist.Days), hist.Average)
	}
	var ads struct {
		Items []patch.AssetDay
		Total int
	}
	h.do(owner, http.MethodGet, "/api/v1/compliance/history/assets?client_id="+string(a.ID)+"&day="+string(hist.Days[len(hist.Days)-2].Day), nil, "").json(t, &ads)
	if ads.Total != 2 {
		t.Errorf("history assets = %+v", ads)
	}
	var mf struct {
		Items []server.MetricFinding
		Total int
	}
	h.do(owner, http.MethodGet, "/api/v1/compliance/metrics/findings?client_id="+string(a.ID)+"&metric=sla_attainment&outcome=missed", nil, "").json(t, &mf)
	if mf.Total != 1 || mf.Items[0].Title != "openssl 3.0.15" || mf.Items[0].Hostname != "srv-1" {
		t.Errorf("metric findings = %+v", mf)
	}

	// The scorecard, as JSON and CSV.
	var sc compliance.WeeklyScorecard
	h.do(h.admin, http.MethodGet, "/api/v1/compliance/scorecard", nil, "").json(t, &sc)
	if len(sc.Rows) != 3 {
		t.Errorf("scorecard rows = %d", len(sc.Rows))
	}
	r = h.do(owner, http.MethodGet, "/api/v1/compliance/scorecard.csv", nil, "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("scorecard CSV: %d %s", r.status, r.header)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	must(t, err)
	if len(recs) != 3 || recs[1][0] != string(a.ID) {
		t.Errorf("owner's CSV = %v", recs)
	}

	// Baselines round trip, with the field named on bad input.
	r = h.do(h.admin, http.MethodPut, "/api/v1/clients/"+string(a.ID)+"/os-baselines",
		map[string]any{"baselines": []map[string]any{{"family": "linux", "match": "Debian", "min_version": "12.8"}}}, "")
	if r.status != http.StatusOK {
		t.Fatalf("put baselines: %d %s", r.status, r.body)
	}
	r = h.do(h.admin, http.MethodPut, "/api/v1/clients/"+string(a.ID)+"/os-baselines",
		map[string]any{"baselines": []map[string]any{{"family": "linux", "min_version": "twelve"}}}, "")
	if e := r.apiErr(t); r.status != http.StatusBadRequest || e.Field != "baselines[0].min_version" {
		t.Errorf("bad baseline: %d %+v", r.status, e)
	}

	t.Run("BadInput", func(t *testing.T) {
		for _, tc := range []struct{ path, field string }{
			{"/api/v1/compliance/ratings?dim=colour", "dim"},
			{"/api/v1/assets/" + string(srv1.ID) + "/compliance?day=yesterday", "day"},
			{"/api/v1/compliance/history?client_id=" + string(a.ID) + "&from=2026-02-30", "from"},
			{"/api/v1/compliance/history/assets?client_id=" + string(a.ID) + "&day=nope", "day"},
			{"/api/v1/compliance/metrics?client_id=" + string(a.ID) + "&from=2027-01-01T00:00:00Z", "from"},
			{"/api/v1/compliance/metrics/findings?client_id=" + string(a.ID) + "&metric=speed", "metric"},
		} {
			r := h.do(h.admin, http.MethodGet, tc.path, nil, "")
			if e := r.apiErr(t); r.status != http.StatusBadRequest || e.Field != tc.field {
				t.Errorf("%s: %d %+v, want 400 on %s", tc.path, r.status, e, tc.field)
			}
		}
		r := h.do(h.admin, http.MethodPost, "/api/v1/compliance/snapshots", map[string]any{"days": 0}, "")
		if r.status != http.StatusBadRequest {
			t.Errorf("backfill of 0 days: %d", r.status)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		for _, p := range []string{
			"/api/v1/compliance/ratings?client_id=" + string(a.ID),
			"/api/v1/clients/" + string(a.ID) + "/compliance",
			"/api/v1/compliance/assets?client_id=" + string(a.ID),
			"/api/v1/assets/" + string(srv1.ID) + "/compliance",
			"/api/v1/clients/" + string(a.ID) + "/monitors",
			"/api/v1/compliance/history?client_id=" + string(a.ID),
			"/api/v1/compliance/metrics?client_id=" + string(a.ID),
			"/api/v1/clients/" + string(a.ID) + "/os-baselines",
		} {
			if r := h.do(ownerB, http.MethodGet, p, nil, ""); r.status != http.StatusNotFound {
				t.Errorf("B's owner GET %s: %d %s", p, r.status, r.body)
			}
		}
		for _, p := range []string{"/api/v1/compliance/ratings?msp=true", "/api/v1/compliance/assets", "/api/v1/compliance/history", "/api/v1/compliance/metrics"} {
			if r := h.do(ownerB, http.MethodGet, p, nil, ""); r.status != http.StatusForbidden {
				t.Errorf("owner GET %s: %d", p, r.status)
			}
		}
		var own struct {
			Items []patch.MonitorState
			Total int
		}
		h.do(ownerB, http.MethodGet, "/api/v1/monitors", nil, "").json(t, &own)
		if own.Total != 0 {
			t.Errorf("B's owner sees %d monitor states", own.Total)
		}
		if r := h.do(owner, http.MethodPost, "/api/v1/compliance/snapshots", map[string]any{"days": 1}, ""); r.status != http.StatusForbidden {
			t.Errorf("owner backfills: %d", r.status)
		}
	})
}
