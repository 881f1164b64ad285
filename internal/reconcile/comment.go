package reconcile

import (
	"context"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// commentOnce posts body on issueKey unless the marker says it was posted.
// The marker is written first: a crash between the two loses the comment
// rather than posting it twice.
func (e *Engine) commentOnce(ctx context.Context, res *Result, t registry.Tracker, risk, tracker, issueKey, marker, body string, dryRun bool) error {
	if body == "" {
		return nil
	}
	if _, done, err := e.opts.Store.State(ctx, marker); err != nil || done {
		return err
	}
	e.record(res, risk, tracker, []registry.Write{{Kind: registry.WriteComment, Target: issueKey}})
	if dryRun {
		return nil
	}
	if err := e.opts.Store.SetState(ctx, marker, e.opts.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	if err := t.Comment(ctx, issueKey, body); err != nil {
		_ = e.opts.Store.DeleteState(ctx, marker) // try again next pass
		return err
	}
	return nil
}
