package reconcile

import "context"

// Leader makes sure exactly one process syncs a registry at a time.
type Leader interface {
	// TryAcquire becomes the leader if no one else is; false means another
	// process leads.
	TryAcquire(ctx context.Context) (bool, error)
	// Check confirms leadership still holds. It is called before every pass:
	// an error means stop writing.
	Check(ctx context.Context) error
	// Release gives leadership up.
	Release()
}
