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

// newRolloutHarness is the harness with every store wired.
func newRolloutHarness(t *testing.T) (*harness, *patchtest.Clock) {
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
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Keys: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Deployments: server.NewDeploymentFacts(db),
		Rollouts: db, Tickets: db, Leases: db, Runbooks: db, ScanResults: db}, server.Options{Now: clock.Now})
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

// enrolledAsset enrolls a machine into client c (as an agent would) and
// reports one missing apt update.
func enrolledAsset(t *testing.T, h *harness, clock *patchtest.Clock, c patch.ClientID, host string) patch.AssetID {
	t.Helper()
	var sec server.NewEnrollmentSecret
	h.mustCreate(h.admin, "/api/v1/enrollment-secrets", map[string]any{"client_id": c, "name": "servers"}, &sec)
	doc, _ := json.Marshal(map[string]any{"hostname": host, "os": map[string]string{"family": "linux"}})
	id := patch.AgentID(patch.NewID(patch.PrefixAgent, clock.Now()))
	res, err := h.db.Enroll(t.Context(), patch.Enrollment{SecretHash: patch.HashSecret(sec.Secret),
		Agent: patch.Agent{ID: id, PublicKey: "ed25519:test-" + string(id), Protocol: 2, ExpectedBy: clock.Now().Add(time.Hour)},
		Nonce: "nonce-" + string(id), NonceExpires: clock.Now().Add(time.Hour),
		Inventory: patch.AgentInventory{Hash: "h", Document: doc, Facts: patch.AssetFacts{Hostname: host, OS: patch.OS{Family: patch.OSLinux}, Role: patch.RoleServer}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.db.RecordScan(patchtest.AdminContext(t.Context()), patch.ScanResult{AssetID: res.Asset.ID, At: clock.Now(), Sources: []patch.UpdateSource{"apt"},
		Missing: []patch.ScannedUpdate{{Update: patch.Update{Source: "apt", VendorID: "curl=8.1", Package: "curl", Version: "8.1", Classification: "bugfix"}, InstalledVersion: "8.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Asset.ID
}

func TestRolloutAPI(t *testing.T) {
	h, clock := newRolloutHarness(t)
	var a, b patch.Client
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "Riverside Clinic"}, &a)
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "Beta Law"}, &b)
	asset := enrolledAsset(t, h, clock, a.ID, "web-01")
	tech := h.token(patch.RoleTechnician, "")
	ownA, ownB := h.token(patch.RoleClientOwner, a.ID), h.token(patch.RoleClientOwner, b.ID)

	// Nothing approved yet: nothing to deploy.
	r := h.do(tech, http.MethodPost, "/api/v1/cycles", map[string]any{"client_id": a.ID}, "")
	if r.status != http.StatusConflict || !strings.Contains(r.apiErr(t).Message, "nothing to deploy") {
		t.Fatalf("empty cycle = %d %s", r.status, r.body)
	}
	var fs struct{ Items []patch.Finding }
	h.do(tech, http.MethodGet, "/api/v1/assets/"+string(asset)+"/findings", nil, "").json(t, &fs)
	if len(fs.Items) != 1 {
		t.Fatalf("findings = %+v", fs)
	}
	update := fs.Items[0].UpdateID
	h.mustCreate(tech, "/api/v1/clients/"+string(a.ID)+"/approvals", map[string]any{"update_id": update, "decision": "approved"}, nil)

	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"client_id": a.ID, "kind": "weekly"}, "body.kind"},
		{map[string]any{"client_id": a.ID, "updates": []string{"upd_nope"}}, "updates[0]"},
		{map[string]any{"client_id": a.ID, "nonsense": 1}, ""},
	} {
		r := h.do(tech, http.MethodPost, "/api/v1/cycles", bad.body, "")
		if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
			t.Errorf("POST /cycles %v = %d %s", bad.body, r.status, r.body)
			continue
		}
		if e := r.apiErr(t); bad.field != "" && !strings.Contains(e.Field+e.Message, strings.TrimPrefix(bad.field, "body.")) {
			t.Errorf("POST /cycles %v: error %+v, want it to name %s", bad.body, e, bad.field)
		}
	}
	if r := h.do(ownA, http.MethodPost, "/api/v1/cycles", map[string]any{"client_id": a.ID}, ""); r.status != http.StatusForbidden {
		t.Errorf("owner creating a cycle = %d", r.status)
	}
	var cv server.CycleView
	h.mustCreate(tech, "/api/v1/cycles", map[string]any{"client_id": a.ID, "name": "November"}, &cv)
	if cv.State != patch.CycleRunning || len(cv.Rings) != 3 || cv.Assets[patch.DeployPending]+cv.Assets[patch.DeployWaiting] != 1 {
		t.Fatalf("created cycle = %+v", cv)
	}
	path := "/api/v1/cycles/" + string(cv.ID)

	// Tenant isolation: B's owner sees nothing; A's owner reads.
	if r := h.do(ownB, http.MethodGet, path, nil, ""); r.status != http.StatusNotFound {
		t.Errorf("B's owner GET = %d", r.status)
	}
	var list struct {
		Items []server.CycleView
		Total int
	}
	h.do(ownB, http.MethodGet, "/api/v1/cycles", nil, "").json(t, &list)
	if list.Total != 0 {
		t.Errorf("B's owner lists %d cycles", list.Total)
	}
	h.do(ownA, http.MethodGet, "/api/v1/cycles?state=running", nil, "").json(t, &list)
	if list.Total != 1 || list.Items[0].Rings[0].Progress.Members+list.Items[0].Rings[1].Progress.Members+list.Items[0].Rings[2].Progress.Members != 1 {
		t.Errorf("A's owner lists %+v", list)
	}
	var deps struct {
		Items []server.DeploymentView
		Total int
	}
	h.do(ownA, http.MethodGet, path+"/deployments", nil, "").json(t, &deps)
	if deps.Total != 1 || deps.Items[0].AssetID != asset || deps.Items[0].Targets[0].Package != "curl" {
		t.Errorf("deployments = %+v", deps)
	}

	// Halt needs a reason and the operate permission; resume likewise.
	if r := h.do(tech, http.MethodPost, path+"/halt", map[string]any{"reason": ""}, ""); r.status != http.StatusBadRequest || r.apiErr(t).Field != "reason" {
		t.Errorf("halt without a reason = %d %s", r.status, r.body)
	}
	if r := h.do(ownA, http.MethodPost, path+"/halt", map[string]any{"reason": "x"}, ""); r.status != http.StatusForbidden {
		t.Errorf("owner halt = %d", r.status)
	}
	r = h.do(tech, http.MethodPost, path+"/halt", map[string]any{"reason": "vendor advisory pending"}, "")
	r.json(t, &cv)
	if r.status != http.StatusOK || cv.State != patch.CycleHalted || !strings.Contains(cv.HaltReason, "vendor advisory pending") {
		t.Fatalf("halt = %d %s", r.status, r.body)
	}
	if r := h.do(tech, http.MethodPost, path+"/halt", map[string]any{"reason": "again"}, ""); r.status != http.StatusConflict {
		t.Errorf("halting twice = %d", r.status)
	}
	r = h.do(tech, http.MethodPost, path+"/resume", map[string]any{"reason": "advisory cleared"}, "")
	r.json(t, &cv)
	if r.status != http.StatusOK || cv.State != patch.CycleRunning || cv.ResumedBy == "" {
		t.Errorf("resume = %d %s", r.status, r.body)
	}
	if r := h.do(tech, http.MethodPost, path+"/rings/canary/approve", map[string]any{}, ""); r.status != http.StatusConflict {
		t.Errorf("approving the automatic canary = %d %s", r.status, r.body)
	}
	if r := h.do(tech, http.MethodPost, path+"/rings/nope/approve", map[string]any{}, ""); r.status != http.StatusNotFound {
		t.Errorf("approving an unknown ring = %d", r.status)
	}
	var audit struct{ Items []patch.AuditEntry }
	h.do(h.admin, http.MethodGet, "/api/v1/audit?entity_id="+string(cv.ID), nil, "").json(t, &audit)
	actions := map[string]bool{}
	for _, e := range audit.Items {
		actions[e.Action] = true
	}
	for _, want := range []string{"cycle.create", "cycle.halt", "cycle.resume"} {
		if !actions[want] {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}

	// Skip the update: the only deployment has nothing left.
	r = h.do(tech, http.MethodPost, path+"/updates/"+string(update)+"/skip", map[string]any{"reason": "breaks the EHR client"}, "")
	if r.status != http.StatusOK {
		t.Errorf("skip = %d %s", r.status, r.body)
	}
	r = h.do(tech, http.MethodPost, path+"/abort", map[string]any{"reason": "done by hand"}, "")
	r.json(t, &cv)
	if r.status != http.StatusOK || cv.State != patch.CycleAborted {
		t.Errorf("abort = %d %s", r.status, r.body)
	}

	// Runbook: the defaults, then a valid one, then errors naming the field.
	var rb patch.Runbook
	h.do(ownA, http.MethodGet, "/api/v1/clients/"+string(a.ID)+"/runbook", nil, "").json(t, &rb)
	if rb.Version != 0 || rb.Rollback.OnHealthFailure != patch.RollbackReinstall {
		t.Errorf("default runbook = %+v", rb)
	}
	rb.HealthChecks = []patch.HealthCheckSet{{Name: "spot-checks", Assets: patch.AssetSelector{Roles: []patch.AssetRole{patch.RoleServer}}, Checks: []patch.HealthCheck{
		{Name: "email", Kind: patch.CheckTCP, Host: "mail.riverside.example", Port: 25},
		{Name: "ehr", Kind: patch.CheckHTTP, URL: "https://ehr.riverside.example/login", ExpectStatus: 200},
		{Name: "files", Kind: patch.CheckFile, Path: `\\fs1\shared\probe.txt`},
	}}}
	r = h.do(tech, http.MethodPut, "/api/v1/clients/"+string(a.ID)+"/runbook", rb, "")
	if r.status != http.StatusOK {
		t.Fatalf("put runbook = %d %s", r.status, r.body)
	}
	bad := rb
	bad.HealthChecks = []patch.HealthCheckSet{{Name: "x", Checks: []patch.HealthCheck{{Name: "p", Kind: patch.CheckTCP, Host: "a", Port: 0}}}}
	if r := h.do(tech, http.MethodPut, "/api/v1/clients/"+string(a.ID)+"/runbook", bad, ""); r.status != http.StatusBadRequest || r.apiErr(t).Field != "health_checks[0].checks[0].port" {
		t.Errorf("bad runbook = %d %s", r.status, r.body)
	}
	if r := h.do(ownB, http.MethodGet, "/api/v1/clients/"+string(a.ID)+"/runbook", nil, ""); r.status != http.StatusNotFound {
		t.Errorf("B's owner reads A's runbook: %d", r.status)
	}

	var sum server.RolloutSummary
	if r := h.do(ownA, http.MethodGet, "/api/v1/clients/"+string(a.ID)+"/rollout-summary", nil, ""); r.status != http.StatusOK {
		t.Errorf("summary = %d %s", r.status, r.body)
	} else {
		r.json(t, &sum)
	}
	if len(sum.Cycles) != 1 || sum.Cycles[0].State != patch.CycleAborted {
		t.Errorf("summary = %+v", sum)
	}
	if r := h.do(ownA, http.MethodGet, "/api/v1/clients/"+string(a.ID)+"/failed-installs", nil, ""); r.status != http.StatusOK || string(r.body) != "[]\n" && string(r.body) != "[]" {
		t.Errorf("failed installs = %d %q", r.status, r.body)
	}
	if r := h.do(tech, http.MethodGet, "/api/v1/tickets?state=open", nil, ""); r.status != http.StatusOK {
		t.Errorf("tickets = %d", r.status)
	}
	if r := h.do(tech, http.MethodGet, "/api/v1/tickets/tkt_nope", nil, ""); r.status != http.StatusNotFound {
		t.Errorf("unknown ticket = %d", r.status)
	}
	var key struct {
		ID        string `json:"id"`
		PublicKey string `json:"public_key"`
	}
	h.do(tech, http.MethodGet, "/api/v1/rollout/webhook-key", nil, "").json(t, &key)
	if !strings.HasPrefix(key.PublicKey, "ed25519:") {
		t.Errorf("webhook key = %+v", key)
	}
}
