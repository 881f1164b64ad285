package jira_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
)

const routeRank = jiratest.RankRoute

// rankEnv is an env with jira.rank: by_score and n mirrored risks in PAY.
type rankEnv struct {
	*env
	risks []*registry.Risk
	keys  map[string]string // risk key → epic key
}

func newRankEnv(t testing.TB, n int, opts ...envOpt) *rankEnv {
	t.Helper()
	e := newEnv(t, opts...)
	e.cfg.Rank = config.JiraRankByScore
	re := &rankEnv{env: e, keys: map[string]string{}}
	for i := 1; i <= n; i++ {
		re.add(newRisk(int64(i), fmt.Sprintf("Failure mode %d", i), 1+i%5, 1+(i/5)%5, 1+(i/25)%5))
	}
	return re
}

func (re *rankEnv) add(r *registry.Risk) {
	re.t.Helper()
	res, err := re.c.EnsureEpic(re.ctx, epicOf(r, "PAY"), false)
	if err != nil {
		re.t.Fatal(err)
	}
	re.risks = append(re.risks, r)
	re.keys[r.Key] = res.Link.Key
}

// items is what the engine passes: score order, ties by key, unscored last.
func (re *rankEnv) items() []registry.BacklogItem {
	rs := slices.Clone(re.risks)
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		switch {
		case a.Score != nil && b.Score != nil && *a.Score != *b.Score:
			return *a.Score > *b.Score
		case (a.Score == nil) != (b.Score == nil):
			return a.Score != nil
		}
		return a.ID < b.ID
	})
	out := make([]registry.BacklogItem, len(rs))
	for i, r := range rs {
		out[i] = registry.BacklogItem{Risk: r, Epic: registry.Link{Tracker: registry.TrackerJira, Key: re.keys[r.Key], Current: true}}
	}
	return out
}

func (re *rankEnv) wantOrder() []string {
	var out []string
	for _, it := range re.items() {
		out = append(out, it.Epic.Key)
	}
	return out
}

// epicOrder is the risk epics of PAY in Jira's rank order.
func (re *rankEnv) epicOrder() []string {
	ours := map[string]bool{}
	for _, k := range re.keys {
		ours[k] = true
	}
	var out []string
	for _, k := range re.srv.RankOrder("PAY", "") {
		if ours[k] {
			out = append(out, k)
		}
	}
	return out
}

func (re *rankEnv) order(dryRun bool) ([]registry.Write, error) {
	return re.c.OrderBacklog(re.ctx, re.items(), dryRun)
}

// nextPass is a new pass that has read the project again, as the engine's
// push and pull-back do before ordering.
func (re *rankEnv) nextPass() {
	re.t.Helper()
	re.srv.Advance(time.Minute)
	re.pass()
	if _, err := re.c.PullBack(re.ctx, "PAY"); err != nil {
		re.t.Fatal(err)
	}
}

func (re *rankEnv) mustOrder() []registry.Write {
	re.t.Helper()
	w, err := re.order(false)
	if err != nil {
		re.t.Fatalf("OrderBacklog: %v", err)
	}
	if got, want := re.epicOrder(), re.wantOrder(); !slices.Equal(got, want) {
		re.t.Fatalf("rank order\n%v\nwant\n%v", got, want)
	}
	return w
}

func TestRankPlacesEpicsInScoreOrderThenWritesNothing(t *testing.T) {
	re := newRankEnv(t, 120)
	// Issues that are not risk epics keep their relative places.
	var others []string
	for i := range 5 {
		others = append(others, re.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Task", Summary: fmt.Sprintf("other %d", i)}))
	}
	re.srv.ResetRequests()
	w := re.mustOrder() // created this pass: ranks unknown, every epic but the anchor moves
	if len(w) != 119 || re.srv.Count(http.MethodPut, routeRank) != 3 {
		t.Fatalf("first placement: %d moves in %d calls, want 119 in 3", len(w), re.srv.Count(http.MethodPut, routeRank))
	}
	if w[0].Kind != registry.WriteMove || w[0].Risk == "" || w[0].Drift {
		t.Fatalf("write %+v", w[0])
	}
	// The mirror saw the pass's own writes: ordering again in the pass is free.
	re.srv.ResetRequests()
	if w, err := re.order(false); err != nil || len(w) != 0 || len(re.srv.Requests()) != 0 {
		t.Fatalf("same pass again: %+v %v, %d requests", w, err, len(re.srv.Requests()))
	}
	var got []string
	for _, k := range re.srv.RankOrder("PAY", "Task") {
		got = append(got, k)
	}
	if !slices.Equal(got, others) {
		t.Fatalf("non-risk issues reordered: %v, want %v", got, others)
	}
	// Steady: the next pass reads the order in its search and writes nothing.
	re.nextPass()
	re.srv.ResetRequests()
	if w := re.mustOrder(); len(w) != 0 || len(re.srv.Requests()) != 0 {
		t.Fatalf("steady pass: %+v, %d requests", w, len(re.srv.Requests()))
	}
}

func TestRankScoreChangeCostsOneMove(t *testing.T) {
	re := newRankEnv(t, 40)
	re.mustOrder()
	for _, i := range []int{0, 7, 39} {
		re.nextPass()
		r := re.risks[i]
		r.Impact, r.Scope, r.Likelihood = intp(5), intp(5), intp(5-i%3)
		scoringConfig.Derive(r)
		re.srv.ResetRequests()
		if w := re.mustOrder(); len(w) > 1 || re.srv.Count(http.MethodPut, routeRank) > 1 {
			t.Fatalf("score change of %s: %d moves, %d calls", r.Key, len(w), re.srv.Count(http.MethodPut, routeRank))
		}
	}
}

func TestRankRestoresAPersonsMoveAndSaysSo(t *testing.T) {
	re := newRankEnv(t, 20)
	re.mustOrder()
	re.nextPass()
	order := re.wantOrder()
	// The lowest epic dragged to the top; two neighbours swapped.
	re.srv.RankBefore(order[19], order[0])
	re.srv.RankBefore(order[6], order[5])
	re.nextPass()
	w := re.mustOrder()
	if len(w) != 2 {
		t.Fatalf("restoring two moves took %+v", w)
	}
	for _, x := range w {
		if !x.Drift || (x.Target != order[19] && x.Target != order[6]) {
			t.Fatalf("write %+v: want the epics the person moved, marked as drift", x)
		}
	}
	re.nextPass()
	if w := re.mustOrder(); len(w) != 0 {
		t.Fatalf("after restoring: %+v", w)
	}
}

func TestRankUnscoredAfterScored(t *testing.T) {
	re := newRankEnv(t, 6)
	for i := 7; i <= 9; i++ {
		re.add(&registry.Risk{ID: int64(i), Key: registry.FormatKey(int64(i)), Title: fmt.Sprintf("unrated %d", i), Owner: "payments", Status: registry.StatusActive})
	}
	re.mustOrder()
	got := re.epicOrder()
	for _, k := range got[6:] {
		if is := re.srv.Issue(k); !slices.Contains(is.Labels, "risk-unscored") {
			t.Fatalf("order %v: %s is scored but after the unscored", got, k)
		}
	}
}

func TestRankDryRunWritesNothing(t *testing.T) {
	re := newRankEnv(t, 10)
	re.nextPass()
	before := re.srv.Writes()
	w, err := re.order(true)
	if err != nil || len(w) == 0 {
		t.Fatalf("dry run: %+v %v", w, err)
	}
	if re.srv.Writes() != before {
		t.Fatal("dry run wrote")
	}
	if w2 := re.mustOrder(); len(w2) != len(w) {
		t.Fatalf("dry run planned %d moves, the pass made %d", len(w), len(w2))
	}
}

func TestRankPartialFailureIsRetriedNextPass(t *testing.T) {
	re := newRankEnv(t, 30)
	re.nextPass()
	want := re.wantOrder()
	re.srv.FailRank(want[3], want[20])
	w, err := re.order(false)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || !strings.Contains(err.Error(), want[3]) || !strings.Contains(err.Error(), want[20]) {
		t.Fatalf("207: error %v", err)
	}
	for _, x := range w {
		if x.Target == want[3] || x.Target == want[20] {
			t.Fatalf("claims %s was ranked", x.Target)
		}
	}
	if slices.Equal(re.epicOrder(), want) {
		t.Fatal("order complete although two epics failed")
	}
	re.nextPass()
	re.mustOrder()
	re.nextPass()
	if w := re.mustOrder(); len(w) != 0 {
		t.Fatalf("settled: %+v", w)
	}
}

func TestRankWithoutSchedulePermission(t *testing.T) {
	re := newRankEnv(t, 5)
	re.nextPass()
	re.srv.DenySchedule("PAY")
	_, err := re.order(false)
	var te *registry.TrackerError
	if !errors.As(err, &te) || te.Retryable || te.Status != http.StatusForbidden ||
		!strings.Contains(err.Error(), "the risksync account needs the Schedule Issues permission in project PAY to rank epics") {
		t.Fatalf("403: %v", err)
	}
}

func TestRankOffSendsNothing(t *testing.T) {
	e := newEnv(t)
	r := newRisk(1, "a", 1, 1, 1)
	res := e.ensure(r)
	r2 := newRisk(2, "b", 5, 5, 5)
	res2 := e.ensure(r2)
	e.srv.ResetRequests()
	w, err := e.c.OrderBacklog(e.ctx, []registry.BacklogItem{{Risk: r2, Epic: res2.Link}, {Risk: r, Epic: res.Link}}, false)
	if err != nil || len(w) != 0 || len(e.srv.Requests()) != 0 {
		t.Fatalf("rank off: %+v %v %d requests", w, err, len(e.srv.Requests()))
	}
}

// A random permutation costs exactly n − LIS moves, in ⌈run/50⌉ calls per run.
func TestRankRandomPermutationIsNMinusLIS(t *testing.T) {
	re := newRankEnv(t, 200)
	re.mustOrder()
	rng := rand.New(rand.NewPCG(5, 6))
	want := re.wantOrder()
	shuffled := slices.Clone(want)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 1; i < len(shuffled); i++ {
		re.srv.RankAfter(shuffled[i], shuffled[i-1])
	}
	re.nextPass()
	current := re.epicOrder()
	if !slices.Equal(current, shuffled) {
		t.Fatal("shuffle did not apply")
	}
	w := re.mustOrder()
	if n := len(want) - lis(current, want); len(w) != n {
		t.Fatalf("%d moves, want n − LIS = %d", len(w), n)
	}
}

func lis(current, desired []string) int {
	pos := map[string]int{}
	for i, k := range desired {
		pos[k] = i
	}
	var tails []int
	for _, k := range current {
		p := pos[k]
		i := sort.SearchInts(tails, p)
		if i == len(tails) {
			tails = append(tails, p)
		} else {
			tails[i] = p
		}
	}
	return len(tails)
}

func TestRankFieldFoundBySchema(t *testing.T) {
	re := newRankEnv(t, 3)
	re.nextPass()
	n := re.srv.Count(http.MethodGet, "/rest/api/2/field")
	if n != 1 {
		t.Fatalf("/field read %d times, want once", n)
	}
	for _, r := range re.srv.Requests() {
		if r.Route == routeSearchJQL && !strings.Contains(r.Query.Get("fields"), jiratest.RankField) {
			t.Fatalf("search without the Rank field: %v", r.Query)
		}
	}
}
