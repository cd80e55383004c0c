package sqlstore

import (
	"context"
	"fmt"

	"github.com/patchring/patchring/internal/patch"
)

// SaveEvaluations writes the policy-derived fields of findings.
func (db *DB) SaveEvaluations(ctx context.Context, evs []patch.FindingEvaluation) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	n := 0
	err := db.inTx(ctx, func(tx *Tx) error {
		n = 0
		scoped := ""
		if !tx.scope.All {
			scoped = " AND client_id = $10"
		}
		var events []patch.EvidenceEvent
		for _, ev := range evs {
			args := []any{string(ev.FindingID), ev.Tier, ev.Emergency, string(ev.Approval), nullMS(ev.DueAt), string(ev.SLAStatus),
				nullStr(ev.ExceptionID), ms(tx.now), string(ev.State)}
			if !tx.scope.All {
				args = append(args, string(tx.scope.ClientID))
			}
			res, err := tx.exec(ctx, `UPDATE findings SET tier = $2, emergency = $3, approval = $4, due_at = $5, sla_status = $6, exception_id = $7,
				evaluated_at = $8 WHERE id = $1 AND state = $9`+scoped, args...)
			if err != nil {
				return fmt.Errorf("save evaluation of %s: %w", ev.FindingID, err)
			}
			if k, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("save evaluation of %s: %w", ev.FindingID, err)
			} else if k == 0 {
				continue
			}
			n++
			for _, e := range ev.Events {
				if !tx.scope.Allows(e.ClientID) {
					return notFound("Client", e.ClientID)
				}
				events = append(events, e)
			}
		}
		return tx.appendEvidence(ctx, events...)
	})
	return n, err
}

// FindingsToEvaluate pages through the findings the evaluator must see.
func (db *DB) FindingsToEvaluate(ctx context.Context, client patch.ClientID, asset *patch.AssetID, after patch.FindingID, limit int) ([]*patch.Finding, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	if !scope.Allows(client) {
		return nil, nil
	}
	var c conds
	c.add("f.client_id = ?", string(client))
	// Open findings, and resolved ones still carrying an open finding's
	// status (or never evaluated): once evaluated as resolved they carry
	// met, met_late or no status and drop out. (Comparing evaluated_at with
	// resolved_at would not do: resolved_at is the agent's scan time.)
	c.add("(f.state = 'open' OR f.evaluated_at IS NULL OR f.sla_status IN ('on_track', 'due_soon', 'breached', 'paused'))")
	if asset != nil {
		c.add("f.asset_id = ?", string(*asset))
	}
	if after != "" {
		c.add("f.id > ?", string(after))
	}
	c.args = append(c.args, patch.PageLimit(limit))
	rows, err := db.read.QueryContext(ctx, `SELECT `+findingColumns+`, `+updateColumns+` FROM findings f JOIN updates u ON u.id = f.update_id`+
		c.where()+fmt.Sprintf(` ORDER BY f.id LIMIT $%d`, len(c.args)), c.args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("query findings to evaluate: %w", err))
	}
	defer rows.Close()
	var out []*patch.Finding
	for rows.Next() {
		var fi *patch.Finding
		u, err := scanUpdate(rowPrefix{rows: rows, prefix: 19, into: &fi})
		if err != nil {
			return nil, db.classify(fmt.Errorf("scan finding: %w", err))
		}
		fi.Update = u
		out = append(out, fi)
	}
	return out, db.classify(rows.Err())
}
