package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// harness is a real server on a real SQLite file behind real HTTP.
type harness struct {
	t     *testing.T
	db    *sqlstore.DB
	srv   *server.Server
	api   *httpapi.API
	ts    *httptest.Server
	admin string // an msp-admin token
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, db)
}

func newHarnessOn(t *testing.T, db *sqlstore.DB) *harness {
	t.Helper()
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db}, server.Options{})
	reg := prometheus.NewRegistry()
	m := httpapi.NewMetrics(reg)
	api := httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m})
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", api.Handler())
	httpapi.MountOps(mux, srv, reg)
	ts := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, db: db, srv: srv, api: api, ts: ts}
	tok, err := srv.CreateToken(patch.NewContextWithActor(t.Context(), patch.SystemActor("test")), server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	h.admin = tok.Secret
	return h
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiErr decodes the one error shape.
func (r response) apiErr(t *testing.T) httpapi.ErrorInfo {
	t.Helper()
	var b httpapi.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error body %q does not have the error shape (%v)", r.body, err)
	}
	return b.Error
}

func (h *harness) do(token, method, path string, body any, ct string) response {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		r = bytes.NewReader(data)
		ct = "application/json"
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.ts.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (h *harness) mustCreate(token, path string, body any, out any) {
	h.t.Helper()
	r := h.do(token, http.MethodPost, path, body, "")
	if r.status != http.StatusCreated {
		h.t.Fatalf("POST %s = %d %s", path, r.status, r.body)
	}
	if out != nil {
		r.json(h.t, out)
	}
}

func (h *harness) token(role patch.Role, client patch.ClientID) string {
	h.t.Helper()
	var out server.NewToken
	h.mustCreate(h.admin, "/api/v1/tokens", map[string]any{"name": string(role) + " token", "role": role, "client_id": client}, &out)
	return out.Secret
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	h := newHarness(t)
	r := h.do("", http.MethodGet, "/api/v1/openapi.json", nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("openapi.json = %d", r.status)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	r.json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi version = %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := h.api.Routes()
	if len(served) < 20 {
		t.Fatalf("only %d routes recorded: %v", len(served), served)
	}
	for _, route := range served {
		if strings.Contains(route, "/openapi") {
			continue
		}
		if !documented[route] {
			t.Errorf("route %s is served but not in the OpenAPI document", route)
		}
	}
	for route := range documented {
		if !slices.Contains(served, route) {
			t.Errorf("route %s is documented but not served", route)
		}
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, header string
	}{
		{"Missing", ""},
		{"NotBearer", "Basic YWRtaW46YWRtaW4="},
		{"Unknown", "Bearer prt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"Short", "Bearer x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.ts.URL+"/api/v1/assets", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := h.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := response{status: resp.StatusCode, body: body}
			if r.status != http.StatusUnauthorized || r.apiErr(t).Code != "unauthenticated" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("status %d body %s", r.status, r.body)
			}
		})
	}
	t.Run("Revoked", func(t *testing.T) {
		var tok server.NewToken
		h.mustCreate(h.admin, "/api/v1/tokens", map[string]any{"name": "short-lived", "role": "auditor"}, &tok)
		if r := h.do(tok.Secret, http.MethodGet, "/api/v1/assets", nil, ""); r.status != http.StatusOK {
			t.Fatalf("fresh token: %d %s", r.status, r.body)
		}
		if r := h.do(h.admin, http.MethodDelete, "/api/v1/tokens/"+string(tok.ID), nil, ""); r.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if r := h.do(tok.Secret, http.MethodGet, "/api/v1/assets", nil, ""); r.status != http.StatusUnauthorized {
			t.Errorf("revoked token: %d %s", r.status, r.body)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		r := h.do(h.admin, http.MethodPost, "/api/v1/tokens", map[string]any{"name": "past", "role": "auditor", "expires_at": "2001-01-01T00:00:00Z"}, "")
		if r.status != http.StatusBadRequest || r.apiErr(t).Field != "expires_at" {
			t.Errorf("token expiring in the past: %d %s", r.status, r.body)
		}
	})
	t.Run("OpenAPIIsPublic", func(t *testing.T) {
		if r := h.do("", http.MethodGet, "/api/v1/openapi.json", nil, ""); r.status != http.StatusOK {
			t.Errorf("openapi.json without a token = %d", r.status)
		}
	})
}

func TestBadInput(t *testing.T) {
	h := newHarness(t)
	var client patch.Client
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "Riverside Clinic"}, &client)
	for _, tc := range []struct {
		name, method, path, body, ct string
		status                       int
		code, field                  string
	}{
		{"MalformedJSON", "POST", "/api/v1/clients", `{"name": "x"`, "application/json", 400, "invalid", ""},
		{"UnknownField", "POST", "/api/v1/clients", `{"name": "x", "colour": "red"}`, "application/json", 400, "invalid", "colour"},
		{"WrongType", "POST", "/api/v1/clients", `{"name": 42}`, "application/json", 400, "invalid", "name"},
		{"EmptyName", "POST", "/api/v1/clients", `{"name": ""}`, "application/json", 400, "invalid", "name"},
		{"Duplicate", "POST", "/api/v1/clients", `{"name": "riverside clinic"}`, "application/json", 409, "conflict", "name"},
		{"BadEnum", "POST", "/api/v1/assets", `{"client_id": "` + string(client.ID) + `", "hostname": "ws-1", "os": {"family": "windows"}, "role": "toaster"}`, "application/json", 400, "invalid", "role"},
		{"BadEnumDomain", "POST", "/api/v1/assets", `{"client_id": "` + string(client.ID) + `", "hostname": "ws-1", "os": {"family": "beos"}, "role": "server"}`, "application/json", 400, "invalid", "os.family"},
		{"BadTimeZone", "POST", "/api/v1/sites", `{"client_id": "` + string(client.ID) + `", "name": "Main", "time_zone": "Mars/Base"}`, "application/json", 400, "invalid", "time_zone"},
		{"OtherClientRef", "POST", "/api/v1/sites", `{"client_id": "cli_01JAAAAAAAAAAAAAAAAAAAAAAA", "name": "Main", "time_zone": "UTC"}`, "application/json", 404, "not_found", ""},
		{"BadQueryEnum", "GET", "/api/v1/assets?os=beos", "", "", 400, "invalid", "os"},
		{"UnknownQuery", "GET", "/api/v1/assets?colour=red", "", "", 400, "invalid", "colour"},
		{"LimitTooBig", "GET", "/api/v1/assets?limit=5000", "", "", 400, "invalid", "limit"},
		{"BadTag", "GET", "/api/v1/assets?tag=:yes", "", "", 400, "invalid", "tag"},
		{"NotFound", "GET", "/api/v1/clients/cli_nope", "", "", 404, "not_found", ""},
		{"BadSort", "GET", "/api/v1/assets?sort=password", "", "", 400, "invalid", "sort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := h.do(h.admin, tc.method, tc.path, body, tc.ct)
			if r.status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.status)
			}
			e := r.apiErr(t)
			if e.Code != tc.code || e.Field != tc.field {
				t.Errorf("error = %+v, want code %q field %q", e, tc.code, tc.field)
			}
		})
	}
	t.Run("Oversized", func(t *testing.T) {
		big := `{"name": "x", "notes": "` + strings.Repeat("a", 2<<20) + `"}`
		r := h.do(h.admin, "POST", "/api/v1/clients", big, "application/json")
		if r.status != http.StatusRequestEntityTooLarge || r.apiErr(t).Code != "too_large" {
			t.Errorf("oversized body = %d %s", r.status, r.body)
		}
	})
	t.Run("NothingHalfWritten", func(t *testing.T) {
		_, n, err := h.srv.Clients(patch.NewContextWithActor(t.Context(), patch.SystemActor("t")), patch.ClientFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("clients after refused requests = %d, want 1", n)
		}
	})
}

func TestRoles(t *testing.T) {
	h := newHarness(t)
	var a, b patch.Client
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "A"}, &a)
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "B"}, &b)
	var assetA patch.Asset
	h.mustCreate(h.admin, "/api/v1/assets", map[string]any{"client_id": a.ID, "hostname": "ws-a", "os": map[string]any{"family": "windows"}, "role": "workstation"}, &assetA)
	auditor := h.token(patch.RoleAuditor, "")
	tech := h.token(patch.RoleTechnician, "")
	ownerB := h.token(patch.RoleClientOwner, b.ID)

	for _, tc := range []struct {
		name, token, method, path string
		body                      any
		status                    int
	}{
		{"AuditorReads", auditor, "GET", "/api/v1/assets", nil, 200},
		{"AuditorReadsAudit", auditor, "GET", "/api/v1/audit", nil, 200},
		{"AuditorCannotWrite", auditor, "POST", "/api/v1/clients", map[string]any{"name": "C"}, 403},
		{"TechCreatesAsset", tech, "POST", "/api/v1/assets", map[string]any{"client_id": a.ID, "hostname": "ws-t", "os": map[string]any{"family": "linux"}, "role": "server"}, 201},
		{"TechCannotCreateClient", tech, "POST", "/api/v1/clients", map[string]any{"name": "C"}, 403},
		{"TechCannotReadAudit", tech, "GET", "/api/v1/audit", nil, 403},
		{"TechCannotListUsers", tech, "GET", "/api/v1/users", nil, 403},
		{"TechCannotMintAdmin", tech, "POST", "/api/v1/tokens", map[string]any{"name": "x", "role": "msp-admin"}, 403},
		{"OwnerCannotSeeOtherClient", ownerB, "GET", "/api/v1/clients/" + string(a.ID), nil, 404},
		{"OwnerCannotSeeOtherAsset", ownerB, "GET", "/api/v1/assets/" + string(assetA.ID), nil, 404},
		{"OwnerCannotEditOtherAsset", ownerB, "PATCH", "/api/v1/assets/" + string(assetA.ID), map[string]any{"owner": "x"}, 403},
		{"OwnerSeesOwnClient", ownerB, "GET", "/api/v1/clients/" + string(b.ID), nil, 200},
		{"OwnerCannotImportIntoOther", ownerB, "POST", "/api/v1/clients/" + string(a.ID) + "/assets/import", []byte("hostname,owner\nws-a,pwned\n"), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if _, raw := tc.body.([]byte); raw {
				ct = "text/csv"
			}
			r := h.do(tc.token, tc.method, tc.path, tc.body, ct)
			if r.status != tc.status {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.status)
			}
		})
	}
	t.Run("OwnerListsOnlyOwn", func(t *testing.T) {
		var page httpapi.Page[*patch.Asset]
		h.do(ownerB, "GET", "/api/v1/assets", nil, "").json(t, &page)
		if page.Total != 0 {
			t.Errorf("owner of B lists %d assets", page.Total)
		}
		var cs httpapi.Page[*patch.Client]
		h.do(ownerB, "GET", "/api/v1/clients", nil, "").json(t, &cs)
		if cs.Total != 1 || cs.Items[0].ID != b.ID {
			t.Errorf("owner of B lists clients %+v", cs)
		}
	})
}

func TestAssetsCSVRoundTrip(t *testing.T) {
	h := newHarness(t)
	var c patch.Client
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "Clinic"}, &c)
	h.mustCreate(h.admin, "/api/v1/sites", map[string]any{"client_id": c.ID, "name": "Main", "time_zone": "America/Chicago"}, nil)
	csv := "hostname,site,os_family,os_name,role,class,owner,ephi,tags\n" +
		"ws-001,Main,windows,Windows 11 Pro,workstation,workstation,Dr Lee,yes,dept=radiology\n" +
		"srv-ehr,main,linux,Debian 12,server,core-server,IT,yes,app=ehr;tier=1\n"
	imp := h.do(h.admin, "POST", "/api/v1/clients/"+string(c.ID)+"/assets/import", csv, "text/csv")
	if imp.status != http.StatusOK {
		t.Fatalf("import = %d %s", imp.status, imp.body)
	}
	var res patch.ImportResult
	imp.json(t, &res)
	if res.Created != 2 {
		t.Fatalf("import result = %+v", res)
	}
	exp := h.do(h.admin, "GET", "/api/v1/assets/export.csv?client_id="+string(c.ID), nil, "")
	if exp.status != 200 || !strings.HasPrefix(exp.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export = %d %s", exp.status, exp.header)
	}
	if cd := exp.header.Get("Content-Disposition"); !strings.Contains(cd, "assets-"+string(c.ID)+"-20") || exp.header.Get("X-Exported-At") == "" {
		t.Errorf("export is not date-stamped: %q", cd)
	}
	if !strings.Contains(string(exp.body), "srv-ehr") || !strings.Contains(string(exp.body), "app=ehr;tier=1") {
		t.Errorf("export body:\n%s", exp.body)
	}
	// Re-importing the export changes nothing and creates nothing.
	again := h.do(h.admin, "POST", "/api/v1/clients/"+string(c.ID)+"/assets/import", exp.body, "text/csv")
	var res2 patch.ImportResult
	again.json(t, &res2)
	if again.status != 200 || res2.Created != 0 || res2.Updated != 2 {
		t.Errorf("re-import = %d %+v", again.status, res2)
	}
	t.Run("ErrLine", func(t *testing.T) {
		bad := "hostname,os_family,role\nws-9,windows,workstation\nws-10,windows,toaster\n"
		r := h.do(h.admin, "POST", "/api/v1/clients/"+string(c.ID)+"/assets/import", bad, "text/csv")
		if r.status != 400 || r.apiErr(t).Field != "line 3: role" {
			t.Errorf("bad import = %d %s", r.status, r.body)
		}
		var page httpapi.Page[*patch.Asset]
		h.do(h.admin, "GET", "/api/v1/assets?q=ws-9", nil, "").json(t, &page)
		if page.Total != 0 {
			t.Error("a failed import wrote ws-9")
		}
	})
	t.Run("ErrUnknownSite", func(t *testing.T) {
		bad := "hostname,site,os_family,role\nws-11,Mars,windows,workstation\n"
		r := h.do(h.admin, "POST", "/api/v1/clients/"+string(c.ID)+"/assets/import", bad, "text/csv")
		if r.status != 400 || r.apiErr(t).Field != "line 2: site" {
			t.Errorf("unknown site = %d %s", r.status, r.body)
		}
	})
}

func TestOps(t *testing.T) {
	h := newHarness(t)
	if r := h.do("", "GET", "/healthz", nil, ""); r.status != 200 {
		t.Errorf("healthz = %d", r.status)
	}
	if r := h.do("", "GET", "/readyz", nil, ""); r.status != 200 {
		t.Errorf("readyz = %d %s", r.status, r.body)
	}
	h.do("", "GET", "/api/v1/assets", nil, "")
	m := h.do("", "GET", "/metrics", nil, "")
	if m.status != 200 || !strings.Contains(string(m.body), `patchring_api_auth_failures_total{reason="missing"} 1`) || !strings.Contains(string(m.body), "patchring_http_requests_total") {
		t.Errorf("metrics:\n%.2000s", m.body)
	}
	if r := h.do("", "GET", "/healthz", nil, ""); r.header.Get("X-Request-ID") == "" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("missing request id or security headers: %v", r.header)
	}
	// The database goes away: readiness and writes answer 503.
	h.db.Close()
	if r := h.do("", "GET", "/readyz", nil, ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database closed = %d %s", r.status, r.body)
	}
	if r := h.do(h.admin, "POST", "/api/v1/clients", map[string]any{"name": "x"}, ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("write with the database closed = %d %s", r.status, r.body)
	}
}
