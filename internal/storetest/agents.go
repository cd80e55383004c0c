package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

// agentFixture adds a clock (also the store's) and an enrollment secret of
// client A to the fixture.
type agentFixture struct {
	*fixture
	clock  *patchtest.Clock
	secret string
	sec    *patch.EnrollmentSecret
}

func newAgentFixture(t *testing.T, open Opener) *agentFixture {
	t.Helper()
	f := &agentFixture{fixture: newFixture(t, open), clock: patchtest.NewClock(time.Time{})}
	f.db.Now = f.clock.Now
	f.sec, f.secret = f.newSecret(t, f.a.ID, func(e *patch.EnrollmentSecret) { e.SiteID = f.sa.ID })
	return f
}

func (f *agentFixture) newSecret(t *testing.T, client patch.ClientID, opts ...func(*patch.EnrollmentSecret)) (*patch.EnrollmentSecret, string) {
	t.Helper()
	secret := patch.NewSecret(patch.EnrollmentSecretPrefix)
	e := &patch.EnrollmentSecret{
		ID:       patch.EnrollmentSecretID(patch.NewID(patch.PrefixEnrollmentSecret, time.Now())),
		ClientID: client, Name: "Office PCs", Hash: patch.HashSecret(secret), Hint: patch.SecretHint(secret),
	}
	for _, o := range opts {
		o(e)
	}
	must(t, f.db.CreateEnrollmentSecret(f.admin, e))
	return e, secret
}

// enrollment builds an enrollment of a Debian machine with the given
// hostname and identity keys.
func (f *agentFixture) enrollment(secret, hostname string, keys ...string) patch.Enrollment {
	id := patch.AgentID(patch.NewID(patch.PrefixAgent, time.Now()))
	doc, _ := json.Marshal(map[string]any{"hostname": hostname, "os": map[string]string{"family": "linux"}})
	return patch.Enrollment{
		SecretHash: patch.HashSecret(secret),
		Agent: patch.Agent{ID: id, PublicKey: "ed25519:test-" + string(id), Version: "1.0.0", Protocol: 1, RemoteAddr: "192.0.2.10",
			ExpectedBy: f.clock.Now().Add(10 * time.Minute)},
		Nonce:        "nonce-" + string(id),
		NonceExpires: f.clock.Now().Add(10 * time.Minute),
		Inventory: patch.AgentInventory{
			Hash: "hash-1", CollectedAt: f.clock.Now(), Document: doc,
			Facts: patch.AssetFacts{
				Hostname: hostname, FQDN: hostname + ".corp.example",
				OS:           patch.OS{Family: patch.OSLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Kernel: "6.1.0-26-amd64", Arch: "amd64"},
				IPAddresses:  []string{"192.0.2.10", "not-an-ip"},
				MACAddresses: []string{"00-1A-2B-3C-4D-5E"},
				SerialNumber: "SN-" + hostname, Role: patch.RoleServer, IdentityKeys: keys,
			},
			Software: []patch.Software{
				{Name: "openssl", Version: "3.0.15-1~deb12u1", Source: "dpkg", Arch: "amd64", Vendor: "Debian OpenSSL Team"},
				{Name: "curl", Version: "7.88.1-10+deb12u8", Source: "dpkg", Arch: "amd64"},
				{Name: "curl", Version: "7.88.1-10+deb12u8", Source: "dpkg", Arch: "amd64"}, // duplicates are stored once
			},
		},
	}
}

// agentContext acts as an enrolled agent.
func agentContext(ctx context.Context, a *patch.Agent) context.Context {
	return patch.NewContextWithActor(ctx, a.Actor())
}

func (f *agentFixture) count(t *testing.T) (agents, assets int) {
	t.Helper()
	_, agents, err := f.db.FindAgents(f.admin, patch.AgentFilter{})
	must(t, err)
	_, assets, err = f.db.FindAssets(f.admin, patch.AssetFilter{})
	must(t, err)
	return agents, assets
}

func testEnrollmentSecrets(t *testing.T, open Opener) {
	f := newAgentFixture(t, open)
	t.Run("Create", func(t *testing.T) {
		got, err := f.db.FindEnrollmentSecretByID(f.admin, f.sec.ID)
		must(t, err)
		if got.Hash != f.sec.Hash || got.SiteID != f.sa.ID || got.CreatedBy != "test-admin" || !got.CreatedAt.Equal(f.clock.Now()) || got.Uses != 0 {
			t.Errorf("FindEnrollmentSecretByID = %+v", got)
		}
		e := &patch.EnrollmentSecret{ID: "enr_x", ClientID: f.a.ID, Name: "x", Hash: "h1", Class: "nope"}
		wantField(t, f.db.CreateEnrollmentSecret(f.admin, e), patch.KindInvalid, "class")
		e = &patch.EnrollmentSecret{ID: "enr_y", ClientID: f.a.ID, Name: "y", Hash: "h2", SiteID: f.sb.ID}
		wantField(t, f.db.CreateEnrollmentSecret(f.admin, e), patch.KindInvalid, "site_id")
		e = &patch.EnrollmentSecret{ID: "enr_z", ClientID: f.a.ID, Name: " ", Hash: "h3"}
		wantField(t, f.db.CreateEnrollmentSecret(f.admin, e), patch.KindInvalid, "name")
		e = &patch.EnrollmentSecret{ID: "enr_w", ClientID: f.a.ID, Name: "w", Hash: "h4", MaxUses: -1}
		wantField(t, f.db.CreateEnrollmentSecret(f.admin, e), patch.KindInvalid, "max_uses")
	})
	t.Run("ActiveFilter", func(t *testing.T) {
		used, _ := f.newSecret(t, f.a.ID, func(e *patch.EnrollmentSecret) { e.MaxUses = 1 })
		expiring, _ := f.newSecret(t, f.a.ID, func(e *patch.EnrollmentSecret) { e.ExpiresAt = f.clock.Now().Add(time.Hour) })
		_, s := f.newSecret(t, f.a.ID, func(e *patch.EnrollmentSecret) { e.MaxUses = 1 })
		_, err := f.db.Enroll(t.Context(), f.enrollment(s, "ws-used", "uuid:used"))
		must(t, err)
		f.clock.Advance(2 * time.Hour)
		active := func(b bool) map[patch.EnrollmentSecretID]bool {
			es, _, err := f.db.FindEnrollmentSecrets(f.admin, patch.EnrollmentSecretFilter{ClientID: &f.a.ID, Active: &b})
			must(t, err)
			ids := map[patch.EnrollmentSecretID]bool{}
			for _, e := range es {
				ids[e.ID] = true
			}
			return ids
		}
		on, off := active(true), active(false)
		if !on[f.sec.ID] || !on[used.ID] || on[expiring.ID] || !off[expiring.ID] || len(off) != 2 {
			t.Errorf("active = %v, inactive = %v", on, off)
		}
	})
	t.Run("Revoke", func(t *testing.T) {
		e, _ := f.newSecret(t, f.a.ID)
		got, err := f.db.RevokeEnrollmentSecret(f.admin, e.ID)
		must(t, err)
		if !got.RevokedAt.Equal(f.clock.Now()) {
			t.Errorf("RevokedAt = %v", got.RevokedAt)
		}
		f.clock.Advance(time.Minute)
		again, err := f.db.RevokeEnrollmentSecret(f.admin, e.ID)
		must(t, err)
		if !again.RevokedAt.Equal(got.RevokedAt) {
			t.Errorf("second revoke moved RevokedAt to %v", again.RevokedAt)
		}
		id := string(e.ID)
		entries, _, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{EntityID: &id})
		must(t, err)
		if len(entries) != 2 || entries[0].Action != "enrollment_secret.revoke" || entries[1].Action != "enrollment_secret.create" {
			t.Errorf("audit = %+v", entries)
		}
		for _, en := range entries {
			var m map[string]any
			must(t, json.Unmarshal(en.After, &m))
			if _, ok := m["hash"]; ok {
				t.Error("audit entry holds the secret's hash")
			}
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		_, err := f.db.FindEnrollmentSecretByID(f.ownB, f.sec.ID)
		wantKind(t, err, patch.KindNotFound)
		_, n, err := f.db.FindEnrollmentSecrets(f.ownB, patch.EnrollmentSecretFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d secrets of A", n)
		}
		_, err = f.db.RevokeEnrollmentSecret(f.ownB, f.sec.ID)
		wantKind(t, err, patch.KindNotFound)
		e := &patch.EnrollmentSecret{ID: "enr_rogue", ClientID: f.a.ID, Name: "rogue", Hash: "rogue"}
		wantKind(t, f.db.CreateEnrollmentSecret(f.ownB, e), patch.KindNotFound)
		got, err := f.db.FindEnrollmentSecretByID(f.admin, f.sec.ID)
		must(t, err)
		if !got.RevokedAt.IsZero() {
			t.Error("client owner of B revoked A's secret")
		}
	})
}

func testEnroll(t *testing.T, open Opener) {
	f := newAgentFixture(t, open)
	e := f.enrollment(f.secret, "SRV-01", "uuid:4c4c4544-0042", "serial:dell:abc")
	res, err := f.db.Enroll(t.Context(), e)
	must(t, err)
	t.Run("CreatesManagedAsset", func(t *testing.T) {
		a, err := f.db.FindAssetByID(f.admin, res.Asset.ID)
		must(t, err)
		if res.Reattached || a.ClientID != f.a.ID || a.SiteID != f.sa.ID || !a.Managed || a.Source != patch.SourceAgent ||
			a.Hostname != "srv-01" || a.FQDN != "srv-01.corp.example" || a.IdentityKey != "uuid:4c4c4544-0042" ||
			a.Role != patch.RoleServer || a.Class != patch.ClassServer || a.SerialNumber != "SN-SRV-01" ||
			len(a.IPAddresses) != 1 || a.MACAddresses[0] != "00:1a:2b:3c:4d:5e" || !a.LastSeen.Equal(f.clock.Now()) {
			t.Errorf("enrolled asset = %+v", a)
		}
		ag, err := f.db.FindAgentByID(f.admin, res.Agent.ID)
		must(t, err)
		if ag.AssetID != a.ID || ag.EnrollmentID != f.sec.ID || ag.Status != patch.AgentOnline || ag.InventoryHash != "hash-1" || ag.Hostname != "srv-01" {
			t.Errorf("agent = %+v", ag)
		}
		sec, err := f.db.FindEnrollmentSecretByID(f.admin, f.sec.ID)
		must(t, err)
		if sec.Uses != 1 || !sec.LastUsedAt.Equal(f.clock.Now()) {
			t.Errorf("secret after enrollment = %+v", sec)
		}
		inv, err := f.db.FindInventory(f.admin, a.ID)
		must(t, err)
		if inv.Hash != "hash-1" || len(inv.Document) == 0 {
			t.Errorf("inventory = %+v", inv)
		}
		sw, n, err := f.db.FindSoftware(f.admin, patch.SoftwareFilter{AssetID: &a.ID})
		must(t, err)
		if n != 2 || sw[0].Name != "curl" || sw[1].Vendor != "Debian OpenSSL Team" {
			t.Errorf("software = %d %+v", n, sw)
		}
		id := string(res.Agent.ID)
		_, n, err = f.db.FindAuditEntries(f.admin, patch.AuditFilter{EntityID: &id, Action: patchtest.Ptr("agent.enroll")})
		must(t, err)
		if n != 1 {
			t.Errorf("agent.enroll audit entries = %d, want 1", n)
		}
	})
	t.Run("Refusals", func(t *testing.T) {
		revoked, rs := f.newSecret(t, f.a.ID)
		_, err := f.db.RevokeEnrollmentSecret(f.admin, revoked.ID)
		must(t, err)
		_, es := f.newSecret(t, f.a.ID, func(e *patch.EnrollmentSecret) { e.ExpiresAt = f.clock.Now().Add(time.Minute) })
		usedUp, us := f.newSecret(t, f.a.ID, func(e *patch.EnrollmentSecret) { e.MaxUses = 1 })
		_, err = f.db.Enroll(t.Context(), f.enrollment(us, "ws-first", "uuid:first"))
		must(t, err)
		f.clock.Advance(time.Hour)
		agents, assets := f.count(t)
		for _, tt := range []struct {
			name   string
			secret string
			want   error
		}{
			{"Unknown", "pre_nope", patch.ErrSecretUnknown},
			{"Revoked", rs, patch.ErrSecretRevoked},
			{"Expired", es, patch.ErrSecretExpired},
			{"UsedUp", us, patch.ErrSecretUsedUp},
		} {
			t.Run(tt.name, func(t *testing.T) {
				en := f.enrollment(tt.secret, "ws-new", "uuid:new")
				_, err := f.db.Enroll(t.Context(), en)
				wantKind(t, err, patch.KindUnauthenticated)
				if !errors.Is(err, tt.want) {
					t.Errorf("Enroll = %v, want it to wrap %v", err, tt.want)
				}
				if a, s := f.count(t); a != agents || s != assets {
					t.Errorf("refused enrollment stored something: agents %d→%d, assets %d→%d", agents, a, assets, s)
				}
				// The refused request's nonce was not remembered either.
				en.SecretHash = patch.HashSecret(f.secret)
				res, err := f.db.Enroll(t.Context(), en)
				must(t, err)
				must(t, f.db.DeleteAsset(f.admin, res.Asset.ID))
			})
		}
		sec, err := f.db.FindEnrollmentSecretByID(f.admin, usedUp.ID)
		must(t, err)
		if sec.Uses != 1 {
			t.Errorf("refused enrollments counted: uses = %d", sec.Uses)
		}
	})
	t.Run("ReplayRefused", func(t *testing.T) {
		agents, assets := f.count(t)
		_, err := f.db.Enroll(t.Context(), e) // same key and nonce
		wantKind(t, err, patch.KindConflict)
		replay := e
		replay.Nonce = "another-nonce-same-key"
		_, err = f.db.Enroll(t.Context(), replay)
		wantField(t, err, patch.KindConflict, "public_key")
		if a, s := f.count(t); a != agents || s != assets {
			t.Errorf("replayed enrollment stored something")
		}
		ag, err := f.db.FindAgentByID(f.admin, res.Agent.ID)
		must(t, err)
		if ag.Status == patch.AgentRevoked {
			t.Error("a replayed enrollment revoked the genuine agent")
		}
	})
	t.Run("ReenrollReattaches", func(t *testing.T) {
		_, assets := f.count(t)
		f.clock.Advance(time.Hour)
		// The reinstalled OS has a new machine id but the same hardware.
		again := f.enrollment(f.secret, "srv-01-rebuilt", "serial:dell:abc", "machine-id:new")
		res2, err := f.db.Enroll(t.Context(), again)
		must(t, err)
		if !res2.Reattached || res2.Asset.ID != res.Asset.ID || len(res2.Revoked) != 1 || res2.Revoked[0] != res.Agent.ID {
			t.Fatalf("re-enrollment = %+v", res2)
		}
		if _, s := f.count(t); s != assets {
			t.Errorf("re-enrollment created an asset: %d → %d", assets, s)
		}
		old, err := f.db.FindAgentByID(f.admin, res.Agent.ID)
		must(t, err)
		if old.Status != patch.AgentRevoked || old.RevokedReason == "" {
			t.Errorf("old agent = %+v, want revoked", old)
		}
		_, err = f.db.AuthenticateAgent(t.Context(), res.Agent.ID)
		wantKind(t, err, patch.KindForbidden)
		a, err := f.db.FindAssetByID(f.admin, res.Asset.ID)
		must(t, err)
		// The best key it still has (the serial) is kept: the UUID it no
		// longer reports does not identify it anymore.
		if a.Hostname != "srv-01-rebuilt" || a.IdentityKey != "serial:dell:abc" {
			t.Errorf("re-attached asset = %+v", a)
		}
	})
	t.Run("AdoptsHandRegisteredAsset", func(t *testing.T) {
		manual := patchtest.Asset(f.a.ID, "reception-pc")
		must(t, f.db.CreateAsset(f.admin, manual))
		res, err := f.db.Enroll(t.Context(), f.enrollment(f.secret, "RECEPTION-PC", "uuid:reception"))
		must(t, err)
		if !res.Reattached || res.Asset.ID != manual.ID || !res.Asset.Managed || res.Asset.Class != patch.ClassWorkstation {
			t.Errorf("enrollment of a registered machine = %+v", res.Asset)
		}
	})
	t.Run("SameHardwareOtherClient", func(t *testing.T) {
		_, sb := f.newSecret(t, f.b.ID)
		res, err := f.db.Enroll(t.Context(), f.enrollment(sb, "srv-01", "serial:dell:abc"))
		must(t, err)
		if res.Reattached || res.Asset.ClientID != f.b.ID {
			t.Errorf("enrollment into B attached to %+v", res.Asset)
		}
	})
}

func testAgents(t *testing.T, open Opener) {
	f := newAgentFixture(t, open)
	res, err := f.db.Enroll(t.Context(), f.enrollment(f.secret, "srv-01", "uuid:1"))
	must(t, err)
	ag := res.Agent
	actx := agentContext(t.Context(), ag)
	t.Run("Authenticate", func(t *testing.T) {
		got, err := f.db.AuthenticateAgent(t.Context(), ag.ID)
		must(t, err)
		if got.PublicKey != ag.PublicKey || got.ClientID != f.a.ID {
			t.Errorf("AuthenticateAgent = %+v", got)
		}
		_, err = f.db.AuthenticateAgent(t.Context(), "agt_01JUNKNOWNUNKNOWNUNKNOWN00")
		wantKind(t, err, patch.KindUnauthenticated)
		_, err = f.db.AuthenticateAgent(t.Context(), "'; DROP TABLE agents; --")
		wantKind(t, err, patch.KindUnauthenticated)
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		ctx := t.Context()
		for name, call := range map[string]func() error{
			"FindAgents":            func() error { _, _, err := f.db.FindAgents(ctx, patch.AgentFilter{}); return err },
			"FindEnrollmentSecrets": func() error { _, _, err := f.db.FindEnrollmentSecrets(ctx, patch.EnrollmentSecretFilter{}); return err },
			"FindInventory":         func() error { _, err := f.db.FindInventory(ctx, ag.AssetID); return err },
			"FindSoftware":          func() error { _, _, err := f.db.FindSoftware(ctx, patch.SoftwareFilter{}); return err },
			"FindAgentJobs":         func() error { _, _, err := f.db.FindAgentJobs(ctx, patch.AgentJobFilter{}); return err },
			"RecordCheckIn":         func() error { _, err := f.db.RecordCheckIn(ctx, patch.CheckIn{AgentID: ag.ID}); return err },
			"RecordResults":         func() error { _, err := f.db.RecordResults(ctx, nil); return err },
			"UseNonce":              func() error { return f.db.UseNonce(ctx, "n", f.clock.Now()) },
			"RevokeAgent":           func() error { _, err := f.db.RevokeAgent(ctx, ag.ID, ""); return err },
		} {
			t.Run(name, func(t *testing.T) { wantKind(t, call(), patch.KindUnauthenticated) })
		}
	})
	t.Run("Nonces", func(t *testing.T) {
		must(t, f.db.UseNonce(actx, "n-1", f.clock.Now().Add(10*time.Minute)))
		wantKind(t, f.db.UseNonce(actx, "n-1", f.clock.Now().Add(10*time.Minute)), patch.KindConflict)
		other, err := f.db.Enroll(t.Context(), f.enrollment(f.secret, "srv-02", "uuid:2"))
		must(t, err)
		must(t, f.db.UseNonce(agentContext(t.Context(), other.Agent), "n-1", f.clock.Now().Add(10*time.Minute)))
		wantKind(t, f.db.UseNonce(f.admin, "n-2", f.clock.Now()), patch.KindForbidden)
		// Pruning forgets expired nonces only.
		f.clock.Advance(11 * time.Minute)
		must(t, f.db.UseNonce(actx, "n-3", f.clock.Now().Add(10*time.Minute)))
		_, err = f.db.PruneAgentData(f.admin, f.clock.Now(), time.Time{})
		must(t, err)
		must(t, f.db.UseNonce(actx, "n-1", f.clock.Now().Add(10*time.Minute)))
		wantKind(t, f.db.UseNonce(actx, "n-3", f.clock.Now().Add(10*time.Minute)), patch.KindConflict)
		_, err = f.db.PruneAgentData(f.ownA, f.clock.Now(), time.Time{})
		wantKind(t, err, patch.KindForbidden)
	})
	t.Run("Status", func(t *testing.T) {
		status := func(s patch.AgentStatus) int {
			_, n, err := f.db.FindAgents(f.admin, patch.AgentFilter{ClientID: &f.a.ID, Status: &s})
			must(t, err)
			return n
		}
		// Both agents were due 10 minutes after enrolling; the clock moved 11.
		if on, off := status(patch.AgentOnline), status(patch.AgentOffline); on != 0 || off != 2 {
			t.Errorf("online %d offline %d, want 0 and 2", on, off)
		}
		_, err := f.db.RecordCheckIn(actx, patch.CheckIn{AgentID: ag.ID, ExpectedBy: f.clock.Now().Add(15 * time.Minute)})
		must(t, err)
		if on, off := status(patch.AgentOnline), status(patch.AgentOffline); on != 1 || off != 1 {
			t.Errorf("after check-in: online %d offline %d, want 1 and 1", on, off)
		}
		_, _, err = f.db.FindAgents(f.admin, patch.AgentFilter{Status: patchtest.Ptr(patch.AgentStatus("sleepy"))})
		wantField(t, err, patch.KindInvalid, "status")
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		_, err := f.db.FindAgentByID(f.ownB, ag.ID)
		wantKind(t, err, patch.KindNotFound)
		_, n, err := f.db.FindAgents(f.ownB, patch.AgentFilter{})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d agents", n)
		}
		_, err = f.db.RevokeAgent(f.ownB, ag.ID, "x")
		wantKind(t, err, patch.KindNotFound)
		_, err = f.db.FindInventory(f.ownB, ag.AssetID)
		wantKind(t, err, patch.KindNotFound)
		_, n, err = f.db.FindSoftware(f.ownB, patch.SoftwareFilter{AssetID: &ag.AssetID})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d software rows of A", n)
		}
		_, n, err = f.db.FindSoftware(f.ownA, patch.SoftwareFilter{Query: patchtest.Ptr("SSL")})
		must(t, err)
		if n != 2 {
			t.Errorf("client owner of A finds %d openssl rows, want 2 (two agents)", n)
		}
		wantKind(t, f.db.CreateAgentJob(f.ownB, &patch.AgentJob{ID: "job_x", AgentID: ag.ID, Kind: "scan", ExpiresAt: f.clock.Now().Add(time.Hour)}), patch.KindNotFound)
		_, n, err = f.db.FindAgentJobs(f.ownB, patch.AgentJobFilter{AgentID: &ag.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d jobs", n)
		}
		// An agent of B cannot report as A's agent.
		_, sb := f.newSecret(t, f.b.ID)
		rb, err := f.db.Enroll(t.Context(), f.enrollment(sb, "b-pc", "uuid:b"))
		must(t, err)
		_, err = f.db.RecordCheckIn(agentContext(t.Context(), rb.Agent), patch.CheckIn{AgentID: ag.ID})
		wantKind(t, err, patch.KindForbidden)
	})
	t.Run("Revoke", func(t *testing.T) {
		other, err := f.db.Enroll(t.Context(), f.enrollment(f.secret, "srv-03", "uuid:3"))
		must(t, err)
		job := &patch.AgentJob{ID: patch.AgentJobID(patch.NewID(patch.PrefixAgentJob, time.Now())), AgentID: other.Agent.ID, Kind: "scan", ExpiresAt: f.clock.Now().Add(time.Hour)}
		must(t, f.db.CreateAgentJob(f.admin, job))
		got, err := f.db.RevokeAgent(f.admin, other.Agent.ID, "laptop stolen")
		must(t, err)
		if got.Status != patch.AgentRevoked || got.RevokedReason != "laptop stolen" {
			t.Errorf("RevokeAgent = %+v", got)
		}
		_, err = f.db.AuthenticateAgent(t.Context(), other.Agent.ID)
		wantKind(t, err, patch.KindForbidden)
		_, err = f.db.RecordCheckIn(agentContext(t.Context(), other.Agent), patch.CheckIn{AgentID: other.Agent.ID})
		wantKind(t, err, patch.KindForbidden)
		_, err = f.db.RecordResults(agentContext(t.Context(), other.Agent), nil)
		wantKind(t, err, patch.KindForbidden)
		js, _, err := f.db.FindAgentJobs(f.admin, patch.AgentJobFilter{ID: &job.ID})
		must(t, err)
		if js[0].State != patch.JobExpired {
			t.Errorf("job of revoked agent = %s, want expired", js[0].State)
		}
		wantKind(t, f.db.CreateAgentJob(f.admin, &patch.AgentJob{ID: "job_y", AgentID: other.Agent.ID, Kind: "scan", ExpiresAt: f.clock.Now().Add(time.Hour)}), patch.KindConflict)
	})
	t.Run("DeleteAsset", func(t *testing.T) {
		other, err := f.db.Enroll(t.Context(), f.enrollment(f.secret, "srv-04", "uuid:4"))
		must(t, err)
		_, err = f.db.RecordCheckIn(agentContext(t.Context(), other.Agent), patch.CheckIn{AgentID: other.Agent.ID,
			Results: []patch.AgentResult{scanResult("res-del", f.clock.Now(), aptUpdate("curl", "8.0"))}})
		must(t, err)
		must(t, f.db.DeleteAsset(f.admin, other.Asset.ID))
		_, err = f.db.AuthenticateAgent(t.Context(), other.Agent.ID)
		wantKind(t, err, patch.KindUnauthenticated)
	})
}

func scanResult(id string, at time.Time, missing ...patch.ScannedUpdate) patch.AgentResult {
	return patch.AgentResult{
		ID: id, Kind: "scan", Status: "succeeded", StartedAt: at.Add(-time.Minute), FinishedAt: at,
		Scan:     &patch.ScanResult{At: at, Sources: []patch.UpdateSource{"apt"}, Missing: missing},
		Document: []byte(fmt.Sprintf(`{"id":%q}`, id)),
	}
}

func testCheckIn(t *testing.T, open Opener) {
	f := newAgentFixture(t, open)
	res, err := f.db.Enroll(t.Context(), f.enrollment(f.secret, "srv-01", "uuid:1"))
	must(t, err)
	ag, assetID := res.Agent, res.Asset.ID
	actx := agentContext(t.Context(), ag)
	checkIn := func(t *testing.T, c patch.CheckIn) *patch.CheckInOutcome {
		t.Helper()
		c.AgentID = ag.ID
		if c.ExpectedBy.IsZero() {
			c.ExpectedBy = f.clock.Now().Add(10 * time.Minute)
		}
		out, err := f.db.RecordCheckIn(actx, c)
		must(t, err)
		return out
	}
	auditCount := func(t *testing.T) int {
		t.Helper()
		id := string(assetID)
		_, n, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{EntityID: &id})
		must(t, err)
		return n
	}
	t.Run("Heartbeat", func(t *testing.T) {
		f.clock.Advance(5 * time.Minute)
		audits := auditCount(t)
		out := checkIn(t, patch.CheckIn{Version: "1.0.1", Protocol: 1, RemoteAddr: "198.51.100.7", InventoryHash: "hash-1",
			Report: patch.AgentReport{OutboxLength: 3, OutboxDropped: 1, LastError: "apt-get update failed"}})
		if out.InventoryNeeded || out.Agent.Version != "1.0.1" || out.Agent.OutboxDropped != 1 || out.Agent.LastError == "" ||
			!out.Agent.LastCheckIn.Equal(f.clock.Now()) || out.Agent.Status != patch.AgentOnline {
			t.Errorf("heartbeat outcome = %+v", out.Agent)
		}
		a, err := f.db.FindAssetByID(f.admin, assetID)
		must(t, err)
		if !a.LastSeen.Equal(f.clock.Now()) {
			t.Errorf("LastSeen = %v, want %v", a.LastSeen, f.clock.Now())
		}
		if n := auditCount(t); n != audits {
			t.Errorf("a heartbeat wrote %d audit entries", n-audits)
		}
	})
	t.Run("InventoryNeeded", func(t *testing.T) {
		out := checkIn(t, patch.CheckIn{InventoryHash: "hash-2"})
		if !out.InventoryNeeded {
			t.Error("a changed hash without an inventory did not ask for the inventory")
		}
	})
	t.Run("InventoryChanged", func(t *testing.T) {
		f.clock.Advance(time.Minute)
		audits := auditCount(t)
		inv := f.enrollment(f.secret, "srv-01", "uuid:1").Inventory
		inv.Hash = "hash-2"
		inv.Facts.OS.Kernel = "6.1.0-27-amd64"
		inv.Facts.IPAddresses = []string{"192.0.2.11"}
		inv.Software = inv.Software[:1]
		out := checkIn(t, patch.CheckIn{InventoryHash: "hash-2", Inventory: &inv})
		if out.InventoryNeeded || out.Agent.InventoryHash != "hash-2" {
			t.Errorf("outcome = %+v", out)
		}
		a, err := f.db.FindAssetByID(f.admin, assetID)
		must(t, err)
		if a.OS.Kernel != "6.1.0-27-amd64" || a.IPAddresses[0] != "192.0.2.11" {
			t.Errorf("asset facts = %+v", a)
		}
		if n := auditCount(t); n != audits+1 {
			t.Errorf("changed facts wrote %d audit entries, want 1", n-audits)
		}
		_, n, err := f.db.FindSoftware(f.admin, patch.SoftwareFilter{AssetID: &assetID})
		must(t, err)
		if n != 1 {
			t.Errorf("software rows = %d, want 1 (replaced)", n)
		}
		// The same inventory again changes nothing worth auditing.
		checkIn(t, patch.CheckIn{InventoryHash: "hash-2", Inventory: &inv})
		if n := auditCount(t); n != audits+1 {
			t.Errorf("unchanged facts wrote %d more audit entries", n-audits-1)
		}
	})
	t.Run("ScanResults", func(t *testing.T) {
		f.clock.Advance(time.Minute)
		r1 := scanResult("res-1", f.clock.Now(), aptUpdate("openssl", "3.0.15-1"), aptUpdate("curl", "7.88.1-10+deb12u8"))
		out := checkIn(t, patch.CheckIn{Results: []patch.AgentResult{r1}})
		if len(out.Results) != 1 || out.Results[0].Duplicate || out.Results[0].Scan == nil || len(out.Results[0].Scan.Opened) != 2 {
			t.Fatalf("results = %+v", out.Results)
		}
		// A re-send is acknowledged and not applied twice.
		f.clock.Advance(time.Minute)
		again, err := f.db.RecordResults(actx, []patch.AgentResult{r1})
		must(t, err)
		if !again[0].Duplicate || again[0].Scan != nil {
			t.Errorf("re-sent result = %+v", again[0])
		}
		// A newer scan without curl verifies its finding.
		r2 := scanResult("res-2", f.clock.Now(), aptUpdate("openssl", "3.0.15-1"))
		out2, err := f.db.RecordResults(actx, []patch.AgentResult{r2})
		must(t, err)
		if out2[0].Scan == nil || len(out2[0].Scan.Verified) != 1 {
			t.Errorf("second scan = %+v", out2[0])
		}
		// A scan older than that one, delivered late, is stored but stale.
		late := scanResult("res-0", f.clock.Now().Add(-time.Hour), aptUpdate("curl", "7.88.1-10+deb12u8"))
		out3, err := f.db.RecordResults(actx, []patch.AgentResult{late})
		must(t, err)
		if !out3[0].Stale || out3[0].Scan != nil {
			t.Errorf("late scan = %+v", out3[0])
		}
		st := patch.FindingOpen
		fs, _, err := f.db.FindFindings(f.admin, patch.FindingFilter{AssetID: &assetID, State: &st})
		must(t, err)
		if len(fs) != 1 {
			t.Errorf("open findings = %d, want 1 (the late scan reopened nothing)", len(fs))
		}
		// Another asset's agent cannot deliver for this one.
		_, err = f.db.RecordResults(f.admin, []patch.AgentResult{r2})
		wantKind(t, err, patch.KindForbidden)
	})
	t.Run("Jobs", func(t *testing.T) {
		newJob := func(ttl time.Duration) *patch.AgentJob {
			j := &patch.AgentJob{ID: patch.AgentJobID(patch.NewID(patch.PrefixAgentJob, time.Now())), AgentID: ag.ID, Kind: "scan",
				Payload: []byte(`{}`), ExpiresAt: f.clock.Now().Add(ttl)}
			must(t, f.db.CreateAgentJob(f.admin, j))
			return j
		}
		j1, j2 := newJob(time.Hour), newJob(time.Minute)
		if j1.State != patch.JobPending || j1.ClientID != f.a.ID || j1.AssetID != assetID || j1.CreatedBy != "test-admin" {
			t.Errorf("created job = %+v", j1)
		}
		f.clock.Advance(2 * time.Minute) // j2 expires undelivered
		out := checkIn(t, patch.CheckIn{MaxJobs: 10, RedeliverAfter: 30 * time.Minute})
		if len(out.Jobs) != 1 || out.Jobs[0].ID != j1.ID || out.Jobs[0].State != patch.JobDelivered || out.Jobs[0].Deliveries != 1 {
			t.Fatalf("delivered jobs = %+v", out.Jobs)
		}
		if out := checkIn(t, patch.CheckIn{MaxJobs: 10, RedeliverAfter: 30 * time.Minute}); len(out.Jobs) != 0 {
			t.Errorf("a delivered job was handed out again at once: %+v", out.Jobs)
		}
		f.clock.Advance(31 * time.Minute)
		out = checkIn(t, patch.CheckIn{MaxJobs: 10, RedeliverAfter: 30 * time.Minute})
		if len(out.Jobs) != 1 || out.Jobs[0].Deliveries != 2 {
			t.Errorf("overdue job redelivery = %+v", out.Jobs)
		}
		r := scanResult("res-job", f.clock.Now())
		r.JobID = j1.ID
		checkIn(t, patch.CheckIn{Results: []patch.AgentResult{r}, MaxJobs: 10})
		got, _, err := f.db.FindAgentJobs(f.admin, patch.AgentJobFilter{AssetID: &assetID})
		must(t, err)
		states := map[patch.AgentJobID]patch.JobState{}
		for _, j := range got {
			states[j.ID] = j.State
		}
		if states[j1.ID] != patch.JobSucceeded || states[j2.ID] != patch.JobExpired {
			t.Errorf("job states = %v", states)
		}
		done, _, err := f.db.FindAgentJobs(f.admin, patch.AgentJobFilter{ID: &j1.ID})
		must(t, err)
		if done[0].ResultID != "res-job" || done[0].CompletedAt.IsZero() {
			t.Errorf("completed job = %+v", done[0])
		}
	})
	t.Run("PruneResults", func(t *testing.T) {
		f.clock.Advance(24 * time.Hour)
		n, err := f.db.PruneAgentData(f.admin, time.Time{}, f.clock.Now())
		must(t, err)
		if n < 4 {
			t.Errorf("pruned %d rows, want the stored results", n)
		}
		// A pruned id is new again: the agent keeps results far shorter.
		again, err := f.db.RecordResults(actx, []patch.AgentResult{scanResult("res-1", f.clock.Now(), aptUpdate("openssl", "3.0.15-1"))})
		must(t, err)
		if again[0].Duplicate {
			t.Error("pruned result still recognised")
		}
	})
}
