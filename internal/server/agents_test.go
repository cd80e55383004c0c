package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/postgres/postgrestest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
)

func TestCheckInInterval(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts server.AgentOptions
		n    int
		want time.Duration
	}{
		{"EmptyFleet", server.AgentOptions{}, 0, 5 * time.Minute},
		{"SmallFleet", server.AgentOptions{}, 2000, 5 * time.Minute},
		{"AtTheRate", server.AgentOptions{}, 3000, 5 * time.Minute},
		{"LargeFleet", server.AgentOptions{}, 30000, 50 * time.Minute},
		{"CustomRate", server.AgentOptions{MaxCheckInRate: 100, MinCheckIn: time.Minute}, 30000, 5 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := server.CheckInInterval(tt.opts, tt.n); got != tt.want {
				t.Errorf("CheckInInterval(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

// agentServer is a server with every agent store, on db.
func agentServer(t *testing.T, db *sqlstore.DB, clock *patchtest.Clock, jitter float64) *server.Server {
	t.Helper()
	db.Now = clock.Now
	return server.New(server.Stores{
		MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Findings: db, Keys: db,
	}, server.Options{Now: clock.Now, Agents: server.AgentOptions{PublicURL: "https://p.example", Jitter: func() float64 { return jitter }}})
}

func signed(path string, keyID string, key ed25519.PrivateKey, body any, at time.Time) server.AgentRequest {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, "https://p.example"+path, nil)
	agentapi.SignRequest(req, b, keyID, key, at)
	return server.AgentRequest{Method: http.MethodPost, URI: path, Header: req.Header, Body: b, RemoteAddr: "192.0.2.1"}
}

func openSQLite(t *testing.T) *sqlstore.DB {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestAgentHostileText sends text PostgreSQL would refuse (NUL characters;
// invalid UTF-8 arrives as U+FFFD from the JSON decoder) in the free-text
// fields an agent controls: the check-in must be stored, cleaned, on both
// engines.
func TestAgentHostileText(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *sqlstore.DB{
		"SQLite":     openSQLite,
		"PostgreSQL": func(t *testing.T) *sqlstore.DB { return postgrestest.Open(t) },
	} {
		t.Run(name, func(t *testing.T) {
			clock := patchtest.NewClock(time.Now())
			srv := agentServer(t, open(t), clock, 0)
			admin := patchtest.AdminContext(t.Context())
			cl, err := srv.CreateClient(admin, server.ClientInput{Name: "Clinic"})
			if err != nil {
				t.Fatal(err)
			}
			sec, err := srv.CreateEnrollmentSecret(admin, server.EnrollmentSecretInput{ClientID: cl.ID, Name: "x"})
			if err != nil {
				t.Fatal(err)
			}
			bad := "a\x00b\x01\xff\xfec"
			long := strings.Repeat("x", 20<<10)
			pub, key, _ := ed25519.GenerateKey(rand.Reader)
			inv := agentapi.Inventory{Hostname: "Host\x00" + bad, OS: agentapi.OS{Family: "linux", Name: bad, Kernel: bad}, Hardware: agentapi.Hardware{Serial: bad, HardwareUUID: bad},
				Software: []agentapi.Software{{Name: bad, Version: bad, Vendor: bad, Source: bad}}, Problems: []string{bad}}
			resp, err := srv.EnrollAgent(t.Context(), signed(agentapi.PathEnroll, agentapi.EnrollKeyID, key,
				agentapi.EnrollRequest{ProtocolVersion: 1, AgentVersion: bad, Secret: sec.Secret, PublicKey: agentapi.EncodePublicKey(pub), Inventory: inv, InventoryHash: bad}, clock.Now()))
			if err != nil {
				t.Fatalf("EnrollAgent: %v", err)
			}
			req := signed(agentapi.PathCheckIn, resp.AgentID, key, agentapi.CheckInRequest{ProtocolVersion: 1 << 40, AgentVersion: bad, InventoryHash: "h",
				Inventory: &inv, Status: agentapi.AgentStatus{LastError: bad, OutboxLength: 1 << 50},
				Results: []agentapi.Result{{ID: "res-1", Kind: agentapi.JobScan, Status: agentapi.ResultPartial, Error: bad, FinishedAt: clock.Now(),
					Scan: &agentapi.ScanReport{Sources: []string{"apt"}, Failed: map[string]string{"dnf": bad},
						Missing: []agentapi.Update{{Source: "apt", ID: bad, Package: bad, Title: bad, AvailableVersion: bad, InstalledVersion: long, CVEs: []string{bad}, Size: -5}}}}},
			}, clock.Now())
			actx, ag, err := srv.AuthenticateAgentRequest(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			out, err := srv.AgentCheckIn(actx, ag, req)
			if err != nil {
				t.Fatalf("AgentCheckIn: %v", err)
			}
			if len(out.Acknowledged) != 1 {
				t.Errorf("check-in = %+v", out)
			}
			fs, _, err := srv.AssetFindings(admin, patch.FindingFilter{AssetID: (*patch.AssetID)(&resp.AssetID)})
			if err != nil || len(fs) != 1 || strings.ContainsRune(fs[0].Update.Title, 0) || fs[0].Update.Title != "ab\uFFFD\uFFFDc" {
				t.Errorf("findings = %+v (%v)", fs, err)
			}
			a, err := srv.Asset(admin, patch.AssetID(resp.AssetID))
			if err != nil || a.Hostname != "hostab--c" {
				t.Errorf("asset hostname = %q (%v)", a.Hostname, err)
			}
		})
	}
}

// TestAgentRequestChecks walks AuthenticateAgentRequest's checks in order.
func TestAgentRequestChecks(t *testing.T) {
	clock := patchtest.NewClock(time.Now())
	srv := agentServer(t, openSQLite(t), clock, 0.5)
	admin := patchtest.AdminContext(t.Context())
	cl, _ := srv.CreateClient(admin, server.ClientInput{Name: "Clinic"})
	sec, _ := srv.CreateEnrollmentSecret(admin, server.EnrollmentSecretInput{ClientID: cl.ID, Name: "x"})
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	resp, err := srv.EnrollAgent(t.Context(), signed(agentapi.PathEnroll, agentapi.EnrollKeyID, key,
		agentapi.EnrollRequest{ProtocolVersion: 1, Secret: sec.Secret, PublicKey: agentapi.EncodePublicKey(pub), Inventory: agentapi.Inventory{Hostname: "h", OS: agentapi.OS{Family: "linux"}}}, clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// Jitter 0.5 adds an eighth of the 5-minute base.
	if resp.NextCheckInSeconds != 337 {
		t.Errorf("NextCheckInSeconds = %d, want 337", resp.NextCheckInSeconds)
	}
	ok := signed(agentapi.PathCheckIn, resp.AgentID, key, agentapi.CheckInRequest{}, clock.Now())
	for _, tt := range []struct {
		name   string
		req    server.AgentRequest
		reason string
	}{
		{"Unsigned", server.AgentRequest{Method: "POST", URI: agentapi.PathCheckIn, Header: http.Header{}}, server.RefusedUnsigned},
		{"SkewFirst", signed(agentapi.PathCheckIn, "agt_nobody", key, agentapi.CheckInRequest{}, clock.Now().Add(-6*time.Minute)), server.RefusedClockSkew},
		{"UnknownAgent", signed(agentapi.PathCheckIn, "agt_01JZZZZZZZZZZZZZZZZZZZZZZZ", key, agentapi.CheckInRequest{}, clock.Now()), server.RefusedUnknownAgent},
		{"WrongURI", server.AgentRequest{Method: ok.Method, URI: agentapi.PathResults, Header: ok.Header, Body: ok.Body}, server.RefusedBadSignature},
		{"Accepted", ok, ""},
		{"Replay", ok, server.RefusedReplay},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ag, err := srv.AuthenticateAgentRequest(t.Context(), tt.req)
			if got := server.RefusalReason(err); got != tt.reason {
				t.Fatalf("refusal = %q (%v), want %q", got, err, tt.reason)
			}
			if tt.reason == "" && (err != nil || string(ag.ID) != resp.AgentID) {
				t.Errorf("AuthenticateAgentRequest = %v, %v", ag, err)
			}
		})
	}
	// A nonce is forgotten only after requests with its timestamp are too
	// old to pass the skew check anyway.
	clock.Advance(7 * time.Minute)
	if _, _, err := srv.AuthenticateAgentRequest(t.Context(), ok); server.RefusalReason(err) != server.RefusedClockSkew {
		t.Errorf("an old replay = %v, want refused for skew", err)
	}
}
