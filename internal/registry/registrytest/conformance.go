package registrytest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/sqlstore"
)

// Ptr returns a pointer to v: ratings and optional inputs are pointers.
func Ptr[T any](v T) *T { return &v }

// NewRisk is a valid risk with the given ratings (0 leaves one unset).
func NewRisk(title string, impact, scope, likelihood int) *registry.Risk {
	r := &registry.Risk{Title: title}
	if impact > 0 {
		r.Impact = Ptr(impact)
	}
	if scope > 0 {
		r.Scope = Ptr(scope)
	}
	if likelihood > 0 {
		r.Likelihood = Ptr(likelihood)
	}
	return r
}

type env struct {
	ctx   context.Context
	store *sqlstore.Store
	clock *Clock
}

func (e env) mustCreate(t *testing.T, r *registry.Risk) *registry.Risk {
	t.Helper()
	out, err := e.store.CreateRisk(e.ctx, r, "alice")
	if err != nil {
		t.Fatalf("create %q: %v", r.Title, err)
	}
	return out
}

func wantCode(t *testing.T, err error, code, msgPart string) {
	t.Helper()
	if got := registry.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	if !strings.Contains(err.Error(), msgPart) {
		t.Fatalf("error %q does not mention %q", err, msgPart)
	}
}

// RunConformance checks that a Store behaves as registry.Store documents.
// Every subtest gets a fresh database from open.
func RunConformance(t *testing.T, open Opener) {
	run := func(name string, fn func(t *testing.T, e env)) {
		t.Run(name, func(t *testing.T) {
			clock := NewClock()
			fn(t, env{ctx: context.Background(), store: open(t, DefaultOptions(clock)), clock: clock})
		})
	}

	run("CreateAssignsIncreasingKeysAndDerivesScore", func(t *testing.T, e env) {
		a := e.mustCreate(t, NewRisk("Orphaned snapshots slow backups", 4, 5, 3))
		b := e.mustCreate(t, NewRisk("Unrated intake risk", 0, 0, 0))
		if a.Key != "RISK-1" || b.Key != "RISK-2" {
			t.Fatalf("keys %s, %s; want RISK-1, RISK-2", a.Key, b.Key)
		}
		if a.Score == nil || *a.Score != 60 || a.Band != "critical" || a.Status != registry.StatusActive || a.Version != 1 {
			t.Fatalf("derived %v %q %q v%d; want 60 critical active v1", a.Score, a.Band, a.Status, a.Version)
		}
		if b.Score != nil || b.Band != "" {
			t.Fatalf("unrated risk scored %v %q; want unscored", *b.Score, b.Band)
		}
		want := e.clock.Now().Add(7 * 24 * time.Hour)
		if a.ReviewDueAt == nil || !a.ReviewDueAt.Equal(want) {
			t.Fatalf("review due %v, want %v (critical reviews weekly)", a.ReviewDueAt, want)
		}
		got, err := e.store.FindRisk(e.ctx, "risk-1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(a.CreatedAt) || got.Title != a.Title || *got.Impact != 4 || got.Links == nil || got.Sources == nil {
			t.Fatalf("round trip: got %+v, want %+v", got, a)
		}
	})

	run("KeysAreNeverReused", func(t *testing.T, e env) {
		e.mustCreate(t, NewRisk("one", 1, 1, 1))
		// A create that fails inside its transaction (a duplicate epic) must not
		// make a later key collide with an existing one.
		link := registry.Link{Tracker: "github", Key: "acme/rel#1", State: registry.LinkOpen, Current: true}
		r := NewRisk("two", 1, 1, 1)
		r.Links = []registry.Link{link}
		e.mustCreate(t, r)
		dup := NewRisk("three", 1, 1, 1)
		dup.Links = []registry.Link{link}
		_, err := e.store.CreateRisk(e.ctx, dup, "alice")
		wantCode(t, err, registry.ECONFLICT, "")
		last := e.mustCreate(t, NewRisk("four", 1, 1, 1))
		seen := map[string]bool{}
		list, _ := e.store.ListRisks(e.ctx, registry.RiskFilter{})
		for _, r := range list {
			if seen[r.Key] {
				t.Fatalf("key %s used twice", r.Key)
			}
			seen[r.Key] = true
		}
		if len(list) != 3 || last.Key == "RISK-1" || last.Key == "RISK-2" {
			t.Fatalf("after a failed create: %d risks, last key %s", len(list), last.Key)
		}
	})

	run("ValidationNamesTheField", func(t *testing.T, e env) {
		for _, tc := range []struct {
			r    *registry.Risk
			want string
		}{
			{NewRisk("", 1, 1, 1), "title is required"},
			{NewRisk("two\nlines", 1, 1, 1), "one line"},
			{with(NewRisk("zero", 0, 0, 0), func(r *registry.Risk) { r.Impact = Ptr(0) }), "impact must be an integer from 1 to 5, got 0"},
			{NewRisk("six", 1, 6, 1), "scope must be an integer from 1 to 5, got 6"},
			{with(NewRisk("pct", 1, 1, 1), func(r *registry.Risk) { r.ImpactPercent = Ptr(140.0) }), "impact_percent must be at most 100"},
			{with(NewRisk("ettf", 1, 1, 1), func(r *registry.Risk) { r.ETTFDays = Ptr(0.0) }), "ettf_days must be a number greater than zero"},
		} {
			_, err := e.store.CreateRisk(e.ctx, tc.r, "alice")
			wantCode(t, err, registry.EINVALID, tc.want)
		}
		list, _ := e.store.ListRisks(e.ctx, registry.RiskFilter{})
		if len(list) != 0 {
			t.Fatalf("invalid risks were stored: %d", len(list))
		}
	})

	run("NotFoundAndBadKeys", func(t *testing.T, e env) {
		_, err := e.store.FindRisk(e.ctx, "RISK-9")
		wantCode(t, err, registry.ENOTFOUND, "risk RISK-9 not found")
		if err.Error() != "risk RISK-9 not found" {
			t.Fatalf("message %q, want exactly %q", err, "risk RISK-9 not found")
		}
		_, err = e.store.UpdateRisk(e.ctx, "RISK-9", "alice", func(*registry.Risk) error { return nil })
		wantCode(t, err, registry.ENOTFOUND, "risk RISK-9 not found")
		_, err = e.store.History(e.ctx, "RISK-9", 0)
		wantCode(t, err, registry.ENOTFOUND, "risk RISK-9 not found")
		_, err = e.store.FindRisk(e.ctx, "BUG-1")
		wantCode(t, err, registry.EINVALID, "keys look like RISK-12")
	})

	run("ListRanksByScoreUnscoredLastAndFilters", func(t *testing.T, e env) {
		outage := e.mustCreate(t, NewRisk("rare full outage", 5, 5, 1))                                            // 25
		daily := e.mustCreate(t, NewRisk("daily degradation", 2, 4, 5))                                            // 40
		unscored := e.mustCreate(t, NewRisk("unscored intake", 3, 0, 0))                                           // nil
		small := e.mustCreate(t, with(NewRisk("small", 1, 1, 1), func(r *registry.Risk) { r.Owner = "payments" })) // 1
		list, err := e.store.ListRisks(e.ctx, registry.RiskFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(list); got != strings.Join([]string{daily.Key, outage.Key, small.Key, unscored.Key}, ",") {
			t.Fatalf("ranking %s; want daily degradation (40) above rare outage (25), unscored last", got)
		}
		top, _ := e.store.ListRisks(e.ctx, registry.RiskFilter{Limit: 2})
		if keys(top) != daily.Key+","+outage.Key {
			t.Fatalf("top 2 = %s", keys(top))
		}
		owned, _ := e.store.ListRisks(e.ctx, registry.RiskFilter{Owner: "payments"})
		unowned, _ := e.store.ListRisks(e.ctx, registry.RiskFilter{Unowned: true})
		if keys(owned) != small.Key || len(unowned) != 3 {
			t.Fatalf("owner filter %s, unowned %d", keys(owned), len(unowned))
		}
		if _, err := e.store.UpdateRisk(e.ctx, outage.Key, "bob", func(r *registry.Risk) error { r.Status = registry.StatusAccepted; return nil }); err != nil {
			t.Fatal(err)
		}
		accepted, _ := e.store.ListRisks(e.ctx, registry.RiskFilter{Status: []registry.Status{registry.StatusAccepted}})
		if keys(accepted) != outage.Key {
			t.Fatalf("status filter %s", keys(accepted))
		}
	})

	run("UpdateRecordsHistoryAndRescores", func(t *testing.T, e env) {
		r := e.mustCreate(t, NewRisk("backups degrade", 2, 4, 5))
		e.clock.Advance(time.Hour)
		got, err := e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error {
			r.Likelihood = Ptr(1)
			r.Owner = "storage-sre"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if *got.Score != 8 || got.Band != "low" || got.Version != 2 || !got.UpdatedAt.Equal(e.clock.Now()) {
			t.Fatalf("after update: score %v band %s v%d updated %v", *got.Score, got.Band, got.Version, got.UpdatedAt)
		}
		h, err := e.store.History(e.ctx, r.Key, 0)
		if err != nil {
			t.Fatal(err)
		}
		changes := map[string]string{}
		for _, entry := range h[len(h)-4:] {
			if entry.Actor != "bob" || !entry.At.Equal(e.clock.Now()) {
				t.Fatalf("entry %+v: want actor bob at %v", entry, e.clock.Now())
			}
			changes[entry.Field] = deref(entry.OldValue) + "→" + deref(entry.NewValue)
		}
		want := map[string]string{"likelihood": "5→1", "score": "40→8", "band": "high→low", "owner": "→storage-sre"}
		if fmt.Sprint(changes) != fmt.Sprint(want) {
			t.Fatalf("history %v, want %v", changes, want)
		}
		if h[0].Field != "created" || h[0].Actor != "alice" {
			t.Fatalf("first entry %+v, want the creation by alice", h[0])
		}
		// Nothing changes → nothing written.
		before := e.store.Statements()
		same, err := e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error { r.Title = " backups degrade "; return nil })
		if err != nil {
			t.Fatal(err)
		}
		h2, _ := e.store.History(e.ctx, r.Key, 0)
		if same.Version != 2 || len(h2) != len(h) {
			t.Fatalf("no-op update wrote: version %d, history %d→%d", same.Version, len(h), len(h2))
		}
		if n := e.store.Statements() - before; n > 8 {
			t.Fatalf("no-op update took %d statements", n)
		}
		// A failing mutation changes nothing.
		_, err = e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error { r.Impact = Ptr(9); return nil })
		wantCode(t, err, registry.EINVALID, "impact must be an integer from 1 to 5, got 9")
		again, _ := e.store.FindRisk(e.ctx, r.Key)
		if *again.Impact != 2 || again.Version != 2 {
			t.Fatalf("failed update left impact %d version %d", *again.Impact, again.Version)
		}
	})

	run("HistoryLimitKeepsNewest", func(t *testing.T, e env) {
		r := e.mustCreate(t, NewRisk("noisy", 1, 1, 1))
		for i := 0; i < 5; i++ {
			if _, err := e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error { r.Description = fmt.Sprint("v", i); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		h, err := e.store.History(e.ctx, r.Key, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || deref(h[0].NewValue) != "v3" || deref(h[1].NewValue) != "v4" || h[0].ID >= h[1].ID {
			t.Fatalf("last 2 entries: %+v", h)
		}
	})

	run("HistoryIsAppendOnly", func(t *testing.T, e env) {
		e.mustCreate(t, NewRisk("audited", 1, 1, 1))
		for _, q := range []string{`UPDATE risk_history SET actor = 'mallory'`, `DELETE FROM risk_history`} {
			if _, err := e.store.DB().Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: err %v, want the append-only guard", q, err)
			}
		}
	})

	run("ReviewSetsDateNoteAndDueDate", func(t *testing.T, e env) {
		r := e.mustCreate(t, NewRisk("reviewed", 2, 4, 5)) // high: every 14 days
		e.clock.Advance(20 * 24 * time.Hour)
		got, err := e.store.ReviewRisk(e.ctx, r.Key, "carol", "still relevant; cleanup job half done")
		if err != nil {
			t.Fatal(err)
		}
		if got.LastReviewedAt == nil || !got.LastReviewedAt.Equal(e.clock.Now()) || !got.ReviewDueAt.Equal(e.clock.Now().Add(14*24*time.Hour)) {
			t.Fatalf("reviewed at %v due %v", got.LastReviewedAt, got.ReviewDueAt)
		}
		h, _ := e.store.History(e.ctx, r.Key, 1)
		if h[0].Field != "review" || deref(h[0].NewValue) != "still relevant; cleanup job half done" || h[0].Actor != "carol" {
			t.Fatalf("review entry %+v", h[0])
		}
	})

	run("LinksAndSources", func(t *testing.T, e env) {
		r := e.mustCreate(t, NewRisk("linked", 3, 3, 3))
		src := registry.Source{Tracker: "github", Key: "acme/incidents#7", URL: "https://github.com/acme/incidents/issues/7", Position: 0}
		got, err := e.store.UpdateRisk(e.ctx, r.Key, registry.ActorSync, func(r *registry.Risk) error {
			r.Links = append(r.Links, registry.Link{Tracker: "github", Key: "acme/rel#12", URL: "https://github.com/acme/rel/issues/12", State: registry.LinkOpen, Current: true})
			r.Sources = append(r.Sources, src)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Links) != 1 || len(got.Sources) != 1 || got.Version != 1 {
			t.Fatalf("links %d sources %d version %d (links alone do not bump the risk)", len(got.Links), len(got.Sources), got.Version)
		}
		e.clock.Advance(time.Hour)
		activity := e.clock.Now().Add(-time.Minute)
		// Child progress is not history; a state change is.
		_, err = e.store.UpdateRisk(e.ctx, r.Key, registry.ActorSync, func(r *registry.Risk) error {
			l := r.CurrentLink()
			l.ChildrenTotal, l.ChildrenDone, l.LastActivityAt, l.State = 3, 1, &activity, registry.LinkInProgress
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		found, _ := e.store.FindRisk(e.ctx, r.Key)
		l := found.Links[0]
		if l.State != registry.LinkInProgress || l.ChildrenTotal != 3 || l.ChildrenDone != 1 || !l.LastActivityAt.Equal(activity) || !l.UpdatedAt.Equal(e.clock.Now()) {
			t.Fatalf("link after pull-back: %+v", l)
		}
		h, _ := e.store.History(e.ctx, r.Key, 0)
		fields := []string{}
		for _, entry := range h {
			fields = append(fields, entry.Field)
		}
		if got := strings.Join(fields, ","); !strings.HasSuffix(got, "link,source,link acme/rel#12") {
			t.Fatalf("history fields %s", got)
		}
		// Move: the old epic stops being current, a new one is added, in one update.
		_, err = e.store.UpdateRisk(e.ctx, r.Key, registry.ActorSync, func(r *registry.Risk) error {
			r.Links[0].Current, r.Links[0].State = false, registry.LinkNotPlanned
			r.Links = append(r.Links, registry.Link{Tracker: "jira", Key: "PAY-3", State: registry.LinkOpen, Current: true})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		found, _ = e.store.FindRisk(e.ctx, r.Key)
		if cur := found.CurrentLink(); cur == nil || cur.Key != "PAY-3" || len(found.Links) != 2 {
			t.Fatalf("after move: %+v", found.Links)
		}
		// Links and sources are kept for the record.
		_, err = e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error { r.Links = r.Links[:1]; return nil })
		wantCode(t, err, registry.EINVALID, "cannot be removed")
		_, err = e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error { r.Sources = nil; return nil })
		wantCode(t, err, registry.EINVALID, "sources cannot be removed")
		_, err = e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error {
			r.Links[0].Current = true
			return nil
		})
		wantCode(t, err, registry.EINVALID, "at most one current epic")
		// Moving back makes the earlier epic current again, whatever the
		// order of the links: the one-current-link rule holds at every step.
		back, err := e.store.UpdateRisk(e.ctx, r.Key, "bob", func(r *registry.Risk) error {
			r.Links[0].Current, r.Links[1].Current = true, false
			return nil
		})
		if err != nil {
			t.Fatalf("move back: %v", err)
		}
		if cur := back.CurrentLink(); cur == nil || cur.Key != "acme/rel#12" {
			t.Fatalf("after move back: %+v", back.Links)
		}
		// One postmortem table feeds one risk.
		other := NewRisk("other", 1, 1, 1)
		other.Sources = []registry.Source{src}
		_, err = e.store.CreateRisk(e.ctx, other, registry.ActorIntake)
		wantCode(t, err, registry.ECONFLICT, "")
	})

	run("ListLoadsLinksInConstantStatements", func(t *testing.T, e env) {
		for i := 0; i < 30; i++ {
			r := NewRisk(fmt.Sprint("risk ", i), 1+i%5, 1+(i/5)%5, 1)
			r.Links = []registry.Link{{Tracker: "github", Key: fmt.Sprintf("acme/rel#%d", i), State: registry.LinkOpen, Current: true}}
			r.Sources = []registry.Source{{Tracker: "github", Key: fmt.Sprintf("acme/inc#%d", i)}}
			e.mustCreate(t, r)
		}
		before := e.store.Statements()
		list, err := e.store.ListRisks(e.ctx, registry.RiskFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.store.Statements() - before; n != 3 {
			t.Fatalf("list took %d statements, want 3 (risks, links, sources)", n)
		}
		if len(list) != 10 {
			t.Fatalf("%d risks", len(list))
		}
		for _, r := range list {
			if len(r.Links) != 1 || len(r.Sources) != 1 || r.Links[0].Key != fmt.Sprintf("acme/rel#%d", r.ID-1) {
				t.Fatalf("%s: links %+v sources %+v", r.Key, r.Links, r.Sources)
			}
		}
	})

	run("RescoreAfterConfigChange", func(t *testing.T, e env) {
		a := e.mustCreate(t, NewRisk("a", 2, 4, 5)) // 40: high by default
		e.mustCreate(t, NewRisk("b", 1, 1, 1))      // 1: low either way
		cfg, err := config.Parse([]byte("scoring:\n  bands:\n    - {name: urgent, min_score: 35, github_label: p0, jira_priority: Highest, review_every: 7d}\n    - {name: later, min_score: 0, github_label: p3, jira_priority: Low, review_every: 90d}\n"))
		if err != nil {
			t.Fatal(err)
		}
		rescored := sqlstore.New(e.store.DB(), dialectOf(e.store), registry.StoreOptions{Derive: cfg.ScoringConfig().Derive, Now: e.clock.Now})
		n, err := rescored.Rescore(e.ctx, registry.ActorConfig, "bands-v2")
		if err != nil || n != 2 {
			t.Fatalf("rescore changed %d (%v), want 2", n, err)
		}
		got, _ := rescored.FindRisk(e.ctx, a.Key)
		if got.Band != "urgent" {
			t.Fatalf("band %q, want urgent", got.Band)
		}
		h, _ := rescored.History(e.ctx, a.Key, 1)
		if h[0].Actor != registry.ActorConfig || h[0].Field != "band" || deref(h[0].OldValue) != "high" {
			t.Fatalf("rescore history %+v", h[0])
		}
		before := rescored.Statements()
		if n, _ := rescored.Rescore(e.ctx, registry.ActorConfig, "bands-v2"); n != 0 || rescored.Statements()-before != 3 {
			t.Fatalf("same fingerprint: changed %d in %d statements; want 0 changes, BEGIN + one read + COMMIT", n, rescored.Statements()-before)
		}
		if n, _ := rescored.Rescore(e.ctx, registry.ActorConfig, ""); n != 0 {
			t.Fatalf("forced rescore with nothing to change changed %d", n)
		}
	})

	run("ConcurrentUpdatesAreNotLost", func(t *testing.T, e env) {
		r := e.mustCreate(t, NewRisk("contended", 1, 1, 1))
		const writers = 12
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := e.store.UpdateRisk(e.ctx, r.Key, fmt.Sprint("writer-", i), func(r *registry.Risk) error {
					// Read-modify-write of one field: a lost update would drop a token.
					r.Description += fmt.Sprintf("[%d]", i)
					time.Sleep(time.Millisecond)
					return nil
				})
				errs <- err
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, _ := e.store.FindRisk(e.ctx, r.Key)
		for i := 0; i < writers; i++ {
			if !strings.Contains(got.Description, fmt.Sprintf("[%d]", i)) {
				t.Fatalf("update of writer %d lost: %q", i, got.Description)
			}
		}
		if got.Version != 1+writers {
			t.Fatalf("version %d, want %d", got.Version, 1+writers)
		}
	})
	// A failure in the middle of a batch, whether a domain error or one the
	// database raises, leaves nothing of the batch written.
	run("BatchFailureInTheMiddleWritesNothing", func(t *testing.T, e env) {
		kept := e.mustCreate(t, NewRisk("kept", 1, 1, 1))
		link := registry.Link{Tracker: "github", Key: "acme/rel#1", State: registry.LinkOpen, Current: true}
		for _, tc := range []struct {
			name string
			fail func(tx registry.Store) error
			code string
		}{
			{"domain error", func(tx registry.Store) error {
				_, err := tx.UpdateRisk(e.ctx, "RISK-999", "alice", func(*registry.Risk) error { return nil })
				return err
			}, registry.ENOTFOUND},
			{"database error", func(tx registry.Store) error {
				r := NewRisk("same epic", 1, 1, 1)
				r.Links = []registry.Link{link}
				_, err := tx.CreateRisk(e.ctx, r, "alice")
				return err
			}, registry.ECONFLICT},
		} {
			err := e.store.Batch(e.ctx, func(tx registry.Store) error {
				a, err := tx.CreateRisk(e.ctx, with(NewRisk("first of batch", 5, 5, 5), func(r *registry.Risk) { r.Links = []registry.Link{link} }), "alice")
				if err != nil {
					return err
				}
				if _, err := tx.UpdateRisk(e.ctx, kept.Key, "alice", func(r *registry.Risk) error { r.Description = "changed"; return nil }); err != nil {
					return err
				}
				// The batch reads its own writes.
				if got, err := tx.FindRisk(e.ctx, a.Key); err != nil || got.Title != "first of batch" {
					t.Fatalf("%s: read inside the batch: %v %v", tc.name, got, err)
				}
				if all, _ := tx.ListRisks(e.ctx, registry.RiskFilter{}); len(all) != 2 {
					t.Fatalf("%s: list inside the batch: %s", tc.name, keys(all))
				}
				return tc.fail(tx)
			})
			wantCode(t, err, tc.code, "")
			all, err := e.store.ListRisks(e.ctx, registry.RiskFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 1 || all[0].Key != kept.Key || all[0].Description != "" || all[0].Version != 1 {
				t.Fatalf("%s: after the failed batch: %s %+v", tc.name, keys(all), all[0])
			}
			if h, _ := e.store.History(e.ctx, kept.Key, 0); len(h) != len(registry.Diff(&registry.Risk{}, kept))+1 {
				t.Fatalf("%s: history of %s has %d entries after the failed batch", tc.name, kept.Key, len(h))
			}
		}
		// The store is usable afterwards and the epic is free again.
		e.mustCreate(t, with(NewRisk("after", 1, 1, 1), func(r *registry.Risk) { r.Links = []registry.Link{link} }))
	})

	run("BatchCommitsTogether", func(t *testing.T, e env) {
		kept := e.mustCreate(t, NewRisk("kept", 1, 1, 1))
		before := e.store.Statements()
		err := e.store.Batch(e.ctx, func(tx registry.Store) error {
			for _, title := range []string{"one", "two"} {
				if _, err := tx.CreateRisk(e.ctx, NewRisk(title, 2, 2, 2), "alice"); err != nil {
					return err
				}
			}
			// A batch inside a batch joins it.
			return tx.Batch(e.ctx, func(tx registry.Store) error {
				_, err := tx.UpdateRisk(e.ctx, kept.Key, "alice", func(r *registry.Risk) error { r.Impact = Ptr(5); return nil })
				return err
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		// BEGIN, 2 × (insert + history), load (3) + update + history, COMMIT.
		if n := e.store.Statements() - before; n != 11 {
			t.Fatalf("batch sent %d statements, want 11", n)
		}
		all, _ := e.store.ListRisks(e.ctx, registry.RiskFilter{})
		if len(all) != 3 {
			t.Fatalf("after the batch: %s", keys(all))
		}
		if got, _ := e.store.FindRisk(e.ctx, kept.Key); *got.Impact != 5 || got.Version != 2 {
			t.Fatalf("update in the batch: impact %d version %d", *got.Impact, got.Version)
		}
	})
}

func with(r *registry.Risk, fn func(*registry.Risk)) *registry.Risk { fn(r); return r }

func keys(rs []*registry.Risk) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key
	}
	return strings.Join(out, ",")
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func dialectOf(s *sqlstore.Store) sqlstore.Dialect { return s.Dialect() }

// RunReportConformance checks the registry.ReportStore part of a store.
func RunReportConformance(t *testing.T, open Opener) {
	ctx := context.Background()
	t.Run("Snapshots", func(t *testing.T) {
		clock := NewClock()
		s := open(t, DefaultOptions(clock))
		day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 3; i++ {
			snap := registry.Snapshot{Day: day.AddDate(0, 0, i), Exposure: float64(100 + i), Risks: 3, ByBand: map[string]int{"high": 2, "unscored": 1}, Top: []string{"RISK-2", "RISK-1"}}
			if err := s.SaveSnapshot(ctx, snap); err != nil {
				t.Fatal(err)
			}
		}
		// A later snapshot the same day replaces the earlier one.
		if err := s.SaveSnapshot(ctx, registry.Snapshot{Day: day.AddDate(0, 0, 2), Exposure: 7, ByBand: map[string]int{}, Top: []string{}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Snapshots(ctx, day.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Exposure != 101 || got[0].ByBand["high"] != 2 || got[0].Top[0] != "RISK-2" || got[1].Exposure != 7 || !got[0].Day.Equal(day.AddDate(0, 0, 1)) {
			t.Fatalf("snapshots %+v", got)
		}
	})
	t.Run("HistorySince", func(t *testing.T) {
		clock := NewClock()
		s := open(t, DefaultOptions(clock))
		a, _ := s.CreateRisk(ctx, NewRisk("a", 1, 1, 1), "alice")
		clock.Advance(48 * time.Hour)
		since := clock.Now()
		if _, err := s.UpdateRisk(ctx, a.Key, "bob", func(r *registry.Risk) error { r.Impact = Ptr(5); return nil }); err != nil {
			t.Fatal(err)
		}
		s.CreateRisk(ctx, NewRisk("b", 2, 2, 2), "carol")
		h, err := s.HistorySince(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) == 0 || h[0].RiskKey != a.Key || h[0].Field != "impact" || h[len(h)-1].RiskKey != "RISK-2" {
			t.Fatalf("history since %+v", h)
		}
		for _, e := range h {
			if e.At.Before(since) {
				t.Fatalf("entry before since: %+v", e)
			}
		}
	})
	t.Run("Publications", func(t *testing.T) {
		s := open(t, DefaultOptions(NewClock()))
		if p, err := s.Publication(ctx, "2026-W10", "webhook"); p != nil || err != nil {
			t.Fatalf("missing publication: %v %v", p, err)
		}
		for _, p := range []registry.Publication{{Week: "2026-W10", Channel: "webhook", Attempts: 1, LastError: "503"}, {Week: "2026-W10", Channel: "webhook", Attempts: 2, Delivered: true}} {
			if err := s.SavePublication(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		p, err := s.Publication(ctx, "2026-W10", "webhook")
		if err != nil || !p.Delivered || p.Attempts != 2 || p.LastError != "" {
			t.Fatalf("publication %+v %v", p, err)
		}
		for _, p := range []registry.Publication{{Week: "2026-W09", Channel: "github_issue", Delivered: true}, {Week: "2026-W11", Channel: "webhook", Attempts: 1}} {
			if err := s.SavePublication(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		for before, want := range map[string]string{"2026-W12": "2026-W10", "2026-W10": "2026-W09", "2026-W09": ""} {
			last, err := s.LastDelivered(ctx, before)
			if err != nil || (want == "") != (last == nil) || (last != nil && last.Week != want) {
				t.Fatalf("last delivered before %s: %+v %v, want %q", before, last, err, want)
			}
		}
	})
}

// RunSyncConformance checks the registry.SyncStore part of a store.
func RunSyncConformance(t *testing.T, open Opener) {
	ctx := context.Background()
	t.Run("State", func(t *testing.T) {
		s := open(t, DefaultOptions(NewClock()))
		if _, ok, err := s.State(ctx, "cursor:github"); ok || err != nil {
			t.Fatalf("missing state: %v %v", ok, err)
		}
		for _, kv := range [][2]string{{"intent:RISK-1", "a"}, {"intent:RISK-2", "b"}, {"intent:RISK-1", "c"}, {"cursor:github", "d"}} {
			if err := s.SetState(ctx, kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok, _ := s.State(ctx, "intent:RISK-1"); !ok || v != "c" {
			t.Fatalf("state %q %v", v, ok)
		}
		m, err := s.StatesWithPrefix(ctx, "intent:")
		if err != nil || len(m) != 2 || m["intent:RISK-2"] != "b" {
			t.Fatalf("prefix %v %v", m, err)
		}
		both, err := s.StatesWithPrefix(ctx, "intent:", "cursor:")
		if err != nil || len(both) != len(m)+1 {
			t.Fatalf("two prefixes %v %v", both, err)
		}
		if err := s.DeleteState(ctx, "intent:RISK-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteState(ctx, "intent:RISK-1"); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.StatesWithPrefix(ctx, "intent:"); len(m) != 1 {
			t.Fatalf("after delete %v", m)
		}
	})
	t.Run("WebhookQueueDropsReplays", func(t *testing.T) {
		s := open(t, DefaultOptions(NewClock()))
		n := registry.Notification{Tracker: "github", DeliveryID: "d-1", Kind: registry.NotifyEpic, IssueKey: "acme/rel#3", RiskKey: "RISK-3", Action: "closed"}
		for i, want := range []bool{true, false} {
			fresh, err := s.Enqueue(ctx, n)
			if err != nil || fresh != want {
				t.Fatalf("enqueue #%d: fresh %v err %v, want %v", i, fresh, err, want)
			}
		}
		other := n
		other.Tracker = "jira" // delivery ids are per tracker
		if fresh, _ := s.Enqueue(ctx, other); !fresh {
			t.Fatal("same id from another tracker was dropped")
		}
		if _, err := s.Enqueue(ctx, registry.Notification{Tracker: "github"}); registry.ErrorCode(err) != registry.EINVALID {
			t.Fatalf("no delivery id: %v", err)
		}
		p, err := s.Pending(ctx, 10)
		if err != nil || len(p) != 2 || p[0].RiskKey != "RISK-3" || p[0].Action != "closed" {
			t.Fatalf("pending %+v %v", p, err)
		}
		if err := s.MarkProcessed(ctx, []int64{p[0].ID}); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.Pending(ctx, 10); len(p) != 1 || p[0].Tracker != "jira" {
			t.Fatalf("after processing %+v", p)
		}
		// Still a replay after processing.
		if fresh, _ := s.Enqueue(ctx, n); fresh {
			t.Fatal("a processed delivery was accepted again")
		}
	})
}

// RunTokenConformance checks the registry.TokenStore part of a store.
func RunTokenConformance(t *testing.T, open Opener) {
	ctx := context.Background()
	hash := func(c byte) string { return strings.Repeat(string(c), 64) }
	newToken := func(name string, role registry.Role, c byte, at time.Time) registry.Token {
		return registry.Token{Name: name, Role: role, Hash: hash(c), CreatedAt: at}
	}
	t.Run("CreateListFind", func(t *testing.T) {
		clock := NewClock()
		s := open(t, DefaultOptions(clock))
		if ts, err := s.Tokens(ctx); err != nil || len(ts) != 0 {
			t.Fatalf("empty store: %v %v", ts, err)
		}
		exp := clock.Now().Add(90 * 24 * time.Hour)
		ed := newToken("payments-bot", registry.RoleEditor, 'b', clock.Now())
		ed.Teams, ed.ExpiresAt = []string{"payments", "checkout"}, &exp
		for _, tok := range []registry.Token{newToken("admin", registry.RoleAdmin, 'a', clock.Now()), ed} {
			if err := s.CreateToken(ctx, tok); err != nil {
				t.Fatalf("create %s: %v", tok.Name, err)
			}
		}
		ts, err := s.Tokens(ctx)
		if err != nil || len(ts) != 2 || ts[0].Name != "admin" || ts[1].Name != "payments-bot" {
			t.Fatalf("tokens %+v %v", ts, err)
		}
		a, b := ts[0], ts[1]
		if a.Role != registry.RoleAdmin || len(a.Teams) != 0 || a.Teams == nil || a.ExpiresAt != nil || a.LastUsedAt != nil || !a.CreatedAt.Equal(clock.Now()) {
			t.Fatalf("admin %+v", a)
		}
		if b.Role != registry.RoleEditor || strings.Join(b.Teams, ",") != "checkout,payments" || !registry.SameTime(b.ExpiresAt, &exp) || b.Hash != hash('b') {
			t.Fatalf("editor %+v", b)
		}
		got, err := s.TokenByHash(ctx, hash('b'))
		if err != nil || got.Name != "payments-bot" || strings.Join(got.Teams, ",") != "checkout,payments" {
			t.Fatalf("by hash %+v %v", got, err)
		}
		_, err = s.TokenByHash(ctx, hash('c'))
		wantCode(t, err, registry.ENOTFOUND, "no live token")
	})
	t.Run("NamesAreUniqueAmongLiveTokens", func(t *testing.T) {
		clock := NewClock()
		s := open(t, DefaultOptions(clock))
		if err := s.CreateToken(ctx, newToken("ci", registry.RoleReader, 'a', clock.Now())); err != nil {
			t.Fatal(err)
		}
		err := s.CreateToken(ctx, newToken("ci", registry.RoleEditor, 'b', clock.Now()))
		wantCode(t, err, registry.ECONFLICT, `a token named "ci" exists; revoke it first or pick another name`)
		if strings.Contains(err.Error(), hash('b')) {
			t.Fatalf("error %q carries the hash", err)
		}
		clock.Advance(time.Hour)
		if err := s.RevokeToken(ctx, "ci", clock.Now()); err != nil {
			t.Fatal(err)
		}
		// The name is free again; the revoked token stays out of every answer.
		if err := s.CreateToken(ctx, newToken("ci", registry.RoleEditor, 'b', clock.Now())); err != nil {
			t.Fatalf("re-create after revoke: %v", err)
		}
		if ts, _ := s.Tokens(ctx); len(ts) != 1 || ts[0].Role != registry.RoleEditor {
			t.Fatalf("tokens %+v", ts)
		}
		_, err = s.TokenByHash(ctx, hash('a'))
		wantCode(t, err, registry.ENOTFOUND, "no live token")
		wantCode(t, s.RevokeToken(ctx, "nobody", clock.Now()), registry.ENOTFOUND, `token "nobody" not found`)
		if err := s.RevokeToken(ctx, "ci", clock.Now()); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.RevokeToken(ctx, "ci", clock.Now()), registry.ENOTFOUND, `token "ci" not found`)
	})
	t.Run("ConcurrentCreatesOneWins", func(t *testing.T) {
		clock := NewClock()
		s := open(t, DefaultOptions(clock))
		errs := make([]error, 6)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = s.CreateToken(ctx, newToken("ci", registry.RoleReader, byte('a'+i), clock.Now())) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			wantCode(t, err, registry.ECONFLICT, `a token named "ci" exists`)
		}
		if won != 1 {
			t.Fatalf("%d creates won: %v", won, errs)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		s := open(t, DefaultOptions(NewClock()))
		for _, tok := range []registry.Token{
			{Name: " ", Role: registry.RoleReader, Hash: hash('a')},
			{Name: "x", Role: "owner", Hash: hash('a')},
			{Name: "x", Role: registry.RoleReader},
			{Name: "x", Role: registry.RoleEditor, Hash: hash('a'), Teams: []string{"a,b"}},
		} {
			wantCode(t, s.CreateToken(ctx, tok), registry.EINVALID, "")
		}
		if ts, _ := s.Tokens(ctx); len(ts) != 0 {
			t.Fatalf("invalid tokens stored: %+v", ts)
		}
	})
	t.Run("Touch", func(t *testing.T) {
		clock := NewClock()
		s := open(t, DefaultOptions(clock))
		if err := s.CreateToken(ctx, newToken("ci", registry.RoleReader, 'a', clock.Now())); err != nil {
			t.Fatal(err)
		}
		later := clock.Now().Add(time.Hour)
		for _, at := range []time.Time{later, clock.Now()} { // an older touch does not go back
			if err := s.TouchToken(ctx, "ci", at); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := s.TokenByHash(ctx, hash('a')); got == nil || !registry.SameTime(got.LastUsedAt, &later) {
			t.Fatalf("last used %+v, want %s", got, later)
		}
		if err := s.TouchToken(ctx, "nobody", later); err != nil {
			t.Fatalf("touching an unknown token: %v", err)
		}
	})
}

// RunSessionConformance checks web UI sessions: stored by hash, tied to a
// live token, touched forward only, ended and pruned.
func RunSessionConformance(t *testing.T, open Opener) {
	ctx := context.Background()
	hash := func(c byte) string { return strings.Repeat(string(c), 64) }
	clock := NewClock()
	s := open(t, DefaultOptions(clock))
	exp := clock.Now().Add(48 * time.Hour)
	if err := s.CreateToken(ctx, registry.Token{Name: "alice", Role: registry.RoleEditor, Hash: hash('t'), Teams: []string{"payments"}, CreatedAt: clock.Now(), ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	sess := registry.Session{Hash: hash('s'), TokenHash: hash('t'), TokenName: "alice", Role: registry.RoleEditor, Teams: []string{"payments"},
		CreatedAt: clock.Now(), LastSeenAt: clock.Now()}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateSession(ctx, registry.Session{Hash: hash('x'), TokenHash: hash('t'), Role: "owner"}), registry.EINVALID, "")
	got, err := s.SessionByHash(ctx, hash('s'))
	if err != nil || got.TokenName != "alice" || got.Role != registry.RoleEditor || strings.Join(got.Teams, ",") != "payments" ||
		!got.CreatedAt.Equal(clock.Now()) || !registry.SameTime(got.TokenExpiresAt, &exp) {
		t.Fatalf("session %+v %v", got, err)
	}
	later := clock.Now().Add(time.Hour)
	for _, at := range []time.Time{later, clock.Now()} {
		if err := s.TouchSession(ctx, hash('s'), at); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.SessionByHash(ctx, hash('s')); got == nil || !got.LastSeenAt.Equal(later) {
		t.Fatalf("last seen %+v, want %s", got, later)
	}
	// Pruning keeps fresh sessions and removes idle ones.
	if n, err := s.DeleteSessionsBefore(ctx, clock.Now(), clock.Now()); err != nil || n != 0 {
		t.Fatalf("pruned %d %v", n, err)
	}
	other := sess
	other.Hash, other.LastSeenAt = hash('o'), clock.Now().Add(-13*time.Hour)
	if err := s.CreateSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteSessionsBefore(ctx, clock.Now().Add(-12*time.Hour), clock.Now().Add(-7*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("pruned %d %v, want the idle one", n, err)
	}
	// Revoking the token ends its sessions; ending is idempotent.
	if err := s.RevokeToken(ctx, "alice", clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionByHash(ctx, hash('s'))
	wantCode(t, err, registry.ENOTFOUND, "no live session")
	for range 2 {
		if err := s.DeleteSession(ctx, hash('s')); err != nil {
			t.Fatal(err)
		}
	}
}
