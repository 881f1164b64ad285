package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/service"
)

// cmdTracker adds a comment source to memTracker: every comment is listed
// whenever it is newer than the cursor.
type cmdTracker struct {
	*memTracker
	list    []registry.TrackerComment
	editors map[string]bool
	asked   int
}

func (c *cmdTracker) Comments(_ context.Context, target string, since time.Time) ([]registry.TrackerComment, time.Time, error) {
	var out []registry.TrackerComment
	next := since
	for _, x := range c.list {
		if targetOf(c.name, x.IssueKey) == target && !x.UpdatedAt.Before(since) {
			out = append(out, x)
			next = maxT(next, x.UpdatedAt)
		}
	}
	return out, next, nil
}

func maxT(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (c *cmdTracker) CanEdit(_ context.Context, _, author string) (bool, error) {
	c.asked++
	return c.editors[author], nil
}

func (c *cmdTracker) PostmortemTargets() []string { return []string{"acme/incidents"} }

func (c *cmdTracker) say(h *harness, issue, author, body string) {
	now := h.clock.Now()
	c.list = append(c.list, registry.TrackerComment{Tracker: c.name, ID: "c" + string(rune('a'+len(c.list))), IssueKey: issue, Author: author,
		Body: body, CreatedAt: now, UpdatedAt: now})
}

func TestCommandsInEngine(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		cfg, _ := config.Parse([]byte(testConfig))
		gh := &cmdTracker{memTracker: h.gh, editors: map[string]bool{"alice": true}}
		svc := service.New(service.Options{Store: h.store, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: h.clock.Now})
		h.engine = New(Options{Store: h.store, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: h.clock.Now, Commands: svc,
			Trackers: map[string]registry.Tracker{registry.TrackerGitHub: gh, registry.TrackerJira: h.jr}})
		r := h.add("Disk fills", 4, 4, 3, "storage-sre")
		h.pass()
		epic := h.risk(r.Key).CurrentLink().Key

		h.clock.Advance(time.Minute)
		gh.say(h, "acme/incidents#3", "alice", "/risk review")
		gh.say(h, "acme/incidents#3", "alice", "/risk "+r.Key+" rate likelihood=critical")
		gh.say(h, epic, "alice", "/risk review   all good")
		h.pass()
		got := h.gh.comments
		if c := got["acme/incidents#3"]; len(c) != 2 || !strings.Contains(c[0], "not a risk's epic") ||
			!strings.HasPrefix(c[1], r.Key+" likelihood 3 → 5, score 48 → 80, high → critical") {
			t.Fatalf("postmortem replies %q", c)
		}
		if c := got[epic]; len(c) != 1 || !strings.HasPrefix(c[0], r.Key+" reviewed.") {
			t.Fatalf("epic replies %q", c)
		}
		// The allowed person is asked about once per issue, not per command.
		if gh.asked != 2 { // the postmortem and the epic; the epic again from the cache
			t.Fatalf("permission asked %d times", gh.asked)
		}

		// A run stopped after claiming a review (and recording it) does not
		// review again; it replies once.
		h.clock.Advance(time.Minute)
		gh.say(h, epic, "alice", "/risk review twice?")
		id := gh.list[len(gh.list)-1].ID
		if err := h.store.SetState(h.ctx, commandKey(registry.TrackerGitHub, id), cmdClaimed); err != nil {
			t.Fatal(err)
		}
		who := registry.Principal{Actor: "github:alice", Role: registry.RoleEditor}
		if _, err := svc.Review(h.ctx, who, r.Key, "twice? ("+epic+" comment "+id+")"); err != nil {
			t.Fatal(err)
		}
		h.pass()
		h.pass()
		hist, _ := h.store.History(h.ctx, r.Key, 0)
		n := 0
		for _, x := range hist {
			if x.NewValue != nil && strings.Contains(*x.NewValue, "twice?") {
				n++
			}
		}
		if c := h.gh.comments[epic]; n != 1 || len(c) != 2 || !strings.HasPrefix(c[1], r.Key+" reviewed.") {
			t.Fatalf("reviews %d, replies %q", n, c)
		}
	})
}

// A command naming a risk whose epic lives in the other tracker is refused:
// only that tracker can say who may edit it.
func TestCommandForAnEpicInTheOtherTrackerIsRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		cfg, _ := config.Parse([]byte(testConfig))
		gh := &cmdTracker{memTracker: h.gh, editors: map[string]bool{"alice": true}}
		svc := service.New(service.Options{Store: h.store, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: h.clock.Now})
		h.engine = New(Options{Store: h.store, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: h.clock.Now, Commands: svc,
			Trackers: map[string]registry.Tracker{registry.TrackerGitHub: gh, registry.TrackerJira: h.jr}})
		r := h.add("Payment retries storm", 3, 3, 3, "payments") // its epic is in Jira
		h.pass()
		h.clock.Advance(time.Minute)
		gh.say(h, "acme/incidents#3", "alice", "/risk "+r.Key+" rate likelihood=5")
		h.pass()
		if c := h.gh.comments["acme/incidents#3"]; len(c) != 1 || !strings.HasPrefix(c[0], refusal) {
			t.Fatalf("replies %q", c)
		}
		if got := h.risk(r.Key); *got.Likelihood != 3 || got.Version != r.Version {
			t.Fatalf("a refused command changed the risk: likelihood %d, version %d", *got.Likelihood, got.Version)
		}
	})
}
