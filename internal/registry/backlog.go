package registry

import "context"

// Backlog is implemented by connectors that can put risk epics in score
// order where managers plan: GitHub Projects (fields and item position),
// Jira backlogs (rank). The engine calls it once per pass, after push and
// pull-back, with every mirrored risk of that tracker.
type Backlog interface {
	// OrderBacklog makes items appear in the given order among themselves
	// (non-risk items keep their relative places) and sets score-derived
	// fields, with the fewest moves. A backlog already in order costs no
	// write. With dryRun it returns the planned writes and sends none.
	OrderBacklog(ctx context.Context, items []BacklogItem, dryRun bool) ([]Write, error)
}

// BacklogItem is one risk epic in the desired order: highest score first,
// ties by key, unscored last.
type BacklogItem struct {
	Risk *Risk // key, score, band, owner
	Epic Link  // the risk's current epic
}
