package storetest

import (
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("CRUD", func(t *testing.T) {
		f := newFixture(t, open)
		u := patchtest.User("Owner@Alpha.example", patch.RoleClientOwner, f.a.ID)
		u.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"
		must(t, f.db.CreateUser(f.admin, u))
		got, err := f.db.FindUserByID(f.admin, u.ID)
		must(t, err)
		if got.Email != "owner@alpha.example" || got.PasswordHash != u.PasswordHash || got.ClientID != f.a.ID {
			t.Errorf("FindUserByID = %+v", got)
		}
		list, n, err := f.db.FindUsers(f.admin, patch.UserFilter{Email: patchtest.Ptr("OWNER@alpha.example")})
		must(t, err)
		if n != 1 || list[0].ID != u.ID {
			t.Errorf("FindUsers(email) = %d %v", n, list)
		}
		upd, err := f.db.UpdateUser(f.admin, u.ID, patch.UserUpdate{Name: patchtest.Ptr("Dr Patel")})
		must(t, err)
		if upd.Name != "Dr Patel" || upd.PasswordHash != u.PasswordHash {
			t.Errorf("UpdateUser = %+v", upd)
		}
		must(t, f.db.DeleteUser(f.admin, u.ID))
		_, err = f.db.FindUserByID(f.admin, u.ID)
		wantKind(t, err, patch.KindNotFound)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		f := newFixture(t, open)
		wantField(t, f.db.CreateUser(f.admin, patchtest.User("x@y.example", patch.RoleClientOwner, "")), patch.KindInvalid, "client_id")
		wantField(t, f.db.CreateUser(f.admin, patchtest.User("x@y.example", patch.RoleTechnician, f.a.ID)), patch.KindInvalid, "client_id")
		wantField(t, f.db.CreateUser(f.admin, patchtest.User("x@y.example", "root", "")), patch.KindInvalid, "role")
		wantField(t, f.db.CreateUser(f.admin, patchtest.User("not-an-email", patch.RoleAuditor, "")), patch.KindInvalid, "email")
		wantField(t, f.db.CreateUser(f.admin, patchtest.User("x@y.example", patch.RoleClientOwner, "cli_nope")), patch.KindInvalid, "client_id")
		must(t, f.db.CreateUser(f.admin, patchtest.User("x@y.example", patch.RoleAuditor, "")))
		wantField(t, f.db.CreateUser(f.admin, patchtest.User("X@Y.example", patch.RoleTechnician, "")), patch.KindConflict, "email")
	})
	t.Run("DisableRevokesTokens", func(t *testing.T) {
		f := newFixture(t, open)
		u := patchtest.User("tech@msp.example", patch.RoleTechnician, "")
		must(t, f.db.CreateUser(f.admin, u))
		tok, secret := patchtest.Token("laptop", patch.RoleTechnician, "")
		tok.UserID = u.ID
		must(t, f.db.CreateToken(f.admin, tok))
		if _, err := f.db.AuthenticateToken(t.Context(), patch.HashSecret(secret)); err != nil {
			t.Fatalf("token before disabling: %v", err)
		}
		_, err := f.db.UpdateUser(f.admin, u.ID, patch.UserUpdate{Disabled: patchtest.Ptr(true)})
		must(t, err)
		_, err = f.db.AuthenticateToken(t.Context(), patch.HashSecret(secret))
		wantKind(t, err, patch.KindUnauthenticated)
	})
}

func testTokens(t *testing.T, open Opener) {
	f := newFixture(t, open)
	clock := patchtest.NewClock(time.Now())
	f.db.Now = clock.Now
	t.Run("Authenticate", func(t *testing.T) {
		tok, secret := patchtest.Token("ci", patch.RoleMSPAdmin, "")
		must(t, f.db.CreateToken(f.admin, tok))
		got, err := f.db.AuthenticateToken(t.Context(), patch.HashSecret(secret))
		must(t, err)
		if got.ID != tok.ID || got.Role != patch.RoleMSPAdmin || got.LastUsedAt.IsZero() || got.CreatedBy != "test-admin" {
			t.Errorf("AuthenticateToken = %+v", got)
		}
		_, err = f.db.AuthenticateToken(t.Context(), patch.HashSecret(secret+"x"))
		wantKind(t, err, patch.KindUnauthenticated)
		if _, err := f.db.RevokeToken(f.admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.db.AuthenticateToken(t.Context(), patch.HashSecret(secret))
		wantKind(t, err, patch.KindUnauthenticated)
		again, err := f.db.RevokeToken(f.admin, tok.ID)
		must(t, err)
		if again.RevokedAt.IsZero() {
			t.Error("second revoke lost the revocation time")
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		tok, secret := patchtest.Token("short", patch.RoleAuditor, "")
		tok.ExpiresAt = clock.Now().Add(time.Hour)
		must(t, f.db.CreateToken(f.admin, tok))
		_, err := f.db.AuthenticateToken(t.Context(), patch.HashSecret(secret))
		must(t, err)
		clock.Advance(time.Hour)
		_, err = f.db.AuthenticateToken(t.Context(), patch.HashSecret(secret))
		wantKind(t, err, patch.KindUnauthenticated)
		active, _, err := f.db.FindTokens(f.admin, patch.TokenFilter{Active: patchtest.Ptr(true)})
		must(t, err)
		for _, a := range active {
			if a.ID == tok.ID {
				t.Error("expired token listed as active")
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		tok, _ := patchtest.Token("", patch.RoleAuditor, "")
		wantField(t, f.db.CreateToken(f.admin, tok), patch.KindInvalid, "name")
		tok, _ = patchtest.Token("x", patch.RoleClientOwner, "")
		wantField(t, f.db.CreateToken(f.admin, tok), patch.KindInvalid, "client_id")
		tok, _ = patchtest.Token("x", patch.RoleClientOwner, "cli_nope")
		wantField(t, f.db.CreateToken(f.admin, tok), patch.KindInvalid, "client_id")
	})
	t.Run("HashNotListed", func(t *testing.T) {
		list, _, err := f.db.FindTokens(f.admin, patch.TokenFilter{})
		must(t, err)
		for _, tok := range list {
			if tok.Hash == "" {
				t.Error("stored hash not loaded")
			}
		}
	})
}
