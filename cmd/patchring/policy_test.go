package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// policyE2E is a real server (SQLite file, use cases, JSON API) behind
// real HTTP with an injected clock, driven through the CLI.
type policyE2E struct {
	t     *testing.T
	db    *sqlstore.DB
	srv   *server.Server
	clock *patchtest.Clock
	url   string
	admin string
}

func newPolicyE2E(t *testing.T) *policyE2E {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Time{})
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db}, server.Options{Now: clock.Now})
	m := httpapi.NewMetrics(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m}).Handler())
	ts := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux))
	t.Cleanup(ts.Close)
	tok, err := srv.CreateToken(patch.NewContextWithActor(t.Context(), patch.SystemActor("test")), server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return &policyE2E{t: t, db: db, srv: srv, clock: clock, url: ts.URL, admin: tok.Secret}
}

// cli runs a remote command with a token and returns stdout, failing on a
// non-zero exit.
func (e *policyE2E) cli(token string, args ...string) string {
	e.t.Helper()
	code, out, errOut := e.try(token, args...)
	if code != 0 {
		e.t.Fatalf("patchring %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out + errOut
}

func (e *policyE2E) try(token string, args ...string) (int, string, string) {
	e.t.Helper()
	return runCLI(e.t, map[string]string{"PATCHRING_SERVER": e.url, "PATCHRING_TOKEN": token}, "", args...)
}

func (e *policyE2E) token(role patch.Role, client patch.ClientID, user patch.UserID) string {
	e.t.Helper()
	tok, secret := patchtest.Token(string(role), role, client)
	tok.UserID = user
	if err := e.db.CreateToken(patchtest.AdminContext(e.t.Context()), tok); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func lineNo(t *testing.T, doc, needle string, nth int) int {
	t.Helper()
	seen := 0
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, needle) {
			seen++
			if seen == nth {
				return i + 1
			}
		}
	}
	t.Fatalf("%q occurs fewer than %d times", needle, nth)
	return 0
}

// TestPolicyEndToEnd is the "done when": through the API and CLI
// an operator sets a client's policy, sees every open finding with its
// due time, SLA status and why-not-patched reason, and runs an exception
// from request through owner sign-off to expiry, every step in the audit
// log and the evidence chain.
func TestPolicyEndToEnd(t *testing.T) {
	e := newPolicyE2E(t)
	ctx := patchtest.AdminContext(t.Context())

	// A client with a site in Chicago and its assets. Agent-managed assets
	// are created in the store, as enrollment would.
	clientID := strings.TrimSpace(e.cli(e.admin, "clients", "create", "--name", "Riverside Clinic"))
	client := patch.ClientID(clientID)
	var site patch.Site
	out := e.cli(e.admin, "api", "POST", "/api/v1/sites", "--data", fmt.Sprintf(`{"client_id":%q,"name":"Main","time_zone":"America/Chicago"}`, clientID))
	if err := json.Unmarshal([]byte(out), &site); err != nil {
		t.Fatalf("site: %v\n%s", err, out)
	}
	managed := func(host, class string, role patch.AssetRole) *patch.Asset {
		a := patchtest.Asset(client, host)
		a.Class, a.Role, a.SiteID, a.Managed, a.Source, a.LastSeen = class, role, site.ID, true, patch.SourceAgent, e.clock.Now()
		if err := e.db.CreateAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	core := managed("dc-1", patch.ClassCoreServer, patch.RoleServer)
	pacs := managed("pacs-1", patch.ClassDoNotDisrupt, patch.RoleServer)
	ws := managed("ws-frontdesk", patch.ClassWorkstation, patch.RoleWorkstation)
	xray := managed("xray-pc", patch.ClassWorkstation, patch.RoleWorkstation)
	owner := patchtest.User("owner@riverside.example", patch.RoleClientOwner, client)
	owner.Name = "Dr. Rivera"
	if err := e.db.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	tech := e.token(patch.RoleTechnician, "", "")
	auditor := e.token(patch.RoleAuditor, "", "")
	ownerTok := e.token(patch.RoleClientOwner, client, owner.ID)

	// Findings, as agents' scans record them.
	pt := time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)
	wua := func(kb, sev, class string) patch.ScannedUpdate {
		return patch.ScannedUpdate{Update: patch.Update{Source: "wua", VendorID: kb + ".1", Package: kb, Title: kb + " cumulative update", Product: "Windows",
			Version: "1", Classification: class, VendorSeverity: sev, KBs: []string{kb}, ReleaseDate: pt}}
	}
	for a, missing := range map[*patch.Asset][]patch.ScannedUpdate{
		core: {wua("KB5046616", "Critical", "security")},
		pacs: {wua("KB5046617", "Moderate", "security")},
		ws:   {wua("KB5046618", "Important", "security")},
		xray: {wua("KB5046618", "Important", "security"), wua("KB5046619", "Critical", "security")},
	} {
		if _, err := e.db.RecordScan(ctx, patch.ScanResult{AssetID: a.ID, At: e.clock.Now(), Sources: []patch.UpdateSource{"wua"}, Missing: missing}); err != nil {
			t.Fatal(err)
		}
	}

	// 1. Policy as code: export, edit, dry run, refusals with lines, apply.
	dir := t.TempDir()
	file := filepath.Join(dir, "riverside.yaml")
	e.cli(tech, "policy", "export", "--client", clientID, "-o", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, want := range []string{"client_id: " + clientID, "version: 0", "class: core-server", "deadline: 24h", "mode: user_prompted", "slot: sunday 02:00"} {
		if !strings.Contains(doc, want) {
			t.Fatalf("exported policy lacks %q:\n%s", want, doc)
		}
	}
	edited := strings.Replace(doc, "deadline: 24h", "deadline: 12h", 1)
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	out = e.cli(tech, "policy", "apply", file, "--dry-run")
	if !strings.Contains(out, `~ sla.matrix[core-server/critical].deadline: "24h" → "12h"`) || !strings.Contains(out, "dry run: nothing stored") {
		t.Errorf("dry run output:\n%s", out)
	}
	// A bad value is refused with its line; nothing is stored.
	bad := filepath.Join(dir, "bad.yaml")
	badDoc := strings.Replace(edited, "deadline: 7d", "deadline: soon", 1)
	must(t, os.WriteFile(bad, []byte(badDoc), 0o600))
	code, _, errOut := e.try(tech, "policy", "apply", bad)
	wantLine := fmt.Sprintf("bad.yaml:%d: sla.matrix[1].deadline: must be a duration", lineNo(t, badDoc, "deadline: soon", 1))
	if code != 1 || !strings.Contains(errOut, wantLine) {
		t.Errorf("bad deadline: exit %d, stderr %q, want %q", code, errOut, wantLine)
	}
	// An unknown field and a wrong type: refused by the YAML decoder, each with its line.
	unknownDoc := strings.Replace(edited, "  due_soon_pct: 25", "  due_soon_pct: lots\n  due_sooon_pct: 25", 1)
	must(t, os.WriteFile(bad, []byte(unknownDoc), 0o600))
	code, _, errOut = e.try(tech, "policy", "apply", bad, "--dry-run")
	l := lineNo(t, unknownDoc, "due_soon_pct: lots", 1)
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("bad.yaml:%d: cannot unmarshal", l)) || !strings.Contains(errOut, fmt.Sprintf("bad.yaml:%d: field due_sooon_pct not found", l+1)) {
		t.Errorf("unknown field: exit %d, stderr %q", code, errOut)
	}
	// An unknown window name in a cell.
	winDoc := strings.Replace(edited, "- workday", "- lunchtime", 1)
	must(t, os.WriteFile(bad, []byte(winDoc), 0o600))
	code, _, errOut = e.try(tech, "policy", "apply", bad)
	if want := fmt.Sprintf("bad.yaml:%d: sla.matrix[6].windows[0]: unknown window \"lunchtime\"", lineNo(t, winDoc, "- lunchtime", 1)); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("unknown window: exit %d, stderr %q, want %q", code, errOut, want)
	}
	if code, _, errOut = e.try(auditor, "policy", "apply", file); code != 1 || !strings.Contains(errOut, "does not allow") {
		t.Errorf("auditor applies: exit %d %s", code, errOut)
	}
	out = e.cli(tech, "policy", "apply", file)
	if !strings.Contains(out, "Applied 1 changes") || !strings.Contains(out, "policy version 1") {
		t.Errorf("apply output:\n%s", out)
	}
	// A second export carries version 1; someone else changes the policy;
	// applying the stale file is refused at its version line.
	e.cli(tech, "policy", "export", "--client", clientID, "-o", file)
	v1, _ := os.ReadFile(file)
	must(t, os.WriteFile(file, []byte(strings.Replace(string(v1), "max_days: 90", "max_days: 60", 1)), 0o600))
	e.cli(tech, "policy", "apply", file)
	must(t, os.WriteFile(file, []byte(strings.Replace(string(v1), "max_days: 90", "max_days: 30", 1)), 0o600))
	code, _, errOut = e.try(tech, "policy", "apply", file)
	if want := fmt.Sprintf("riverside.yaml:%d: version: The policy changed since version 1", lineNo(t, string(v1), "version: 1", 1)); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("stale apply: exit %d, stderr %q, want %q", code, errOut, want)
	}
	out = e.cli(auditor, "policy", "matrix", "--client", clientID)
	if !strings.Contains(out, "12h, scheduled sunday 02:00") || !strings.Contains(out, "30d, manual approval") {
		t.Errorf("matrix:\n%s", out)
	}

	// 2. Every open finding with its due time, SLA status and reason.
	var views []server.FindingView
	out = e.cli(auditor, "findings", "list", "--client", clientID, "--json")
	must(t, json.Unmarshal([]byte(out), &views))
	if len(views) != 5 {
		t.Fatalf("findings = %d, want 5", len(views))
	}
	byHost := map[string][]server.FindingView{}
	for _, v := range views {
		byHost[v.Hostname] = append(byHost[v.Hostname], v)
		if v.DueAt.IsZero() || v.SLAStatus == "" || v.Why.Text == "" {
			t.Errorf("finding without due time, status or reason: %+v", v)
		}
	}
	now := e.clock.Now()
	if c := byHost["dc-1"][0]; !c.DueAt.Equal(now.Add(12*time.Hour)) || c.Tier != "critical" || c.Why.Code != "deploying" {
		t.Errorf("dc-1: due %v tier %s why %+v", c.DueAt, c.Tier, c.Why)
	}
	if p := byHost["pacs-1"][0]; p.Why.Code != "not_approved" || !strings.Contains(p.Why.Text, "manual approval only") || !p.DueAt.Equal(now.Add(30*24*time.Hour)) {
		t.Errorf("pacs-1: %+v due %v", p.Why, p.DueAt)
	}
	table := e.cli(auditor, "findings", "list", "--client", clientID)
	if !strings.Contains(table, "WHY NOT PATCHED") || !strings.Contains(table, "pacs-1") || !strings.Contains(table, "on_track") {
		t.Errorf("findings table:\n%s", table)
	}
	// Approve the do-not-disrupt update by hand; declining needs a reason.
	if code, _, errOut := e.try(tech, "approvals", "decline", "--client", clientID, string(byHost["pacs-1"][0].UpdateID)); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Errorf("decline without reason: %d %s", code, errOut)
	}
	e.cli(tech, "approvals", "approve", "--client", clientID, string(byHost["pacs-1"][0].UpdateID))
	if v := findingOf(t, e, auditor, pacs.ID)[0]; v.Why.Code != "waiting_for_window" || !strings.Contains(v.Why.Text, "weekend on Sat 14 Nov 2026 22:00 CST") {
		t.Errorf("pacs-1 after approval: %+v", v.Why)
	}

	// 3. An exception from request through sign-off to expiry.
	expires := now.Add(30 * 24 * time.Hour)
	excID := strings.TrimSpace(strings.Split(e.cli(tech, "exceptions", "request", "--client", clientID, "--asset", string(xray.ID), "--all-updates",
		"--lane", "legacy", "--reason", "Runs the X-ray modality software, certified on this build only", "--ticket", "PSA-4411",
		"--control", "network_segmentation:modality VLAN, no internet", "--control", "extra_monitoring:EDR alerts to the SOC",
		"--expires", expires.Format(time.RFC3339)), "\n")[0])
	if !strings.HasPrefix(excID, "exc_") {
		t.Fatalf("exception id = %q", excID)
	}
	if v := findingOf(t, e, auditor, xray.ID); v[0].Why.Code != "exception_pending" || v[0].SLAStatus == patch.SLAPaused {
		t.Errorf("before sign-off: %+v %s", v[0].Why, v[0].SLAStatus)
	}
	if code, _, errOut := e.try(tech, "exceptions", "sign-off", excID); code != 1 || !strings.Contains(errOut, "does not allow") {
		t.Errorf("technician signs off: %d %s", code, errOut)
	}
	e.clock.Advance(2 * time.Hour)
	if out := e.cli(ownerTok, "exceptions", "sign-off", excID, "--note", "Agreed at the QBR"); !strings.Contains(out, "is active") {
		t.Errorf("sign-off: %s", out)
	}
	for _, v := range findingOf(t, e, auditor, xray.ID) {
		if v.SLAStatus != patch.SLAPaused || v.Why.Code != "legacy_lane" || !strings.Contains(v.Why.Text, "signed off by Dr. Rivera") {
			t.Errorf("excepted finding: %s %+v", v.SLAStatus, v.Why)
		}
	}
	if out := e.cli(auditor, "exceptions", "list", "--client", clientID); !strings.Contains(out, "active") || !strings.Contains(out, "Dr. Rivera") || !strings.Contains(out, "PSA-4411") {
		t.Errorf("register:\n%s", out)
	}
	// Past the hard expiry, the evaluator expires it and raises an alert;
	// the findings are back under the SLA.
	e.clock.Set(expires.Add(time.Minute))
	e.cli(tech, "api", "POST", "/api/v1/clients/"+clientID+"/evaluate")
	if out := e.cli(auditor, "exceptions", "list", "--client", clientID, "--state", "expired"); !strings.Contains(out, excID) {
		t.Errorf("expired register:\n%s", out)
	}
	for _, v := range findingOf(t, e, auditor, xray.ID) {
		if v.SLAStatus == patch.SLAPaused || v.Exception != nil {
			t.Errorf("still excepted after expiry: %+v", v.Finding)
		}
	}
	var alerts httpapi.Page[*patch.Alert]
	must(t, json.Unmarshal([]byte(e.cli(auditor, "api", "GET", "/api/v1/alerts?client_id="+clientID)), &alerts))
	if alerts.Total != 1 || alerts.Items[0].Kind != patch.AlertExceptionExpired || !strings.Contains(alerts.Items[0].Message, "PSA-4411") {
		t.Errorf("alerts = %+v", alerts)
	}

	// Every step is in the audit log …
	var audit httpapi.Page[*patch.AuditEntry]
	must(t, json.Unmarshal([]byte(e.cli(e.admin, "api", "GET", "/api/v1/audit?client_id="+clientID+"&limit=1000")), &audit))
	got := map[string]int{}
	for _, a := range audit.Items {
		got[a.Action]++
	}
	for action, n := range map[string]int{"policy.update": 2, "update.approve": 1, "exception.request": 1, "exception.sign_off": 1, "exception.expire": 1} {
		if got[action] != n {
			t.Errorf("audit has %d %s entries, want %d (all: %v)", got[action], action, n, got)
		}
	}
	// … and in the evidence chain.
	ev, _, err := e.db.FindEvidence(ctx, patch.EvidenceFilter{ClientID: client, Types: []string{patch.EventApproved, patch.EventExcepted, patch.EventExceptionSignedOff, patch.EventExceptionExpired}})
	must(t, err)
	types := map[string]int{}
	for _, x := range ev {
		types[x.Type]++
	}
	if types[patch.EventExcepted] != 1 || types[patch.EventExceptionSignedOff] != 1 || types[patch.EventExceptionExpired] != 1 || types[patch.EventApproved] < 2 {
		t.Errorf("evidence = %v", types)
	}
}

func findingOf(t *testing.T, e *policyE2E, token string, asset patch.AssetID) []server.FindingView {
	t.Helper()
	var vs []server.FindingView
	must(t, json.Unmarshal([]byte(e.cli(token, "findings", "list", "--asset", string(asset), "--json")), &vs))
	if len(vs) == 0 {
		t.Fatalf("no findings for %s", asset)
	}
	return vs
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzPolicyYAML feeds the policy file parser and the line locator
// arbitrary input: they must never panic, and every error they report for
// a file carries a line when the decoder gave one.
func FuzzPolicyYAML(f *testing.F) {
	seed, _ := policyYAML(&patch.Policy{ClientID: "cli_x", Tiers: []patch.Tier{{Key: "critical", Name: "Critical", Levels: []patch.Level{"critical"}}},
		SLA: patch.SLA{Anchor: "first_seen", DueSoonPct: 25, Matrix: []patch.SLACell{{Class: "server", Tier: "critical", Deadline: "24h", Windows: []string{"nightly"}}}}})
	f.Add(seed, "sla.matrix[0].windows[0]")
	f.Add([]byte("client_id: [\n"), "")
	f.Add([]byte("- a\n- b\n"), "tiers[3]")
	f.Add([]byte("tiers: {key: x}\nsla: 7\n"), "sla.matrix[0].deadline")
	f.Add([]byte("version: x\nfoo: 1\n"), "version")
	f.Fuzz(func(t *testing.T, src []byte, path string) {
		p, root, err := parsePolicyYAML(src)
		if err != nil {
			if fileError("f.yaml", err).Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if p == nil || root == nil {
			t.Fatal("no policy and no error")
		}
		if l := lineOf(root, path); l < 0 || l > strings.Count(string(src), "\n")+1 {
			t.Fatalf("lineOf(%q) = %d outside the file", path, l)
		}
	})
}

func TestLineOf(t *testing.T) {
	src := "client_id: cli_x\nsla:\n  due_soon_pct: 25\n  matrix:\n    - class: server\n      deadline: 24h\n    - class: workstation\n      windows:\n        - nightly\n"
	_, root, err := parsePolicyYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"":                         1,
		"client_id":                1,
		"sla":                      2,
		"sla.due_soon_pct":         3,
		"sla.matrix[0].deadline":   6,
		"sla.matrix[1]":            7,
		"sla.matrix[1].windows[0]": 9,
		"sla.matrix[1].deadline":   7, // missing: its parent item
		"sla.matrix[5].deadline":   4, // no such item: the list
		"rings[0].key":             1, // nothing: the document
	} {
		if got := lineOf(root, path); got != want {
			t.Errorf("lineOf(%q) = %d, want %d", path, got, want)
		}
	}
}
