package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

// checkUpdate reports KindNotFound for an update not in the catalog.
func (tx *Tx) checkUpdate(ctx context.Context, id patch.UpdateID) error {
	var one int
	err := tx.queryRow(ctx, `SELECT 1 FROM updates WHERE id = $1`, string(id)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("Update", id)
	}
	if err != nil {
		return fmt.Errorf("check update %s: %w", id, err)
	}
	return nil
}

func decisionEntity(client patch.ClientID, update patch.UpdateID) string {
	return string(client) + "/" + string(update)
}

func (tx *Tx) decision(ctx context.Context, client patch.ClientID, update patch.UpdateID) (*patch.UpdateDecision, error) {
	rows, err := tx.query(ctx, `SELECT client_id, update_id, decision, reason, decided_by, decided_at FROM update_decisions
		WHERE client_id = $1 AND update_id = $2`+tx.db.dialect.ForUpdate, string(client), string(update))
	if err != nil {
		return nil, fmt.Errorf("query decision: %w", err)
	}
	ds, err := scanDecisions(rows)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[0], nil
}

func scanDecisions(rows *sql.Rows, extra ...any) ([]*patch.UpdateDecision, error) {
	defer rows.Close()
	var out []*patch.UpdateDecision
	for rows.Next() {
		var (
			d  patch.UpdateDecision
			by string
			at int64
		)
		if err := rows.Scan(append([]any{&d.ClientID, &d.UpdateID, &d.Decision, &d.Reason, &by, &at}, extra...)...); err != nil {
			return nil, fmt.Errorf("scan decision: %w", err)
		}
		if err := fromJSON(by, &d.DecidedBy); err != nil {
			return nil, err
		}
		d.DecidedAt = fromMS(at)
		out = append(out, &d)
	}
	return out, rows.Err()
}

// DecideUpdate records a manual approval or decline.
func (db *DB) DecideUpdate(ctx context.Context, d *patch.UpdateDecision) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, d.ClientID); err != nil {
			return err
		}
		if err := tx.checkUpdate(ctx, d.UpdateID); err != nil {
			return err
		}
		before, err := tx.decision(ctx, d.ClientID, d.UpdateID)
		if err != nil {
			return err
		}
		d.DecidedBy, d.DecidedAt = tx.actor, tx.now
		if _, err := tx.exec(ctx, `INSERT INTO update_decisions (client_id, update_id, decision, reason, decided_by, decided_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (client_id, update_id) DO UPDATE SET decision = excluded.decision, reason = excluded.reason, decided_by = excluded.decided_by, decided_at = excluded.decided_at`,
			string(d.ClientID), string(d.UpdateID), string(d.Decision), d.Reason, mustJSON(d.DecidedBy), ms(d.DecidedAt)); err != nil {
			return fmt.Errorf("store decision: %w", err)
		}
		action, event := "update.approve", patch.EventApproved
		if d.Decision == patch.ApprovalDeclined {
			action, event = "update.decline", patch.EventDeclined
		}
		var b any
		if before != nil {
			b = before
		}
		if err := tx.audit(ctx, d.ClientID, action, "update_decision", decisionEntity(d.ClientID, d.UpdateID), b, d); err != nil {
			return err
		}
		// One evidence event per open finding the decision applies to.
		rows, err := tx.query(ctx, `SELECT id, asset_id FROM findings WHERE client_id = $1 AND update_id = $2 AND state = 'open' ORDER BY id`, string(d.ClientID), string(d.UpdateID))
		if err != nil {
			return fmt.Errorf("query findings of decision: %w", err)
		}
		var events []patch.EvidenceEvent
		for rows.Next() {
			var fid, aid string
			if err := rows.Scan(&fid, &aid); err != nil {
				rows.Close()
				return fmt.Errorf("scan finding: %w", err)
			}
			details := map[string]string{"finding": fid, "source": "manual"}
			if d.Reason != "" {
				details["reason"] = d.Reason
			}
			events = append(events, patch.EvidenceEvent{ClientID: d.ClientID, Type: event,
				Subject: patch.EvidenceSubject{AssetID: patch.AssetID(aid), UpdateID: d.UpdateID}, Details: details})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read findings of decision: %w", err)
		}
		return tx.appendEvidence(ctx, events...)
	})
}

// ClearDecision removes a manual decision.
func (db *DB) ClearDecision(ctx context.Context, client patch.ClientID, update patch.UpdateID) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, client); err != nil {
			return err
		}
		before, err := tx.decision(ctx, client, update)
		if err != nil {
			return err
		}
		if before == nil {
			return notFound("Decision on update", update)
		}
		if _, err := tx.exec(ctx, `DELETE FROM update_decisions WHERE client_id = $1 AND update_id = $2`, string(client), string(update)); err != nil {
			return fmt.Errorf("delete decision: %w", err)
		}
		return tx.audit(ctx, client, "update.clear_decision", "update_decision", decisionEntity(client, update), before, nil)
	})
}

// FindDecisions lists decisions in scope, newest first.
func (db *DB) FindDecisions(ctx context.Context, f patch.DecisionFilter) ([]*patch.UpdateDecision, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.UpdateID != nil {
		c.add("update_id = ?", string(*f.UpdateID))
	}
	if f.Decision != nil {
		c.add("decision = ?", string(*f.Decision))
	}
	where := c.where()
	total := 0
	rows, err := db.read.QueryContext(ctx, `SELECT client_id, update_id, decision, reason, decided_by, decided_at, COUNT(*) OVER ()
		FROM update_decisions`+where+` ORDER BY decided_at DESC, update_id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query decisions: %w", err))
	}
	out, err := scanDecisions(rows, &total)
	if err != nil {
		return nil, 0, db.classify(err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "update_decisions", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

func scanOverrides(rows *sql.Rows, extra ...any) ([]*patch.TierOverride, error) {
	defer rows.Close()
	var out []*patch.TierOverride
	for rows.Next() {
		var (
			o  patch.TierOverride
			em sql.NullBool
			by string
			at int64
		)
		if err := rows.Scan(append([]any{&o.ClientID, &o.UpdateID, &o.Tier, &em, &o.Reason, &by, &at}, extra...)...); err != nil {
			return nil, fmt.Errorf("scan tier override: %w", err)
		}
		if em.Valid {
			o.Emergency = &em.Bool
		}
		if err := fromJSON(by, &o.SetBy); err != nil {
			return nil, err
		}
		o.SetAt = fromMS(at)
		out = append(out, &o)
	}
	return out, rows.Err()
}

const overrideColumns = `client_id, update_id, tier, emergency, reason, set_by, set_at`

func (tx *Tx) override(ctx context.Context, client patch.ClientID, update patch.UpdateID) (*patch.TierOverride, error) {
	rows, err := tx.query(ctx, `SELECT `+overrideColumns+` FROM tier_overrides WHERE client_id = $1 AND update_id = $2`+tx.db.dialect.ForUpdate,
		string(client), string(update))
	if err != nil {
		return nil, fmt.Errorf("query tier override: %w", err)
	}
	os, err := scanOverrides(rows)
	if err != nil || len(os) == 0 {
		return nil, err
	}
	return os[0], nil
}

// SetTierOverride records an override.
func (db *DB) SetTierOverride(ctx context.Context, o *patch.TierOverride) error {
	if err := o.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, o.ClientID); err != nil {
			return err
		}
		if err := tx.checkUpdate(ctx, o.UpdateID); err != nil {
			return err
		}
		before, err := tx.override(ctx, o.ClientID, o.UpdateID)
		if err != nil {
			return err
		}
		o.SetBy, o.SetAt = tx.actor, tx.now
		var em any
		if o.Emergency != nil {
			em = *o.Emergency
		}
		if _, err := tx.exec(ctx, `INSERT INTO tier_overrides (`+overrideColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (client_id, update_id) DO UPDATE SET tier = excluded.tier, emergency = excluded.emergency, reason = excluded.reason,
				set_by = excluded.set_by, set_at = excluded.set_at`,
			string(o.ClientID), string(o.UpdateID), o.Tier, em, o.Reason, mustJSON(o.SetBy), ms(o.SetAt)); err != nil {
			return fmt.Errorf("store tier override: %w", err)
		}
		var b any
		if before != nil {
			b = before
		}
		return tx.audit(ctx, o.ClientID, "tier_override.set", "tier_override", decisionEntity(o.ClientID, o.UpdateID), b, o)
	})
}

// DeleteTierOverride removes an override.
func (db *DB) DeleteTierOverride(ctx context.Context, client patch.ClientID, update patch.UpdateID, reason string) error {
	if reason == "" {
		return patch.FieldError("reason", "is required to remove a tier override")
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, client); err != nil {
			return err
		}
		before, err := tx.override(ctx, client, update)
		if err != nil {
			return err
		}
		if before == nil {
			return notFound("Tier override of update", update)
		}
		if _, err := tx.exec(ctx, `DELETE FROM tier_overrides WHERE client_id = $1 AND update_id = $2`, string(client), string(update)); err != nil {
			return fmt.Errorf("delete tier override: %w", err)
		}
		return tx.audit(ctx, client, "tier_override.delete", "tier_override", decisionEntity(client, update), before, map[string]string{"reason": reason})
	})
}

// FindTierOverrides lists overrides in scope, newest first.
func (db *DB) FindTierOverrides(ctx context.Context, f patch.TierOverrideFilter) ([]*patch.TierOverride, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.UpdateID != nil {
		c.add("update_id = ?", string(*f.UpdateID))
	}
	where := c.where()
	total := 0
	rows, err := db.read.QueryContext(ctx, `SELECT `+overrideColumns+`, COUNT(*) OVER () FROM tier_overrides`+where+
		` ORDER BY set_at DESC, update_id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query tier overrides: %w", err))
	}
	out, err := scanOverrides(rows, &total)
	if err != nil {
		return nil, 0, db.classify(err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "tier_overrides", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}
