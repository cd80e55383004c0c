package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

const tokenColumns = `id, name, role, client_id, user_id, hash, hint, created_by, created_at, expires_at, revoked_at, last_used_at`

func scanToken(s interface{ Scan(...any) error }, extra ...any) (*patch.Token, error) {
	var (
		t              patch.Token
		client, user   sql.NullString
		cat            int64
		exp, rev, used sql.NullInt64
	)
	if err := s.Scan(append([]any{&t.ID, &t.Name, &t.Role, &client, &user, &t.Hash, &t.Hint, &t.CreatedBy, &cat, &exp, &rev, &used}, extra...)...); err != nil {
		return nil, err
	}
	t.ClientID, t.UserID = patch.ClientID(client.String), patch.UserID(user.String)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromMS(cat), fromNullMS(exp), fromNullMS(rev), fromNullMS(used)
	return &t, nil
}

// touchInterval limits how often a token's last-used time is written:
// authenticating must not turn every API read into a write.
const touchInterval = 60_000 // milliseconds

// AuthenticateToken looks up an active token by hash.
func (db *DB) AuthenticateToken(ctx context.Context, hash string) (*patch.Token, error) {
	t, err := scanToken(db.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patch.Errorf(patch.KindUnauthenticated, "The API token is invalid, expired or revoked.")
	}
	if err != nil {
		return nil, db.classify(fmt.Errorf("query token: %w", err))
	}
	now := db.Now()
	if !t.Active(now) {
		return nil, patch.Errorf(patch.KindUnauthenticated, "The API token is invalid, expired or revoked.")
	}
	if t.LastUsedAt.IsZero() || now.UnixMilli()-t.LastUsedAt.UnixMilli() > touchInterval {
		if _, err := db.write.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, string(t.ID), ms(now)); err != nil {
			return nil, db.classify(fmt.Errorf("touch token: %w", err))
		}
		t.LastUsedAt = now.UTC().Truncate(1e6)
	}
	return t, nil
}

// FindTokenByID returns a token in scope.
func (db *DB) FindTokenByID(ctx context.Context, id patch.TokenID) (*patch.Token, error) {
	ts, _, err := db.FindTokens(ctx, patch.TokenFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, notFound("Token", id)
	}
	return ts[0], nil
}

// FindTokens lists tokens in scope, newest first.
func (db *DB) FindTokens(ctx context.Context, f patch.TokenFilter) ([]*patch.Token, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ID != nil {
		c.add("id = ?", string(*f.ID))
	}
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.UserID != nil {
		c.add("user_id = ?", string(*f.UserID))
	}
	if f.Active != nil {
		now := ms(db.Now())
		if *f.Active {
			c.add("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", now)
		} else {
			c.add("(revoked_at IS NOT NULL OR expires_at <= ?)", now)
		}
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+`, COUNT(*) OVER () FROM api_tokens`+where+` ORDER BY created_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query tokens: %w", err))
	}
	defer rows.Close()
	var out []*patch.Token
	total := 0
	for rows.Next() {
		t, err := scanToken(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan token: %w", err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read tokens: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "api_tokens", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// CreateToken stores a new token.
func (db *DB) CreateToken(ctx context.Context, t *patch.Token) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.Hash == "" {
		return fmt.Errorf("create token: hash is empty")
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if t.ClientID != "" {
			if _, err := tx.clientForUpdate(ctx, t.ClientID); err != nil {
				return patch.FieldError("client_id", "client %s not found", t.ClientID)
			}
		} else if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "A client-scoped account can only create tokens for its own client.")
		}
		if t.UserID != "" {
			if _, err := tx.userForUpdate(ctx, t.UserID); err != nil {
				return patch.FieldError("user_id", "user %s not found", t.UserID)
			}
		}
		t.CreatedAt = tx.now
		t.CreatedBy = tx.actor.Name
		if _, err := tx.exec(ctx, `INSERT INTO api_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			string(t.ID), t.Name, string(t.Role), nullStr(t.ClientID), nullStr(t.UserID), t.Hash, t.Hint, t.CreatedBy, ms(t.CreatedAt),
			nullMS(t.ExpiresAt), nullMS(t.RevokedAt), nullMS(t.LastUsedAt)); err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		return tx.audit(ctx, t.ClientID, "token.create", "token", string(t.ID), nil, t)
	})
}

// RevokeToken revokes a token.
func (db *DB) RevokeToken(ctx context.Context, id patch.TokenID) (*patch.Token, error) {
	var out *patch.Token
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := scanToken(tx.queryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.All && before.ClientID != tx.scope.ClientID) {
			return notFound("Token", id)
		}
		if err != nil {
			return fmt.Errorf("query token: %w", err)
		}
		after := *before
		if !after.RevokedAt.IsZero() {
			out = &after
			return nil
		}
		after.RevokedAt = tx.now
		if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1`, string(id), ms(tx.now)); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		out = &after
		return tx.audit(ctx, after.ClientID, "token.revoke", "token", string(id), before, &after)
	})
	return out, err
}
