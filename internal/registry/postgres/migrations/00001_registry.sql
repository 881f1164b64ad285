-- +goose Up
CREATE TABLE risks (
    id               BIGSERIAL PRIMARY KEY, -- RISK-<id>; a sequence never hands out a number twice
    title            TEXT NOT NULL CHECK (title <> ''),
    description      TEXT NOT NULL DEFAULT '',
    impact           SMALLINT CHECK (impact BETWEEN 1 AND 5),
    scope            SMALLINT CHECK (scope BETWEEN 1 AND 5),
    likelihood       SMALLINT CHECK (likelihood BETWEEN 1 AND 5),
    ettd_minutes     DOUBLE PRECISION,
    ettr_minutes     DOUBLE PRECISION,
    impact_percent   DOUBLE PRECISION,
    ettf_days        DOUBLE PRECISION,
    score            DOUBLE PRECISION,
    band             TEXT,
    review_due_at    TIMESTAMPTZ,
    owner            TEXT,
    status           TEXT NOT NULL CHECK (status IN ('active', 'mitigating', 'mitigated', 'accepted', 'retired')),
    last_reviewed_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1
);
-- Ranking (risk list, top N) reads these in order and stops at the limit.
CREATE INDEX risks_rank ON risks (score DESC NULLS LAST, id);
CREATE INDEX risks_owner_rank ON risks (owner, score DESC NULLS LAST, id);
CREATE INDEX risks_status_rank ON risks (status, score DESC NULLS LAST, id);
CREATE INDEX risks_review_due ON risks (review_due_at);

CREATE TABLE risk_links (
    risk_id          BIGINT NOT NULL REFERENCES risks (id),
    tracker          TEXT NOT NULL CHECK (tracker IN ('github', 'jira')),
    key              TEXT NOT NULL,
    url              TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL CHECK (state IN ('open', 'in_progress', 'done', 'not_planned')),
    children_total   INTEGER NOT NULL DEFAULT 0,
    children_done    INTEGER NOT NULL DEFAULT 0,
    last_activity_at TIMESTAMPTZ,
    current          BOOLEAN NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tracker, key) -- an epic mirrors one risk
);
CREATE INDEX risk_links_risk ON risk_links (risk_id);
CREATE UNIQUE INDEX risk_links_one_current ON risk_links (risk_id) WHERE current;

CREATE TABLE risk_sources (
    risk_id    BIGINT NOT NULL REFERENCES risks (id),
    tracker    TEXT NOT NULL,
    key        TEXT NOT NULL,
    url        TEXT NOT NULL DEFAULT '',
    position   INTEGER NOT NULL,
    recurrence BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tracker, key, position) -- one risk per table of a postmortem
);
CREATE INDEX risk_sources_risk ON risk_sources (risk_id);

CREATE TABLE risk_history (
    id        BIGSERIAL PRIMARY KEY,
    risk_id   BIGINT NOT NULL REFERENCES risks (id),
    at        TIMESTAMPTZ NOT NULL,
    actor     TEXT NOT NULL,
    field     TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX risk_history_risk ON risk_history (risk_id, id);

-- +goose StatementBegin
CREATE FUNCTION risk_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'risk_history is append-only';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER risk_history_append_only BEFORE UPDATE OR DELETE ON risk_history
    FOR EACH ROW EXECUTE FUNCTION risk_history_append_only();

-- Settings the registry keeps about itself, e.g. the scoring fingerprint
-- that tells when the scoring configuration changed and risks need rescoring.
CREATE TABLE registry_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE registry_meta;
DROP TABLE risk_history;
DROP FUNCTION risk_history_append_only();
DROP TABLE risk_sources;
DROP TABLE risk_links;
DROP TABLE risks;
