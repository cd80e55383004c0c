package patch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Session is a logged-in console session. The browser holds a random
// secret in a cookie; only its SHA-256 (IDHash) is stored, so a copy of the
// database does not let anyone take over a session.
//
// A session ends at the first of: ExpiresAt (the absolute lifetime, fixed
// at login), IdleTimeout after LastSeenAt, logout, the user being disabled
// or deleted, or the user's password changing (PasswordFP no longer
// matching). Role and client changes take effect on the next request,
// because the actor is rebuilt from the user row every time.
type Session struct {
	IDHash string `json:"-"`
	UserID UserID `json:"user_id"`
	// PasswordFP is a fingerprint of the user's password hash at login;
	// see [PasswordFingerprint].
	PasswordFP  string        `json:"-"`
	CreatedAt   time.Time     `json:"created_at"`
	LastSeenAt  time.Time     `json:"last_seen_at"`
	ExpiresAt   time.Time     `json:"expires_at"`
	IdleTimeout time.Duration `json:"idle_timeout"`
	UserAgent   string        `json:"user_agent,omitempty"`
	RemoteAddr  string        `json:"remote_addr,omitempty"`
}

// Active reports whether the session may authenticate at time now.
func (s *Session) Active(now time.Time) bool {
	return now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(s.IdleTimeout))
}

// PasswordFingerprint returns a short digest of a stored password hash.
// Sessions remember it so that changing a password ends every session
// opened with the old one, whichever transport changed it.
func PasswordFingerprint(passwordHash string) string {
	sum := sha256.Sum256([]byte("patchring-session-pw\x00" + passwordHash))
	return hex.EncodeToString(sum[:8])
}

// SessionFilter selects sessions.
type SessionFilter struct {
	UserID *UserID
	Offset int
	Limit  int
}

// SessionStore persists console sessions.
type SessionStore interface {
	// CreateSession stores s, whose IDHash, UserID, PasswordFP, ExpiresAt
	// and IdleTimeout must be set; CreatedAt and LastSeenAt are set to the
	// transaction time. When replaces is not empty the session with that
	// hash is deleted in the same transaction (rotation at login). Expired
	// sessions of every user are pruned at the same time, so the table
	// needs no background job. The actor in ctx must be the session's user
	// (or an unscoped actor); the login is audited as "user.login".
	CreateSession(ctx context.Context, s *Session, replaces string) error
	// AuthenticateSession returns the active session with the given hash
	// and its user, and records the activity (at most once a minute, so
	// that reading pages does not turn into writes). It needs no actor (it
	// is how one is obtained) and returns KindUnauthenticated for unknown,
	// expired or idle sessions, disabled or deleted users and changed
	// passwords, never saying which; expired sessions are deleted.
	AuthenticateSession(ctx context.Context, hash string) (*Session, *User, error)
	// DeleteSession ends the session with the given hash (logout), audited
	// as "user.logout". Deleting a session that does not exist is not an
	// error. A client-scoped actor can only end sessions of its client.
	DeleteSession(ctx context.Context, hash string) error
	// FindSessions lists active sessions in scope, newest first.
	FindSessions(ctx context.Context, f SessionFilter) ([]*Session, int, error)
}
