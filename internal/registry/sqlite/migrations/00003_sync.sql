-- +goose Up
-- The sync engine's own state: intake cursors, create intents (a create
-- whose outcome is not yet recorded), and one-time comment markers.
CREATE TABLE sync_state (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Webhook deliveries wait here until a pass handles them, so the queue
-- survives a restart; the primary key drops a replayed delivery.
CREATE TABLE webhook_queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tracker      TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    notification TEXT NOT NULL, -- JSON registry.Notification
    received_at  TEXT NOT NULL,
    processed_at TEXT,
    UNIQUE (tracker, delivery_id)
);
CREATE INDEX webhook_queue_pending ON webhook_queue (processed_at, id);

-- +goose Down
DROP TABLE webhook_queue;
DROP TABLE sync_state;
