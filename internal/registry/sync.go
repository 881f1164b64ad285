package registry

import (
	"context"
	"time"
)

// QueuedNotification is a webhook notification waiting for the sync engine.
type QueuedNotification struct {
	ID         int64
	ReceivedAt time.Time
	Notification
}

// SyncStore is the sync engine's own state beyond Store.
type SyncStore interface {
	// State returns a named value, and whether it exists.
	State(ctx context.Context, name string) (string, bool, error)
	// StatesWithPrefix returns every named value whose name starts with one
	// of the prefixes, in one statement.
	StatesWithPrefix(ctx context.Context, prefixes ...string) (map[string]string, error)
	// SetState creates or replaces a named value.
	SetState(ctx context.Context, name, value string) error
	// DeleteState removes a named value; a missing one is not an error.
	DeleteState(ctx context.Context, name string) error

	// Enqueue stores a webhook notification. It returns false, and stores
	// nothing, when the tracker's delivery id was seen before (a replay).
	Enqueue(ctx context.Context, n Notification) (bool, error)
	// Pending returns unprocessed notifications, oldest first.
	Pending(ctx context.Context, limit int) ([]QueuedNotification, error)
	// MarkProcessed marks notifications handled.
	MarkProcessed(ctx context.Context, ids []int64) error
}
