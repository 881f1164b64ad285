package github

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Tests of GitHub Projects (v2): items, fields and the score order.

var projectBands = func() []scoring.Band {
	out := slices.Clone(testBands)
	for i := range out {
		out[i].ProjectPriority = fmt.Sprintf("P%d", i)
	}
	return out
}()

type projectEnv struct {
	*env
	p     *config.GitHubProject
	risks map[string]*registry.Risk // key → risk
	epics map[string]string         // key → epic key
}

// newProjectEnv serves project acme#7 (an organisation's, or a user's) with
// a Priority single select (P0..P3) and a number field "Risk score".
func newProjectEnv(t testing.TB, org bool, tweak ...func(*Options)) *projectEnv {
	p := &config.GitHubProject{Owner: "acme", Number: 7, PriorityField: "Priority", ScoreField: "Risk score",
		Order: config.ProjectOrderByScore, Where: "github.project"}
	e := newEnv(t, append([]func(*Options){func(o *Options) {
		o.Bands = projectBands
		o.Projects = func(string) *config.GitHubProject { return p }
		o.MinWriteInterval = time.Millisecond
	}}, tweak...)...)
	e.srv.AddProject("acme", org, 7, "Reliability")
	e.srv.AddProjectField("acme", 7, "Priority", githubtest.FieldSingleSelect, "P0", "P1", "P2", "P3")
	e.srv.AddProjectField("acme", 7, "Risk score", githubtest.FieldNumber)
	return &projectEnv{env: e, p: p, risks: map[string]*registry.Risk{}, epics: map[string]string{}}
}

// addRisk creates RISK-n's epic (score nil: unscored).
func (e *projectEnv) addRisk(n int, score *float64) {
	r := &registry.Risk{ID: int64(n), Key: registry.FormatKey(int64(n)), Title: "risk", Score: score}
	e.setScore(r, score)
	num := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "[" + r.Key + "] risk", Labels: []string{"risk"}, Author: githubtest.DefaultLogin})
	e.risks[r.Key] = r
	e.epics[r.Key] = registry.GitHubIssueKey(repoName, num)
}

func (e *projectEnv) setScore(r *registry.Risk, score *float64) {
	r.Score, r.Band = score, ""
	if score != nil {
		r.Band = (scoring.Config{Bands: projectBands}).BandFor(*score).Name
	}
}

// backlog is every risk in the registry's order.
func (e *projectEnv) backlog() []registry.BacklogItem {
	var rs []*registry.Risk
	for _, r := range e.risks {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
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
		out[i] = registry.BacklogItem{Risk: r, Epic: registry.Link{Tracker: registry.TrackerGitHub, Key: e.epics[r.Key], Current: true}}
	}
	return out
}

func (e *projectEnv) order(dryRun bool) ([]registry.Write, error) {
	e.t.Helper()
	return e.c.OrderBacklog(context.Background(), e.backlog(), dryRun)
}

func (e *projectEnv) mustOrder() []registry.Write {
	e.t.Helper()
	w, err := e.order(false)
	if err != nil {
		e.t.Fatalf("OrderBacklog: %v", err)
	}
	return w
}

// checkProject asserts the risk items sit in the registry's order with
// their fields set, and the other items in the relative order others gives.
func (e *projectEnv) checkProject(others ...string) {
	e.t.Helper()
	var risks, rest []string
	byEpic := map[string]string{}
	for k, ep := range e.epics {
		byEpic[ep] = k
	}
	items := e.srv.ProjectItems("acme", 7)
	for _, it := range items {
		k, ok := byEpic[it.Key()]
		if !ok {
			rest = append(rest, it.Key())
			continue
		}
		risks = append(risks, it.Key())
		r := e.risks[k]
		wantPrio, wantScore := any(nil), any(nil)
		if r.Score != nil {
			wantScore = *r.Score
			wantPrio = (scoring.Config{Bands: projectBands}).BandFor(*r.Score).ProjectPriority
		}
		if e.p.ScoreField == "" {
			wantScore = nil
		}
		if it.Values["Priority"] != wantPrio || it.Values["Risk score"] != wantScore {
			e.t.Fatalf("%s (%s): values %v, want Priority %v, score %v", it.Key(), k, it.Values, wantPrio, wantScore)
		}
	}
	var want []string
	for _, b := range e.backlog() {
		want = append(want, b.Epic.Key)
	}
	if !slices.Equal(risks, want) {
		e.t.Fatalf("risk items in order\n%v\nwant\n%v", risks, want)
	}
	if others != nil && !slices.Equal(rest, others) {
		e.t.Fatalf("other items %v, want %v", rest, others)
	}
	if len(items) != len(risks)+len(rest) {
		e.t.Fatalf("items %d", len(items))
	}
}

func count(ws []registry.Write, kind registry.WriteKind) int {
	n := 0
	for _, w := range ws {
		if w.Kind == kind {
			n++
		}
	}
	return n
}

func fp(v float64) *float64 { return &v }

func TestProjectFirstPlacementThenSteady(t *testing.T) {
	for _, org := range []bool{true, false} {
		t.Run(map[bool]string{true: "organisation", false: "user"}[org], func(t *testing.T) {
			e := newProjectEnv(t, org)
			// People's items: a draft and a non-risk issue, both placed already.
			bug := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "a bug"})
			e.srv.AddProjectDraft("acme", 7, "plan the offsite")
			e.srv.AddProjectIssue("acme", 7, repoName, bug)
			rng := rand.New(rand.NewPCG(7, 8))
			for n := 1; n <= 30; n++ {
				if n%7 == 0 {
					e.addRisk(n, nil)
				} else {
					e.addRisk(n, fp(float64(rng.IntN(120))))
				}
			}
			// A person already put one epic in, at the top.
			e.srv.AddProjectIssue("acme", 7, repoName, issueNumber(e.epics["RISK-5"]))
			e.srv.MoveProjectItem("acme", 7, e.srv.ProjectItems("acme", 7)[2].ID, 0)

			w := e.mustOrder()
			e.checkProject("draft:plan the offsite", repoName+"#1")
			if n := e.srv.Count("POST", itemsRoute(org)); n != 29 {
				t.Fatalf("added %d items, want 29", n)
			}
			for _, x := range w {
				if x.Drift {
					t.Fatalf("first placement flagged as a person's move: %+v", x)
				}
			}
			if n := e.srv.Count("POST", githubtest.RouteGraphQL); n != count(w, registry.WriteMove) || n > 30 {
				t.Fatalf("%d mutations, %d moves reported", n, count(w, registry.WriteMove))
			}

			// Steady: reads only, and few of them.
			e.srv.ResetRequests()
			if w := e.mustOrder(); len(w) != 0 {
				t.Fatalf("steady pass wrote %+v", w)
			}
			if e.srv.Writes() != 0 || len(e.srv.Requests()) != 2 {
				t.Fatalf("steady pass: %d requests, %d writes (want 2 reads: fields, items)", len(e.srv.Requests()), e.srv.Writes())
			}
		})
	}
}

func issueNumber(key string) int {
	_, n, _ := parseIssueKey(key)
	return n
}

func itemsRoute(org bool) string {
	if org {
		return githubtest.RouteOrgItems
	}
	return githubtest.RouteUserItems
}

func TestProjectScoreChangeCostsOneFieldWriteAndOneMove(t *testing.T) {
	e := newProjectEnv(t, true)
	for n := 1; n <= 20; n++ {
		e.addRisk(n, fp(float64(100-n*4)))
	}
	e.mustOrder()
	e.checkProject()
	for _, tc := range []struct {
		key   string
		score *float64
	}{{"RISK-17", fp(99)}, {"RISK-2", fp(5)}, {"RISK-9", nil}, {"RISK-9", fp(64)}, {"RISK-3", fp(88.5)}} {
		e.setScore(e.risks[tc.key], tc.score)
		e.srv.ResetRequests()
		w := e.mustOrder()
		e.checkProject()
		if n := e.srv.Count("PATCH", githubtest.RouteOrgItem); n != 1 || count(w, registry.WriteUpdate) != 1 {
			t.Fatalf("%s → %v: %d field writes, want 1 (%+v)", tc.key, tc.score, n, w)
		}
		if n := e.srv.Count("POST", githubtest.RouteGraphQL); n > 1 || count(w, registry.WriteMove) != n {
			t.Fatalf("%s → %v: %d moves, want at most 1", tc.key, tc.score, n)
		}
		for _, x := range w {
			if x.Risk != tc.key || x.Drift {
				t.Fatalf("write %+v, want one for %s, not flagged", x, tc.key)
			}
		}
	}
}

func TestProjectManualMoveIsRestoredAndReported(t *testing.T) {
	for _, withScore := range []bool{true, false} {
		t.Run(fmt.Sprintf("score field %v", withScore), func(t *testing.T) {
			e := newProjectEnv(t, true)
			if !withScore {
				e.p.ScoreField = ""
			}
			e.srv.AddProjectDraft("acme", 7, "note")
			for n := 1; n <= 10; n++ {
				e.addRisk(n, fp(float64(100-n*5)))
			}
			e.mustOrder()
			// A person drags RISK-8 to the very top, above the draft too.
			items := e.srv.ProjectItems("acme", 7)
			var id int64
			for _, it := range items {
				if it.Key() == e.epics["RISK-8"] {
					id = it.ID
				}
			}
			e.srv.MoveProjectItem("acme", 7, id, 0)
			if withScore {
				// The order risksync left is in the score field: a restarted client knows it too.
				c, err := New(e.opts)
				if err != nil {
					t.Fatal(err)
				}
				e.c = c
			}
			e.srv.ResetRequests()
			w := e.mustOrder()
			if len(w) != 1 || w[0].Kind != registry.WriteMove || w[0].Risk != "RISK-8" || !w[0].Drift {
				t.Fatalf("writes %+v, want RISK-8's restoring move", w)
			}
			e.checkProject("draft:note")
			if w := e.mustOrder(); len(w) != 0 {
				t.Fatalf("after restore: %+v", w)
			}
		})
	}
}

func TestProjectDryRunPlansWithoutWriting(t *testing.T) {
	e := newProjectEnv(t, true)
	for n := 1; n <= 5; n++ {
		e.addRisk(n, fp(float64(n*10)))
	}
	w, err := e.order(true)
	if err != nil {
		t.Fatal(err)
	}
	if e.srv.Writes() != 0 || len(e.srv.ProjectItems("acme", 7)) != 0 {
		t.Fatalf("dry run wrote %d times", e.srv.Writes())
	}
	// 5 adds and 5 field writes; added in score order, they need no move.
	if count(w, registry.WriteUpdate) != 10 || count(w, registry.WriteMove) != 0 {
		t.Fatalf("plan %+v", w)
	}
	e.mustOrder()
	e.checkProject()
}

func TestProjectConfigurationErrorsNameWhatExists(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *projectEnv)
		want  string
	}{
		{"no such project", func(e *projectEnv) { e.p.Number = 8 },
			`github.project: acme has no project number 8 (neither an organisation's nor a user's)`},
		{"field missing", func(e *projectEnv) { e.p.PriorityField = "Urgency" },
			`github.project.priority_field "Urgency": project acme#7 has no such field: fields are Title, Status, Priority, Risk score`},
		{"not single select", func(e *projectEnv) {
			e.srv.AddProjectField("acme", 7, "Severity", githubtest.FieldText)
			e.p.PriorityField = "Severity"
		}, `github.project.priority_field "Severity" is a text field, not a single select`},
		{"score not a number", func(e *projectEnv) { e.p.ScoreField = "Status" },
			`github.project.score_field "Status" is a single select field, not a number`},
		{"option missing", func(e *projectEnv) {
			e.srv.AddProjectField("acme", 7, "Importance", githubtest.FieldSingleSelect, "Urgent", "High", "Medium", "Low")
			e.p.PriorityField = "Importance"
		}, `github.project.priority_field "Importance" has no option "P0": options are Urgent, High, Medium, Low`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newProjectEnv(t, true)
			e.addRisk(1, fp(70))
			tc.setup(e)
			w, err := e.order(false)
			var te *registry.TrackerError
			if !errors.As(err, &te) || te.Retryable || te.Fix == "" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant terminal, with a fix, containing %q", err, tc.want)
			}
			if len(w) != 0 || e.srv.Writes() != 0 {
				t.Fatalf("wrote %d times: %+v", e.srv.Writes(), w)
			}
		})
	}
}

func TestProjectWithTenThousandItemsIsReadInPages(t *testing.T) {
	e := newProjectEnv(t, true)
	for i := range 10_000 {
		e.srv.AddProjectDraft("acme", 7, fmt.Sprintf("draft %d", i))
	}
	for n := 1; n <= 40; n++ {
		e.addRisk(n, fp(float64(n)))
	}
	e.mustOrder()
	e.checkProject()
	e.srv.ResetRequests()
	if w := e.mustOrder(); len(w) != 0 {
		t.Fatalf("steady pass wrote %+v", w)
	}
	pages := e.srv.Count("GET", githubtest.RouteOrgItems)
	if pages != 101 { // 10,040 items, 100 a page
		t.Fatalf("%d item pages, want 101", pages)
	}
	for _, r := range e.srv.Requests() {
		if r.Route == githubtest.RouteOrgItems && (r.Query.Get("per_page") != "100" || r.Query.Get("fields") == "") {
			t.Fatalf("items request %v: want per_page=100 and the two fields", r.Query)
		}
	}
}

// secondaryOnNthMove lets n moves through, then GitHub answers the next
// with a secondary rate limit of 10 minutes.
type secondaryOnNthMove struct {
	base  http.RoundTripper
	srv   *githubtest.Server
	n     int
	moves atomic.Int32
}

func (s *secondaryOnNthMove) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/graphql") && int(s.moves.Add(1)) == s.n+1 {
		s.srv.Inject(githubtest.Fault{Route: githubtest.RouteGraphQL, Status: 403, Secondary: true, RetryAfter: "600"})
	}
	return s.base.RoundTrip(r)
}

func TestProjectSecondaryLimitDuringReorderIsRetriedNextPass(t *testing.T) {
	e := newProjectEnv(t, true)
	for n := 1; n <= 12; n++ {
		e.addRisk(n, fp(float64(n)))
		// People put the epics in, RISK-1 first: the reverse of score order.
		e.srv.AddProjectIssue("acme", 7, repoName, issueNumber(e.epics[registry.FormatKey(int64(n))]))
	}
	rt := &secondaryOnNthMove{base: e.srv.HTTPClient().Transport, srv: e.srv, n: 3}
	opts := e.opts
	opts.HTTPClient = &http.Client{Transport: rt}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	w, err := e.order(false)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.RetryAt.Before(start.Add(10*time.Minute)) {
		t.Fatalf("err = %v, want retryable with RetryAt ≥ 10 minutes on", err)
	}
	if count(w, registry.WriteMove) != 3 {
		t.Fatalf("reported %d moves, want the 3 done", count(w, registry.WriteMove))
	}
	// Until then nothing is sent.
	n := len(e.srv.Requests())
	if _, err := e.order(false); !registry.IsRetryable(err) || len(e.srv.Requests()) != n {
		t.Fatalf("before RetryAt: err %v, %d requests sent", err, len(e.srv.Requests())-n)
	}
	e.clock.Advance(11 * time.Minute)
	w = e.mustOrder()
	e.checkProject()
	if count(w, registry.WriteMove) != 8 {
		t.Fatalf("finished with %d moves, want the other 8", count(w, registry.WriteMove))
	}
	for _, x := range w {
		if x.Drift {
			t.Fatalf("risksync's own unfinished reorder flagged as a person's: %+v", x)
		}
	}
	if w := e.mustOrder(); len(w) != 0 {
		t.Fatalf("steady: %+v", w)
	}
}

func TestProjectOrderOffSetsFieldsOnly(t *testing.T) {
	e := newProjectEnv(t, true)
	e.p.Order = config.ProjectOrderOff
	for n := 1; n <= 5; n++ {
		e.addRisk(n, fp(float64(n*10)))
	}
	w := e.mustOrder()
	if count(w, registry.WriteMove) != 0 || e.srv.Count("POST", githubtest.RouteGraphQL) != 0 || len(e.srv.ProjectItems("acme", 7)) != 5 {
		t.Fatalf("order off: %+v", w)
	}
}

// Moves through the fake for a random permutation of 1,000 items: n − LIS.
func TestProjectRandomPermutationMovesAreNMinusLIS(t *testing.T) {
	e := newProjectEnv(t, true)
	const n = 1000
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 1; i <= n; i++ {
		e.addRisk(i, fp(float64(i)))
	}
	e.mustOrder()
	perm := shuffleProject(e, rng)
	e.srv.ResetRequests()
	w := e.mustOrder()
	e.checkProject()
	want := n - lis(perm)
	if got := e.srv.Count("POST", githubtest.RouteGraphQL); got != want || count(w, registry.WriteMove) != want {
		t.Fatalf("%d moves, want n − LIS = %d", got, want)
	}
}

// shuffleProject reorders the project at random as people would, and
// returns the risk items' desired positions in their new order.
func shuffleProject(e *projectEnv, rng *rand.Rand) []int {
	items := e.srv.ProjectItems("acme", 7)
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	var prev int64
	for _, id := range ids {
		e.srv.MoveProjectItem("acme", 7, id, prev)
		prev = id
	}
	pos := map[string]int{}
	for i, b := range e.backlog() {
		pos[b.Epic.Key] = i
	}
	var seq []int
	for _, it := range e.srv.ProjectItems("acme", 7) {
		seq = append(seq, pos[it.Key()])
	}
	return seq
}

func lis(seq []int) int {
	var tails []int
	for _, v := range seq {
		i := sort.SearchInts(tails, v)
		if i == len(tails) {
			tails = append(tails, v)
		} else {
			tails[i] = v
		}
	}
	return len(tails)
}
