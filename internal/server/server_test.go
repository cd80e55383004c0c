package server_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
)

func newServer(t *testing.T) (*server.Server, *sqlstore.DB, *patchtest.Clock) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := patchtest.NewClock(time.Now())
	db.Now = clock.Now
	return server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db}, server.Options{Now: clock.Now}), db, clock
}

func TestCreateToken(t *testing.T) {
	srv, _, clock := newServer(t)
	admin := patchtest.AdminContext(t.Context())
	c, err := srv.CreateClient(admin, server.ClientInput{Name: "Clinic"})
	if err != nil {
		t.Fatal(err)
	}
	tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
	owner := patchtest.OwnerContext(t.Context(), c.ID)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		in   server.TokenInput
		kind patch.Kind
	}{
		{"AdminAnyRole", admin, server.TokenInput{Name: "x", Role: patch.RoleAuditor}, 0},
		{"TechOwnRole", tech, server.TokenInput{Name: "x"}, 0},
		{"TechEscalates", tech, server.TokenInput{Name: "x", Role: patch.RoleMSPAdmin}, patch.KindForbidden},
		{"OwnerOwnClient", owner, server.TokenInput{Name: "x"}, 0},
		{"OwnerOtherClient", owner, server.TokenInput{Name: "x", Role: patch.RoleClientOwner, ClientID: "cli_other"}, patch.KindForbidden},
		{"PastExpiry", admin, server.TokenInput{Name: "x", Role: patch.RoleAuditor, ExpiresAt: clock.Now().Add(-time.Second)}, patch.KindInvalid},
		{"TooLong", admin, server.TokenInput{Name: "x", Role: patch.RoleAuditor, ExpiresAt: clock.Now().Add(6 * 365 * 24 * time.Hour)}, patch.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := srv.CreateToken(tc.ctx, tc.in)
			if tc.kind != 0 {
				if patch.ErrorKind(err) != tc.kind {
					t.Fatalf("err = %v, want kind %v", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			actor, err := srv.Authenticate(t.Context(), tok.Secret)
			if err != nil || actor.Role == "" {
				t.Fatalf("Authenticate(new token) = %+v, %v", actor, err)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	srv, _, _ := newServer(t)
	admin := patchtest.AdminContext(t.Context())
	if _, err := srv.CreateUser(admin, server.UserInput{Email: "Tech@MSP.example", Name: "Tech", Role: patch.RoleTechnician, Password: "short"}); patch.ErrorField(err) != "password" {
		t.Errorf("short password: %v", err)
	}
	u, err := srv.CreateUser(admin, server.UserInput{Email: "Tech@MSP.example", Name: "Tech", Role: patch.RoleTechnician, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := srv.Login(t.Context(), "tech@msp.example ", "correct horse battery")
	if err != nil || got.ID != u.ID || got.LastLoginAt.IsZero() {
		t.Fatalf("Login = %+v, %v", got, err)
	}
	for _, tc := range []struct{ email, pw string }{
		{"tech@msp.example", "wrong horse battery"},
		{"nobody@msp.example", "correct horse battery"},
	} {
		_, err := srv.Login(t.Context(), tc.email, tc.pw)
		if patch.ErrorKind(err) != patch.KindUnauthenticated || patch.ErrorMessage(err) != "The e-mail address or password is wrong." {
			t.Errorf("Login(%s) = %v; every failure must look the same", tc.email, err)
		}
	}
	if _, err := srv.UpdateUser(admin, u.ID, server.UserChange{Disabled: patchtest.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Login(t.Context(), "tech@msp.example", "correct horse battery"); patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Errorf("disabled user logged in: %v", err)
	}
}

func TestCannotLockYourselfOut(t *testing.T) {
	srv, _, _ := newServer(t)
	admin := patchtest.AdminContext(t.Context())
	u, err := srv.CreateUser(admin, server.UserInput{Email: "boss@msp.example", Name: "Boss", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	self := patch.NewContextWithActor(t.Context(), u.Actor())
	if _, err := srv.UpdateUser(self, u.ID, server.UserChange{Role: patchtest.Ptr(patch.RoleAuditor)}); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("self-demotion: %v", err)
	}
	if err := srv.DeleteUser(self, u.ID); patch.ErrorKind(err) != patch.KindConflict {
		t.Errorf("self-deletion: %v", err)
	}
}

func TestCreateAssetDefaults(t *testing.T) {
	srv, _, _ := newServer(t)
	admin := patchtest.AdminContext(t.Context())
	c, _ := srv.CreateClient(admin, server.ClientInput{Name: "Clinic"})
	for role, class := range map[patch.AssetRole]string{patch.RoleServer: "server", patch.RoleWorkstation: "workstation", patch.RoleKiosk: "kiosk"} {
		a, err := srv.CreateAsset(admin, server.AssetInput{ClientID: c.ID, Hostname: "h-" + string(role), OS: server.OSInput{Family: patch.OSLinux}, Role: role})
		if err != nil || a.Class != class || a.Source != patch.SourceManual || a.Managed {
			t.Errorf("%s: %+v %v", role, a, err)
		}
	}
	d, err := srv.CreateAsset(admin, server.AssetInput{ClientID: c.ID, Hostname: "printer", OS: server.OSInput{Family: patch.OSOther}, Role: patch.RoleWorkstation, Discovered: true})
	if err != nil || d.Source != patch.SourceDiscovery || d.LastSeen.IsZero() {
		t.Errorf("discovered: %+v %v", d, err)
	}
	auditor := patchtest.RoleContext(t.Context(), patch.RoleAuditor, "")
	if _, err := srv.CreateAsset(auditor, server.AssetInput{ClientID: c.ID, Hostname: "x", OS: server.OSInput{Family: patch.OSLinux}, Role: patch.RoleServer}); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("auditor wrote: %v", err)
	}
}
