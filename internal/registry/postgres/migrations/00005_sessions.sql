-- +goose Up
-- Web UI sessions: a token pasted once at /login becomes a cookie. Only a
-- hash of the session id is kept; the token's hash ties the session to the
-- token, so revoking the token ends its sessions.
CREATE TABLE web_sessions (
    hash         TEXT PRIMARY KEY, -- hex SHA-256 of the session id
    token_hash   TEXT NOT NULL,
    token_name   TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('reader', 'editor', 'admin')),
    teams        TEXT NOT NULL DEFAULT '', -- comma-separated, as api_tokens
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen_at);

-- +goose Down
DROP TABLE web_sessions;
