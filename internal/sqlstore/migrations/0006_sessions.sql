-- Console sessions. The cookie carries a random secret; only its SHA-256
-- is stored (id_hash). A session ends at expires_at (absolute lifetime) or
-- idle_timeout_ms after last_seen_at, whichever comes first; password_fp
-- ties it to the password it was opened with.

-- +goose Up
CREATE TABLE sessions (
    id_hash          TEXT   PRIMARY KEY,
    user_id          TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_fp      TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    idle_timeout_ms  BIGINT NOT NULL,
    user_agent       TEXT   NOT NULL DEFAULT '',
    remote_addr      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
