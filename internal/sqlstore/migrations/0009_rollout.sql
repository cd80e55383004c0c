-- Progressive rollout and the patching runbook: each client's runbook
-- document, patch cycles with their rings (JSON: read and written with the
-- cycle), one deployment per asset and cycle with the time of every
-- runbook step, the jobs each deployment step handed out (tied to the agent
-- jobs of migration 0004), tickets, and the scheduler's leader lease.
--
-- rollout_jobs' unique index is the last line of defence against a job
-- handed out twice: a second scheduler writing the same deployment step
-- fails on it (the lease's fencing token and the cycle's version normally
-- stop it earlier).

-- +goose Up
CREATE TABLE runbooks (
    client_id   TEXT    PRIMARY KEY REFERENCES clients (id),
    version     INTEGER NOT NULL,
    doc         TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    updated_by  TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE cycles (
    id            TEXT    PRIMARY KEY,
    client_id     TEXT    NOT NULL REFERENCES clients (id),
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    rings         TEXT    NOT NULL,
    updates       TEXT    NOT NULL,
    created_by    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    completed_at  BIGINT,
    halted_at     BIGINT,
    halt_ring     TEXT    NOT NULL DEFAULT '',
    halt_reason   TEXT    NOT NULL DEFAULT '',
    ticket_id     TEXT    NOT NULL DEFAULT '',
    resumed_at    BIGINT,
    resumed_by    TEXT    NOT NULL DEFAULT '',
    updated_at    BIGINT  NOT NULL,
    version       INTEGER NOT NULL
);
CREATE INDEX cycles_client ON cycles (client_id, created_at);
CREATE INDEX cycles_state ON cycles (state);

CREATE TABLE deployments (
    id                   TEXT    PRIMARY KEY,
    cycle_id             TEXT    NOT NULL REFERENCES cycles (id),
    client_id            TEXT    NOT NULL,
    asset_id             TEXT    NOT NULL,
    hostname             TEXT    NOT NULL DEFAULT '',
    ring                 TEXT    NOT NULL,
    ring_order           INTEGER NOT NULL,
    state                TEXT    NOT NULL,
    targets              TEXT    NOT NULL,
    step                 INTEGER NOT NULL DEFAULT 0,
    attempts             INTEGER NOT NULL DEFAULT 0,
    failures             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      BIGINT,
    last_error           TEXT    NOT NULL DEFAULT '',
    reboot_required      BOOLEAN NOT NULL DEFAULT FALSE,
    reboot_approved      BOOLEAN NOT NULL DEFAULT FALSE,
    waived               BOOLEAN NOT NULL DEFAULT FALSE,
    window_end           BIGINT,
    scheduled_at         BIGINT,
    snapshot_at          BIGINT,
    sent_at              BIGINT,
    installed_at         BIGINT,
    reboot_requested_at  BIGINT,
    rebooted_at          BIGINT,
    verified_at          BIGINT,
    health_checked_at    BIGINT,
    rolled_back_at       BIGINT,
    failed_at            BIGINT,
    completed_at         BIGINT,
    ticket_id            TEXT    NOT NULL DEFAULT '',
    updated_at           BIGINT  NOT NULL
);
CREATE INDEX deployments_cycle ON deployments (cycle_id, ring_order, hostname);
CREATE INDEX deployments_asset ON deployments (asset_id, updated_at);
CREATE INDEX deployments_client_updated ON deployments (client_id, updated_at);

-- Which findings each deployment targets (for "why not patched").
CREATE TABLE deployment_findings (
    finding_id     TEXT NOT NULL,
    deployment_id  TEXT NOT NULL REFERENCES deployments (id),
    client_id      TEXT NOT NULL,
    PRIMARY KEY (finding_id, deployment_id)
);
CREATE INDEX deployment_findings_deployment ON deployment_findings (deployment_id);

CREATE TABLE rollout_jobs (
    id             TEXT    PRIMARY KEY,
    deployment_id  TEXT    NOT NULL REFERENCES deployments (id),
    cycle_id       TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    asset_id       TEXT    NOT NULL,
    step_no        INTEGER NOT NULL,
    step           TEXT    NOT NULL,
    source         TEXT    NOT NULL DEFAULT '',
    webhook        BOOLEAN NOT NULL DEFAULT FALSE,
    url            TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    completed_at   BIGINT,
    result         TEXT    NOT NULL DEFAULT '',
    error          TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX rollout_jobs_step ON rollout_jobs (deployment_id, step_no, step, source);
CREATE INDEX rollout_jobs_cycle ON rollout_jobs (cycle_id, deployment_id, step_no);
CREATE INDEX rollout_jobs_webhook ON rollout_jobs (webhook, state);
-- A job's result is found by its job id even when the job expired before
-- the result arrived.
CREATE INDEX agent_results_job ON agent_results (job_id);

CREATE TABLE tickets (
    id             TEXT   PRIMARY KEY,
    client_id      TEXT   NOT NULL REFERENCES clients (id),
    kind           TEXT   NOT NULL,
    state          TEXT   NOT NULL,
    title          TEXT   NOT NULL,
    body           TEXT   NOT NULL DEFAULT '',
    cycle_id       TEXT   NOT NULL DEFAULT '',
    deployment_id  TEXT   NOT NULL DEFAULT '',
    asset_id       TEXT   NOT NULL DEFAULT '',
    ring           TEXT   NOT NULL DEFAULT '',
    created_by     TEXT   NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    resolved_at    BIGINT,
    resolved_by    TEXT   NOT NULL DEFAULT '',
    resolution     TEXT   NOT NULL DEFAULT '',
    external_ref   TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX tickets_client ON tickets (client_id, created_at);
CREATE INDEX tickets_state ON tickets (state, client_id);

-- Leader leases: one row per lease. token grows every time the holder
-- changes (fencing).
CREATE TABLE leases (
    name         TEXT   PRIMARY KEY,
    holder       TEXT   NOT NULL,
    token        BIGINT NOT NULL,
    acquired_at  BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE tickets;
DROP INDEX agent_results_job;
DROP TABLE rollout_jobs;
DROP TABLE deployment_findings;
DROP TABLE deployments;
DROP TABLE cycles;
DROP TABLE runbooks;
