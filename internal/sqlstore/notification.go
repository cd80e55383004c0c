package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patchring/patchring/internal/patch"
)

// Notification channels, the outbox (notification_events) and the
// delivery queue (notification_deliveries); see migration 0010 and
// docs/notifications.md.

const channelColumns = `id, client_id, name, kind, enabled, url, secret_hint, sealed_secret, recipients, filter, created_at, updated_at`

func scanChannel(s interface{ Scan(...any) error }, extra ...any) (*patch.Channel, error) {
	var (
		c                  patch.Channel
		recipients, filter string
		cat, uat           int64
	)
	if err := s.Scan(append([]any{&c.ID, &c.ClientID, &c.Name, &c.Kind, &c.Enabled, &c.URL, &c.SecretHint, &c.SealedSecret,
		&recipients, &filter, &cat, &uat}, extra...)...); err != nil {
		return nil, err
	}
	if err := fromJSON(recipients, &c.Recipients); err != nil {
		return nil, err
	}
	if err := fromJSON(filter, &c.Filter); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMS(cat), fromMS(uat)
	return &c, nil
}

// FindChannelByID returns a channel in scope.
func (db *DB) FindChannelByID(ctx context.Context, id patch.ChannelID) (*patch.Channel, error) {
	cs, _, err := db.FindChannels(ctx, patch.ChannelFilter{ID: &id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound("Notification channel", id)
	}
	return cs[0], nil
}

// FindChannels lists channels in scope: MSP-wide ones first, then by
// client and name. Client-scoped actors see only their client's.
func (db *DB) FindChannels(ctx context.Context, f patch.ChannelFilter) ([]*patch.Channel, int, error) {
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
	if f.MSPOnly {
		c.add("client_id = ''")
	}
	if f.Kind != nil {
		c.add("kind = ?", string(*f.Kind))
	}
	if f.Enabled != nil {
		c.add("enabled = ?", *f.Enabled)
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+channelColumns+`, COUNT(*) OVER () FROM notification_channels`+where+
		` ORDER BY client_id, LOWER(name), id`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query notification channels: %w", err))
	}
	defer rows.Close()
	var out []*patch.Channel
	total := 0
	for rows.Next() {
		ch, err := scanChannel(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan notification channel: %w", err))
		}
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read notification channels: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "notification_channels", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// channelForUpdate loads and locks a channel in scope. An MSP-wide
// channel is out of every client's scope.
func (tx *Tx) channelForUpdate(ctx context.Context, id patch.ChannelID) (*patch.Channel, error) {
	ch, err := scanChannel(tx.queryRow(ctx, `SELECT `+channelColumns+` FROM notification_channels WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !tx.scope.Allows(ch.ClientID)) {
		return nil, notFound("Notification channel", id)
	}
	if err != nil {
		return nil, fmt.Errorf("query notification channel %s: %w", id, err)
	}
	return ch, nil
}

// checkChannel checks what needs the database: the owner, the name's
// uniqueness within the owner and the clients of the filter.
func (tx *Tx) checkChannel(ctx context.Context, ch *patch.Channel) error {
	if ch.ClientID == "" && !tx.scope.All {
		return patch.Errorf(patch.KindForbidden, "Only MSP staff can manage MSP-wide notification channels.")
	}
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM notification_channels WHERE client_id = $1 AND LOWER(name) = LOWER($2) AND id <> $3`,
		string(ch.ClientID), ch.Name, string(ch.ID)).Scan(&id)
	if err == nil {
		return &patch.Error{Kind: patch.KindConflict, Field: "name", Message: fmt.Sprintf("A notification channel named %q exists already.", ch.Name)}
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("check channel name: %w", err)
	}
	for i, cid := range ch.Filter.ClientIDs {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM clients WHERE id = $1`, string(cid)).Scan(&n); err != nil {
			return fmt.Errorf("check filter client: %w", err)
		}
		if n == 0 {
			return patch.FieldError(fmt.Sprintf("filter.client_ids[%d]", i), "client %s does not exist", cid)
		}
	}
	return nil
}

func channelArgs(ch *patch.Channel) []any {
	if ch.Recipients == nil {
		ch.Recipients = []string{}
	}
	return []any{string(ch.ID), string(ch.ClientID), ch.Name, string(ch.Kind), ch.Enabled, ch.URL, ch.SecretHint, ch.SealedSecret,
		mustJSON(ch.Recipients), mustJSON(ch.Filter), ms(ch.CreatedAt), ms(ch.UpdatedAt)}
}

// CreateChannel stores a new channel, audited.
func (db *DB) CreateChannel(ctx context.Context, ch *patch.Channel) error {
	if err := ch.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if ch.ClientID != "" {
			if _, err := tx.clientForUpdate(ctx, ch.ClientID); err != nil {
				return err
			}
		}
		if err := tx.checkChannel(ctx, ch); err != nil {
			return err
		}
		ch.CreatedAt, ch.UpdatedAt = tx.now, tx.now
		if _, err := tx.exec(ctx, `INSERT INTO notification_channels (`+channelColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			channelArgs(ch)...); err != nil {
			return fmt.Errorf("insert notification channel: %w", err)
		}
		return tx.audit(ctx, ch.ClientID, "channel.create", "notification_channel", string(ch.ID), nil, ch)
	})
}

// UpdateChannel applies a partial update, audited. Disabling cancels the
// channel's pending deliveries.
func (db *DB) UpdateChannel(ctx context.Context, id patch.ChannelID, upd patch.ChannelUpdate) (*patch.Channel, error) {
	var out *patch.Channel
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.channelForUpdate(ctx, id)
		if err != nil {
			return err
		}
		after := *before
		upd.Apply(&after)
		if err := after.Validate(); err != nil {
			return err
		}
		if err := tx.checkChannel(ctx, &after); err != nil {
			return err
		}
		after.UpdatedAt = tx.now
		if _, err := tx.exec(ctx, `UPDATE notification_channels SET name = $3, enabled = $5, url = $6, secret_hint = $7, sealed_secret = $8,
			recipients = $9, filter = $10, updated_at = $12 WHERE id = $1 AND client_id = $2 AND kind = $4 AND created_at = $11`,
			channelArgs(&after)...); err != nil {
			return fmt.Errorf("update notification channel: %w", err)
		}
		if before.Enabled && !after.Enabled {
			if _, err := tx.exec(ctx, `UPDATE notification_deliveries SET state = $2, claim = '', last_error = $3, updated_at = $4
				WHERE channel_id = $1 AND state = $5`, string(id), string(patch.DeliveryCanceled), "The channel was disabled.", ms(tx.now),
				string(patch.DeliveryPending)); err != nil {
				return fmt.Errorf("cancel deliveries: %w", err)
			}
		}
		out = &after
		return tx.audit(ctx, after.ClientID, "channel.update", "notification_channel", string(id), before, &after)
	})
	return out, err
}

// DeleteChannel removes a channel and its deliveries, audited.
func (db *DB) DeleteChannel(ctx context.Context, id patch.ChannelID) error {
	return db.inTx(ctx, func(tx *Tx) error {
		before, err := tx.channelForUpdate(ctx, id)
		if err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM notification_deliveries WHERE channel_id = $1`,
			`DELETE FROM notification_channels WHERE id = $1`,
		} {
			if _, err := tx.exec(ctx, q, string(id)); err != nil {
				return fmt.Errorf("delete notification channel: %w", err)
			}
		}
		return tx.audit(ctx, before.ClientID, "channel.delete", "notification_channel", string(id), before, nil)
	})
}

// --- The outbox ---

// outboxAlert appends the notification event of an alert change made in
// this transaction. It is called after the change and reads the alert as
// it now is: a raise that hit an open alert (no row with the new id), a
// resolve of an alert that was not resolved, or an update that did not
// raise the severity above what was last notified append nothing.
func (tx *Tx) outboxAlert(ctx context.Context, id patch.AlertID, typ patch.EventType) error {
	var (
		a        patch.Alert
		details  string
		raised   int64
		resolved sql.NullInt64
	)
	err := tx.queryRow(ctx, `SELECT id, client_id, kind, severity, subject_type, subject_id, message, details, raised_at, resolved_at
		FROM alerts WHERE id = $1`, string(id)).Scan(&a.ID, &a.ClientID, &a.Kind, &a.Severity, &a.SubjectType, &a.SubjectID, &a.Message, &details, &raised, &resolved)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read alert for notification: %w", err)
	}
	if err := fromJSON(details, &a.Details); err != nil {
		return err
	}
	a.RaisedAt, a.ResolvedAt = fromMS(raised), fromNullMS(resolved)
	switch typ {
	case patch.EventAlertResolved:
		if a.ResolvedAt.IsZero() {
			return nil
		}
	case patch.EventAlertEscalated:
		var last string
		err := tx.queryRow(ctx, `SELECT severity FROM notification_events WHERE source = 'alert' AND source_id = $1 AND type IN ($2, $3)
			ORDER BY created_at DESC, id DESC LIMIT 1`, string(a.ID), string(patch.EventAlertRaised), string(patch.EventAlertEscalated)).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // raised before notifications existed: nothing to compare with
		}
		if err != nil {
			return fmt.Errorf("read last alert notification: %w", err)
		}
		if patch.SeverityRank(a.Severity) <= patch.SeverityRank(last) {
			return nil
		}
	}
	return tx.appendEvent(ctx, &patch.NotificationEvent{
		Type: typ, ClientID: a.ClientID, Source: "alert", SourceID: string(a.ID), Kind: a.Kind,
		Severity: a.Severity, Summary: a.Message, Alert: &a,
	})
}

// outboxTicket appends the notification event of a ticket opened or
// resolved in this transaction.
func (tx *Tx) outboxTicket(ctx context.Context, t *patch.Ticket, typ patch.EventType) error {
	snap := *t
	return tx.appendEvent(ctx, &patch.NotificationEvent{
		Type: typ, ClientID: t.ClientID, Source: "ticket", SourceID: string(t.ID), Kind: string(t.Kind),
		Severity: patch.TicketSeverity(t.Kind), Summary: t.Title, Ticket: &snap,
	})
}

// appendEvent stores an unrouted outbox event; a repeat of the same event
// (source, type and severity) is dropped.
func (tx *Tx) appendEvent(ctx context.Context, ev *patch.NotificationEvent) error {
	ev.ID = patch.NotificationEventID(patch.NewID(patch.PrefixNotificationEvent, tx.now))
	ev.CreatedAt = tx.now
	if ev.ClientID != "" && ev.ClientName == "" {
		if err := tx.queryRow(ctx, `SELECT name FROM clients WHERE id = $1`, string(ev.ClientID)).Scan(&ev.ClientName); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read client name for notification: %w", err)
		}
	}
	if _, err := tx.exec(ctx, `INSERT INTO notification_events (id, type, client_id, source, source_id, severity, data, created_at, routed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) ON CONFLICT (source, source_id, type, severity) DO NOTHING`,
		string(ev.ID), string(ev.Type), string(ev.ClientID), ev.Source, ev.SourceID, ev.Severity, mustJSON(ev), ms(ev.CreatedAt)); err != nil {
		return fmt.Errorf("append notification event: %w", err)
	}
	return nil
}

// skipLocked is appended to SELECTs that claim queue rows: on PostgreSQL
// another server's claimed rows are skipped, not waited for; SQLite has
// one writer at a time and needs nothing.
func (tx *Tx) skipLocked(of string) string {
	if tx.db.dialect.Name != "postgres" {
		return ""
	}
	if of != "" {
		return " FOR UPDATE OF " + of + " SKIP LOCKED"
	}
	return " FOR UPDATE SKIP LOCKED"
}

// needAll refuses the queue operations to client-scoped actors.
func (tx *Tx) needAll() error {
	if !tx.scope.All {
		return patch.Errorf(patch.KindForbidden, "Only the server delivers notifications.")
	}
	return nil
}

// idle reports, for an unscoped caller, whether query finds no row: the
// notifier polls every few seconds, and an idle poll must not take
// SQLite's write lock.
func (db *DB) idle(ctx context.Context, query string, args ...any) (bool, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return false, err
	}
	if !scope.All {
		return false, patch.Errorf(patch.KindForbidden, "Only the server delivers notifications.")
	}
	var one int
	err = db.read.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, db.classify(fmt.Errorf("poll notifications: %w", err))
	}
	return false, nil
}

// RouteNotifications routes unrouted events to the channels match picks.
func (db *DB) RouteNotifications(ctx context.Context, limit int, match func(*patch.NotificationEvent, []*patch.Channel) []*patch.Channel) (int, error) {
	if idle, err := db.idle(ctx, `SELECT 1 FROM notification_events WHERE routed_at IS NULL LIMIT 1`); idle || err != nil {
		return 0, err
	}
	routed := 0
	err := db.inTx(ctx, func(tx *Tx) error {
		routed = 0
		if err := tx.needAll(); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT data FROM notification_events WHERE routed_at IS NULL ORDER BY created_at, id LIMIT $1`+tx.skipLocked(""), limit)
		if err != nil {
			return fmt.Errorf("query unrouted events: %w", err)
		}
		var evs []*patch.NotificationEvent
		for rows.Next() {
			var data string
			if err := rows.Scan(&data); err != nil {
				rows.Close()
				return fmt.Errorf("scan event: %w", err)
			}
			var ev patch.NotificationEvent
			if err := fromJSON(data, &ev); err != nil {
				rows.Close()
				return err
			}
			evs = append(evs, &ev)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read unrouted events: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		chs, err := tx.enabledChannels(ctx)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			for _, ch := range match(ev, chs) {
				if _, err := tx.exec(ctx, `INSERT INTO notification_deliveries (id, channel_id, channel_client_id, event_id, event_type, client_id,
					summary, severity, state, attempts, next_attempt_at, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10, $10) ON CONFLICT (event_id, channel_id) DO NOTHING`,
					patch.NewID(patch.PrefixDelivery, tx.now), string(ch.ID), string(ch.ClientID), string(ev.ID), string(ev.Type), string(ev.ClientID),
					clip(ev.Summary, 500), ev.Severity, string(patch.DeliveryPending), ms(tx.now)); err != nil {
					return fmt.Errorf("insert delivery: %w", err)
				}
			}
			if _, err := tx.exec(ctx, `UPDATE notification_events SET routed_at = $2 WHERE id = $1`, string(ev.ID), ms(tx.now)); err != nil {
				return fmt.Errorf("mark event routed: %w", err)
			}
			routed++
		}
		return nil
	})
	return routed, err
}

func (tx *Tx) enabledChannels(ctx context.Context) ([]*patch.Channel, error) {
	rows, err := tx.query(ctx, `SELECT `+channelColumns+` FROM notification_channels WHERE enabled = $1 ORDER BY id`, true)
	if err != nil {
		return nil, fmt.Errorf("query channels: %w", err)
	}
	defer rows.Close()
	var out []*patch.Channel
	for rows.Next() {
		ch, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("scan channel: %w", err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}

const deliveryColumns = `id, channel_id, event_id, event_type, client_id, summary, severity, state, attempts, next_attempt_at,
	last_status, last_error, created_at, updated_at, delivered_at`

func scanDelivery(s interface{ Scan(...any) error }, extra ...any) (*patch.Delivery, error) {
	var (
		d                   patch.Delivery
		next, cat, uat      int64
		delivered           sql.NullInt64
		state, typ, channel string
	)
	if err := s.Scan(append([]any{&d.ID, &channel, &d.EventID, &typ, &d.ClientID, &d.Summary, &d.Severity, &state, &d.Attempts, &next,
		&d.LastStatus, &d.LastError, &cat, &uat, &delivered}, extra...)...); err != nil {
		return nil, err
	}
	d.ChannelID, d.EventType, d.State = patch.ChannelID(channel), patch.EventType(typ), patch.DeliveryState(state)
	d.CreatedAt, d.UpdatedAt, d.DeliveredAt = fromMS(cat), fromMS(uat), fromNullMS(delivered)
	if d.State == patch.DeliveryPending {
		d.NextAttemptAt = fromMS(next)
	}
	return &d, nil
}

// ClaimDeliveries claims due deliveries for lease.
func (db *DB) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]*patch.DeliveryJob, error) {
	if idle, err := db.idle(ctx, `SELECT 1 FROM notification_deliveries WHERE state = $1 AND next_attempt_at <= $2 LIMIT 1`,
		string(patch.DeliveryPending), ms(db.Now())); idle || err != nil {
		return nil, err
	}
	var jobs []*patch.DeliveryJob
	err := db.inTx(ctx, func(tx *Tx) error {
		jobs = nil
		if err := tx.needAll(); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT d.id FROM notification_deliveries d JOIN notification_channels c ON c.id = d.channel_id
			WHERE d.state = $1 AND d.next_attempt_at <= $2 AND c.enabled = $3 ORDER BY d.next_attempt_at, d.id LIMIT $4`+tx.skipLocked("d"),
			string(patch.DeliveryPending), ms(tx.now), true, limit)
		if err != nil {
			return fmt.Errorf("query due deliveries: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("scan due delivery: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read due deliveries: %w", err)
		}
		for _, id := range ids {
			claim := newClaim()
			if _, err := tx.exec(ctx, `UPDATE notification_deliveries SET attempts = attempts + 1, claim = $2, next_attempt_at = $3, updated_at = $4 WHERE id = $1`,
				id, claim, ms(tx.now.Add(lease)), ms(tx.now)); err != nil {
				return fmt.Errorf("claim delivery: %w", err)
			}
			job, err := tx.deliveryJob(ctx, id)
			if err != nil {
				return err
			}
			job.Claim = claim
			jobs = append(jobs, job)
		}
		return nil
	})
	return jobs, err
}

func (tx *Tx) deliveryJob(ctx context.Context, id string) (*patch.DeliveryJob, error) {
	d, err := scanDelivery(tx.queryRow(ctx, `SELECT `+deliveryColumns+` FROM notification_deliveries WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("read delivery %s: %w", id, err)
	}
	ch, err := scanChannel(tx.queryRow(ctx, `SELECT `+channelColumns+` FROM notification_channels WHERE id = $1`, string(d.ChannelID)))
	if err != nil {
		return nil, fmt.Errorf("read channel of delivery %s: %w", id, err)
	}
	var data string
	if err := tx.queryRow(ctx, `SELECT data FROM notification_events WHERE id = $1`, string(d.EventID)).Scan(&data); err != nil {
		return nil, fmt.Errorf("read event of delivery %s: %w", id, err)
	}
	var ev patch.NotificationEvent
	if err := fromJSON(data, &ev); err != nil {
		return nil, err
	}
	return &patch.DeliveryJob{Delivery: d, Channel: ch, Event: &ev}, nil
}

func newClaim() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sqlstore: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// CompleteDelivery records an attempt's outcome under a current claim.
func (db *DB) CompleteDelivery(ctx context.Context, id patch.DeliveryID, claim string, o patch.DeliveryOutcome) (*patch.Delivery, error) {
	var out *patch.Delivery
	err := db.inTx(ctx, func(tx *Tx) error {
		if err := tx.needAll(); err != nil {
			return err
		}
		var cur, state string
		err := tx.queryRow(ctx, `SELECT claim, state FROM notification_deliveries WHERE id = $1`+tx.db.dialect.ForUpdate, string(id)).Scan(&cur, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("Delivery", id)
		}
		if err != nil {
			return fmt.Errorf("query delivery: %w", err)
		}
		if claim == "" || cur != claim || state != string(patch.DeliveryPending) {
			return patch.Errorf(patch.KindConflict, "Delivery %s is no longer claimed by this server.", id)
		}
		next := ms(tx.now)
		var delivered any
		switch o.State {
		case patch.DeliveryDelivered:
			delivered = ms(tx.now)
		case patch.DeliveryPending:
			next = ms(tx.now.Add(max(o.RetryIn, 0)))
		case patch.DeliveryFailed:
		default:
			return patch.FieldError("state", "unknown delivery outcome %q", o.State)
		}
		if _, err := tx.exec(ctx, `UPDATE notification_deliveries SET state = $2, claim = '', next_attempt_at = $3, last_status = $4, last_error = $5,
			updated_at = $6, delivered_at = $7 WHERE id = $1`, string(id), string(o.State), next, o.LastStatus, clip(cleanText(o.LastError), 1000),
			ms(tx.now), delivered); err != nil {
			return fmt.Errorf("record delivery outcome: %w", err)
		}
		out, err = scanDelivery(tx.queryRow(ctx, `SELECT `+deliveryColumns+` FROM notification_deliveries WHERE id = $1`, string(id)))
		if err != nil {
			return fmt.Errorf("read delivery: %w", err)
		}
		return nil
	})
	return out, err
}

// RecordTestDelivery stores a test event and its finished delivery.
func (db *DB) RecordTestDelivery(ctx context.Context, ch *patch.Channel, ev *patch.NotificationEvent, d *patch.Delivery) error {
	return db.inTx(ctx, func(tx *Tx) error {
		cur, err := tx.channelForUpdate(ctx, ch.ID)
		if err != nil {
			return err
		}
		if ev.ID == "" {
			ev.ID = patch.NotificationEventID(patch.NewID(patch.PrefixNotificationEvent, tx.now))
		}
		ev.Type, ev.Source, ev.SourceID, ev.CreatedAt = patch.EventTest, "test", string(d.ID), tx.now
		if _, err := tx.exec(ctx, `INSERT INTO notification_events (id, type, client_id, source, source_id, severity, data, created_at, routed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, string(ev.ID), string(ev.Type), string(ev.ClientID), ev.Source, ev.SourceID, ev.Severity,
			mustJSON(ev), ms(tx.now)); err != nil {
			return fmt.Errorf("insert test event: %w", err)
		}
		d.ChannelID, d.EventID, d.EventType, d.ClientID = cur.ID, ev.ID, ev.Type, ev.ClientID
		d.Summary, d.Severity, d.CreatedAt, d.UpdatedAt = clip(ev.Summary, 500), ev.Severity, tx.now, tx.now
		d.LastError = clip(cleanText(d.LastError), 1000)
		if d.State == patch.DeliveryDelivered {
			d.DeliveredAt = tx.now
		}
		if _, err := tx.exec(ctx, `INSERT INTO notification_deliveries (id, channel_id, channel_client_id, event_id, event_type, client_id,
			summary, severity, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $11, $11, $14)`,
			string(d.ID), string(cur.ID), string(cur.ClientID), string(ev.ID), string(ev.Type), string(ev.ClientID), d.Summary, d.Severity,
			string(d.State), d.Attempts, ms(tx.now), d.LastStatus, d.LastError, nullMS(d.DeliveredAt)); err != nil {
			return fmt.Errorf("insert test delivery: %w", err)
		}
		return tx.audit(ctx, cur.ClientID, "channel.test", "notification_channel", string(cur.ID), nil, d)
	})
}

// FindDeliveries lists deliveries of the channels in scope, newest first.
func (db *DB) FindDeliveries(ctx context.Context, f patch.DeliveryFilter) ([]*patch.Delivery, int, error) {
	scope, err := scopeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var c conds
	c.scope("channel_client_id", scope)
	if f.ChannelID != nil {
		c.add("channel_id = ?", string(*f.ChannelID))
	}
	if f.ClientID != nil {
		c.add("client_id = ?", string(*f.ClientID))
	}
	if f.State != nil {
		c.add("state = ?", string(*f.State))
	}
	where := c.where()
	rows, err := db.read.QueryContext(ctx, `SELECT `+deliveryColumns+`, COUNT(*) OVER () FROM notification_deliveries`+where+
		` ORDER BY created_at DESC, id DESC`+c.page(f.Limit, f.Offset), c.args...)
	if err != nil {
		return nil, 0, db.classify(fmt.Errorf("query deliveries: %w", err))
	}
	defer rows.Close()
	var out []*patch.Delivery
	total := 0
	for rows.Next() {
		d, err := scanDelivery(rows, &total)
		if err != nil {
			return nil, 0, db.classify(fmt.Errorf("scan delivery: %w", err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.classify(fmt.Errorf("read deliveries: %w", err))
	}
	if len(out) == 0 && f.Offset > 0 {
		total, err = db.count(ctx, "notification_deliveries", where, c.args[:len(c.args)-2])
	}
	return out, total, err
}

// PruneNotifications deletes finished deliveries and routed events older
// than before. An event stays while a delivery of it is pending, and an
// open alert's events stay: they tell a later escalation what severity
// was announced.
func (db *DB) PruneNotifications(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *Tx) error {
		n = 0
		if err := tx.needAll(); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM notification_deliveries WHERE state <> 'pending' AND updated_at < $1`,
			`DELETE FROM notification_events WHERE routed_at IS NOT NULL AND routed_at < $1
				AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.event_id = notification_events.id)
				AND NOT (source = 'alert' AND EXISTS (SELECT 1 FROM alerts a WHERE a.id = notification_events.source_id AND a.resolved_at IS NULL))`,
		} {
			res, err := tx.exec(ctx, q, ms(before))
			if err != nil {
				return fmt.Errorf("prune notifications: %w", err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("prune notifications: %w", err)
			}
			n += int(k)
		}
		return nil
	})
	return n, err
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// cleanText makes receiver-supplied text storable: valid UTF-8 without
// NUL (PostgreSQL refuses both).
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
