package server

import (
	"context"
	"time"

	"github.com/patchring/patchring/internal/password"
	"github.com/patchring/patchring/internal/patch"
)

// SessionPolicy bounds console sessions: a session ends after Idle without
// a request, and after Lifetime whatever happens.
type SessionPolicy struct {
	Idle     time.Duration
	Lifetime time.Duration
}

// DefaultSessionPolicy suits an operations console used through a working
// day: half an hour idle, twelve hours at most.
var DefaultSessionPolicy = SessionPolicy{Idle: 30 * time.Minute, Lifetime: 12 * time.Hour}

func (p SessionPolicy) orDefault() SessionPolicy {
	if p.Idle <= 0 {
		p.Idle = DefaultSessionPolicy.Idle
	}
	if p.Lifetime <= 0 {
		p.Lifetime = DefaultSessionPolicy.Lifetime
	}
	return p
}

// LoginInput is a console login attempt.
type LoginInput struct {
	Email    string
	Password string
	// Replaces is the secret of the browser's current session, if any. It
	// is ended in the same transaction that starts the new one, so a
	// session id planted before login is worthless after it (session
	// fixation).
	Replaces   string
	UserAgent  string
	RemoteAddr string
}

// NewSession is a started console session. Secret goes into the cookie and
// is never stored.
type NewSession struct {
	User    *patch.User
	Session *patch.Session
	Secret  string
}

// StartSession checks an e-mail and password and opens a session. Every
// credential failure is the same KindUnauthenticated error (see Login).
func (s *Server) StartSession(ctx context.Context, in LoginInput, p SessionPolicy) (*NewSession, error) {
	u, err := s.Login(ctx, in.Email, in.Password)
	if err != nil {
		return nil, err
	}
	return s.openSession(patch.NewContextWithActor(ctx, u.Actor()), u, in.Replaces, in.UserAgent, in.RemoteAddr, p)
}

func (s *Server) openSession(ctx context.Context, u *patch.User, replaces, userAgent, remoteAddr string, p SessionPolicy) (*NewSession, error) {
	p = p.orDefault()
	secret := patch.NewSecret("")
	sess := &patch.Session{
		IDHash:      patch.HashSecret(secret),
		UserID:      u.ID,
		PasswordFP:  patch.PasswordFingerprint(u.PasswordHash),
		ExpiresAt:   s.now().Add(p.Lifetime),
		IdleTimeout: p.Idle,
		UserAgent:   userAgent,
		RemoteAddr:  remoteAddr,
	}
	var old string
	if replaces != "" {
		old = patch.HashSecret(replaces)
	}
	if err := s.st.Sessions.CreateSession(ctx, sess, old); err != nil {
		return nil, err
	}
	return &NewSession{User: u, Session: sess, Secret: secret}, nil
}

// ResumeSession resolves a session secret to the actor of its user, as
// the user is now: a role or client change applies on the next request.
func (s *Server) ResumeSession(ctx context.Context, secret string) (patch.Actor, *patch.Session, error) {
	if len(secret) < 20 || len(secret) > 200 {
		return patch.Actor{}, nil, patch.Errorf(patch.KindUnauthenticated, "Your session has ended; please log in again.")
	}
	sess, u, err := s.st.Sessions.AuthenticateSession(ctx, patch.HashSecret(secret))
	if err != nil {
		return patch.Actor{}, nil, err
	}
	return u.Actor(), sess, nil
}

// EndSession logs the session with the given secret out.
func (s *Server) EndSession(ctx context.Context, secret string) error {
	if _, ok := patch.ActorFromContext(ctx); !ok {
		return patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	return s.st.Sessions.DeleteSession(ctx, patch.HashSecret(secret))
}

// Sessions lists the caller's own active sessions.
func (s *Server) Sessions(ctx context.Context) ([]*patch.Session, error) {
	a, err := patch.Authorize(ctx, patch.PermRead)
	if err != nil {
		return nil, err
	}
	if a.Kind != patch.ActorUser {
		return nil, patch.Errorf(patch.KindForbidden, "Only logged-in users have sessions.")
	}
	uid := patch.UserID(a.ID)
	list, _, err := s.st.Sessions.FindSessions(ctx, patch.SessionFilter{UserID: &uid, Limit: patch.MaxLimit})
	return list, err
}

// PasswordChange is a user's change of their own password.
type PasswordChange struct {
	Current string
	New     string
	// Session is the secret of the session making the change: it is
	// replaced by a new one, while every other session of the user ends
	// because the password it was opened with is gone.
	Session    string
	UserAgent  string
	RemoteAddr string
}

// ChangeOwnPassword lets any logged-in user change their password after
// proving they know the current one. It returns the session that replaces
// the caller's.
func (s *Server) ChangeOwnPassword(ctx context.Context, in PasswordChange, p SessionPolicy) (*NewSession, error) {
	a, ok := patch.ActorFromContext(ctx)
	if !ok {
		return nil, patch.Errorf(patch.KindUnauthenticated, "Authentication required.")
	}
	if a.Kind != patch.ActorUser {
		return nil, patch.Errorf(patch.KindForbidden, "Only logged-in users can change their password here; API tokens have none.")
	}
	u, err := s.st.Users.FindUserByID(ctx, patch.UserID(a.ID))
	if err != nil {
		return nil, err
	}
	if u.PasswordHash == "" || password.Verify(in.Current, u.PasswordHash) != nil {
		return nil, patch.FieldError("current_password", "is not your current password")
	}
	if in.New == in.Current {
		return nil, patch.FieldError("password", "must differ from the current password")
	}
	h, err := hashPassword(in.New)
	if err != nil {
		return nil, err
	}
	u, err = s.st.Users.UpdateUser(ctx, u.ID, patch.UserUpdate{PasswordHash: &h})
	if err != nil {
		return nil, err
	}
	return s.openSession(ctx, u, in.Session, in.UserAgent, in.RemoteAddr, p)
}
