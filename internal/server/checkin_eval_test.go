package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
)

// TestCheckInEvaluates checks that a check-in carrying a scan leaves the
// asset's findings with their SLA fields and its monitors evaluated at
// once, without waiting for the background loops.
func TestCheckInEvaluates(t *testing.T) {
	db := openSQLite(t)
	clock := patchtest.NewClock(time.Now())
	db.Now = clock.Now
	srv := server.New(server.Stores{
		MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Findings: db, Keys: db,
		Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db,
	}, server.Options{Now: clock.Now, Agents: server.AgentOptions{PublicURL: "https://p.example", Jitter: func() float64 { return 0 }}})
	admin := patchtest.AdminContext(t.Context())
	cl, err := srv.CreateClient(admin, server.ClientInput{Name: "Clinic"})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := srv.CreateEnrollmentSecret(admin, server.EnrollmentSecretInput{ClientID: cl.ID, Name: "servers"})
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	inv := agentapi.Inventory{Hostname: "srv-ehr", OS: agentapi.OS{Family: "linux", Name: "Debian GNU/Linux 12 (bookworm)", Version: "12"}, Hardware: agentapi.Hardware{HardwareUUID: "4c4c4544-0042-3510-8052-b4c04f4e3732"}}
	enr, err := srv.EnrollAgent(t.Context(), signed(agentapi.PathEnroll, agentapi.EnrollKeyID, key,
		agentapi.EnrollRequest{ProtocolVersion: agentapi.ProtocolVersion, AgentVersion: "test", Secret: sec.Secret, PublicKey: agentapi.EncodePublicKey(pub), Inventory: inv, InventoryHash: "h1"}, clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	req := signed(agentapi.PathCheckIn, enr.AgentID, key, agentapi.CheckInRequest{ProtocolVersion: agentapi.ProtocolVersion, AgentVersion: "test", InventoryHash: "h1",
		Results: []agentapi.Result{{ID: "scan-1", Kind: agentapi.JobScan, Status: agentapi.ResultSucceeded, FinishedAt: clock.Now(),
			Scan: &agentapi.ScanReport{Sources: []string{"apt"}, Missing: []agentapi.Update{{Source: "apt", ID: "openssl=3.0.15-1~deb12u1", Package: "openssl",
				Title: "openssl", Classification: "security", InstalledVersion: "3.0.14-1~deb12u2", AvailableVersion: "3.0.15-1~deb12u1"}}}}},
	}, clock.Now())
	actx, ag, err := srv.AuthenticateAgentRequest(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AgentCheckIn(actx, ag, req); err != nil {
		t.Fatal(err)
	}
	asset := patch.AssetID(enr.AssetID)
	fs, _, err := db.FindFindings(admin, patch.FindingFilter{AssetID: &asset})
	if err != nil || len(fs) != 1 {
		t.Fatalf("findings = %v, %v", fs, err)
	}
	if fs[0].EvaluatedAt.IsZero() || fs[0].Tier == "" || fs[0].DueAt.IsZero() || fs[0].SLAStatus == "" {
		t.Errorf("finding not evaluated at check-in: %+v", fs[0])
	}
	_, n, err := srv.MonitorStates(admin, patch.MonitorFilter{AssetID: &asset})
	if err != nil || n == 0 {
		t.Errorf("no monitor states after check-in: %d %v", n, err)
	}
}
