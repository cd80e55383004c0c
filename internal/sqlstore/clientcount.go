package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchring/patchring/internal/patch"
)

// CountByClient counts, per client, open findings past their SLA deadline
// or due soon, assets whose UPDATES – Failed and Agent offline monitors
// alarm, running and halted cycles, and exceptions awaiting sign-off or
// about to expire: one UNION ALL of grouped counts, each on an index
// (findings_client_state, monitor_states_client, cycles_state,
// exceptions_client_state), in one round trip.
func (db *DB) CountByClient(ctx context.Context, f patch.ClientCountFilter) ([]patch.ClientCounts, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, err
	}
	// Every part shares the parameters: $1 is the client the caller is
	// confined to and $2 the client asked for ('' for any), $3 the expiry
	// bound (-1 counts nothing as expiring).
	args := []any{"", "", int64(-1)}
	if !scope.All {
		args[0] = string(scope.ClientID)
	}
	if f.ClientID != nil {
		args[1] = string(*f.ClientID)
	}
	if !f.ExpiringBefore.IsZero() {
		args[2] = ms(f.ExpiringBefore)
	}
	where := func(extra string) string {
		return " WHERE (CAST($1 AS TEXT) = '' OR client_id = $1) AND (CAST($2 AS TEXT) = '' OR client_id = $2) AND " + extra + " GROUP BY client_id"
	}
	parts := []string{
		`SELECT client_id, 'breached', COUNT(*) FROM findings` + where(`state = 'open' AND sla_status = 'breached'`),
		`SELECT client_id, 'due_soon', COUNT(*) FROM findings` + where(`state = 'open' AND sla_status = 'due_soon'`),
		`SELECT client_id, 'failed', COUNT(*) FROM monitor_states` + where(`kind = 'updates_failed' AND status IN ('warning', 'critical')`),
		`SELECT client_id, 'offline', COUNT(*) FROM monitor_states` + where(`kind = 'agent_offline' AND status IN ('warning', 'critical')`),
		`SELECT client_id, 'halted', COUNT(*) FROM cycles` + where(`state = 'halted'`),
		`SELECT client_id, 'running', COUNT(*) FROM cycles` + where(`state = 'running'`),
		`SELECT client_id, 'expiring', COUNT(*) FROM exceptions` + where(`state IN ('approved', 'active') AND expires_at < CAST($3 AS BIGINT)`),
		`SELECT client_id, 'requested', COUNT(*) FROM exceptions` + where(`state = 'requested'`),
	}
	q := strings.Join(parts, "\nUNION ALL\n") + "\nORDER BY 1"
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, db.classify(fmt.Errorf("count by client: %w", err))
	}
	defer rows.Close()
	var out []patch.ClientCounts
	for rows.Next() {
		var (
			id, metric string
			n          int
		)
		if err := rows.Scan(&id, &metric, &n); err != nil {
			return nil, db.classify(fmt.Errorf("scan client count: %w", err))
		}
		if len(out) == 0 || out[len(out)-1].ClientID != patch.ClientID(id) {
			out = append(out, patch.ClientCounts{ClientID: patch.ClientID(id)})
		}
		r := &out[len(out)-1]
		switch metric {
		case "breached":
			r.SLABreached = n
		case "due_soon":
			r.SLADueSoon = n
		case "failed":
			r.FailedUpdates = n
		case "offline":
			r.AgentsOffline = n
		case "halted":
			r.HaltedCycles = n
		case "running":
			r.RunningCycles = n
		case "expiring":
			r.ExpiringExceptions = n
		case "requested":
			r.AwaitingSignOff = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, db.classify(fmt.Errorf("read client counts: %w", err))
	}
	return out, nil
}
