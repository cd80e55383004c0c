package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

const sessionColumns = `s.id_hash, s.user_id, s.password_fp, s.created_at, s.last_seen_at, s.expires_at, s.idle_timeout_ms, s.user_agent, s.remote_addr`

// sessionUserColumns are the user columns of a session joined with its user.
var sessionUserColumns = func() string {
	cols := strings.Split(userColumns, ", ")
	for i, c := range cols {
		cols[i] = "u." + c
	}
	return strings.Join(cols, ", ")
}()

// sessionDest holds the scan destinations of sessionColumns.
type sessionDest struct {
	s                  patch.Session
	cat, seen, exp, ms int64
}

func (d *sessionDest) dests() []any {
	return []any{&d.s.IDHash, &d.s.UserID, &d.s.PasswordFP, &d.cat, &d.seen, &d.exp, &d.ms, &d.s.UserAgent, &d.s.RemoteAddr}
}

func (d *sessionDest) session() *patch.Session {
	s := d.s
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMS(d.cat), fromMS(d.seen), fromMS(d.exp)
	s.IdleTimeout = time.Duration(d.ms) * time.Millisecond
	return &s
}

func scanSession(s interface{ Scan(...any) error }, extra ...any) (*patch.Session, error) {
	var d sessionDest
	if err := s.Scan(append(d.dests(), extra...)...); err != nil {
		return nil, err
	}
	return d.session(), nil
}

// sessionTouchInterval limits how often a session's last-seen time is
// written. It bounds the error of the idle timeout: a session may end up to
// this much earlier than LastSeenAt+IdleTimeout of the latest request.
const sessionTouchInterval = time.Minute

// errNoSession is the one answer for every session that cannot authenticate.
func errNoSession() error {
	return patch.Errorf(patch.KindUnauthenticated, "Your session has ended; please log in again.")
}

// expiredSessions is the condition of sessions that can no longer be used
// at the time in parameter $1.
const expiredSessions = `(expires_at <= $1 OR last_seen_at + idle_timeout_ms <= $1)`

// CreateSession stores a new session, replacing (deleting) the one whose
// hash is replaces and pruning expired ones, in one transaction.
func (db *DB) CreateSession(ctx context.Context, s *patch.Session, replaces string) error {
	if s.IDHash == "" || s.UserID == "" || s.PasswordFP == "" {
		return fmt.Errorf("create session: id hash, user and password fingerprint are required")
	}
	if s.IdleTimeout <= 0 {
		return fmt.Errorf("create session: idle timeout must be positive")
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if tx.actor.Kind == patch.ActorUser && tx.actor.ID != string(s.UserID) {
			return patch.Errorf(patch.KindForbidden, "A user can only open sessions for themselves.")
		}
		u, err := tx.userForUpdate(ctx, s.UserID)
		if err != nil {
			return err
		}
		if u.Disabled {
			return patch.Errorf(patch.KindForbidden, "This account is disabled.")
		}
		if !s.ExpiresAt.After(tx.now) {
			return fmt.Errorf("create session: expiry %s is not after now %s", s.ExpiresAt, tx.now)
		}
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE `+expiredSessions, ms(tx.now)); err != nil {
			return fmt.Errorf("prune sessions: %w", err)
		}
		if replaces != "" {
			if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, replaces); err != nil {
				return fmt.Errorf("delete replaced session: %w", err)
			}
		}
		s.CreatedAt, s.LastSeenAt = tx.now, tx.now
		if _, err := tx.exec(ctx, `INSERT INTO sessions (id_hash, user_id, password_fp, created_at, last_seen_at, expires_at, idle_timeout_ms, user_agent, remote_addr)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			s.IDHash, string(s.UserID), s.PasswordFP, ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.ExpiresAt), s.IdleTimeout.Milliseconds(),
			clipUTF8(s.UserAgent, 300), clipUTF8(s.RemoteAddr, 100)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return tx.audit(ctx, u.ClientID, "user.login", "user", string(u.ID), nil, s)
	})
}

// AuthenticateSession looks up an active session and its user.
func (db *DB) AuthenticateSession(ctx context.Context, hash string) (*patch.Session, *patch.User, error) {
	// User columns first: scanUser takes the session columns as extras.
	var d sessionDest
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+sessionUserColumns+`, `+sessionColumns+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`, hash), d.dests()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errNoSession()
	}
	if err != nil {
		return nil, nil, db.classify(fmt.Errorf("query session: %w", err))
	}
	s := d.session()
	now := db.Now()
	if !s.Active(now) || u.Disabled || u.PasswordHash == "" || patch.PasswordFingerprint(u.PasswordHash) != s.PasswordFP {
		if _, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hash); err != nil {
			return nil, nil, db.classify(fmt.Errorf("delete ended session: %w", err))
		}
		return nil, nil, errNoSession()
	}
	if now.Sub(s.LastSeenAt) >= sessionTouchInterval {
		if _, err := db.write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1`, hash, ms(now)); err != nil {
			return nil, nil, db.classify(fmt.Errorf("touch session: %w", err))
		}
		s.LastSeenAt = now.UTC().Truncate(time.Millisecond)
	}
	return s, u, nil
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		var (
			userID   string
			clientID sql.NullString
		)
		err := tx.queryRow(ctx, `SELECT s.user_id, u.client_id FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`, hash).Scan(&userID, &clientID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("query session: %w", err)
		}
		if !tx.scope.All && patch.ClientID(clientID.String) != tx.scope.ClientID {
			return nil // as if it did not exist
		}
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hash); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return tx.audit(ctx, patch.ClientID(clientID.String), "user.logout", "user", userID, nil, nil)
	})
}

// FindSessions lists active sessions in scope, newest first.
func (db *DB) FindSessions(ctx context.Context, f patch.SessionFilter) ([]*patch.Session, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("u.client_id", scope)
	now := ms(db.Now())
	c.add("s.expires_at > ? AND s.last_seen_at + s.idle_timeout_ms > ?", now, now)
	if f.UserID != nil {
		c.add("s.user_id = ?", string(*f.UserID))
	}
	from := ` FROM sessions s JOIN users u ON u.id = s.user_id`
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+sessionColumns+`, COUNT(*) OVER ()`+from+where+` ORDER BY s.created_at DESC, s.id_hash`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query sessions: %w", err))
	}
	defer rows.Close()
	var out []*patch.Session
	total := 0
	for rows.Next() {
		s, err := scanSession(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan session: %w", err))
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read sessions: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*)`+from+where, c.args[:len(c.args)-2]...).Scan(&n); err != nil {
			return nil, 0, db.classify(fmt.Errorf("count sessions: %w", err))
		}
		total = n
	}
	return out, total, nil
}

// clipUTF8 shortens s to at most n bytes on a rune boundary.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
