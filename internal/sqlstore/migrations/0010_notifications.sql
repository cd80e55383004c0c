-- Notification channels, the notification outbox and the delivery queue.
--
-- notification_events is the outbox: the stores that raise, escalate or
-- resolve an alert, or open or resolve a ticket, append one row in the
-- same transaction. It has no foreign keys and no checks beyond its
-- unique index (hit only by a repeat of the same event, which is then
-- dropped by ON CONFLICT DO NOTHING), so appending never fails an alert's
-- transaction for a notification reason. The unique index makes each
-- event happen once: an alert is raised once, escalated once per
-- severity, resolved once.
--
-- The notifier routes unrouted events (routed_at NULL) to matching
-- channels as notification_deliveries, one per event and channel (the
-- unique index is the idempotency of routing), and delivers those with
-- retries. A delivery is claimed by setting a new claim token and moving
-- next_attempt_at past a lease: a server that dies mid-send hands it on.
--
-- client_id is '' for MSP-wide channels and for test events; like
-- reports, these tables carry no foreign key to clients (DeleteClient
-- removes a client's rows explicitly).

-- +goose Up
CREATE TABLE notification_channels (
    id             TEXT    PRIMARY KEY,
    client_id      TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    enabled        BOOLEAN NOT NULL,
    url            TEXT    NOT NULL DEFAULT '',
    secret_hint    TEXT    NOT NULL DEFAULT '',
    sealed_secret  TEXT    NOT NULL DEFAULT '',
    recipients     TEXT    NOT NULL DEFAULT '[]',
    filter         TEXT    NOT NULL DEFAULT '{}',
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX notification_channels_name ON notification_channels (client_id, LOWER(name));

CREATE TABLE notification_events (
    id          TEXT   PRIMARY KEY,
    type        TEXT   NOT NULL,
    client_id   TEXT   NOT NULL DEFAULT '',
    source      TEXT   NOT NULL,
    source_id   TEXT   NOT NULL,
    severity    TEXT   NOT NULL,
    data        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    routed_at   BIGINT
);
CREATE UNIQUE INDEX notification_events_once ON notification_events (source, source_id, type, severity);
CREATE INDEX notification_events_unrouted ON notification_events (created_at, id) WHERE routed_at IS NULL;
CREATE INDEX notification_events_client ON notification_events (client_id, created_at);

CREATE TABLE notification_deliveries (
    id                 TEXT    PRIMARY KEY,
    channel_id         TEXT    NOT NULL,
    channel_client_id  TEXT    NOT NULL DEFAULT '',
    event_id           TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    client_id          TEXT    NOT NULL DEFAULT '',
    summary            TEXT    NOT NULL DEFAULT '',
    severity           TEXT    NOT NULL DEFAULT '',
    state              TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT  NOT NULL,
    claim              TEXT    NOT NULL DEFAULT '',
    last_status        INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT    NOT NULL DEFAULT '',
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    delivered_at       BIGINT
);
CREATE UNIQUE INDEX notification_deliveries_once ON notification_deliveries (event_id, channel_id);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, created_at);
CREATE INDEX notification_deliveries_owner ON notification_deliveries (channel_client_id, created_at);
CREATE INDEX notification_deliveries_client ON notification_deliveries (client_id);

-- +goose Down
DROP TABLE notification_deliveries;
DROP TABLE notification_events;
DROP TABLE notification_channels;
