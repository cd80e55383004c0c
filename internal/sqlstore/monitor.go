package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/patchring/patchring/internal/patch"
)

const monitorColumns = `asset_id, client_id, kind, status, since, summary, details, fingerprint, pending_status, pending_since,
	flapping, changes, alert_id, evaluated_at, version`

func scanMonitorState(s interface{ Scan(...any) error }, extra ...any) (*patch.MonitorState, error) {
	var (
		m                      patch.MonitorState
		since, evaluated       int64
		pending                sql.NullInt64
		details, changes, alID string
	)
	dest := []any{&m.AssetID, &m.ClientID, &m.Kind, &m.Status, &since, &m.Summary, &details, &m.Fingerprint, &m.PendingStatus, &pending,
		&m.Flapping, &changes, &alID, &evaluated, &m.Version}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	m.Since, m.PendingSince, m.EvaluatedAt = fromMS(since), fromNullMS(pending), fromMS(evaluated)
	m.AlertID, m.Title = patch.AlertID(alID), m.Kind.Title()
	if err := fromJSON(details, &m.Details); err != nil {
		return nil, err
	}
	var ms []int64
	if err := fromJSON(changes, &ms); err != nil {
		return nil, err
	}
	for _, v := range ms {
		m.Changes = append(m.Changes, fromMS(v))
	}
	return &m, nil
}

// FindMonitorStates lists monitor states in scope by asset and kind.
func (db *DB) FindMonitorStates(ctx context.Context, f patch.MonitorFilter) ([]*patch.MonitorState, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.AssetID != nil {
		c.add("asset_id = ?", string(*f.AssetID))
	}
	if f.Kind != nil {
		c.add("kind = ?", string(*f.Kind))
	}
	if f.Status != nil {
		c.add("status = ?", string(*f.Status))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+monitorColumns+`, COUNT(*) OVER () FROM monitor_states`+where+` ORDER BY asset_id, kind`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query monitor states: %w", err))
	}
	defer rows.Close()
	out := []*patch.MonitorState{}
	total := 0
	for rows.Next() {
		m, err := scanMonitorState(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan monitor state: %w", err))
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read monitor states: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "monitor_states", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// FindMonitorEvents lists monitor events in scope, newest first.
func (db *DB) FindMonitorEvents(ctx context.Context, f patch.MonitorEventFilter) ([]*patch.MonitorEvent, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.AssetID != nil {
		c.add("asset_id = ?", string(*f.AssetID))
	}
	if f.Kind != nil {
		c.add("kind = ?", string(*f.Kind))
	}
	if f.Since != nil {
		c.add("at >= ?", ms(*f.Since))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT id, client_id, asset_id, kind, at, from_status, to_status, summary, details, suppressed, alert_id,
		COUNT(*) OVER () FROM monitor_events`+where+` ORDER BY at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query monitor events: %w", err))
	}
	defer rows.Close()
	out := []*patch.MonitorEvent{}
	total := 0
	for rows.Next() {
		var (
			e       patch.MonitorEvent
			at      int64
			details string
			alertID string
		)
		if err := rows.Scan(&e.ID, &e.ClientID, &e.AssetID, &e.Kind, &at, &e.From, &e.To, &e.Summary, &details, &e.Suppressed, &alertID, &total); err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan monitor event: %w", err))
		}
		e.At, e.AlertID = fromMS(at), patch.AlertID(alertID)
		if err := fromJSON(details, &e.Details); err != nil {
			return nil, 0, db.classify(err)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read monitor events: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "monitor_events", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// SaveMonitors stores one asset's monitor changes, events and alerts.
func (db *DB) SaveMonitors(ctx context.Context, asset patch.AssetID, changes []patch.MonitorChange) ([]*patch.MonitorState, error) {
	var out []*patch.MonitorState
	err := db.inTx(ctx, func(tx *Tx) error {
		out = out[:0]
		a, err := tx.assetForUpdate(ctx, asset)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			st := ch.State
			if st.AssetID != a.ID || st.ClientID != a.ClientID {
				return patch.FieldError("asset_id", "monitor state of %s/%s saved for asset %s", st.ClientID, st.AssetID, a.ID)
			}
			if !slices.Contains(patch.MonitorKinds, st.Kind) || !slices.Contains(patch.MonitorStatuses, st.Status) {
				return patch.FieldError("kind", "unknown monitor %q or status %q", st.Kind, st.Status)
			}
			st.Title = st.Kind.Title()
			if err := tx.applyAlert(ctx, &st, ch); err != nil {
				return err
			}
			if err := tx.putMonitorState(ctx, &st); err != nil {
				return err
			}
			if ch.Event != nil {
				e := *ch.Event
				e.ID = patch.NewID("mev", tx.now)
				e.ClientID, e.AssetID, e.Kind, e.AlertID = a.ClientID, a.ID, st.Kind, st.AlertID
				if e.At.IsZero() {
					e.At = tx.now
				}
				if e.Details == nil {
					e.Details = map[string]string{}
				}
				if _, err := tx.exec(ctx, `INSERT INTO monitor_events (id, client_id, asset_id, kind, at, from_status, to_status, summary, details, suppressed, alert_id)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, e.ID, string(e.ClientID), string(e.AssetID), string(e.Kind), ms(e.At),
					string(e.From), string(e.To), e.Summary, mustJSON(e.Details), e.Suppressed, string(e.AlertID)); err != nil {
					return fmt.Errorf("insert monitor event: %w", err)
				}
			}
			s := st
			out = append(out, &s)
		}
		return nil
	})
	return out, err
}

// applyAlert carries out a change's alert action and records the open
// alert's id on the state.
func (tx *Tx) applyAlert(ctx context.Context, st *patch.MonitorState, ch patch.MonitorChange) error {
	switch ch.Action {
	case patch.AlertNone:
		return nil
	case patch.AlertResolve:
		if st.AlertID != "" {
			if _, err := tx.exec(ctx, `UPDATE alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL`, string(st.AlertID), ms(tx.now)); err != nil {
				return fmt.Errorf("resolve alert: %w", err)
			}
			if err := tx.outboxAlert(ctx, st.AlertID, patch.EventAlertResolved); err != nil {
				return err
			}
		}
		st.AlertID = ""
		return nil
	case patch.AlertEscalate, patch.AlertRaise:
	default:
		return patch.FieldError("action", "unknown alert action %q", ch.Action)
	}
	if ch.Alert == nil {
		return patch.FieldError("alert", "is required to %s an alert", ch.Action)
	}
	al := *ch.Alert
	al.ClientID, al.Kind, al.SubjectType, al.SubjectID = st.ClientID, string(st.Kind), "asset", string(st.AssetID)
	if ch.Action == patch.AlertEscalate && st.AlertID != "" {
		res, err := tx.exec(ctx, `UPDATE alerts SET severity = $2, message = $3, details = $4 WHERE id = $1 AND resolved_at IS NULL`,
			string(st.AlertID), al.Severity, al.Message, mustJSON(al.Details))
		if err != nil {
			return fmt.Errorf("update alert: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update alert: %w", err)
		} else if n == 1 {
			return tx.outboxAlert(ctx, st.AlertID, patch.EventAlertEscalated)
		}
		// The alert was resolved meanwhile (by a person): raise it anew.
	}
	al.ID = ""
	if err := tx.raiseAlert(ctx, &al); err != nil {
		return err
	}
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM alerts WHERE client_id = $1 AND kind = $2 AND subject_id = $3 AND resolved_at IS NULL`,
		string(al.ClientID), al.Kind, al.SubjectID).Scan(&id)
	if err != nil {
		return fmt.Errorf("find open alert: %w", err)
	}
	st.AlertID = patch.AlertID(id)
	return nil
}

// putMonitorState inserts or updates a state, checking its version.
func (tx *Tx) putMonitorState(ctx context.Context, st *patch.MonitorState) error {
	changes := make([]int64, 0, len(st.Changes))
	for _, t := range st.Changes {
		changes = append(changes, ms(t))
	}
	if st.Details == nil {
		st.Details = map[string]string{}
	}
	if st.EvaluatedAt.IsZero() {
		st.EvaluatedAt = tx.now
	}
	args := []any{string(st.AssetID), string(st.ClientID), string(st.Kind), string(st.Status), ms(st.Since), st.Summary, mustJSON(st.Details),
		st.Fingerprint, string(st.PendingStatus), nullMS(st.PendingSince), st.Flapping, mustJSON(changes), string(st.AlertID),
		ms(st.EvaluatedAt), st.Version + 1}
	var res sql.Result
	var err error
	if st.Version == 0 {
		res, err = tx.exec(ctx, `INSERT INTO monitor_states (`+monitorColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (asset_id, kind) DO NOTHING`, args...)
	} else {
		res, err = tx.exec(ctx, `UPDATE monitor_states SET status = $4, since = $5, summary = $6, details = $7, fingerprint = $8,
			pending_status = $9, pending_since = $10, flapping = $11, changes = $12, alert_id = $13, evaluated_at = $14, version = $15
			WHERE asset_id = $1 AND client_id = $2 AND kind = $3 AND version = $16`, append(args, st.Version)...)
	}
	if err != nil {
		return fmt.Errorf("save monitor %s: %w", st.Kind, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("save monitor %s: %w", st.Kind, err)
	}
	if n != 1 {
		return patch.Errorf(patch.KindConflict, "Monitor %s of asset %s changed meanwhile; evaluate again.", st.Kind, st.AssetID)
	}
	st.Version++
	return nil
}
