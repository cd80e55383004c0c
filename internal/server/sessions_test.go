package server_test

import (
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
)

func newSessionServer(t *testing.T) (*server.Server, *patchtest.Clock, *patch.User) {
	t.Helper()
	_, db, clock := newServer(t)
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db, Sessions: db, AssetCounts: db}, server.Options{Now: clock.Now})
	u, err := srv.CreateUser(patchtest.AdminContext(t.Context()), server.UserInput{Email: "tech@msp.example", Name: "Tech", Role: patch.RoleTechnician, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	return srv, clock, u
}

func TestSessionLifecycle(t *testing.T) {
	srv, clock, u := newSessionServer(t)
	policy := server.SessionPolicy{Idle: 10 * time.Minute, Lifetime: time.Hour}
	_, err := srv.StartSession(t.Context(), server.LoginInput{Email: "tech@msp.example", Password: "wrong password!"}, policy)
	if patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Fatalf("wrong password: err = %v, want unauthenticated", err)
	}
	first, err := srv.StartSession(t.Context(), server.LoginInput{Email: "TECH@msp.example", Password: "correct horse battery"}, policy)
	if err != nil {
		t.Fatal(err)
	}
	if first.User.ID != u.ID || !first.Session.ExpiresAt.Equal(clock.Now().Add(time.Hour)) || first.Session.IdleTimeout != 10*time.Minute {
		t.Errorf("StartSession = %+v", first.Session)
	}
	actor, _, err := srv.ResumeSession(t.Context(), first.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if actor.Kind != patch.ActorUser || actor.ID != string(u.ID) || actor.Role != patch.RoleTechnician {
		t.Errorf("ResumeSession actor = %+v", actor)
	}
	// Logging in again from the same browser rotates the session.
	second, err := srv.StartSession(t.Context(), server.LoginInput{Email: "tech@msp.example", Password: "correct horse battery", Replaces: first.Secret}, policy)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.ResumeSession(t.Context(), first.Secret); patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Errorf("rotated-out session still works: %v", err)
	}
	// A second browser.
	other, err := srv.StartSession(t.Context(), server.LoginInput{Email: "tech@msp.example", Password: "correct horse battery"}, policy)
	if err != nil {
		t.Fatal(err)
	}
	ctx := patch.NewContextWithActor(t.Context(), actor)
	list, err := srv.Sessions(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("Sessions = %d, %v; want 2", len(list), err)
	}
	// Changing the password keeps this browser logged in (with a new
	// session) and logs every other one out.
	for _, tc := range []struct {
		name      string
		in        server.PasswordChange
		wantField string
	}{
		{"WrongCurrent", server.PasswordChange{Current: "nope", New: "a brand new passphrase"}, "current_password"},
		{"TooShort", server.PasswordChange{Current: "correct horse battery", New: "short"}, "password"},
		{"Same", server.PasswordChange{Current: "correct horse battery", New: "correct horse battery"}, "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := srv.ChangeOwnPassword(ctx, tc.in, policy)
			if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) != tc.wantField {
				t.Errorf("ChangeOwnPassword = %v, want invalid %s", err, tc.wantField)
			}
		})
	}
	third, err := srv.ChangeOwnPassword(ctx, server.PasswordChange{Current: "correct horse battery", New: "a brand new passphrase", Session: second.Secret}, policy)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string]string{"replaced": second.Secret, "other browser": other.Secret} {
		if _, _, err := srv.ResumeSession(t.Context(), secret); patch.ErrorKind(err) != patch.KindUnauthenticated {
			t.Errorf("%s session survives a password change: %v", name, err)
		}
	}
	if _, _, err := srv.ResumeSession(t.Context(), third.Secret); err != nil {
		t.Errorf("new session after password change: %v", err)
	}
	if _, err := srv.StartSession(t.Context(), server.LoginInput{Email: "tech@msp.example", Password: "a brand new passphrase"}, policy); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	// Idle timeout, on the injected clock.
	clock.Advance(11 * time.Minute)
	if _, _, err := srv.ResumeSession(t.Context(), third.Secret); patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Errorf("session survives the idle timeout: %v", err)
	}
	// Logout.
	fourth, err := srv.StartSession(t.Context(), server.LoginInput{Email: "tech@msp.example", Password: "a brand new passphrase"}, policy)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.EndSession(ctx, fourth.Secret); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.ResumeSession(t.Context(), fourth.Secret); patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Errorf("session survives logout: %v", err)
	}
	// Tokens have no password to change.
	if _, err := srv.ChangeOwnPassword(patchtest.AdminContext(t.Context()), server.PasswordChange{Current: "x", New: "y"}, policy); patch.ErrorKind(err) != patch.KindForbidden {
		t.Errorf("token changes a password: %v", err)
	}
}
