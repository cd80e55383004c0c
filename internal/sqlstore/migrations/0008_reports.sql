-- Generated reports and their files (PDF, HTML, CSV, JSON), stored in the
-- database rather than under the data directory so that every server
-- sharing one PostgreSQL serves the same reports and a database backup
-- holds them with the evidence chain they describe.
--
-- client_id is '' for MSP-wide reports (the internal scorecard) and has no
-- foreign key on purpose: like the evidence chain, a client's reports are
-- retained after the client is deleted (HIPAA asks for six years).
--
-- Scheduled generation is idempotent across servers: at most one
-- scheduled report per client, kind and period (the partial unique index).

-- +goose Up
CREATE TABLE reports (
    id            TEXT   PRIMARY KEY,
    client_id     TEXT   NOT NULL DEFAULT '',
    kind          TEXT   NOT NULL,
    period        TEXT   NOT NULL,
    period_start  BIGINT NOT NULL,
    period_end    BIGINT NOT NULL,
    title         TEXT   NOT NULL,
    trigger_kind  TEXT   NOT NULL,
    generated_at  BIGINT NOT NULL,
    generated_by  TEXT   NOT NULL,
    summary       TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX reports_client ON reports (client_id, period, kind, generated_at);
CREATE UNIQUE INDEX reports_scheduled ON reports (client_id, kind, period) WHERE trigger_kind = 'schedule';

CREATE TABLE report_files (
    report_id     TEXT   NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    format        TEXT   NOT NULL,
    content_type  TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT   NOT NULL,
    content       BYTEA  NOT NULL,
    PRIMARY KEY (report_id, name)
);

-- +goose Down
DROP TABLE report_files;
DROP TABLE reports;
