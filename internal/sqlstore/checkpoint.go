package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// SaveCheckpoint stores a signed checkpoint unless one of the same size
// exists, and returns the stored one.
func (db *DB) SaveCheckpoint(ctx context.Context, c *patch.EvidenceCheckpoint) (*patch.EvidenceCheckpoint, bool, error) {
	created := false
	err := db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only the server signs evidence checkpoints.")
		}
		res, err := tx.exec(ctx, `INSERT INTO evidence_checkpoints (client_id, size, head, at, key_id, signed)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id, size) DO NOTHING`,
			string(c.ClientID), int64(c.Size), c.Head, ms(c.At), c.KeyID, c.Signed)
		if err != nil {
			return fmt.Errorf("insert checkpoint: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert checkpoint: %w", err)
		}
		created = n == 1
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		return c, true, nil
	}
	size := c.Size
	got, err := db.FindCheckpoints(ctx, patch.CheckpointFilter{ClientID: c.ClientID, MinSize: &size, MaxSize: &size})
	if err != nil {
		return nil, false, err
	}
	if len(got) != 1 {
		return nil, false, fmt.Errorf("checkpoint %s/%d vanished", c.ClientID, c.Size)
	}
	return got[0], false, nil
}

// FindCheckpoints lists a client's checkpoints by size.
func (db *DB) FindCheckpoints(ctx context.Context, f patch.CheckpointFilter) ([]*patch.EvidenceCheckpoint, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if f.ClientID == "" {
		return nil, patch.FieldError("client_id", "is required")
	}
	if !scope.Allows(f.ClientID) {
		return nil, nil
	}
	var c conds
	c.add("client_id = ?", string(f.ClientID))
	if f.MinSize != nil {
		c.add("size >= ?", int64(*f.MinSize))
	}
	if f.MaxSize != nil {
		c.add("size <= ?", int64(*f.MaxSize))
	}
	order := " ORDER BY size"
	if f.Desc {
		order += " DESC"
	}
	where := c.where()
	tail := ""
	if f.Limit > 0 {
		tail = c.page(f.Limit, 0)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT client_id, size, head, at, key_id, signed FROM evidence_checkpoints`+where+order+tail, c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query checkpoints: %w", err))
	}
	defer rows.Close()
	var out []*patch.EvidenceCheckpoint
	for rows.Next() {
		var (
			cp       patch.EvidenceCheckpoint
			size, at int64
		)
		if err := rows.Scan(&cp.ClientID, &size, &cp.Head, &at, &cp.KeyID, &cp.Signed); err != nil {
			return nil, db.classify(fmt.Errorf("scan checkpoint: %w", err))
		}
		cp.Size, cp.At = uint64(size), fromMS(at)
		out = append(out, &cp)
	}
	return out, db.classify(rows.Err())
}

// EvidenceSpan returns the entries of a client's chain recorded in [from, to).
func (db *DB) EvidenceSpan(ctx context.Context, client patch.ClientID, from, to time.Time) (patch.EvidenceSpan, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return patch.EvidenceSpan{}, err
	}
	if !scope.Allows(client) {
		return patch.EvidenceSpan{}, notFound("Client", client)
	}
	var lo, hi sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq) FROM evidence_entries WHERE client_id = $1 AND at >= $2 AND at < $3`,
		string(client), ms(from), ms(to)).Scan(&lo, &hi); err != nil {
		return patch.EvidenceSpan{}, db.classify(fmt.Errorf("query evidence span: %w", err))
	}
	if lo.Valid {
		return patch.EvidenceSpan{StartSize: uint64(lo.Int64 - 1), EndSize: uint64(hi.Int64)}, nil
	}
	// No entry in the interval: the span is empty, at the end of what was
	// recorded before it.
	var before sql.NullInt64
	err = db.read.QueryRowContext(ctx, `SELECT MAX(seq) FROM evidence_entries WHERE client_id = $1 AND at < $2`, string(client), ms(from)).Scan(&before)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return patch.EvidenceSpan{}, db.classify(fmt.Errorf("query evidence span: %w", err))
	}
	n := uint64(0)
	if before.Valid {
		n = uint64(before.Int64)
	}
	return patch.EvidenceSpan{StartSize: n, EndSize: n}, nil
}

// RotateEvidenceKey retires the current key of k's purpose, makes k
// current, and records the rotation in every client's chain, in one
// transaction.
func (db *DB) RotateEvidenceKey(ctx context.Context, k *patch.ServerKey, details map[string]string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if !tx.scope.All {
			return patch.Errorf(patch.KindForbidden, "Only MSP staff can rotate server keys.")
		}
		var before any
		old, err := scanKey(tx.queryRow(ctx, `SELECT `+keyColumns+` FROM server_keys WHERE purpose = $1 AND retired_at IS NULL`+tx.db.dialect.ForUpdate, k.Purpose))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read current key: %w", err)
		default:
			old.Private = ""
			before = old
		}
		if _, err := tx.exec(ctx, `UPDATE server_keys SET retired_at = $2 WHERE purpose = $1 AND retired_at IS NULL`, k.Purpose, ms(tx.now)); err != nil {
			return fmt.Errorf("retire key: %w", err)
		}
		k.CreatedAt = tx.now
		if _, err := tx.exec(ctx, `INSERT INTO server_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, NULL)`,
			k.ID, k.Purpose, k.Public, k.Private, ms(k.CreatedAt)); err != nil {
			return fmt.Errorf("insert key: %w", err)
		}
		rows, err := tx.query(ctx, `SELECT id FROM clients ORDER BY id`)
		if err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		var clients []patch.ClientID
		for rows.Next() {
			var id patch.ClientID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("scan client: %w", err)
			}
			clients = append(clients, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("list clients: %w", err)
		}
		events := make([]patch.EvidenceEvent, len(clients))
		for i, c := range clients {
			events[i] = patch.EvidenceEvent{ClientID: c, Type: patch.EventKeyRotated, Details: details}
		}
		if err := tx.appendEvidence(ctx, events...); err != nil {
			return err
		}
		after := *k
		after.Private = ""
		return tx.audit(ctx, "", "key.rotate", "server_key", k.ID, before, &after)
	})
}
