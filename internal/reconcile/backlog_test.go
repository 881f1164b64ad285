package reconcile

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
)

// backlogTracker is a memTracker with a backlog: order holds epic keys;
// moved marks epics a person moved since the last pass.
type backlogTracker struct {
	*memTracker
	order []string
	moved map[string]bool
	seen  [][]string // the risk keys of each OrderBacklog call
}

func (b *backlogTracker) OrderBacklog(_ context.Context, items []registry.BacklogItem, dryRun bool) ([]registry.Write, error) {
	var keys, want []string
	for _, it := range items {
		keys = append(keys, it.Risk.Key)
		want = append(want, it.Epic.Key)
	}
	b.seen = append(b.seen, keys)
	if slices.Equal(b.order, want) {
		return nil, nil
	}
	var out []registry.Write
	for i, k := range want {
		if i < len(b.order) && b.order[i] == k {
			continue
		}
		out = append(out, registry.Write{Kind: registry.WriteMove, Risk: items[i].Risk.Key, Target: k, Drift: b.moved[k]})
	}
	if !dryRun {
		b.order, b.moved = want, map[string]bool{}
	}
	return out, nil
}

// The engine asks for score order (unscored last), and a move undoing a
// person's reorder gets one explanatory comment per epic, none in a dry run.
func TestBacklogOrderAndOneCommentPerMovedEpic(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		cfg, err := config.Parse([]byte(testConfig))
		if err != nil {
			t.Fatal(err)
		}
		bt := &backlogTracker{memTracker: h.jr, moved: map[string]bool{}}
		h.engine = New(Options{Store: h.store, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: h.clock.Now,
			IntentGrace: map[string]time.Duration{registry.TrackerJira: 5 * time.Minute},
			Trackers:    map[string]registry.Tracker{registry.TrackerGitHub: h.gh, registry.TrackerJira: bt}})
		low := h.add("low", 1, 1, 2, "payments")
		high := h.add("high", 5, 5, 5, "payments")
		mid := h.add("mid", 3, 3, 3, "payments")
		unscored, err := h.store.CreateRisk(h.ctx, &registry.Risk{Title: "unrated", Owner: "payments"}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		h.pass()
		want := []string{high.Key, mid.Key, low.Key, unscored.Key}
		if got := bt.seen[len(bt.seen)-1]; !slices.Equal(got, want) {
			t.Fatalf("backlog asked for %v, want %v", got, want)
		}
		if res := h.pass(); len(res.Writes) != 0 {
			t.Fatalf("settled backlog wrote %+v", res.Writes)
		}
		epic := h.risk(low.Key).CurrentLink().Key
		for round := range 3 {
			bt.order = append([]string{epic}, slices.DeleteFunc(slices.Clone(bt.order), func(k string) bool { return k == epic })...)
			bt.moved[epic] = true
			if res := h.engine.Pass(h.ctx, true); len(res.Writes) == 0 || (round == 0 && res.Plan().Comments[0].Target != epic) {
				t.Fatalf("dry run plans %+v", res.Writes)
			}
			h.pass()
			if n := len(h.jr.comments[epic]); n != 1 {
				t.Fatalf("round %d: %d comments on the moved epic, want 1", round, n)
			}
		}
		if c := h.jr.comments[epic][0]; !strings.Contains(c, "risksync risk update "+low.Key) {
			t.Fatalf("comment %q", c)
		}
	})
}
