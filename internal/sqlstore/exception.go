package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

const exceptionColumns = `id, client_id, lane, state, scope, reason, ticket_ref, controls, requested_by, requested_at, starts_at, expires_at,
	sign_off, approved_at, activated_at, ended_at, ended_by, end_reason, updated_at`

func scanExceptions(rows *sql.Rows, extra ...any) ([]*patch.Exception, error) {
	defer rows.Close()
	var out []*patch.Exception
	for rows.Next() {
		var (
			e                                    patch.Exception
			scope, controls, requestedBy         string
			signOff, endedBy                     sql.NullString
			requestedAt, expiresAt, updatedAt    int64
			startsAt, approved, activated, ended sql.NullInt64
		)
		dest := []any{&e.ID, &e.ClientID, &e.Lane, &e.State, &scope, &e.Reason, &e.TicketRef, &controls, &requestedBy, &requestedAt, &startsAt, &expiresAt,
			&signOff, &approved, &activated, &ended, &endedBy, &e.EndReason, &updatedAt}
		if err := rows.Scan(append(dest, extra...)...); err != nil {
			return nil, fmt.Errorf("scan exception: %w", err)
		}
		for _, j := range []struct {
			s   string
			dst any
		}{{scope, &e.Scope}, {controls, &e.Controls}, {requestedBy, &e.RequestedBy}} {
			if err := fromJSON(j.s, j.dst); err != nil {
				return nil, err
			}
		}
		if signOff.Valid {
			e.SignOff = &patch.SignOff{}
			if err := fromJSON(signOff.String, e.SignOff); err != nil {
				return nil, err
			}
		}
		if endedBy.Valid {
			e.EndedBy = &patch.Actor{}
			if err := fromJSON(endedBy.String, e.EndedBy); err != nil {
				return nil, err
			}
		}
		if e.Controls == nil {
			e.Controls = []patch.CompensatingControl{}
		}
		e.RequestedAt, e.ExpiresAt, e.UpdatedAt = fromMS(requestedAt), fromMS(expiresAt), fromMS(updatedAt)
		e.StartsAt, e.ApprovedAt, e.ActivatedAt, e.EndedAt = fromNullMS(startsAt), fromNullMS(approved), fromNullMS(activated), fromNullMS(ended)
		out = append(out, &e)
	}
	return out, rows.Err()
}

func nullJSON[T any](v *T) any {
	if v == nil {
		return nil
	}
	return mustJSON(v)
}

// normalizeException truncates times to the stored precision so that what
// a write returns equals what a later read gives.
func normalizeException(e *patch.Exception) {
	for _, t := range []*time.Time{&e.RequestedAt, &e.StartsAt, &e.ExpiresAt, &e.ApprovedAt, &e.ActivatedAt, &e.EndedAt, &e.UpdatedAt} {
		*t = t.UTC().Truncate(time.Millisecond)
	}
	if e.SignOff != nil {
		e.SignOff.At = e.SignOff.At.UTC().Truncate(time.Millisecond)
	}
}

// CreateException stores a new exception.
func (db *DB) CreateException(ctx context.Context, e *patch.Exception) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.clientForUpdate(ctx, e.ClientID); err != nil {
			return err
		}
		normalizeException(e)
		if e.Controls == nil {
			e.Controls = []patch.CompensatingControl{}
		}
		if _, err := tx.exec(ctx, `INSERT INTO exceptions (`+exceptionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
			string(e.ID), string(e.ClientID), string(e.Lane), string(e.State), mustJSON(e.Scope), e.Reason, e.TicketRef, mustJSON(e.Controls),
			mustJSON(e.RequestedBy), ms(e.RequestedAt), nullMS(e.StartsAt), ms(e.ExpiresAt), nullJSON(e.SignOff), nullMS(e.ApprovedAt),
			nullMS(e.ActivatedAt), nullMS(e.EndedAt), nullJSON(e.EndedBy), e.EndReason, ms(e.UpdatedAt)); err != nil {
			return fmt.Errorf("insert exception: %w", err)
		}
		if err := tx.audit(ctx, e.ClientID, "exception.request", "exception", string(e.ID), nil, e); err != nil {
			return err
		}
		return tx.appendEvidence(ctx, exceptionEvent(e, patch.EventExcepted, map[string]string{
			"state": string(e.State), "reason": e.Reason, "ticket_ref": e.TicketRef, "lane": string(e.Lane),
			"scope": e.Scope.String(), "expires_at": e.ExpiresAt.UTC().Format(time.RFC3339),
		}))
	})
}

// exceptionEvent is the evidence event of an exception step. Its subject
// names the asset when the exception is about exactly one.
func exceptionEvent(e *patch.Exception, typ string, details map[string]string) patch.EvidenceEvent {
	sub := patch.EvidenceSubject{ExceptionID: string(e.ID)}
	if len(e.Scope.AssetIDs) == 1 {
		sub.AssetID = e.Scope.AssetIDs[0]
	}
	if len(e.Scope.UpdateIDs) == 1 {
		sub.UpdateID = e.Scope.UpdateIDs[0]
	}
	return patch.EvidenceEvent{ClientID: e.ClientID, Type: typ, Subject: sub, Details: details}
}

// FindExceptionByID returns an exception in scope.
func (db *DB) FindExceptionByID(ctx context.Context, id patch.ExceptionID) (*patch.Exception, error) {
	es, _, err := db.FindExceptions(ctx, patch.ExceptionFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, notFound("Exception", id)
	}
	return es[0], nil
}

// FindExceptions lists exceptions in scope, newest first.
func (db *DB) FindExceptions(ctx context.Context, f patch.ExceptionFilter) ([]*patch.Exception, int, error) {
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
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		args := make([]any, len(f.States))
		for i, s := range f.States {
			ph[i], args[i] = "?", string(s)
		}
		c.add("state IN ("+strings.Join(ph, ", ")+")", args...)
	}
	if f.Lane != nil {
		c.add("lane = ?", string(*f.Lane))
	}
	if f.ExpiresBefore != nil {
		c.add("expires_at < ?", ms(*f.ExpiresBefore))
	}
	where := c.where()
	total := 0
	rows, err := db.read.QueryContext(ctx, `SELECT `+exceptionColumns+`, COUNT(*) OVER () FROM exceptions`+where+
		` ORDER BY requested_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query exceptions: %w", err))
	}
	out, err := scanExceptions(rows, &total)
	if err != nil {
		return nil, 0, db.classify(err)
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "exceptions", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// ChangeException applies one step of an exception's lifecycle.
func (db *DB) ChangeException(ctx context.Context, id patch.ExceptionID, fn func(e *patch.Exception) (patch.ExceptionStep, error)) (*patch.Exception, error) {
	var out *patch.Exception
	err := db.inTx(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT `+exceptionColumns+` FROM exceptions WHERE id = $1`+tx.db.dialect.ForUpdate, string(id))
		if err != nil {
			return fmt.Errorf("query exception: %w", err)
		}
		es, err := scanExceptions(rows)
		if err != nil {
			return err
		}
		if len(es) == 0 || !tx.scope.Allows(es[0].ClientID) {
			return notFound("Exception", id)
		}
		before := es[0]
		after := cloneException(before)
		step, err := fn(after)
		if err != nil {
			return err
		}
		if after.ID != before.ID || after.ClientID != before.ClientID {
			return fmt.Errorf("exception %s: a step may not change its id or client", id)
		}
		if err := after.Validate(); err != nil {
			return err
		}
		normalizeException(after)
		if _, err := tx.exec(ctx, `UPDATE exceptions SET lane = $2, state = $3, scope = $4, reason = $5, ticket_ref = $6, controls = $7, starts_at = $8,
			expires_at = $9, sign_off = $10, approved_at = $11, activated_at = $12, ended_at = $13, ended_by = $14, end_reason = $15, updated_at = $16 WHERE id = $1`,
			string(id), string(after.Lane), string(after.State), mustJSON(after.Scope), after.Reason, after.TicketRef, mustJSON(after.Controls),
			nullMS(after.StartsAt), ms(after.ExpiresAt), nullJSON(after.SignOff), nullMS(after.ApprovedAt), nullMS(after.ActivatedAt),
			nullMS(after.EndedAt), nullJSON(after.EndedBy), after.EndReason, ms(after.UpdatedAt)); err != nil {
			return fmt.Errorf("update exception: %w", err)
		}
		if step.Action == "" {
			step.Action = "exception.update"
		}
		if err := tx.audit(ctx, after.ClientID, step.Action, "exception", string(id), before, after); err != nil {
			return err
		}
		if step.Event != "" {
			details := maps.Clone(step.Details)
			if details == nil {
				details = map[string]string{}
			}
			details["state"] = string(after.State)
			if err := tx.appendEvidence(ctx, exceptionEvent(after, step.Event, details)); err != nil {
				return err
			}
		}
		if step.Alert != nil {
			if err := tx.raiseAlert(ctx, step.Alert); err != nil {
				return err
			}
		}
		out = after
		return nil
	})
	return out, err
}

func cloneException(e *patch.Exception) *patch.Exception {
	c := *e
	c.Scope.AssetIDs = append([]patch.AssetID(nil), e.Scope.AssetIDs...)
	c.Scope.UpdateIDs = append([]patch.UpdateID(nil), e.Scope.UpdateIDs...)
	if e.Scope.Tag != nil {
		t := *e.Scope.Tag
		c.Scope.Tag = &t
	}
	c.Controls = append([]patch.CompensatingControl{}, e.Controls...)
	if e.SignOff != nil {
		s := *e.SignOff
		c.SignOff = &s
	}
	if e.EndedBy != nil {
		a := *e.EndedBy
		c.EndedBy = &a
	}
	return &c
}

// raiseAlert records an alert; an open alert of the same client, kind and
// subject is left as it is (raised once until resolved).
func (tx *Tx) raiseAlert(ctx context.Context, a *patch.Alert) error {
	if a.ID == "" {
		a.ID = patch.AlertID(patch.NewID(patch.PrefixAlert, tx.now))
	}
	a.RaisedAt = tx.now
	if a.Details == nil {
		a.Details = map[string]string{}
	}
	if _, err := tx.exec(ctx, `INSERT INTO alerts (id, client_id, kind, severity, subject_type, subject_id, message, details, raised_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (client_id, kind, subject_id) WHERE resolved_at IS NULL DO NOTHING`,
		string(a.ID), string(a.ClientID), a.Kind, a.Severity, a.SubjectType, a.SubjectID, a.Message, mustJSON(a.Details), ms(a.RaisedAt)); err != nil {
		return fmt.Errorf("raise alert %s: %w", a.Kind, err)
	}
	return tx.outboxAlert(ctx, a.ID, patch.EventAlertRaised) // notification.go
}

// FindAlerts lists alerts in scope, newest first.
func (db *DB) FindAlerts(ctx context.Context, f patch.AlertFilter) ([]*patch.Alert, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("client_id", scope)
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.Kind != nil {
		c.add("kind = ?", *f.Kind)
	}
	if f.Open != nil {
		if *f.Open {
			c.add("resolved_at IS NULL")
		} else {
			c.add("resolved_at IS NOT NULL")
		}
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT id, client_id, kind, severity, subject_type, subject_id, message, details, raised_at, resolved_at, COUNT(*) OVER ()
		FROM alerts`+where+` ORDER BY raised_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query alerts: %w", err))
	}
	defer rows.Close()
	var out []*patch.Alert
	total := 0
	for rows.Next() {
		var (
			a        patch.Alert
			details  string
			raised   int64
			resolved sql.NullInt64
		)
		if err := rows.Scan(&a.ID, &a.ClientID, &a.Kind, &a.Severity, &a.SubjectType, &a.SubjectID, &a.Message, &details, &raised, &resolved, &total); err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan alert: %w", err))
		}
		if err := fromJSON(details, &a.Details); err != nil {
			return nil, 0, db.classify(err)
		}
		a.RaisedAt, a.ResolvedAt = fromMS(raised), fromNullMS(resolved)
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read alerts: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "alerts", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}
