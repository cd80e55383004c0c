package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

// audit records a change in the same transaction. before and after are the
// object's states (nil for create and delete respectively); they are
// serialised as the API would show them, so secrets tagged json:"-" never
// reach the log.
func (tx *Tx) audit(ctx context.Context, clientID patch.ClientID, action, entityType, entityID string, before, after any) error {
	var b, a any
	if before != nil {
		b = mustJSON(before)
	}
	if after != nil {
		a = mustJSON(after)
	}
	_, err := tx.exec(ctx, `INSERT INTO audit_log
		(id, at, actor_kind, actor_id, actor_name, actor_role, client_id, action, entity_type, entity_id, before_json, after_json, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		patch.NewID(patch.PrefixAudit, tx.now), ms(tx.now), string(tx.actor.Kind), tx.actor.ID, tx.actor.Name, string(tx.actor.Role),
		nullStr(clientID), action, entityType, entityID, b, a, patch.RequestIDFromContext(ctx))
	if err != nil {
		return fmt.Errorf("write audit entry %s %s: %w", action, entityID, err)
	}
	return nil
}

// FindAuditEntries lists audit entries, newest first. Client-scoped actors
// see only their client's entries.
func (db *DB) FindAuditEntries(ctx context.Context, f patch.AuditFilter) ([]*patch.AuditEntry, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.EntityType != nil {
		c.add("entity_type = ?", *f.EntityType)
	}
	if f.EntityID != nil {
		c.add("entity_id = ?", *f.EntityID)
	}
	if f.ActorID != nil {
		c.add("actor_id = ?", *f.ActorID)
	}
	if f.Action != nil {
		c.add("action = ?", *f.Action)
	}
	if f.Since != nil {
		c.add("at >= ?", ms(*f.Since))
	}
	if f.Until != nil {
		c.add("at < ?", ms(*f.Until))
	}
	where := c.where()
	q := `SELECT id, at, actor_kind, actor_id, actor_name, actor_role, client_id, action, entity_type, entity_id, before_json, after_json, request_id, COUNT(*) OVER ()
		FROM audit_log` + where + ` ORDER BY at DESC, id DESC` + c.page(f.Limit, f.Offset)
	rows, err := db.read.QueryContext(ctx, q, c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query audit log: %w", err))
	}
	defer rows.Close()
	var out []*patch.AuditEntry
	total := 0
	for rows.Next() {
		var (
			e             patch.AuditEntry
			at            int64
			clientID      sql.NullString
			before, after sql.NullString
			kind, role    string
		)
		if err := rows.Scan(&e.ID, &at, &kind, &e.Actor.ID, &e.Actor.Name, &role, &clientID, &e.Action, &e.EntityType, &e.EntityID, &before, &after, &e.RequestID, &total); err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan audit entry: %w", err))
		}
		e.At = fromMS(at)
		e.Actor.Kind, e.Actor.Role = patch.ActorKind(kind), patch.Role(role)
		e.ClientID = patch.ClientID(clientID.String)
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read audit log: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "audit_log", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// count returns the number of rows of table matching where; used when a
// page past the end leaves COUNT(*) OVER () without a row to ride on.
func (db *DB) count(ctx context.Context, table, where string, args []any) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+where, args...).Scan(&n); err != nil {
		return 0, db.classify(fmt.Errorf("count %s: %w", table, err))
	}
	return n, nil
}
