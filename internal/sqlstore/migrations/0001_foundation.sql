-- Foundation: the MSP, clients, sites, assets, users, API tokens and the
-- audit log. One portable schema for SQLite and PostgreSQL: TEXT ids,
-- BIGINT Unix-millisecond times, BOOLEAN flags, JSON lists in TEXT.

-- +goose Up
CREATE TABLE msp (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE clients (
    id             TEXT   PRIMARY KEY,
    name           TEXT   NOT NULL,
    notes          TEXT   NOT NULL DEFAULT '',
    contact_name   TEXT   NOT NULL DEFAULT '',
    contact_email  TEXT   NOT NULL DEFAULT '',
    asset_classes  TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX clients_name ON clients (LOWER(name));

CREATE TABLE sites (
    id          TEXT   PRIMARY KEY,
    client_id   TEXT   NOT NULL REFERENCES clients (id),
    name        TEXT   NOT NULL,
    location    TEXT   NOT NULL DEFAULT '',
    time_zone   TEXT   NOT NULL,
    subnets     TEXT   NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (id, client_id)
);
CREATE UNIQUE INDEX sites_client_name ON sites (client_id, LOWER(name));

CREATE TABLE assets (
    id             TEXT    PRIMARY KEY,
    client_id      TEXT    NOT NULL REFERENCES clients (id),
    site_id        TEXT,
    hostname       TEXT    NOT NULL,
    fqdn           TEXT    NOT NULL DEFAULT '',
    os_family      TEXT    NOT NULL,
    os_name        TEXT    NOT NULL DEFAULT '',
    os_version     TEXT    NOT NULL DEFAULT '',
    os_build       TEXT    NOT NULL DEFAULT '',
    os_kernel      TEXT    NOT NULL DEFAULT '',
    os_arch        TEXT    NOT NULL DEFAULT '',
    role           TEXT    NOT NULL,
    class          TEXT    NOT NULL,
    owner          TEXT    NOT NULL DEFAULT '',
    location       TEXT    NOT NULL DEFAULT '',
    criticality    TEXT    NOT NULL,
    ring           TEXT    NOT NULL DEFAULT '',
    managed        BOOLEAN NOT NULL DEFAULT FALSE,
    source         TEXT    NOT NULL,
    identity_key   TEXT    NOT NULL DEFAULT '',
    serial_number  TEXT    NOT NULL DEFAULT '',
    ip_addresses   TEXT    NOT NULL DEFAULT '[]',
    mac_addresses  TEXT    NOT NULL DEFAULT '[]',
    first_seen     BIGINT  NOT NULL,
    last_seen      BIGINT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    -- An asset's site must belong to the asset's client.
    FOREIGN KEY (site_id, client_id) REFERENCES sites (id, client_id)
);
CREATE INDEX assets_client_hostname ON assets (client_id, hostname);
CREATE INDEX assets_hostname ON assets (hostname);
CREATE INDEX assets_client_last_seen ON assets (client_id, last_seen);
CREATE INDEX assets_site ON assets (site_id);
CREATE UNIQUE INDEX assets_identity ON assets (client_id, identity_key) WHERE identity_key <> '';

CREATE TABLE asset_tags (
    asset_id   TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (asset_id, key)
);
CREATE INDEX asset_tags_client_kv ON asset_tags (client_id, key, value);

CREATE TABLE users (
    id             TEXT    PRIMARY KEY,
    email          TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    client_id      TEXT    REFERENCES clients (id),
    password_hash  TEXT    NOT NULL DEFAULT '',
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    last_login_at  BIGINT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_client ON users (client_id);

CREATE TABLE api_tokens (
    id            TEXT   PRIMARY KEY,
    name          TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    client_id     TEXT   REFERENCES clients (id),
    user_id       TEXT   REFERENCES users (id) ON DELETE CASCADE,
    hash          TEXT   NOT NULL,
    hint          TEXT   NOT NULL DEFAULT '',
    created_by    TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (hash);
CREATE INDEX api_tokens_client ON api_tokens (client_id);

CREATE TABLE audit_log (
    id           TEXT   PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor_kind   TEXT   NOT NULL,
    actor_id     TEXT   NOT NULL,
    actor_name   TEXT   NOT NULL,
    actor_role   TEXT   NOT NULL DEFAULT '',
    client_id    TEXT,
    action       TEXT   NOT NULL,
    entity_type  TEXT   NOT NULL,
    entity_id    TEXT   NOT NULL,
    before_json  TEXT,
    after_json   TEXT,
    request_id   TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_client_at ON audit_log (client_id, at);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE asset_tags;
DROP TABLE assets;
DROP TABLE sites;
DROP TABLE clients;
DROP TABLE msp;
