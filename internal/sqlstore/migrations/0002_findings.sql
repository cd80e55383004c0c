-- The update catalog, findings (asset × update) and per-source scan status.

-- +goose Up
CREATE TABLE updates (
    id                     TEXT             PRIMARY KEY,
    source                 TEXT             NOT NULL,
    vendor_id              TEXT             NOT NULL,
    package                TEXT             NOT NULL DEFAULT '',
    title                  TEXT             NOT NULL DEFAULT '',
    product                TEXT             NOT NULL DEFAULT '',
    version                TEXT             NOT NULL DEFAULT '',
    classification         TEXT             NOT NULL DEFAULT '',
    vendor_classification  TEXT             NOT NULL DEFAULT '',
    vendor_severity        TEXT             NOT NULL DEFAULT '',
    advisory               TEXT             NOT NULL DEFAULT '',
    kbs                    TEXT             NOT NULL DEFAULT '[]',
    cves                   TEXT             NOT NULL DEFAULT '[]',
    cvss                   DOUBLE PRECISION NOT NULL DEFAULT 0,
    known_exploited        BOOLEAN          NOT NULL DEFAULT FALSE,
    release_date           BIGINT,
    reboot_required        BOOLEAN          NOT NULL DEFAULT FALSE,
    size                   BIGINT           NOT NULL DEFAULT 0,
    supersedes             TEXT             NOT NULL DEFAULT '[]',
    first_seen             BIGINT           NOT NULL,
    UNIQUE (source, vendor_id)
);
CREATE INDEX updates_package ON updates (source, package);

CREATE TABLE findings (
    id                 TEXT    PRIMARY KEY,
    client_id          TEXT    NOT NULL REFERENCES clients (id),
    asset_id           TEXT    NOT NULL REFERENCES assets (id),
    update_id          TEXT    NOT NULL REFERENCES updates (id),
    installed_version  TEXT    NOT NULL DEFAULT '',
    state              TEXT    NOT NULL,
    resolution         TEXT    NOT NULL DEFAULT '',
    first_seen         BIGINT  NOT NULL,
    last_seen          BIGINT  NOT NULL,
    resolved_at        BIGINT,
    sla_anchor         BIGINT  NOT NULL,
    superseded_by      TEXT,
    -- Maintained by the SLA evaluator.
    tier               TEXT    NOT NULL DEFAULT '',
    emergency          BOOLEAN NOT NULL DEFAULT FALSE,
    approval           TEXT    NOT NULL DEFAULT 'pending',
    due_at             BIGINT,
    sla_status         TEXT    NOT NULL DEFAULT '',
    exception_id       TEXT,
    evaluated_at       BIGINT
);
-- At most one open finding per asset and update; resolved ones are history.
CREATE UNIQUE INDEX findings_open ON findings (asset_id, update_id) WHERE state = 'open';
CREATE INDEX findings_asset_state ON findings (asset_id, state);
CREATE INDEX findings_client_state ON findings (client_id, state, sla_status);
CREATE INDEX findings_update ON findings (update_id, state);
CREATE INDEX findings_resolved ON findings (client_id, resolved_at);

CREATE TABLE scan_status (
    asset_id      TEXT    NOT NULL REFERENCES assets (id),
    client_id     TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    last_attempt  BIGINT  NOT NULL,
    last_success  BIGINT,
    last_error    TEXT    NOT NULL DEFAULT '',
    missing       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (asset_id, source)
);

-- +goose Down
DROP TABLE scan_status;
DROP TABLE findings;
DROP TABLE updates;
