-- Per-client hash-chained evidence log, signed checkpoints of its heads, and
-- the server's signing keys.

-- +goose Up
CREATE TABLE evidence_heads (
    client_id  TEXT   PRIMARY KEY,
    seq        BIGINT NOT NULL,
    hash       TEXT   NOT NULL
);

CREATE TABLE evidence_entries (
    client_id    TEXT   NOT NULL,
    seq          BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    type         TEXT   NOT NULL,
    actor_kind   TEXT   NOT NULL,
    actor_id     TEXT   NOT NULL,
    actor_name   TEXT   NOT NULL DEFAULT '',
    asset_id     TEXT   NOT NULL DEFAULT '',
    update_id    TEXT   NOT NULL DEFAULT '',
    cycle_id     TEXT   NOT NULL DEFAULT '',
    exception_id TEXT   NOT NULL DEFAULT '',
    details      TEXT   NOT NULL DEFAULT '{}',
    prev_hash    TEXT   NOT NULL,
    hash         TEXT   NOT NULL,
    PRIMARY KEY (client_id, seq)
);
CREATE INDEX evidence_entries_at ON evidence_entries (client_id, at);
CREATE INDEX evidence_entries_asset ON evidence_entries (client_id, asset_id, seq);

CREATE TABLE evidence_checkpoints (
    client_id  TEXT   NOT NULL,
    size       BIGINT NOT NULL,
    head       TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    key_id     TEXT   NOT NULL,
    signed     TEXT   NOT NULL,
    PRIMARY KEY (client_id, size)
);

CREATE TABLE server_keys (
    id          TEXT   PRIMARY KEY,
    purpose     TEXT   NOT NULL,
    public_key  TEXT   NOT NULL,
    private_key TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
-- One current key per purpose.
CREATE UNIQUE INDEX server_keys_current ON server_keys (purpose) WHERE retired_at IS NULL;

-- +goose Down
DROP TABLE server_keys;
DROP TABLE evidence_checkpoints;
DROP TABLE evidence_entries;
DROP TABLE evidence_heads;
