package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

const testConfig = `
teams:
  - {name: storage-sre, tracker: github, github_repo: acme/storage, aliases: ["Storage SRE"]}
  - {name: payments, tracker: jira, jira_project: PAY}
github: {repo: acme/rel}
jira: {base_url: "https://acme.atlassian.net", project: REL}
`

var (
	admin     = registry.Principal{Actor: "token:admin", Role: registry.RoleAdmin}
	reader    = registry.Principal{Actor: "token:dash", Role: registry.RoleReader}
	editor    = registry.Principal{Actor: "token:sre", Role: registry.RoleEditor}
	payEditor = registry.Principal{Actor: "token:pay", Role: registry.RoleEditor, Teams: []string{"payments"}}
)

type env struct {
	ctx   context.Context
	svc   *Service
	clock *registrytest.Clock
}

func eachBackend(t *testing.T, fn func(t *testing.T, e env)) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(testConfig))
			if err != nil {
				t.Fatal(err)
			}
			clock := registrytest.NewClock()
			opts := registrytest.DefaultOptions(clock)
			opts.Derive = cfg.ScoringConfig().Derive
			svc := New(Options{Store: open(t, opts), Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: clock.Now})
			fn(t, env{ctx: context.Background(), svc: svc, clock: clock})
		})
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := registry.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func riskChange(title string, i, s, l int, owner string) Change {
	return Change{Title: Some(title), Impact: Some(i), Scope: Some(s), Likelihood: Some(l), Owner: Some(owner)}
}

func TestRolesAndTeams(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		pay, err := e.svc.Create(e.ctx, payEditor, riskChange("checkout latency", 2, 4, 5, "payments"))
		if err != nil || pay.Owner != "payments" {
			t.Fatalf("team editor creating for its team: %v", err)
		}
		_, err = e.svc.Create(e.ctx, payEditor, riskChange("cache stampede", 3, 3, 3, "Storage SRE"))
		wantCode(t, err, registry.EFORBIDDEN)
		_, err = e.svc.Create(e.ctx, payEditor, riskChange("unowned", 3, 3, 3, ""))
		wantCode(t, err, registry.EFORBIDDEN)
		_, err = e.svc.Create(e.ctx, reader, riskChange("nope", 1, 1, 1, ""))
		wantCode(t, err, registry.EFORBIDDEN)
		storage, err := e.svc.Create(e.ctx, editor, riskChange("cache stampede", 3, 3, 3, "storage-sre"))
		if err != nil {
			t.Fatal(err)
		}
		// A team editor may not change another team's risk, nor move its own away.
		_, err = e.svc.Update(e.ctx, payEditor, storage.Key, Change{Impact: Some(5)}, 0)
		wantCode(t, err, registry.EFORBIDDEN)
		_, err = e.svc.Update(e.ctx, payEditor, pay.Key, Change{Owner: Some("storage-sre")}, 0)
		wantCode(t, err, registry.EFORBIDDEN)
		_, err = e.svc.Review(e.ctx, payEditor, storage.Key, "looked")
		wantCode(t, err, registry.EFORBIDDEN)
		_, err = e.svc.Update(e.ctx, reader, pay.Key, Change{Impact: Some(5)}, 0)
		wantCode(t, err, registry.EFORBIDDEN)
		// Refusals write nothing; the actor of what was allowed is recorded.
		got, h, err := e.svc.Get(e.ctx, reader, pay.Key, 0)
		if err != nil || got.Owner != "payments" || got.Version != 1 || h[0].Actor != "token:pay" {
			t.Fatalf("after refusals: %+v %v", got, err)
		}
		_, _, err = e.svc.Get(e.ctx, registry.Principal{}, pay.Key, 0)
		wantCode(t, err, registry.EUNAUTHORIZED)
	})
}

func TestDecisionsNeedReasons(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		r, _ := e.svc.Create(e.ctx, admin, riskChange("rare outage", 5, 5, 1, "payments"))
		_, err := e.svc.Update(e.ctx, admin, r.Key, Change{Status: Some(registry.StatusAccepted)}, 0)
		wantCode(t, err, registry.EINVALID)
		yesterday := e.clock.Now().Add(-24 * time.Hour)
		_, err = e.svc.Update(e.ctx, admin, r.Key, Change{Status: Some(registry.StatusAccepted), StatusReason: Some("cheap"), AcceptedUntil: Some(yesterday)}, 0)
		var re *registry.Error
		if !errors.As(err, &re) || len(re.Fields) != 1 || re.Fields[0].Location != "accepted_until" {
			t.Fatalf("past end date: %v", err)
		}
		_, err = e.svc.Update(e.ctx, admin, r.Key, Change{Status: Some(registry.StatusMitigated)}, 0)
		wantCode(t, err, registry.EINVALID)
		until := e.clock.Now().Add(90 * 24 * time.Hour)
		acc, err := e.svc.Update(e.ctx, admin, r.Key, Change{Status: Some(registry.StatusAccepted), StatusReason: Some("cheaper to absorb"), AcceptedUntil: Some(until)}, 0)
		if err != nil || acc.StatusReason != "cheaper to absorb" || acc.AcceptedUntil == nil {
			t.Fatalf("accept: %+v %v", acc, err)
		}
		v := e.svc.View(acc, nil)
		if v.AcceptedUntil == nil || *v.AcceptedUntil != until.UTC().Format(time.DateOnly) {
			t.Fatalf("view accepted_until %v", v.AcceptedUntil)
		}
		back, err := e.svc.Update(e.ctx, admin, r.Key, Change{Status: Some(registry.StatusActive)}, 0)
		if err != nil || back.StatusReason != "" || back.AcceptedUntil != nil {
			t.Fatalf("reactivate keeps the old decision: %+v %v", back, err)
		}
		_, err = e.svc.Update(e.ctx, admin, r.Key, Change{Status: Some(registry.StatusRetired), StatusReason: Some("gone"), AcceptedUntil: Some(until)}, 0)
		wantCode(t, err, registry.EINVALID)
	})
}

func TestBadInputNamesEveryField(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		_, err := e.svc.Create(e.ctx, admin, Change{Title: Some("t"), Impact: Some(0), Scope: Some(6), Owner: Some("bob")})
		var re *registry.Error
		if !errors.As(err, &re) || len(re.Fields) != 3 {
			t.Fatalf("want three field errors, got %v", err)
		}
		want := map[string]string{"impact": `"0" is not a rating: use a whole number from 1 to 5`, "scope": `"6" is not a rating: use a whole number from 1 to 5`,
			"owner": `unknown team "bob": teams are storage-sre, payments`}
		for _, f := range re.Fields {
			if want[f.Location] != f.Message {
				t.Errorf("%s: %q, want %q", f.Location, f.Message, want[f.Location])
			}
		}
		if risks, _, _ := e.svc.List(e.ctx, admin, Query{}); len(risks) != 0 {
			t.Fatal("bad input wrote a risk")
		}
	})
}

// Two editors change the same risk from the same version: exactly one
// wins, the other gets EPRECONDITION, and no update is lost.
func TestIfMatchConcurrentEditors(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		r, _ := e.svc.Create(e.ctx, admin, riskChange("contended", 3, 3, 3, "payments"))
		const n = 8
		var wg sync.WaitGroup
		results := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = e.svc.Update(e.ctx, editor, r.Key, Change{Title: Some(fmt.Sprintf("edit %d", i))}, r.Version)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch registry.ErrorCode(err) {
			case "":
				wins++
			case registry.EPRECONDITION:
			default:
				t.Fatalf("unexpected %v", err)
			}
		}
		got, _, _ := e.svc.Get(e.ctx, admin, r.Key, 0)
		if wins != 1 || got.Version != r.Version+1 {
			t.Fatalf("%d winners, version %d", wins, got.Version)
		}
		_, err := e.svc.Update(e.ctx, editor, r.Key, Change{Title: Some("stale")}, r.Version)
		wantCode(t, err, registry.EPRECONDITION)
	})
}

func TestListPagesAndFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		for i := range 23 {
			c := riskChange(fmt.Sprintf("risk %02d", i), 1+i%5, 1+(i/5)%5, 3, []string{"payments", "storage-sre", ""}[i%3])
			if i%7 == 0 {
				c.Impact = Null[int]() // unscored ones rank last
			}
			if _, err := e.svc.Create(e.ctx, admin, c); err != nil {
				t.Fatal(err)
			}
		}
		all, next, err := e.svc.List(e.ctx, reader, Query{})
		if err != nil || next != "" || len(all) != 23 {
			t.Fatalf("all: %d %q %v", len(all), next, err)
		}
		var walked []string
		q := Query{Limit: 5}
		for {
			page, next, err := e.svc.List(e.ctx, reader, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				walked = append(walked, r.Key)
			}
			if next == "" {
				break
			}
			q.Cursor = next
		}
		if len(walked) != len(all) {
			t.Fatalf("pages walked %d risks, want %d", len(walked), len(all))
		}
		for i := range all {
			if walked[i] != all[i].Key {
				t.Fatalf("page order differs at %d: %s vs %s", i, walked[i], all[i].Key)
			}
		}
		pay, _, _ := e.svc.List(e.ctx, reader, Query{Owner: "payments"})
		unowned, _, _ := e.svc.List(e.ctx, reader, Query{Owner: "unowned"})
		unscored, _, _ := e.svc.List(e.ctx, reader, Query{Band: "unscored"})
		text, _, _ := e.svc.List(e.ctx, reader, Query{Text: "RISK 1"})
		if len(pay) != 8 || len(unowned) != 7 || len(unscored) != 4 || len(text) != 10 {
			t.Fatalf("filters: payments %d unowned %d unscored %d text %d", len(pay), len(unowned), len(unscored), len(text))
		}
		_, _, err = e.svc.List(e.ctx, reader, Query{Band: "huge", Limit: -1, Cursor: "!!", Status: []registry.Status{"done"}})
		var re *registry.Error
		if !errors.As(err, &re) || len(re.Fields) != 4 {
			t.Fatalf("bad query: %v", err)
		}
		e.clock.Advance(100 * 24 * time.Hour)
		due, _, _ := e.svc.List(e.ctx, reader, Query{ReviewDue: true})
		stagnant, _, _ := e.svc.List(e.ctx, reader, Query{Stagnant: true, Limit: 3})
		if len(due) != 23 || len(stagnant) != 3 {
			t.Fatalf("review due %d, stagnant page %d", len(due), len(stagnant))
		}
	})
}

func TestListSortsAndNeedsDecision(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		for i := range 12 {
			c := riskChange(fmt.Sprintf("risk %c", 'l'-i), 1+i%5, 2, 3, []string{"payments", "storage-sre", ""}[i%3])
			if _, err := e.svc.Create(e.ctx, admin, c); err != nil {
				t.Fatal(err)
			}
		}
		walk := func(q Query) []string {
			var out []string
			q.Limit = 5
			for {
				page, next, err := e.svc.List(e.ctx, reader, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range page {
					out = append(out, r.Title)
				}
				if next == "" {
					return out
				}
				q.Cursor = next
			}
		}
		byTitle := walk(Query{Sort: "title"})
		if len(byTitle) != 12 || byTitle[0] != "risk a" || byTitle[11] != "risk l" {
			t.Fatalf("by title %v", byTitle)
		}
		if desc := walk(Query{Sort: "title", Desc: true}); desc[0] != "risk l" {
			t.Fatalf("by title, descending %v", desc)
		}
		for _, col := range SortColumns {
			if got := walk(Query{Sort: col}); len(got) != 12 {
				t.Fatalf("sort %s walked %d", col, len(got))
			}
		}
		_, _, err := e.svc.List(e.ctx, reader, Query{Sort: "colour"})
		wantCode(t, err, registry.EINVALID)

		// A person closed RISK-2's epic as not planned: it needs a decision
		// until the risk is accepted.
		if _, err := e.svc.store.UpdateRisk(e.ctx, "RISK-2", "github:alice", func(r *registry.Risk) error {
			r.Links = append(r.Links, registry.Link{Tracker: "github", Key: "acme/rel#9", URL: "https://github.com/acme/rel/issues/9", State: registry.LinkNotPlanned, Current: true})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		nd, _, err := e.svc.List(e.ctx, reader, Query{NeedsDecision: true})
		if err != nil || len(nd) != 1 || nd[0].Key != "RISK-2" {
			t.Fatalf("needs decision %v %v", nd, err)
		}
		if _, err := e.svc.Update(e.ctx, admin, "RISK-2", Change{Status: Some(registry.StatusAccepted), StatusReason: Some("cheaper to live with")}, 0); err != nil {
			t.Fatal(err)
		}
		if nd, _, _ := e.svc.List(e.ctx, reader, Query{NeedsDecision: true}); len(nd) != 0 {
			t.Fatalf("an accepted risk still needs a decision: %v", nd)
		}
	})
}
