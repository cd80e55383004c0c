package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

// sessionFixture is the base fixture plus a clock, a client owner of A and
// an MSP technician, both with passwords.
type sessionFixture struct {
	*fixture
	clock *patchtest.Clock
	owner *patch.User // client owner of A
	tech  *patch.User
}

const (
	testPasswordHash  = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"
	testPasswordHash2 = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdDI$aGFzaDI"
)

func newSessionFixture(t *testing.T, open Opener) *sessionFixture {
	t.Helper()
	f := &sessionFixture{fixture: newFixture(t, open), clock: patchtest.NewClock(time.Time{})}
	f.db.Now = f.clock.Now
	f.owner = patchtest.User("owner@alpha.example", patch.RoleClientOwner, f.a.ID)
	f.owner.PasswordHash = testPasswordHash
	must(t, f.db.CreateUser(f.admin, f.owner))
	f.tech = patchtest.User("tech@msp.example", patch.RoleTechnician, "")
	f.tech.PasswordHash = testPasswordHash
	must(t, f.db.CreateUser(f.admin, f.tech))
	return f
}

// open starts a session for u as u would at login, and returns its secret.
func (f *sessionFixture) open(t *testing.T, u *patch.User, replaces string) (string, *patch.Session) {
	t.Helper()
	secret := patch.NewSecret("")
	s := &patch.Session{
		IDHash:      patch.HashSecret(secret),
		UserID:      u.ID,
		PasswordFP:  patch.PasswordFingerprint(u.PasswordHash),
		ExpiresAt:   f.clock.Now().Add(12 * time.Hour),
		IdleTimeout: 30 * time.Minute,
		UserAgent:   "Mozilla/5.0 (test)",
		RemoteAddr:  "192.0.2.10",
	}
	must(t, f.db.CreateSession(patch.NewContextWithActor(t.Context(), u.Actor()), s, replaces))
	return secret, s
}

func (f *sessionFixture) auth(t *testing.T, secret string) (*patch.Session, *patch.User, error) {
	t.Helper()
	return f.db.AuthenticateSession(t.Context(), patch.HashSecret(secret))
}

func testSessions(t *testing.T, open Opener) {
	t.Run("CreateAuthenticate", func(t *testing.T) {
		f := newSessionFixture(t, open)
		secret, s := f.open(t, f.owner, "")
		if !s.CreatedAt.Equal(f.clock.Now().UTC().Truncate(time.Millisecond)) || !s.LastSeenAt.Equal(s.CreatedAt) {
			t.Errorf("CreateSession times = %v, %v; want the transaction time", s.CreatedAt, s.LastSeenAt)
		}
		got, u, err := f.auth(t, secret)
		must(t, err)
		if got.UserID != f.owner.ID || u.ID != f.owner.ID || u.ClientID != f.a.ID || u.Role != patch.RoleClientOwner {
			t.Errorf("AuthenticateSession = %+v, %+v", got, u)
		}
		if got.IdleTimeout != 30*time.Minute || !got.ExpiresAt.Equal(s.ExpiresAt.UTC().Truncate(time.Millisecond)) || got.UserAgent != "Mozilla/5.0 (test)" || got.RemoteAddr != "192.0.2.10" {
			t.Errorf("AuthenticateSession stored fields = %+v", got)
		}
		_, _, err = f.auth(t, secret+"x")
		wantKind(t, err, patch.KindUnauthenticated)
		// The login is audited under the user's client, without secrets.
		es, _, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("user.login")})
		must(t, err)
		if len(es) != 1 || es[0].EntityID != string(f.owner.ID) || es[0].ClientID != f.a.ID || es[0].Actor.ID != string(f.owner.ID) {
			t.Fatalf("login audit entries = %+v", es)
		}
		if a := string(es[0].After); containsAny(a, s.IDHash, secret, s.PasswordFP) {
			t.Errorf("audit entry leaks a secret: %s", a)
		}
	})
	t.Run("IdleTimeout", func(t *testing.T) {
		f := newSessionFixture(t, open)
		secret, _ := f.open(t, f.tech, "")
		// Activity keeps the session alive past the idle timeout...
		for range 4 {
			f.clock.Advance(20 * time.Minute)
			_, _, err := f.auth(t, secret)
			must(t, err)
		}
		// ...and inactivity ends it.
		f.clock.Advance(30 * time.Minute)
		_, _, err := f.auth(t, secret)
		wantKind(t, err, patch.KindUnauthenticated)
		// It is gone, not merely refused: going back in time does not help.
		f.clock.Advance(-30 * time.Minute)
		_, _, err = f.auth(t, secret)
		wantKind(t, err, patch.KindUnauthenticated)
	})
	t.Run("TouchIsThrottled", func(t *testing.T) {
		f := newSessionFixture(t, open)
		secret, s := f.open(t, f.tech, "")
		f.clock.Advance(10 * time.Second)
		got, _, err := f.auth(t, secret)
		must(t, err)
		if !got.LastSeenAt.Equal(s.LastSeenAt) {
			t.Errorf("LastSeenAt moved after 10s: %v → %v", s.LastSeenAt, got.LastSeenAt)
		}
		f.clock.Advance(2 * time.Minute)
		got, _, err = f.auth(t, secret)
		must(t, err)
		if want := f.clock.Now().UTC().Truncate(time.Millisecond); !got.LastSeenAt.Equal(want) {
			t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, want)
		}
	})
	t.Run("AbsoluteLifetime", func(t *testing.T) {
		f := newSessionFixture(t, open)
		secret, _ := f.open(t, f.tech, "")
		for range 47 { // 11h45m of steady activity
			f.clock.Advance(15 * time.Minute)
			_, _, err := f.auth(t, secret)
			must(t, err)
		}
		f.clock.Advance(15 * time.Minute) // 12h: the absolute lifetime
		_, _, err := f.auth(t, secret)
		wantKind(t, err, patch.KindUnauthenticated)
	})
	t.Run("Rotation", func(t *testing.T) {
		f := newSessionFixture(t, open)
		old, _ := f.open(t, f.tech, "")
		fresh, _ := f.open(t, f.tech, patch.HashSecret(old))
		_, _, err := f.auth(t, old)
		wantKind(t, err, patch.KindUnauthenticated)
		_, _, err = f.auth(t, fresh)
		must(t, err)
	})
	t.Run("PruneOnCreate", func(t *testing.T) {
		f := newSessionFixture(t, open)
		f.open(t, f.tech, "")
		f.clock.Advance(time.Hour)
		f.open(t, f.owner, "")
		// Back in time the first session would be live again, were it
		// still in the table: only the new one is.
		f.clock.Advance(-time.Hour)
		list, n, err := f.db.FindSessions(f.admin, patch.SessionFilter{})
		must(t, err)
		if n != 1 || list[0].UserID != f.owner.ID {
			t.Errorf("sessions after prune = %+v", list)
		}
	})
	t.Run("EndedByUserChanges", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			change func(f *sessionFixture) error
		}{
			{"Disabled", func(f *sessionFixture) error {
				_, err := f.db.UpdateUser(f.admin, f.tech.ID, patch.UserUpdate{Disabled: patchtest.Ptr(true)})
				return err
			}},
			{"PasswordChanged", func(f *sessionFixture) error {
				_, err := f.db.UpdateUser(f.admin, f.tech.ID, patch.UserUpdate{PasswordHash: patchtest.Ptr(testPasswordHash2)})
				return err
			}},
			{"Deleted", func(f *sessionFixture) error { return f.db.DeleteUser(f.admin, f.tech.ID) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newSessionFixture(t, open)
				secret, _ := f.open(t, f.tech, "")
				must(t, tc.change(f))
				_, _, err := f.auth(t, secret)
				wantKind(t, err, patch.KindUnauthenticated)
			})
		}
	})
	t.Run("RoleChangeApplies", func(t *testing.T) {
		f := newSessionFixture(t, open)
		secret, _ := f.open(t, f.tech, "")
		_, err := f.db.UpdateUser(f.admin, f.tech.ID, patch.UserUpdate{Role: patchtest.Ptr(patch.RoleAuditor)})
		must(t, err)
		_, u, err := f.auth(t, secret)
		must(t, err)
		if u.Role != patch.RoleAuditor {
			t.Errorf("role after change = %s, want auditor", u.Role)
		}
	})
	t.Run("CreateRules", func(t *testing.T) {
		f := newSessionFixture(t, open)
		s := &patch.Session{IDHash: patch.HashSecret("x"), UserID: f.tech.ID, PasswordFP: "fp", ExpiresAt: f.clock.Now().Add(time.Hour), IdleTimeout: time.Minute}
		// A user cannot open a session for someone else.
		wantKind(t, f.db.CreateSession(patch.NewContextWithActor(t.Context(), f.owner.Actor()), s, ""), patch.KindForbidden)
		// A client owner of B cannot see (or open sessions for) MSP staff.
		wantKind(t, f.db.CreateSession(f.ownB, s, ""), patch.KindNotFound)
		// No actor, no session.
		wantKind(t, f.db.CreateSession(t.Context(), s, ""), patch.KindUnauthenticated)
		// A disabled user cannot log in.
		_, err := f.db.UpdateUser(f.admin, f.tech.ID, patch.UserUpdate{Disabled: patchtest.Ptr(true)})
		must(t, err)
		wantKind(t, f.db.CreateSession(patch.NewContextWithActor(t.Context(), f.tech.Actor()), s, ""), patch.KindForbidden)
	})
	t.Run("Logout", func(t *testing.T) {
		f := newSessionFixture(t, open)
		secret, _ := f.open(t, f.owner, "")
		ctx := patch.NewContextWithActor(t.Context(), f.owner.Actor())
		must(t, f.db.DeleteSession(ctx, patch.HashSecret(secret)))
		_, _, err := f.auth(t, secret)
		wantKind(t, err, patch.KindUnauthenticated)
		must(t, f.db.DeleteSession(ctx, patch.HashSecret(secret))) // twice is fine
		_, n, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Action: patchtest.Ptr("user.logout"), ClientID: &f.a.ID})
		must(t, err)
		if n != 1 {
			t.Errorf("logout audit entries = %d, want 1", n)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		f := newSessionFixture(t, open)
		secretA, _ := f.open(t, f.owner, "")
		f.open(t, f.tech, "")
		ownerB := patchtest.User("owner@beta.example", patch.RoleClientOwner, f.b.ID)
		ownerB.PasswordHash = testPasswordHash
		must(t, f.db.CreateUser(f.admin, ownerB))
		f.open(t, ownerB, "")
		// B sees only B's sessions.
		list, n, err := f.db.FindSessions(f.ownB, patch.SessionFilter{})
		must(t, err)
		if n != 1 || list[0].UserID != ownerB.ID {
			t.Errorf("client owner of B lists sessions %+v", list)
		}
		list, n, err = f.db.FindSessions(f.ownB, patch.SessionFilter{UserID: &f.owner.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B lists A's sessions: %+v", list)
		}
		// B cannot end A's session: it behaves as if it did not exist.
		must(t, f.db.DeleteSession(f.ownB, patch.HashSecret(secretA)))
		_, _, err = f.auth(t, secretA)
		must(t, err)
		// The admin sees all three.
		_, n, err = f.db.FindSessions(f.admin, patch.SessionFilter{})
		must(t, err)
		if n != 3 {
			t.Errorf("admin lists %d sessions, want 3", n)
		}
		// FindSessions pages.
		list, n, err = f.db.FindSessions(f.admin, patch.SessionFilter{Limit: 1, Offset: 5})
		must(t, err)
		if n != 3 || len(list) != 0 {
			t.Errorf("FindSessions past the end = %d items, total %d", len(list), n)
		}
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		f := newSessionFixture(t, open)
		_, _, err := f.db.FindSessions(t.Context(), patch.SessionFilter{})
		wantKind(t, err, patch.KindUnauthenticated)
		wantKind(t, f.db.DeleteSession(t.Context(), "x"), patch.KindUnauthenticated)
	})
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func testAssetCounts(t *testing.T, open Opener) {
	f := newFixture(t, open)
	clock := patchtest.NewClock(time.Time{})
	f.db.Now = clock.Now
	now := clock.Now()
	seen := func(d time.Duration, managed bool) func(*patch.Asset) {
		return func(a *patch.Asset) {
			a.Managed = managed
			if managed {
				a.Source = patch.SourceAgent
			}
			if d >= 0 {
				a.LastSeen = now.Add(-d)
			}
		}
	}
	for _, a := range []*patch.Asset{
		patchtest.Asset(f.a.ID, "ws-1", seen(time.Hour, true)),
		patchtest.Asset(f.a.ID, "ws-2", seen(10*24*time.Hour, true)), // stale
		patchtest.Asset(f.a.ID, "ws-3", seen(-1, true)),              // never seen: stale
		patchtest.Asset(f.a.ID, "printer", seen(30*24*time.Hour, false)),
		patchtest.Asset(f.a.ID, "srv-1", patchtest.Linux, seen(time.Minute, true)),
		patchtest.Asset(f.b.ID, "ws-b", seen(20*24*time.Hour, true)),
	} {
		must(t, f.db.CreateAsset(f.admin, a))
	}
	staleBefore := now.Add(-7 * 24 * time.Hour)
	got, err := f.db.CountAssets(f.admin, patch.AssetCountFilter{StaleBefore: staleBefore})
	must(t, err)
	type key struct {
		c       patch.ClientID
		os      patch.OSFamily
		class   string
		managed bool
	}
	m := map[key][2]int{}
	for _, r := range got {
		m[key{r.ClientID, r.OSFamily, r.Class, r.Managed}] = [2]int{r.Count, r.Stale}
	}
	want := map[key][2]int{
		{f.a.ID, patch.OSWindows, patch.ClassWorkstation, true}:  {3, 2},
		{f.a.ID, patch.OSWindows, patch.ClassWorkstation, false}: {1, 0}, // unmanaged is never stale
		{f.a.ID, patch.OSLinux, patch.ClassServer, true}:         {1, 0},
		{f.b.ID, patch.OSWindows, patch.ClassWorkstation, true}:  {1, 1},
	}
	if len(m) != len(want) {
		t.Errorf("CountAssets = %+v, want %d groups", got, len(want))
	}
	for k, w := range want {
		if m[k] != w {
			t.Errorf("CountAssets[%v] = %v, want %v", k, m[k], w)
		}
	}
	// Without a threshold nothing is stale.
	got, err = f.db.CountAssets(f.admin, patch.AssetCountFilter{ClientID: &f.b.ID})
	must(t, err)
	if len(got) != 1 || got[0].Count != 1 || got[0].Stale != 0 {
		t.Errorf("CountAssets(client B, no threshold) = %+v", got)
	}
	// Tenant isolation: B's owner counts only B, even when asking for A.
	for _, ff := range []patch.AssetCountFilter{{}, {ClientID: &f.a.ID}} {
		got, err = f.db.CountAssets(f.ownB, ff)
		must(t, err)
		for _, r := range got {
			if r.ClientID != f.b.ID {
				t.Errorf("client owner of B counts assets of %s", r.ClientID)
			}
		}
	}
	_, err = f.db.CountAssets(t.Context(), patch.AssetCountFilter{})
	wantKind(t, err, patch.KindUnauthenticated)
}
