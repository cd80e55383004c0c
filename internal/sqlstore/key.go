package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

func scanKey(s interface{ Scan(...any) error }) (*patch.ServerKey, error) {
	var (
		k       patch.ServerKey
		created int64
		retired sql.NullInt64
	)
	if err := s.Scan(&k.ID, &k.Purpose, &k.Public, &k.Private, &created, &retired); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RetiredAt = fromMS(created), fromNullMS(retired)
	return &k, nil
}

const keyColumns = `id, purpose, public_key, private_key, created_at, retired_at`

// ActiveKey returns the current key of a purpose. Keys are not tenant data
// but they are the server's secrets: only unscoped actors may read them.
func (db *DB) ActiveKey(ctx context.Context, purpose string) (*patch.ServerKey, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !scope.All {
		return nil, patch.Errorf(patch.KindForbidden, "Server keys are not available to client accounts.")
	}
	k, err := scanKey(db.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM server_keys WHERE purpose = $1 AND retired_at IS NULL`, purpose))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patch.Errorf(patch.KindNotFound, "No %s key yet.", purpose)
	}
	if err != nil {
		return nil, db.classify(fmt.Errorf("query key: %w", err))
	}
	return k, nil
}

// EnsureKey stores k as the current key of its purpose unless one exists.
func (db *DB) EnsureKey(ctx context.Context, k *patch.ServerKey) (*patch.ServerKey, error) {
	if cur, err := db.ActiveKey(ctx, k.Purpose); err == nil || patch.ErrorKind(err) != patch.KindNotFound {
		return cur, err
	}
	err := db.inTx(ctx, func(tx *Tx) error {
		k.CreatedAt = tx.now
		res, err := tx.exec(ctx, `INSERT INTO server_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT DO NOTHING`,
			k.ID, k.Purpose, k.Public, k.Private, ms(k.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // another server won
		}
		return tx.audit(ctx, "", "key.create", "server_key", k.ID, nil, k)
	})
	if err != nil {
		return nil, err
	}
	return db.ActiveKey(ctx, k.Purpose)
}

// RotateKey retires the current key of k's purpose and makes k current.
func (db *DB) RotateKey(ctx context.Context, k *patch.ServerKey) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only MSP staff can rotate server keys.")
		}
		if _, err := tx.exec(ctx, `UPDATE server_keys SET retired_at = $2 WHERE purpose = $1 AND retired_at IS NULL`, k.Purpose, ms(tx.now)); err != nil {
			return fmt.Errorf("retire key: %w", err)
		}
		k.CreatedAt = tx.now
		if _, err := tx.exec(ctx, `INSERT INTO server_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, NULL)`,
			k.ID, k.Purpose, k.Public, k.Private, ms(k.CreatedAt)); err != nil {
			return fmt.Errorf("insert key: %w", err)
		}
		return tx.audit(ctx, "", "key.rotate", "server_key", k.ID, nil, k)
	})
}

// FindKeys lists the keys of a purpose, current first.
func (db *DB) FindKeys(ctx context.Context, purpose string) ([]*patch.ServerKey, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+keyColumns+` FROM server_keys WHERE purpose = $1 ORDER BY retired_at IS NOT NULL, created_at DESC`, purpose)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query keys: %w", err))
	}
	defer rows.Close()
	var out []*patch.ServerKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, db.classify(fmt.Errorf("scan key: %w", err))
		}
		if !scope.All {
			k.Private = "" // public keys are public; private ones stay with MSP staff
		}
		out = append(out, k)
	}
	return out, db.classify(rows.Err())
}
