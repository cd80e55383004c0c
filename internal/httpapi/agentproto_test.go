package httpapi_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// agentHarness is a real server (SQLite file, real HTTP) with the operator
// API and the agent protocol mounted as serve mounts them.
type agentHarness struct {
	t       testing.TB
	db      *sqlstore.DB
	srv     *server.Server
	reg     *prometheus.Registry
	ts      *httptest.Server
	handler http.Handler
	admin   string
	client  *patch.Client
}

func newAgentHarness(t testing.TB) *agentHarness {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Stores{
		MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Findings: db, Keys: db,
	}, server.Options{Agents: server.AgentOptions{PublicURL: "https://patchring.example.com"}})
	reg := prometheus.NewRegistry()
	m := httpapi.NewMetrics(reg)
	api := httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m})
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", api.Handler())
	mux.Handle("/agent/", httpapi.NewAgentProtocol(srv, httpapi.AgentProtocolOptions{Metrics: httpapi.NewAgentMetrics(reg)}).Handler())
	handler := httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux)
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	h := &agentHarness{t: t, db: db, srv: srv, reg: reg, ts: ts, handler: handler}
	sys := patch.NewContextWithActor(t.Context(), patch.SystemActor("test"))
	tok, err := srv.CreateToken(sys, server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	h.admin = tok.Secret
	h.client, err = srv.CreateClient(sys, server.ClientInput{Name: "Riverside Clinic"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// api calls the operator API as the admin.
func (h *agentHarness) api(method, path string, body any, out any) int {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(h.t.Context(), method, h.ts.URL+httpapi.Prefix+path, r)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		h.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

func (h *agentHarness) newSecret(in server.EnrollmentSecretInput) server.NewEnrollmentSecret {
	h.t.Helper()
	in.ClientID = h.client.ID
	if in.Name == "" {
		in.Name = "Office"
	}
	var out server.NewEnrollmentSecret
	if st := h.api(http.MethodPost, "/enrollment-secrets", in, &out); st != http.StatusCreated {
		h.t.Fatalf("create enrollment secret: %d", st)
	}
	return out
}

// testAgent is a protocol-level agent: a key and an id.
type testAgent struct {
	id   string
	pub  ed25519.PublicKey
	key  ed25519.PrivateKey
	resp agentapi.EnrollResponse
}

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func testInventory(hostname, uuid string) agentapi.Inventory {
	return agentapi.Inventory{
		Hostname: hostname,
		OS:       agentapi.OS{Family: "linux", Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Kernel: "6.1.0-26-amd64", Arch: "amd64", Distribution: "debian"},
		Hardware: agentapi.Hardware{HardwareUUID: uuid, Serial: "SN-" + hostname},
		Software: []agentapi.Software{{Name: "openssl", Version: "3.0.15-1~deb12u1", Source: "dpkg", Arch: "amd64"}},
	}
}

// signedPost sends body to path signed by keyID/key at ts; mutate may alter
// the request after signing.
func (h *agentHarness) signedPost(path, keyID string, key ed25519.PrivateKey, body []byte, ts time.Time, mutate func(*http.Request)) (int, http.Header, []byte) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.ts.URL+path, bytes.NewReader(body))
	if key != nil {
		agentapi.SignRequest(req, body, keyID, key, ts)
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func (h *agentHarness) enroll(secret, hostname, uuid string) (*testAgent, int) {
	h.t.Helper()
	pub, key := newKey(h.t)
	body, _ := json.Marshal(agentapi.EnrollRequest{ProtocolVersion: 1, AgentVersion: "test", Secret: secret, PublicKey: agentapi.EncodePublicKey(pub),
		Inventory: testInventory(hostname, uuid), InventoryHash: "h1"})
	st, _, data := h.signedPost(agentapi.PathEnroll, agentapi.EnrollKeyID, key, body, time.Now(), nil)
	a := &testAgent{pub: pub, key: key}
	if st == http.StatusOK {
		if err := json.Unmarshal(data, &a.resp); err != nil {
			h.t.Fatal(err)
		}
		a.id = a.resp.AgentID
	}
	return a, st
}

func (h *agentHarness) checkIn(a *testAgent, req agentapi.CheckInRequest) (int, agentapi.CheckInResponse) {
	h.t.Helper()
	body, _ := json.Marshal(req)
	st, _, data := h.signedPost(agentapi.PathCheckIn, a.id, a.key, body, time.Now(), nil)
	var resp agentapi.CheckInResponse
	if st == http.StatusOK {
		if err := json.Unmarshal(data, &resp); err != nil {
			h.t.Fatal(err)
		}
	}
	return st, resp
}

// refused returns patchring_agent_refused_total for an endpoint and reason.
func (h *agentHarness) refused(endpoint, reason string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "patchring_agent_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == endpoint && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// snapshot is what a refused request must leave unchanged.
type snapshot struct {
	agents, assets, results, audit int
	lastCheckIn                    time.Time
	uses                           int
}

func (h *agentHarness) snapshot(a *testAgent, secret patch.EnrollmentSecretID) snapshot {
	h.t.Helper()
	ctx := patch.NewContextWithActor(h.t.Context(), patch.SystemActor("test"))
	var s snapshot
	var err error
	_, s.agents, err = h.db.FindAgents(ctx, patch.AgentFilter{})
	must(h.t, err)
	_, s.assets, err = h.db.FindAssets(ctx, patch.AssetFilter{})
	must(h.t, err)
	_, s.audit, err = h.db.FindAuditEntries(ctx, patch.AuditFilter{})
	must(h.t, err)
	if a != nil && a.id != "" {
		ag, err := h.db.FindAgentByID(ctx, patch.AgentID(a.id))
		must(h.t, err)
		s.lastCheckIn = ag.LastCheckIn
		fs, _, err := h.db.FindFindings(ctx, patch.FindingFilter{})
		must(h.t, err)
		s.results = len(fs)
	}
	if secret != "" {
		e, err := h.db.FindEnrollmentSecretByID(ctx, secret)
		must(h.t, err)
		s.uses = e.Uses
	}
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func scanResult(id string) agentapi.Result {
	now := time.Now().UTC()
	return agentapi.Result{ID: id, Kind: agentapi.JobScan, Status: agentapi.ResultSucceeded, StartedAt: now.Add(-time.Second), FinishedAt: now,
		Scan: &agentapi.ScanReport{Sources: []string{"apt"}, Missing: []agentapi.Update{{Source: "apt", ID: "curl=8.0-1", Package: "curl",
			Title: "curl", InstalledVersion: "7.88-1", AvailableVersion: "8.0-1", Classification: "security"}}}}
}

func TestAgentProtocol_EnrollCheckIn(t *testing.T) {
	h := newAgentHarness(t)
	sec := h.newSecret(server.EnrollmentSecretInput{MaxUses: 5})
	if !strings.Contains(sec.Install.Linux, "agent enroll --server 'https://patchring.example.com' --secret "+sec.Secret) ||
		!strings.Contains(sec.Install.Windows, sec.Secret) || sec.Hash != "" {
		t.Fatalf("install commands = %+v", sec.Install)
	}
	a, st := h.enroll(sec.Secret, "srv-01", "4C4C4544-0042-4810-8056-B4C04F4E3132")
	if st != http.StatusOK || a.resp.ClientID != string(h.client.ID) || len(a.resp.CommandKeys) != 1 || a.resp.NextCheckInSeconds < 300 {
		t.Fatalf("enroll = %d %+v", st, a.resp)
	}

	st, resp := h.checkIn(a, agentapi.CheckInRequest{ProtocolVersion: 1, InventoryHash: "h1", Results: []agentapi.Result{scanResult("res-1")}})
	if st != http.StatusOK || len(resp.Acknowledged) != 1 || resp.InventoryNeeded || resp.NextCheckInSeconds < 300 || resp.ServerTime.IsZero() {
		t.Fatalf("check-in = %d %+v", st, resp)
	}
	var fs httpapi.Page[*patch.Finding]
	if st := h.api(http.MethodGet, "/assets/"+a.resp.AssetID+"/findings?state=open", nil, &fs); st != http.StatusOK || fs.Total != 1 ||
		fs.Items[0].Update.Version != "8.0-1" || fs.Items[0].InstalledVersion != "7.88-1" {
		t.Fatalf("findings = %d %+v", st, fs)
	}
	var inv server.InventoryView
	if st := h.api(http.MethodGet, "/assets/"+a.resp.AssetID+"/inventory", nil, &inv); st != http.StatusOK || inv.Hash != "h1" || !inv.Serviceable {
		t.Fatalf("inventory = %d %+v", st, inv)
	}
	var sw httpapi.Page[*patch.Software]
	if st := h.api(http.MethodGet, "/assets/"+a.resp.AssetID+"/software", nil, &sw); st != http.StatusOK || sw.Total != 1 || sw.Items[0].Name != "openssl" {
		t.Fatalf("software = %d %+v", st, sw)
	}
	var status []*patch.ScanStatus
	if st := h.api(http.MethodGet, "/assets/"+a.resp.AssetID+"/scan-status", nil, &status); st != http.StatusOK || len(status) != 1 || status[0].Missing != 1 {
		t.Fatalf("scan status = %d %+v", st, status)
	}

	t.Run("ResendIsHarmless", func(t *testing.T) {
		body, _ := json.Marshal(agentapi.ResultsRequest{ProtocolVersion: 1, Results: []agentapi.Result{scanResult("res-1"), {ID: "res-bad", Kind: "scan"}}})
		st, _, data := h.signedPost(agentapi.PathResults, a.id, a.key, body, time.Now(), nil)
		var rr agentapi.ResultsResponse
		_ = json.Unmarshal(data, &rr)
		if st != http.StatusOK || len(rr.Acknowledged) != 1 || len(rr.Rejected) != 1 || rr.Rejected[0].ID != "res-bad" {
			t.Fatalf("results = %d %s", st, data)
		}
		var fs httpapi.Page[*patch.Finding]
		h.api(http.MethodGet, "/assets/"+a.resp.AssetID+"/findings", nil, &fs)
		if fs.Total != 1 {
			t.Errorf("findings after re-send = %d, want 1", fs.Total)
		}
	})
	t.Run("InventoryNeeded", func(t *testing.T) {
		_, resp := h.checkIn(a, agentapi.CheckInRequest{ProtocolVersion: 1, InventoryHash: "h2"})
		if !resp.InventoryNeeded {
			t.Error("a new hash without the inventory was not asked for")
		}
		inv := testInventory("srv-01", "4C4C4544-0042-4810-8056-B4C04F4E3132")
		inv.OS.Kernel = "6.1.0-27-amd64"
		_, resp = h.checkIn(a, agentapi.CheckInRequest{ProtocolVersion: 1, InventoryHash: "h2", Inventory: &inv})
		if resp.InventoryNeeded {
			t.Error("the inventory was asked for again after it was sent")
		}
		var as patch.Asset
		h.api(http.MethodGet, "/assets/"+a.resp.AssetID, nil, &as)
		if as.OS.Kernel != "6.1.0-27-amd64" || !as.Managed || as.Source != patch.SourceAgent {
			t.Errorf("asset = %+v", as.OS)
		}
	})
	t.Run("ScanJob", func(t *testing.T) {
		var job patch.AgentJob
		if st := h.api(http.MethodPost, "/assets/"+a.resp.AssetID+"/scan", nil, &job); st != http.StatusAccepted || job.State != patch.JobPending {
			t.Fatalf("request scan = %d %+v", st, job)
		}
		_, resp := h.checkIn(a, agentapi.CheckInRequest{ProtocolVersion: 1, InventoryHash: "h2"})
		if len(resp.Jobs) != 1 {
			t.Fatalf("jobs = %+v", resp.Jobs)
		}
		pub, err := agentapi.ParsePublicKey(a.resp.CommandKeys[0].PublicKey)
		must(t, err)
		j, err := agentapi.VerifyJob(resp.Jobs[0], map[string]ed25519.PublicKey{a.resp.CommandKeys[0].ID: pub}, a.id, time.Now())
		if err != nil || j.ID != string(job.ID) || j.Kind != agentapi.JobScan {
			t.Fatalf("VerifyJob = %+v, %v", j, err)
		}
		r := scanResult("res-job")
		r.JobID = j.ID
		h.checkIn(a, agentapi.CheckInRequest{ProtocolVersion: 1, InventoryHash: "h2", Results: []agentapi.Result{r}})
		var jobs httpapi.Page[*patch.AgentJob]
		h.api(http.MethodGet, "/agent-jobs?asset_id="+a.resp.AssetID, nil, &jobs)
		if jobs.Total != 1 || jobs.Items[0].State != patch.JobSucceeded || jobs.Items[0].ResultID != "res-job" {
			t.Errorf("jobs = %+v", jobs.Items)
		}
	})
	t.Run("ReenrollRevokesOldKey", func(t *testing.T) {
		b, st := h.enroll(sec.Secret, "srv-01", "4C4C4544-0042-4810-8056-B4C04F4E3132")
		if st != http.StatusOK || b.resp.AssetID != a.resp.AssetID || !b.resp.Reattached {
			t.Fatalf("re-enroll = %d %+v", st, b.resp)
		}
		st, _ = h.checkIn(a, agentapi.CheckInRequest{ProtocolVersion: 1})
		if st != http.StatusForbidden {
			t.Errorf("old agent check-in = %d, want 403", st)
		}
		var agents httpapi.Page[*patch.Agent]
		h.api(http.MethodGet, "/agents?status=revoked", nil, &agents)
		if agents.Total != 1 || agents.Items[0].ID != patch.AgentID(a.id) {
			t.Errorf("revoked agents = %+v", agents.Items)
		}
	})
}

// TestAgentProtocol_Refusals checks that every kind of bad request is
// refused with its status, counted under its reason, and leaves no trace.
func TestAgentProtocol_Refusals(t *testing.T) {
	h := newAgentHarness(t)
	sec := h.newSecret(server.EnrollmentSecretInput{})
	a, st := h.enroll(sec.Secret, "srv-01", "uuid-1")
	if st != http.StatusOK {
		t.Fatalf("enroll = %d", st)
	}
	revoked, _ := h.enroll(sec.Secret, "srv-02", "uuid-2")
	if st := h.api(http.MethodPost, "/agents/"+revoked.id+"/revoke", map[string]string{"reason": "stolen"}, &patch.Agent{}); st != http.StatusOK {
		t.Fatalf("revoke = %d", st)
	}
	_, otherKey := newKey(t)
	checkIn, _ := json.Marshal(agentapi.CheckInRequest{ProtocolVersion: 1, Results: []agentapi.Result{scanResult("res-x")}})
	replayed := func() func(*http.Request) {
		// Sign once, send once successfully, then replay the same bytes.
		req, _ := http.NewRequest(http.MethodPost, h.ts.URL+agentapi.PathCheckIn, bytes.NewReader(checkIn))
		agentapi.SignRequest(req, checkIn, a.id, a.key, time.Now())
		hdr := req.Header.Clone()
		h.signedPost(agentapi.PathCheckIn, "", nil, checkIn, time.Time{}, func(r *http.Request) { r.Header = hdr.Clone() })
		return func(r *http.Request) { r.Header = hdr.Clone() }
	}
	tests := []struct {
		name     string
		path     string
		keyID    string
		key      ed25519.PrivateKey
		body     []byte
		ts       time.Time
		mutate   func(*http.Request)
		status   int
		endpoint string
		reason   string
	}{
		{"Unsigned", agentapi.PathCheckIn, "", nil, checkIn, time.Now(), nil, 401, "checkin", server.RefusedUnsigned},
		{"MalformedSignature", agentapi.PathCheckIn, a.id, a.key, checkIn, time.Now(), func(r *http.Request) { r.Header.Set(agentapi.HeaderSignature, "!!") }, 401, "checkin", server.RefusedMalformed},
		{"WrongKey", agentapi.PathCheckIn, a.id, otherKey, checkIn, time.Now(), nil, 401, "checkin", server.RefusedBadSignature},
		{"AlteredBody", agentapi.PathCheckIn, a.id, a.key, checkIn, time.Now(), func(r *http.Request) {
			altered := bytes.Replace(checkIn, []byte("res-x"), []byte("res-y"), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(altered)), int64(len(altered))
		}, 401, "checkin", server.RefusedBadSignature},
		{"ResultsSignatureOnCheckIn", agentapi.PathCheckIn, a.id, a.key, checkIn, time.Now(), func(r *http.Request) {
			// A signature made for /results is not valid for /checkin.
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+agentapi.PathResults, nil)
			agentapi.SignRequest(req, checkIn, a.id, a.key, time.Now())
			r.Header = req.Header
		}, 401, "checkin", server.RefusedBadSignature},
		{"Replayed", agentapi.PathCheckIn, "", nil, checkIn, time.Time{}, replayed(), 401, "checkin", server.RefusedReplay},
		{"StaleTimestamp", agentapi.PathCheckIn, a.id, a.key, checkIn, time.Now().Add(-10 * time.Minute), nil, 401, "checkin", server.RefusedClockSkew},
		{"FutureTimestamp", agentapi.PathCheckIn, a.id, a.key, checkIn, time.Now().Add(10 * time.Minute), nil, 401, "checkin", server.RefusedClockSkew},
		{"UnknownAgent", agentapi.PathCheckIn, "agt_01JZZZZZZZZZZZZZZZZZZZZZZZ", a.key, checkIn, time.Now(), nil, 401, "checkin", server.RefusedUnknownAgent},
		{"RevokedAgent", agentapi.PathCheckIn, revoked.id, revoked.key, checkIn, time.Now(), nil, 403, "checkin", server.RefusedRevokedAgent},
		{"RevokedAgentResults", agentapi.PathResults, revoked.id, revoked.key, []byte(`{"results":[]}`), time.Now(), nil, 403, "results", server.RefusedRevokedAgent},
		{"OversizedBody", agentapi.PathCheckIn, a.id, a.key, bytes.Repeat([]byte(" "), agentapi.MaxCheckInBody+1), time.Now(), nil, 413, "checkin", httpapi.RefusedTooLarge},
		{"OversizedChunkedBody", agentapi.PathResults, a.id, a.key, nil, time.Now(), func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(io.LimitReader(zeros{}, agentapi.MaxResultsBody+10)), -1
		}, 413, "results", httpapi.RefusedTooLarge},
		{"InvalidBody", agentapi.PathCheckIn, a.id, a.key, []byte(`{"results":"nope"}`), time.Now(), nil, 400, "checkin", server.RefusedInvalidBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.snapshot(a, sec.ID)
			count := h.refused(tt.endpoint, tt.reason)
			st, hdr, data := h.signedPost(tt.path, tt.keyID, tt.key, tt.body, tt.ts, tt.mutate)
			if st != tt.status {
				t.Errorf("status = %d %s, want %d", st, data, tt.status)
			}
			var eb agentapi.ErrorBody
			if err := json.Unmarshal(data, &eb); err != nil || eb.Error.Message == "" {
				t.Errorf("error body %q", data)
			}
			if got := h.refused(tt.endpoint, tt.reason); got != count+1 {
				t.Errorf("refusals %s/%s = %v, want %v", tt.endpoint, tt.reason, got, count+1)
			}
			if tt.reason == server.RefusedClockSkew && hdr.Get(httpapi.HeaderRefusal) != "clock_skew" {
				t.Errorf("clock skew not disclosed: %v", hdr)
			}
			if after := h.snapshot(a, sec.ID); after != before {
				t.Errorf("refused request changed state: %+v → %+v", before, after)
			}
		})
	}
}

func TestAgentProtocol_EnrollRefusals(t *testing.T) {
	h := newAgentHarness(t)
	good := h.newSecret(server.EnrollmentSecretInput{})
	revoked := h.newSecret(server.EnrollmentSecretInput{})
	h.api(http.MethodPost, "/enrollment-secrets/"+string(revoked.ID)+"/revoke", nil, &patch.EnrollmentSecret{})
	usedUp := h.newSecret(server.EnrollmentSecretInput{MaxUses: 1})
	if _, st := h.enroll(usedUp.Secret, "first", "uuid-first"); st != http.StatusOK {
		t.Fatalf("first enrollment = %d", st)
	}
	pub, key := newKey(t)
	enrollBody := func(secret string, pub ed25519.PublicKey) []byte {
		b, _ := json.Marshal(agentapi.EnrollRequest{ProtocolVersion: 1, Secret: secret, PublicKey: agentapi.EncodePublicKey(pub), Inventory: testInventory("new", "uuid-new")})
		return b
	}
	tests := []struct {
		name   string
		secret string
		key    ed25519.PrivateKey
		status int
		reason string
	}{
		{"UnknownSecret", "pre_doesnotexist", key, 401, server.RefusedSecretUnknown},
		{"RevokedSecret", revoked.Secret, key, 401, server.RefusedSecretRevoked},
		{"UsedUpSecret", usedUp.Secret, key, 401, server.RefusedSecretUsedUp},
		{"NotSignedByEnrolledKey", good.Secret, func() ed25519.PrivateKey { _, k := newKey(t); return k }(), 401, server.RefusedBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.snapshot(nil, good.ID)
			count := h.refused("enroll", tt.reason)
			st, _, data := h.signedPost(agentapi.PathEnroll, agentapi.EnrollKeyID, tt.key, enrollBody(tt.secret, pub), time.Now(), nil)
			if st != tt.status {
				t.Errorf("status = %d %s, want %d", st, data, tt.status)
			}
			if strings.Contains(string(data), "revoked\"") || strings.Contains(string(data), "used up\"") {
				t.Errorf("the refusal says which secret problem: %s", data)
			}
			if got := h.refused("enroll", tt.reason); got != count+1 {
				t.Errorf("refusals enroll/%s = %v, want %v", tt.reason, got, count+1)
			}
			if after := h.snapshot(nil, good.ID); after != before {
				t.Errorf("refused enrollment changed state: %+v → %+v", before, after)
			}
		})
	}
	t.Run("ExpiredSecret", func(t *testing.T) {
		// The store's clock moves past the expiry; no sleeping.
		h2 := newAgentHarness(t)
		clock := time.Now()
		e := h2.newSecret(server.EnrollmentSecretInput{ExpiresAt: clock.Add(time.Hour)})
		h2.db.Now = func() time.Time { return clock.Add(2 * time.Hour) }
		before := h2.snapshot(nil, e.ID)
		st, _, _ := h2.signedPost(agentapi.PathEnroll, agentapi.EnrollKeyID, key, enrollBody(e.Secret, pub), time.Now(), nil)
		if st != http.StatusUnauthorized || h2.refused("enroll", server.RefusedSecretExpired) != 1 {
			t.Errorf("expired secret: status %d, refusals %v", st, h2.refused("enroll", server.RefusedSecretExpired))
		}
		if after := h2.snapshot(nil, e.ID); after != before {
			t.Errorf("refused enrollment changed state")
		}
	})
	t.Run("ReplayedEnrollment", func(t *testing.T) {
		body := enrollBody(good.Secret, pub)
		req, _ := http.NewRequest(http.MethodPost, h.ts.URL+agentapi.PathEnroll, nil)
		agentapi.SignRequest(req, body, agentapi.EnrollKeyID, key, time.Now())
		hdr := req.Header
		st, _, _ := h.signedPost(agentapi.PathEnroll, "", nil, body, time.Time{}, func(r *http.Request) { r.Header = hdr.Clone() })
		if st != http.StatusOK {
			t.Fatalf("genuine enrollment = %d", st)
		}
		before := h.snapshot(nil, good.ID)
		st, _, _ = h.signedPost(agentapi.PathEnroll, "", nil, body, time.Time{}, func(r *http.Request) { r.Header = hdr.Clone() })
		if st != http.StatusUnauthorized || h.refused("enroll", server.RefusedReplay) != 1 {
			t.Errorf("replayed enrollment = %d, refusals %v", st, h.refused("enroll", server.RefusedReplay))
		}
		// Same key, fresh nonce: still refused, the key is taken.
		st, _, _ = h.signedPost(agentapi.PathEnroll, agentapi.EnrollKeyID, key, body, time.Now(), nil)
		if st != http.StatusConflict || h.refused("enroll", server.RefusedKeyReused) != 1 {
			t.Errorf("re-used key = %d", st)
		}
		if after := h.snapshot(nil, good.ID); after != before {
			t.Errorf("replayed enrollment changed state: %+v → %+v", before, after)
		}
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestEnrollmentSecretsAPI(t *testing.T) {
	h := newAgentHarness(t)
	var bad httpapi.ErrorBody
	st := h.api(http.MethodPost, "/enrollment-secrets", map[string]any{"client_id": h.client.ID, "name": "x", "expires_at": "2001-01-01T00:00:00Z"}, &bad)
	if st != http.StatusBadRequest {
		t.Errorf("past expiry = %d", st)
	}
	st = h.api(http.MethodPost, "/enrollment-secrets", map[string]any{"client_id": h.client.ID, "name": "x", "shell": "id"}, nil)
	if st != http.StatusBadRequest {
		t.Errorf("unknown field = %d", st)
	}
	sec := h.newSecret(server.EnrollmentSecretInput{Name: "Front desk"})
	var list httpapi.Page[*patch.EnrollmentSecret]
	h.api(http.MethodGet, "/enrollment-secrets?active=true", nil, &list)
	if list.Total != 1 || list.Items[0].Hint == "" {
		t.Fatalf("list = %+v", list)
	}
	raw, _ := json.Marshal(list)
	if strings.Contains(string(raw), sec.Secret) || strings.Contains(string(raw), "hash") {
		t.Errorf("listing leaks the secret: %s", raw)
	}
	var got patch.EnrollmentSecret
	h.api(http.MethodPost, "/enrollment-secrets/"+string(sec.ID)+"/revoke", nil, &got)
	if got.RevokedAt.IsZero() {
		t.Error("revoke did not revoke")
	}
	h.api(http.MethodGet, "/enrollment-secrets?active=true", nil, &list)
	if list.Total != 0 {
		t.Errorf("active after revoke = %d", list.Total)
	}
	var audit httpapi.Page[*patch.AuditEntry]
	h.api(http.MethodGet, "/audit?entity_id="+string(sec.ID), nil, &audit)
	if audit.Total != 2 {
		t.Errorf("audit entries = %d, want create and revoke", audit.Total)
	}
	if st := h.api(http.MethodGet, "/assets/ast_01JZZZZZZZZZZZZZZZZZZZZZZZ/inventory", nil, nil); st != http.StatusNotFound {
		t.Errorf("inventory of unknown asset = %d", st)
	}
	if st := h.api(http.MethodGet, "/agents?status=sleeping", nil, nil); st != http.StatusBadRequest {
		t.Errorf("bad status filter = %d", st)
	}
}
