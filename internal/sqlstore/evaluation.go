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
