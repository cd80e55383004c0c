-- Patch policy: each client's policy document, the MSP-wide canary ring,
-- manual approval decisions and tier overrides per (client, update), the
-- exception register, and alerts.
--
-- A policy is stored whole as JSON (it is read, written, diffed and
-- audited as one document); what is queried on its own (decisions,
-- overrides, exceptions, alerts) has its own table.
--
-- alerts is deliberately general: one row per condition a person must look
-- at, open until resolved_at is set, at most one open row per client, kind
-- and subject (the partial unique index). Exception expiry raises the
-- first kind ("exception_expired"); monitors add theirs later.

-- +goose Up
CREATE TABLE policies (
    client_id   TEXT    PRIMARY KEY REFERENCES clients (id),
    version     INTEGER NOT NULL,
    doc         TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    updated_by  TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE msp_canary (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     INTEGER NOT NULL,
    doc         TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE update_decisions (
    client_id   TEXT   NOT NULL REFERENCES clients (id),
    update_id   TEXT   NOT NULL REFERENCES updates (id),
    decision    TEXT   NOT NULL,
    reason      TEXT   NOT NULL DEFAULT '',
    decided_by  TEXT   NOT NULL,
    decided_at  BIGINT NOT NULL,
    PRIMARY KEY (client_id, update_id)
);

CREATE TABLE tier_overrides (
    client_id   TEXT    NOT NULL REFERENCES clients (id),
    update_id   TEXT    NOT NULL REFERENCES updates (id),
    tier        TEXT    NOT NULL DEFAULT '',
    emergency   BOOLEAN,
    reason      TEXT    NOT NULL,
    set_by      TEXT    NOT NULL,
    set_at      BIGINT  NOT NULL,
    PRIMARY KEY (client_id, update_id)
);

CREATE TABLE exceptions (
    id            TEXT   PRIMARY KEY,
    client_id     TEXT   NOT NULL REFERENCES clients (id),
    lane          TEXT   NOT NULL,
    state         TEXT   NOT NULL,
    scope         TEXT   NOT NULL,
    reason        TEXT   NOT NULL,
    ticket_ref    TEXT   NOT NULL,
    controls      TEXT   NOT NULL DEFAULT '[]',
    requested_by  TEXT   NOT NULL,
    requested_at  BIGINT NOT NULL,
    starts_at     BIGINT,
    expires_at    BIGINT NOT NULL,
    sign_off      TEXT,
    approved_at   BIGINT,
    activated_at  BIGINT,
    ended_at      BIGINT,
    ended_by      TEXT,
    end_reason    TEXT   NOT NULL DEFAULT '',
    updated_at    BIGINT NOT NULL
);
CREATE INDEX exceptions_client_state ON exceptions (client_id, state);
CREATE INDEX exceptions_state_expiry ON exceptions (state, expires_at);

CREATE TABLE alerts (
    id            TEXT   PRIMARY KEY,
    client_id     TEXT   NOT NULL REFERENCES clients (id),
    kind          TEXT   NOT NULL,
    severity      TEXT   NOT NULL,
    subject_type  TEXT   NOT NULL,
    subject_id    TEXT   NOT NULL,
    message       TEXT   NOT NULL,
    details       TEXT   NOT NULL DEFAULT '{}',
    raised_at     BIGINT NOT NULL,
    resolved_at   BIGINT
);
CREATE UNIQUE INDEX alerts_open ON alerts (client_id, kind, subject_id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_client_raised ON alerts (client_id, raised_at);

-- +goose Down
DROP TABLE alerts;
DROP TABLE exceptions;
DROP TABLE tier_overrides;
DROP TABLE update_decisions;
DROP TABLE msp_canary;
DROP TABLE policies;
