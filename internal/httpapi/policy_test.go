package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// newPolicyHarness is the harness with the policy stores wired and an
// injected clock.
func newPolicyHarness(t *testing.T) (*harness, *patchtest.Clock) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Time{})
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db}, server.Options{Now: clock.Now})
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

func TestPolicyAPI(t *testing.T) {
	h, clock := newPolicyHarness(t)
	var a, b patch.Client
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "A"}, &a)
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "B"}, &b)
	var ws patch.Asset
	h.mustCreate(h.admin, "/api/v1/assets", map[string]any{"client_id": a.ID, "hostname": "ws-a", "os": map[string]any{"family": "windows"}, "role": "workstation"}, &ws)
	_, err := h.db.RecordScan(patchtest.AdminContext(t.Context()), patch.ScanResult{AssetID: ws.ID, At: clock.Now(), Sources: []patch.UpdateSource{"wua"},
		Missing: []patch.ScannedUpdate{{Update: patch.Update{Source: "wua", VendorID: "u1.1", Package: "KB1", Title: "KB1", Classification: "security", VendorSeverity: "Important"}}}})
	if err != nil {
		t.Fatal(err)
	}
	auditor := h.token(patch.RoleAuditor, "")
	tech := h.token(patch.RoleTechnician, "")
	ownerB := h.token(patch.RoleClientOwner, b.ID)
	pa := "/api/v1/clients/" + string(a.ID)

	var pol patch.Policy
	if r := h.do(auditor, "GET", pa+"/policy", nil, ""); r.status != 200 {
		t.Fatalf("GET policy = %d %s", r.status, r.body)
	} else {
		r.json(t, &pol)
	}
	if pol.Version != 0 || pol.ClientID != a.ID {
		t.Fatalf("default policy = %+v", pol)
	}
	// The document round-trips through PUT unchanged: no changes.
	var ch server.PolicyChange
	r := h.do(tech, "PUT", pa+"/policy?dry_run=true", pol, "")
	if r.status != 200 {
		t.Fatalf("PUT policy dry run = %d %s", r.status, r.body)
	}
	r.json(t, &ch)
	if !ch.DryRun || len(ch.Changes) != 0 {
		t.Errorf("dry run of the same policy = %+v", ch)
	}
	var findings httpapi.Page[*server.FindingView]
	h.do(auditor, "GET", "/api/v1/findings?client_id="+string(a.ID)+"&state=open", nil, "").json(t, &findings)
	if findings.Total != 1 || findings.Items[0].Why.Code == "" || findings.Items[0].DueAt.IsZero() || findings.Items[0].Hostname != "ws-a" {
		t.Errorf("findings = %+v", findings)
	}
	fid := string(findings.Items[0].ID)
	uid := string(findings.Items[0].UpdateID)

	for _, tc := range []struct {
		name, token, method, path string
		body                      any
		status                    int
		field                     string
	}{
		{"UnknownField", tech, "PUT", pa + "/policy", strings.Replace(mustJSON(pol), `"tiers"`, `"tears":[],"tiers"`, 1), 400, "tears"},
		{"MissingField", tech, "PUT", pa + "/policy", strings.Replace(mustJSON(pol), `"due_soon_pct":25,`, ``, 1), 400, "sla"},
		{"SemanticError", tech, "PUT", pa + "/policy", strings.Replace(mustJSON(pol), `"deadline":"24h"`, `"deadline":"soon"`, 1), 400, "sla.matrix[0].deadline"},
		{"AuditorCannotPut", auditor, "PUT", pa + "/policy", mustJSON(pol), 403, ""},
		{"OwnerOfBCannotRead", ownerB, "GET", pa + "/policy", nil, 404, ""},
		{"OwnerOfBNoMatrix", ownerB, "GET", pa + "/sla-matrix", nil, 404, ""},
		{"OwnerOfBNoRings", ownerB, "GET", pa + "/rings", nil, 404, ""},
		{"OwnerOfBNoWindow", ownerB, "GET", "/api/v1/assets/" + string(ws.ID) + "/next-window", nil, 404, ""},
		{"OwnerOfBNoFinding", ownerB, "GET", "/api/v1/findings/" + fid, nil, 404, ""},
		{"DeclineNeedsReason", tech, "POST", pa + "/approvals", map[string]any{"update_id": uid, "decision": "declined"}, 400, "reason"},
		{"BadDecision", tech, "POST", pa + "/approvals", map[string]any{"update_id": uid, "decision": "maybe"}, 400, "decision"},
		{"AuditorCannotApprove", auditor, "POST", pa + "/approvals", map[string]any{"update_id": uid, "decision": "approved"}, 403, ""},
		{"TechApproves", tech, "POST", pa + "/approvals", map[string]any{"update_id": uid, "decision": "approved"}, 201, ""},
		{"OverrideNeedsReason", tech, "PUT", pa + "/tier-overrides/" + uid, map[string]any{"tier": "critical"}, 400, "reason"},
		{"OverrideUnknownTier", tech, "PUT", pa + "/tier-overrides/" + uid, map[string]any{"tier": "urgent", "reason": "x"}, 400, "tier"},
		{"Override", tech, "PUT", pa + "/tier-overrides/" + uid, map[string]any{"tier": "critical", "reason": "exploited"}, 200, ""},
		{"DeleteOverrideNeedsReason", tech, "DELETE", pa + "/tier-overrides/" + uid, nil, 400, "reason"},
		{"ExceptionPastExpiry", tech, "POST", "/api/v1/exceptions", map[string]any{"client_id": a.ID, "scope": map[string]any{"all_assets": true, "all_updates": true},
			"reason": "r", "ticket_ref": "T-1", "expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"},
		{"ExceptionNoTicket", tech, "POST", "/api/v1/exceptions", map[string]any{"client_id": a.ID, "scope": map[string]any{"all_assets": true, "all_updates": true},
			"reason": "r", "ticket_ref": "", "expires_at": clock.Now().Add(24 * time.Hour)}, 400, "ticket_ref"},
		{"ExceptionBadControl", tech, "POST", "/api/v1/exceptions", map[string]any{"client_id": a.ID, "scope": map[string]any{"all_assets": true, "all_updates": true},
			"reason": "r", "ticket_ref": "T", "controls": []map[string]any{{"kind": "prayer", "description": "x"}}, "expires_at": clock.Now().Add(24 * time.Hour)}, 400, "controls[0].kind"},
		{"OwnerOfBNoException", ownerB, "POST", "/api/v1/exceptions", map[string]any{"client_id": a.ID, "scope": map[string]any{"all_assets": true, "all_updates": true},
			"reason": "r", "ticket_ref": "T", "expires_at": clock.Now().Add(24 * time.Hour)}, 404, ""},
		{"OnlyAdminsPutCanary", ownerB, "PUT", "/api/v1/msp/canary", map[string]any{"assets": []string{}, "tags": []any{}, "version": 0}, 403, ""},
		{"TechPutsCanary", tech, "PUT", "/api/v1/msp/canary", map[string]any{"assets": []string{}, "tags": []any{map[string]any{"key": "msp-canary"}}, "version": 0}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if _, raw := tc.body.(string); raw {
				ct = "application/json"
			}
			r := h.do(tc.token, tc.method, tc.path, tc.body, ct)
			if r.status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.status)
			}
			if tc.status >= 400 && r.apiErr(t).Field != tc.field {
				t.Errorf("error field = %q, want %q (%s)", r.apiErr(t).Field, tc.field, r.body)
			}
		})
	}
	// The override and the approval took effect.
	var f server.FindingView
	h.do(auditor, "GET", "/api/v1/findings/"+fid, nil, "").json(t, &f)
	if f.Tier != "critical" || f.Approval != patch.ApprovalApproved || f.ApprovalDetail.Source != "manual" {
		t.Errorf("finding after approval and override = tier %s approval %s %+v", f.Tier, f.Approval, f.ApprovalDetail)
	}
	var rings server.RingsView
	h.do(auditor, "GET", pa+"/rings", nil, "").json(t, &rings)
	if rings.Total != 1 || len(rings.Rings) != 3 {
		t.Errorf("rings = %+v", rings)
	}
	var nw server.AssetWindow
	h.do(auditor, "GET", "/api/v1/assets/"+string(ws.ID)+"/next-window", nil, "").json(t, &nw)
	if nw.Next == nil || !nw.NoSite || nw.TimeZone != "UTC" {
		t.Errorf("next window = %+v", nw)
	}
	var exPage httpapi.Page[*patch.Exception]
	h.do(ownerB, "GET", "/api/v1/exceptions", nil, "").json(t, &exPage)
	var fPage httpapi.Page[*server.FindingView]
	h.do(ownerB, "GET", "/api/v1/findings", nil, "").json(t, &fPage)
	if exPage.Total != 0 || fPage.Total != 0 {
		t.Errorf("owner of B sees %d exceptions and %d findings of A", exPage.Total, fPage.Total)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
