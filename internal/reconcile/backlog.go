package reconcile

import (
	"context"
	"sort"

	"github.com/risksync/risksync/internal/registry"
)

// orderBacklogs asks each tracker that keeps a backlog (GitHub Projects,
// Jira rank) to show the risk epics in score order: highest first, ties by
// key, unscored last. The connector decides where each epic's backlog is
// and moves only what is out of order.
func (e *Engine) orderBacklogs(ctx context.Context, res *Result, ix *index, live map[string]registry.Tracker, dryRun bool) {
	risks := make([]*registry.Risk, 0, len(ix.order))
	for _, key := range ix.order {
		risks = append(risks, ix.byKey[key])
	}
	sort.SliceStable(risks, func(i, j int) bool { return ranksBefore(risks[i], risks[j]) })
	for _, name := range e.trackerNames() {
		b, ok := live[name].(registry.Backlog)
		if !ok {
			continue
		}
		var items []registry.BacklogItem
		for _, r := range risks {
			if l := r.CurrentLink(); l != nil && l.Tracker == name {
				items = append(items, registry.BacklogItem{Risk: r, Epic: *l})
			}
		}
		writes, err := b.OrderBacklog(ctx, items, dryRun)
		e.record(res, "", name, writes)
		if err != nil {
			res.fail("", name, "backlog", err)
		}
	}
}

// ranksBefore is the registry's ranking: score, highest first, unscored
// last, then the key's number.
func ranksBefore(a, b *registry.Risk) bool {
	switch {
	case a.Score != nil && b.Score != nil && *a.Score != *b.Score:
		return *a.Score > *b.Score
	case (a.Score == nil) != (b.Score == nil):
		return a.Score != nil
	}
	return a.ID < b.ID
}
