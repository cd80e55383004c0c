// Package storetest is the conformance suite for Patchring's stores. The
// same tests run against SQLite (package sqlite) and PostgreSQL (package
// postgres), so both engines provably behave the same, including tenant
// isolation: every store is checked for what a client-scoped actor can see
// and change of another client.
//
// Each backend's test file calls [Run] with a function that opens a fresh,
// migrated, empty database for one test.
package storetest

import (
	"context"
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/sqlstore"
)

// Opener opens a fresh, migrated, empty database for one test. The store's
// Now is set to the given clock's Now.
type Opener func(t *testing.T) *sqlstore.DB

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, open) })
	t.Run("Unauthenticated", func(t *testing.T) { testUnauthenticated(t, open) })
	t.Run("MSP", func(t *testing.T) { testMSP(t, open) })
	t.Run("Clients", func(t *testing.T) { testClients(t, open) })
	t.Run("Sites", func(t *testing.T) { testSites(t, open) })
	t.Run("Assets", func(t *testing.T) { testAssets(t, open) })
	t.Run("AssetFilters", func(t *testing.T) { testAssetFilters(t, open) })
	t.Run("AssetImport", func(t *testing.T) { testAssetImport(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("TenantIsolation", func(t *testing.T) { testTenantIsolation(t, open) })
	t.Run("Findings", func(t *testing.T) { testFindings(t, open) })
	t.Run("Evidence", func(t *testing.T) { testEvidence(t, open) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("Checkpoints", func(t *testing.T) { testCheckpoints(t, open) })
	t.Run("EvidenceKeyRotation", func(t *testing.T) { testEvidenceKeyRotation(t, open) })
	t.Run("Reports", func(t *testing.T) { testReports(t, open) })
	t.Run("Policy", func(t *testing.T) { testPolicy(t, open) })
	t.Run("EnrollmentSecrets", func(t *testing.T) { testEnrollmentSecrets(t, open) })
	t.Run("Enroll", func(t *testing.T) { testEnroll(t, open) })
	t.Run("Agents", func(t *testing.T) { testAgents(t, open) })
	t.Run("CheckIn", func(t *testing.T) { testCheckIn(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("AssetCounts", func(t *testing.T) { testAssetCounts(t, open) })
	t.Run("Compliance", func(t *testing.T) { testCompliance(t, open) })
	t.Run("Rollout", func(t *testing.T) { testRollout(t, open) })
	t.Run("ClientCounts", func(t *testing.T) { testClientCounts(t, open) })
	t.Run("Notifications", func(t *testing.T) { testNotifications(t, open) })
}

// wantKind fails the test unless err has kind k.
func wantKind(t testing.TB, err error, k patch.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want kind %v", k)
	}
	if got := patch.ErrorKind(err); got != k {
		t.Fatalf("got error %q of kind %v, want kind %v", err, got, k)
	}
}

// wantField fails the test unless err is KindInvalid or KindConflict on field f.
func wantField(t testing.TB, err error, k patch.Kind, f string) {
	t.Helper()
	wantKind(t, err, k)
	if got := patch.ErrorField(err); got != f {
		t.Fatalf("got error %q on field %q, want field %q", err, got, f)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fixture is a small MSP: two clients with a site each.
type fixture struct {
	db    *sqlstore.DB
	admin context.Context
	a, b  *patch.Client
	sa    *patch.Site
	sb    *patch.Site
	ownA  context.Context // client owner of a
	ownB  context.Context
}

func newFixture(t *testing.T, open Opener) *fixture {
	t.Helper()
	f := &fixture{db: open(t), admin: patchtest.AdminContext(t.Context())}
	f.a, f.b = patchtest.Client("Alpha Clinic"), patchtest.Client("Beta Law")
	must(t, f.db.CreateClient(f.admin, f.a))
	must(t, f.db.CreateClient(f.admin, f.b))
	f.sa = patchtest.Site(f.a.ID, "Main", "America/Chicago")
	f.sb = patchtest.Site(f.b.ID, "Main", "Europe/Berlin")
	must(t, f.db.CreateSite(f.admin, f.sa))
	must(t, f.db.CreateSite(f.admin, f.sb))
	f.ownA = patchtest.OwnerContext(t.Context(), f.a.ID)
	f.ownB = patchtest.OwnerContext(t.Context(), f.b.ID)
	return f
}

func testMigrate(t *testing.T, open Opener) {
	db := open(t)
	applied, err := db.Migrate(t.Context())
	must(t, err)
	if len(applied) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", applied)
	}
	cur, latest, err := db.SchemaVersion(t.Context())
	must(t, err)
	if cur != latest || cur == 0 {
		t.Errorf("SchemaVersion = %d, %d; want equal and non-zero", cur, latest)
	}
}

func testUnauthenticated(t *testing.T, open Opener) {
	db := open(t)
	ctx := t.Context()
	calls := map[string]func() error{
		"FindClients":      func() error { _, _, err := db.FindClients(ctx, patch.ClientFilter{}); return err },
		"CreateClient":     func() error { return db.CreateClient(ctx, patchtest.Client("")) },
		"FindSites":        func() error { _, _, err := db.FindSites(ctx, patch.SiteFilter{}); return err },
		"FindAssets":       func() error { _, _, err := db.FindAssets(ctx, patch.AssetFilter{}); return err },
		"FindUsers":        func() error { _, _, err := db.FindUsers(ctx, patch.UserFilter{}); return err },
		"FindTokens":       func() error { _, _, err := db.FindTokens(ctx, patch.TokenFilter{}); return err },
		"FindAuditEntries": func() error { _, _, err := db.FindAuditEntries(ctx, patch.AuditFilter{}); return err },
		"FindMSP":          func() error { _, err := db.FindMSP(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantKind(t, call(), patch.KindUnauthenticated) })
	}
	// A client-owner actor without a client sees nothing.
	noClient := patchtest.RoleContext(ctx, patch.RoleClientOwner, "")
	_, _, err := db.FindAssets(noClient, patch.AssetFilter{})
	wantKind(t, err, patch.KindForbidden)
}

func testMSP(t *testing.T, open Opener) {
	db := open(t)
	admin := patchtest.AdminContext(t.Context())
	_, err := db.FindMSP(admin)
	wantKind(t, err, patch.KindNotFound)
	must(t, db.SetMSP(admin, &patch.MSP{Name: "Acme IT"}))
	must(t, db.SetMSP(admin, &patch.MSP{Name: "Acme Managed IT"}))
	m, err := db.FindMSP(admin)
	must(t, err)
	if m.Name != "Acme Managed IT" || m.CreatedAt.IsZero() {
		t.Errorf("FindMSP = %+v", m)
	}
	wantKind(t, db.SetMSP(patchtest.OwnerContext(t.Context(), "cli_x"), &patch.MSP{Name: "Evil"}), patch.KindForbidden)
}
