-- Compliance: the clients' OS baselines (UPDATES – Missing Service Pack),
-- monitor states and their history, and daily snapshots of every
-- Patch Health Compliance rating with the per-asset rows they were
-- computed from.
--
-- Monitors raise their alerts in the alerts table of 0005 (kind = the
-- monitor, subject = the asset): its partial unique index allows one open
-- alert per client, kind and subject, which is the de-duplication.
--
-- Snapshots are history: a day's rows are never changed once the day is
-- taken (retaking a day replaces all of its rows), and an asset's rows
-- outlive the asset so that a past month re-reports exactly. They go with
-- their client. MSP-wide rows have client_id ''.

-- +goose Up
CREATE TABLE os_baselines (
    client_id    TEXT    NOT NULL REFERENCES clients (id),
    family       TEXT    NOT NULL,
    name_match   TEXT    NOT NULL DEFAULT '',
    min_version  TEXT    NOT NULL,
    note         TEXT    NOT NULL DEFAULT '',
    position     INTEGER NOT NULL,
    PRIMARY KEY (client_id, family, name_match)
);

CREATE TABLE monitor_states (
    asset_id        TEXT    NOT NULL REFERENCES assets (id),
    client_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    since           BIGINT  NOT NULL,
    summary         TEXT    NOT NULL DEFAULT '',
    details         TEXT    NOT NULL DEFAULT '{}',
    fingerprint     TEXT    NOT NULL DEFAULT '',
    pending_status  TEXT    NOT NULL DEFAULT '',
    pending_since   BIGINT,
    flapping        BOOLEAN NOT NULL DEFAULT FALSE,
    changes         TEXT    NOT NULL DEFAULT '[]',
    alert_id        TEXT    NOT NULL DEFAULT '',
    evaluated_at    BIGINT  NOT NULL,
    version         INTEGER NOT NULL,
    PRIMARY KEY (asset_id, kind)
);
CREATE INDEX monitor_states_client ON monitor_states (client_id, kind, status);

CREATE TABLE monitor_events (
    id           TEXT    PRIMARY KEY,
    client_id    TEXT    NOT NULL,
    asset_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    at           BIGINT  NOT NULL,
    from_status  TEXT    NOT NULL DEFAULT '',
    to_status    TEXT    NOT NULL,
    summary      TEXT    NOT NULL DEFAULT '',
    details      TEXT    NOT NULL DEFAULT '{}',
    suppressed   BOOLEAN NOT NULL DEFAULT FALSE,
    alert_id     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX monitor_events_asset ON monitor_events (asset_id, at);
CREATE INDEX monitor_events_client ON monitor_events (client_id, at);

CREATE TABLE compliance_snapshots (
    day         TEXT             NOT NULL,
    client_id   TEXT             NOT NULL,
    dim         TEXT             NOT NULL,
    key         TEXT             NOT NULL,
    rating_pct  DOUBLE PRECISION,
    strict_pct  DOUBLE PRECISION,
    target_pct  DOUBLE PRECISION,
    met         BOOLEAN,
    assets      INTEGER          NOT NULL,
    rated       INTEGER          NOT NULL,
    compliant   INTEGER          NOT NULL,
    findings    TEXT             NOT NULL,
    gaps        TEXT             NOT NULL,
    taken_at    BIGINT           NOT NULL,
    PRIMARY KEY (day, client_id, dim, key)
);
CREATE INDEX compliance_snapshots_group ON compliance_snapshots (client_id, dim, key, day);

CREATE TABLE compliance_asset_days (
    day         TEXT             NOT NULL,
    client_id   TEXT             NOT NULL,
    asset_id    TEXT             NOT NULL,
    hostname    TEXT             NOT NULL,
    site_id     TEXT             NOT NULL DEFAULT '',
    os_family   TEXT             NOT NULL,
    class       TEXT             NOT NULL,
    kind        TEXT             NOT NULL,
    rated       BOOLEAN          NOT NULL,
    rating_pct  DOUBLE PRECISION,
    strict_pct  DOUBLE PRECISION,
    target_pct  DOUBLE PRECISION NOT NULL,
    findings    TEXT             NOT NULL,
    tiers       TEXT             NOT NULL,
    gaps        TEXT             NOT NULL,
    PRIMARY KEY (day, asset_id)
);
CREATE INDEX compliance_asset_days_client ON compliance_asset_days (client_id, day, hostname);
CREATE INDEX compliance_asset_days_asset ON compliance_asset_days (asset_id, day);

-- +goose Down
DROP TABLE compliance_asset_days;
DROP TABLE compliance_snapshots;
DROP TABLE monitor_events;
DROP TABLE monitor_states;
DROP TABLE os_baselines;
