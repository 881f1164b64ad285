-- +goose Up
-- One row per day: the report's trend and top-10 tenure read a few hundred
-- rows, never a replay of every risk's history.
CREATE TABLE registry_snapshots (
    day      TEXT PRIMARY KEY, -- YYYY-MM-DD, UTC
    exposure DOUBLE PRECISION NOT NULL,
    risks    INTEGER NOT NULL,
    by_band  TEXT NOT NULL, -- JSON object: band → count
    top      TEXT NOT NULL  -- JSON array of risk keys, highest score first
);

CREATE TABLE report_publications (
    week       TEXT NOT NULL, -- ISO week, 2026-W48
    channel    TEXT NOT NULL, -- github_issue | webhook
    ref        TEXT NOT NULL DEFAULT '',
    delivered  BOOLEAN NOT NULL DEFAULT FALSE,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (week, channel)
);

CREATE INDEX risk_history_at ON risk_history (at);

-- +goose Down
DROP INDEX risk_history_at;
DROP TABLE report_publications;
DROP TABLE registry_snapshots;
