-- Endpoint agents: enrollment secrets, agents and their keys, remembered
-- request nonces, the last inventory and installed software of each asset,
-- delivered results (idempotent by id) and jobs for agents.

-- +goose Up
CREATE TABLE enrollment_secrets (
    id            TEXT    PRIMARY KEY,
    client_id     TEXT    NOT NULL REFERENCES clients (id),
    site_id       TEXT,
    class         TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL,
    hash          TEXT    NOT NULL,
    hint          TEXT    NOT NULL DEFAULT '',
    max_uses      INTEGER NOT NULL DEFAULT 0,
    uses          INTEGER NOT NULL DEFAULT 0,
    created_by    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT,
    FOREIGN KEY (site_id, client_id) REFERENCES sites (id, client_id)
);
CREATE UNIQUE INDEX enrollment_secrets_hash ON enrollment_secrets (hash);
CREATE INDEX enrollment_secrets_client ON enrollment_secrets (client_id, created_at);

CREATE TABLE agents (
    id              TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES clients (id),
    asset_id        TEXT    NOT NULL REFERENCES assets (id),
    enrollment_id   TEXT    NOT NULL DEFAULT '',
    public_key      TEXT    NOT NULL,
    hostname        TEXT    NOT NULL DEFAULT '',
    version         TEXT    NOT NULL DEFAULT '',
    protocol        INTEGER NOT NULL DEFAULT 0,
    remote_addr     TEXT    NOT NULL DEFAULT '',
    inventory_hash  TEXT    NOT NULL DEFAULT '',
    enrolled_at     BIGINT  NOT NULL,
    last_check_in   BIGINT,
    expected_by     BIGINT,
    outbox_length   INTEGER NOT NULL DEFAULT 0,
    outbox_dropped  BIGINT  NOT NULL DEFAULT 0,
    refused_jobs    BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_scan_at    BIGINT,
    revoked_at      BIGINT,
    revoked_reason  TEXT    NOT NULL DEFAULT ''
);
-- A key enrolls once: a replayed enrollment cannot mint a second agent.
CREATE UNIQUE INDEX agents_public_key ON agents (public_key);
CREATE INDEX agents_asset ON agents (asset_id);
CREATE INDEX agents_client_expected ON agents (client_id, expected_by);

-- Nonces of accepted requests, kept past the clock-skew bound so that a
-- replay inside it is refused. principal is an agent id, or "enroll:" and
-- the public key for enrollments.
CREATE TABLE agent_nonces (
    principal   TEXT   NOT NULL,
    nonce       TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (principal, nonce)
);
CREATE INDEX agent_nonces_expires ON agent_nonces (expires_at);

-- Every identity key an agent reported for an asset (hardware UUID,
-- serial, machine id), so that a re-enrolled machine is recognised by any
-- key it still has. assets.identity_key holds only the best one.
CREATE TABLE asset_identities (
    client_id  TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    asset_id   TEXT   NOT NULL REFERENCES assets (id),
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (client_id, key)
);
CREATE INDEX asset_identities_asset ON asset_identities (asset_id);

CREATE TABLE asset_inventory (
    asset_id      TEXT   PRIMARY KEY REFERENCES assets (id),
    client_id     TEXT   NOT NULL,
    hash          TEXT   NOT NULL,
    collected_at  BIGINT,
    received_at   BIGINT NOT NULL,
    document      TEXT   NOT NULL
);

CREATE TABLE installed_software (
    asset_id      TEXT   NOT NULL REFERENCES assets (id),
    client_id     TEXT   NOT NULL,
    source        TEXT   NOT NULL,
    name          TEXT   NOT NULL,
    version       TEXT   NOT NULL,
    arch          TEXT   NOT NULL DEFAULT '',
    vendor        TEXT   NOT NULL DEFAULT '',
    install_date  BIGINT,
    PRIMARY KEY (asset_id, source, name, version, arch)
);
-- "What is installed where" across a client's fleet.
CREATE INDEX installed_software_client_name ON installed_software (client_id, name);

CREATE TABLE agent_results (
    id           TEXT    PRIMARY KEY,
    client_id    TEXT    NOT NULL,
    asset_id     TEXT    NOT NULL REFERENCES assets (id),
    agent_id     TEXT    NOT NULL,
    job_id       TEXT    NOT NULL DEFAULT '',
    kind         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    error        TEXT    NOT NULL DEFAULT '',
    started_at   BIGINT,
    finished_at  BIGINT  NOT NULL,
    received_at  BIGINT  NOT NULL,
    applied      BOOLEAN NOT NULL DEFAULT FALSE,
    document     TEXT    NOT NULL
);
CREATE INDEX agent_results_asset ON agent_results (asset_id, finished_at);
CREATE INDEX agent_results_received ON agent_results (received_at);

CREATE TABLE agent_jobs (
    id            TEXT    PRIMARY KEY,
    client_id     TEXT    NOT NULL REFERENCES clients (id),
    asset_id      TEXT    NOT NULL REFERENCES assets (id),
    agent_id      TEXT    NOT NULL REFERENCES agents (id),
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    created_by    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    delivered_at  BIGINT,
    deliveries    INTEGER NOT NULL DEFAULT 0,
    completed_at  BIGINT,
    result_id     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX agent_jobs_agent_state ON agent_jobs (agent_id, state);
CREATE INDEX agent_jobs_asset ON agent_jobs (asset_id, created_at);

-- +goose Down
DROP TABLE agent_jobs;
DROP TABLE agent_results;
DROP TABLE installed_software;
DROP TABLE asset_inventory;
DROP TABLE asset_identities;
DROP TABLE agent_nonces;
DROP TABLE agents;
DROP TABLE enrollment_secrets;
