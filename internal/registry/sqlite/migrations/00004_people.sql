-- +goose Up
-- Decisions carry their reason and, for an acceptance, an end.
ALTER TABLE risks ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE risks ADD COLUMN accepted_until TEXT;

-- API tokens: only a hash of the secret is kept.
CREATE TABLE api_tokens (
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE, -- hex SHA-256 of the secret
    role         TEXT NOT NULL CHECK (role IN ('reader', 'editor', 'admin')),
    teams        TEXT NOT NULL DEFAULT '', -- comma-separated team names; empty for all
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
-- One live token per name; revoked ones stay for the record.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE api_tokens;
ALTER TABLE risks DROP COLUMN accepted_until;
ALTER TABLE risks DROP COLUMN status_reason;
