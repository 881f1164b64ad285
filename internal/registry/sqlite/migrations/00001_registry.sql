-- +goose Up
CREATE TABLE risks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT, -- RISK-<id>; AUTOINCREMENT never reuses a number
    title            TEXT NOT NULL CHECK (title <> ''),
    description      TEXT NOT NULL DEFAULT '',
    impact           INTEGER CHECK (impact BETWEEN 1 AND 5),
    scope            INTEGER CHECK (scope BETWEEN 1 AND 5),
    likelihood       INTEGER CHECK (likelihood BETWEEN 1 AND 5),
    ettd_minutes     REAL,
    ettr_minutes     REAL,
    impact_percent   REAL,
    ettf_days        REAL,
    score            REAL,
    band             TEXT,
    review_due_at    TEXT, -- times: fixed-width UTC RFC 3339, so text order is time order
    owner            TEXT,
    status           TEXT NOT NULL CHECK (status IN ('active', 'mitigating', 'mitigated', 'accepted', 'retired')),
    last_reviewed_at TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1
);
-- SQLite sorts NULL lowest, so DESC puts unscored risks last on its own.
CREATE INDEX risks_rank ON risks (score DESC, id);
CREATE INDEX risks_owner_rank ON risks (owner, score DESC, id);
CREATE INDEX risks_status_rank ON risks (status, score DESC, id);
CREATE INDEX risks_review_due ON risks (review_due_at);

CREATE TABLE risk_links (
    risk_id          INTEGER NOT NULL REFERENCES risks (id),
    tracker          TEXT NOT NULL CHECK (tracker IN ('github', 'jira')),
    key              TEXT NOT NULL,
    url              TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL CHECK (state IN ('open', 'in_progress', 'done', 'not_planned')),
    children_total   INTEGER NOT NULL DEFAULT 0,
    children_done    INTEGER NOT NULL DEFAULT 0,
    last_activity_at TEXT,
    current          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (tracker, key)
);
CREATE INDEX risk_links_risk ON risk_links (risk_id);
CREATE UNIQUE INDEX risk_links_one_current ON risk_links (risk_id) WHERE current;

CREATE TABLE risk_sources (
    risk_id    INTEGER NOT NULL REFERENCES risks (id),
    tracker    TEXT NOT NULL,
    key        TEXT NOT NULL,
    url        TEXT NOT NULL DEFAULT '',
    position   INTEGER NOT NULL,
    recurrence INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tracker, key, position)
);
CREATE INDEX risk_sources_risk ON risk_sources (risk_id);

CREATE TABLE risk_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    risk_id   INTEGER NOT NULL REFERENCES risks (id),
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    field     TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX risk_history_risk ON risk_history (risk_id, id);

-- +goose StatementBegin
CREATE TRIGGER risk_history_no_update BEFORE UPDATE ON risk_history
BEGIN
    SELECT RAISE(ABORT, 'risk_history is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER risk_history_no_delete BEFORE DELETE ON risk_history
BEGIN
    SELECT RAISE(ABORT, 'risk_history is append-only');
END;
-- +goose StatementEnd

-- Settings the registry keeps about itself, e.g. the scoring fingerprint
-- that tells when the scoring configuration changed and risks need rescoring.
CREATE TABLE registry_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE registry_meta;
DROP TABLE risk_history;
DROP TABLE risk_sources;
DROP TABLE risk_links;
DROP TABLE risks;
