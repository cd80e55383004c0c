package main

import (
	"encoding/csv"
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

// TestComplianceCLI drives the compliance commands against a real server
// over HTTP: a client with an overdue update, its ratings, monitors,
// snapshots and the scorecard.
func TestComplianceCLI(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC))
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Findings: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db, Agents: db, Inventory: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db}, server.Options{Now: clock.Now})
	m := httpapi.NewMetrics(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m}).Handler())
	ts := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux))
	t.Cleanup(ts.Close)
	admin := patchtest.AdminContext(t.Context())
	tok, err := srv.CreateToken(admin, server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.CreateClient(admin, server.ClientInput{Name: "Riverside Clinic"})
	if err != nil {
		t.Fatal(err)
	}
	a := patchtest.Asset(c.ID, "srv-1", patchtest.Linux)
	a.Managed, a.Source, a.LastSeen = true, patch.SourceAgent, clock.Now()
	if err := db.CreateAsset(admin, a); err != nil {
		t.Fatal(err)
	}
	scan := func() {
		t.Helper()
		_, err := db.RecordScan(admin, patch.ScanResult{AssetID: a.ID, At: clock.Now(), Sources: []patch.UpdateSource{"apt"},
			Missing: []patch.ScannedUpdate{{Update: patch.Update{Source: "apt", VendorID: "openssl=3", Package: "openssl", Title: "openssl 3",
				Version: "3", Classification: "security", VendorSeverity: "high"}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	scan()
	if _, err := srv.EvaluateClient(admin, c.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * 24 * time.Hour) // past the 14-day deadline of a high update on a server
	scan()
	env := map[string]string{"PATCHRING_SERVER": ts.URL, "PATCHRING_TOKEN": tok.Secret}
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, "", args...)
		if code != 0 {
			t.Fatalf("patchring %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	out := run("compliance", "ratings", "--client", string(c.ID), "--dim", "kind")
	if !strings.Contains(out, "server") || !strings.Contains(out, "0.00%") || !strings.Contains(out, "95.00%") || !strings.Contains(out, "NO") {
		t.Errorf("ratings:\n%s", out)
	}
	if _, err := srv.EvaluateAssetCompliance(admin, a.ID); err != nil {
		t.Fatal(err)
	}
	if out := run("compliance", "monitors", "--client", string(c.ID)); !strings.Contains(out, "UPDATES – Out of Date") || !strings.Contains(out, "srv-1") {
		t.Errorf("monitors:\n%s", out)
	}
	if out := run("compliance", "snapshots", "--days", "5"); !strings.Contains(out, "5 days taken") {
		t.Errorf("snapshots: %s", out)
	}
	if out := run("compliance", "scorecard"); !strings.Contains(out, "Riverside Clinic") || !strings.Contains(out, "Week of 2026-11-16") {
		t.Errorf("scorecard:\n%s", out)
	}
	recs, err := csv.NewReader(strings.NewReader(run("compliance", "scorecard", "--csv"))).ReadAll()
	if err != nil || len(recs) != 5 { // header, MSP and the client, two weeks each
		t.Errorf("scorecard CSV = %v, %v", recs, err)
	}
	if code, _, errOut := runCLI(t, env, "", "compliance", "snapshots", "--days", "0"); code != 2 || !strings.Contains(errOut, "--days") {
		t.Errorf("--days 0: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "", "compliance", "monitors"); code != 2 || !strings.Contains(errOut, "--client") {
		t.Errorf("monitors without --client: exit %d, %s", code, errOut)
	}
}
