package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

const userColumns = `id, email, name, role, client_id, password_hash, disabled, last_login_at, created_at, updated_at`

func scanUser(s interface{ Scan(...any) error }, extra ...any) (*patch.User, error) {
	var (
		u        patch.User
		client   sql.NullString
		login    sql.NullInt64
		cat, uat int64
	)
	if err := s.Scan(append([]any{&u.ID, &u.Email, &u.Name, &u.Role, &client, &u.PasswordHash, &u.Disabled, &login, &cat, &uat}, extra...)...); err != nil {
		return nil, err
	}
	u.ClientID = patch.ClientID(client.String)
	u.LastLoginAt, u.CreatedAt, u.UpdatedAt = fromNullMS(login), fromMS(cat), fromMS(uat)
	return &u, nil
}

// FindUserByID returns a user in scope.
func (db *DB) FindUserByID(ctx context.Context, id patch.UserID) (*patch.User, error) {
	us, _, err := db.FindUsers(ctx, patch.UserFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, notFound("User", id)
	}
	return us[0], nil
}

// FindUsers lists users in scope: client-scoped actors see their client's
// users only.
func (db *DB) FindUsers(ctx context.Context, f patch.UserFilter) ([]*patch.User, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ID != nil {
		c.add("id = ?", string(*f.ID))
	}
	if f.Email != nil {
		c.add("email = ?", patch.NormalizeEmail(*f.Email))
	}
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.Role != nil {
		c.add("role = ?", string(*f.Role))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+`, COUNT(*) OVER () FROM users`+where+` ORDER BY email`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query users: %w", err))
	}
	defer rows.Close()
	var out []*patch.User
	total := 0
	for rows.Next() {
		u, err := scanUser(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan user: %w", err))
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read users: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "users", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

func (tx *Tx) userForUpdate(ctx context.Context, id patch.UserID) (*patch.User, error) {
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.All && u.ClientID != tx.scope.ClientID) {
		return nil, notFound("User", id)
	}
	if err != nil {
		return nil, fmt.Errorf("query user %s: %w", id, err)
	}
	return u, nil
}

// checkUser validates u and its client reference inside tx.
func (tx *Tx) checkUser(ctx context.Context, u *patch.User) error {
	u.Email = patch.NormalizeEmail(u.Email)
	if err := u.Validate(); err != nil {
		return err
	}
	if u.ClientID != "" {
		if _, err := tx.clientForUpdate(ctx, u.ClientID); err != nil {
			return patch.FieldError("client_id", "client %s not found", u.ClientID)
		}
	} else if !tx.scope.All {
		return patch.Errorf(patch.KindForbidden, "Only MSP staff can manage MSP-wide users.")
	}
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM users WHERE email = $1 AND id <> $2`, u.Email, string(u.ID)).Scan(&id)
	if err == nil {
		return &patch.Error{Kind: patch.KindConflict, Field: "email", Message: fmt.Sprintf("A user with e-mail %s already exists.", u.Email)}
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check user e-mail: %w", err)
	}
	return nil
}

// CreateUser stores a new user.
func (db *DB) CreateUser(ctx context.Context, u *patch.User) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.checkUser(ctx, u); err != nil {
			return err
		}
		u.CreatedAt, u.UpdatedAt = tx.now, tx.now
		if _, err := tx.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			string(u.ID), u.Email, u.Name, string(u.Role), nullStr(u.ClientID), u.PasswordHash, u.Disabled, nullMS(u.LastLoginAt), ms(u.CreatedAt), ms(u.UpdatedAt)); err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return tx.audit(ctx, u.ClientID, "user.create", "user", string(u.ID), nil, u)
	})
}

// UpdateUser applies a partial update. Disabling a user or changing its
// role or client revokes its API tokens in the same transaction, so no
// token outlives the access it was issued under.
func (db *DB) UpdateUser(ctx context.Context, id patch.UserID, upd patch.UserUpdate) (*patch.User, error) {
	var out *patch.User
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.userForUpdate(ctx, id)
		if err != nil {
			return err
		}
		after := *before
		upd.Apply(&after)
		if err := tx.checkUser(ctx, &after); err != nil {
			return err
		}
		after.UpdatedAt = tx.now
		if _, err := tx.exec(ctx, `UPDATE users SET name = $2, role = $3, client_id = $4, password_hash = $5, disabled = $6, updated_at = $7 WHERE id = $1`,
			string(id), after.Name, string(after.Role), nullStr(after.ClientID), after.PasswordHash, after.Disabled, ms(after.UpdatedAt)); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if after.Disabled || after.Role != before.Role || after.ClientID != before.ClientID {
			if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, string(id), ms(tx.now)); err != nil {
				return fmt.Errorf("revoke user tokens: %w", err)
			}
		}
		out = &after
		action := "user.update"
		if upd.PasswordHash != nil && upd.Name == nil && upd.Role == nil && upd.ClientID == nil && upd.Disabled == nil {
			action = "user.password"
		}
		return tx.audit(ctx, after.ClientID, action, "user", string(id), before, &after)
	})
	return out, err
}

// DeleteUser removes a user and its tokens.
func (db *DB) DeleteUser(ctx context.Context, id patch.UserID) error {
	return db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.userForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1`, string(id)); err != nil {
			return fmt.Errorf("delete user tokens: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM users WHERE id = $1`, string(id)); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		return tx.audit(ctx, before.ClientID, "user.delete", "user", string(id), before, nil)
	})
}

// RecordLogin stamps a user's last login time. It needs no actor: it runs
// as part of authenticating.
func (db *DB) RecordLogin(ctx context.Context, id patch.UserID) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE users SET last_login_at = $2 WHERE id = $1`, string(id), ms(db.Now())); err != nil {
		return db.classify(fmt.Errorf("record login: %w", err))
	}
	return nil
}
