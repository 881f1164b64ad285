package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
)

// End to end through `sync --once` and the GitHub fake: the backlog of
// project acme#7 in score order.

type projectCLI struct {
	*cli
	gh    *githubtest.Server
	clock *githubtest.Clock
	// ratings by risk key: impact, scope, likelihood (none: unscored)
	ratings map[string][3]int
	maxKey  int
}

func newProjectCLI(t *testing.T) *projectCLI {
	clock := githubtest.NewClock(time.Now().UTC().Truncate(time.Second))
	gh := githubtest.NewServer(t, githubtest.WithClock(clock.Now))
	gh.AddRepo("acme/rel")
	gh.AddRepo("acme/storage")
	gh.SetIssueTypes("acme", "Epic")
	gh.AddProject("acme", true, 7, "Reliability backlog")
	gh.AddProjectField("acme", 7, "Priority", githubtest.FieldSingleSelect, "P0", "P1", "P2", "P3")
	gh.AddProjectField("acme", 7, "Risk score", githubtest.FieldNumber)
	gh.AddProjectField("acme", 7, "Estimate", githubtest.FieldNumber)
	c := newCLI(t)
	c.env["GITHUB_TOKEN"] = gh.Token()
	c.writeConfig(fmt.Sprintf(`
scoring:
  bands:
    - {name: critical, min_score: 60, github_label: "priority/P0", project_priority: P0}
    - {name: high,     min_score: 30, github_label: "priority/P1", project_priority: P1}
    - {name: medium,   min_score: 12, github_label: "priority/P2", project_priority: P2}
    - {name: low,      min_score: 0,  github_label: "priority/P3", project_priority: P3}
teams:
  - {name: storage-sre, github_repo: acme/storage}
github:
  base_url: %s
  repo: acme/rel
  project: {owner: acme, number: 7, priority_field: Priority, score_field: "Risk score", order: by_score}
`, gh.URL()))
	c.main = func(m *Main) {
		m.HTTPClient = gh.HTTPClient()
		m.Now = clock.Now
		m.Sleep = clock.Sleep
		m.MinWriteInterval = time.Millisecond
	}
	return &projectCLI{cli: c, gh: gh, clock: clock, ratings: map[string][3]int{}}
}

func (p *projectCLI) add(n int, rated bool) {
	args := []string{"risk", "add", "--title", fmt.Sprintf("risk number %d", n)}
	if n%2 == 0 {
		args = append(args, "--owner", "storage-sre")
	}
	if rated {
		r := [3]int{1 + n%5, 1 + (n*3)%5, 1 + (n*7)%5}
		p.ratings["RISK-"+strconv.Itoa(n)] = r
		args = append(args, "--impact", strconv.Itoa(r[0]), "--scope", strconv.Itoa(r[1]), "--likelihood", strconv.Itoa(r[2]))
	}
	p.ok(args...)
}

func (p *projectCLI) score(key string) (int, bool) {
	r, ok := p.ratings[key]
	return r[0] * r[1] * r[2], ok
}

// riskOrder is the project's risk items as keys, in position order, and
// every other item.
func (p *projectCLI) riskOrder() (risks, others []string, items []githubtest.ProjectItem) {
	items = p.gh.ProjectItems("acme", 7)
	for _, it := range items {
		if it.Issue == nil {
			others = append(others, it.Key())
			continue
		}
		is, _ := p.gh.Issue(it.Issue.Repo, it.Issue.Number)
		if k, _, ok := strings.Cut(strings.TrimPrefix(is.Title, "["), "]"); ok && strings.HasPrefix(is.Title, "[RISK-") {
			risks = append(risks, k)
		} else {
			others = append(others, it.Key())
		}
	}
	return risks, others, items
}

// checkOrder asserts score order (highest first, ties by key, unscored
// last) and the fields of every risk item.
func (p *projectCLI) checkOrder(wantOthers ...string) {
	p.t.Helper()
	risks, others, items := p.riskOrder()
	want := slices.Clone(risks)
	num := func(k string) int { n, _ := strconv.Atoi(strings.TrimPrefix(k, "RISK-")); return n }
	sort.SliceStable(want, func(i, j int) bool {
		si, oki := p.score(want[i])
		sj, okj := p.score(want[j])
		switch {
		case oki && okj && si != sj:
			return si > sj
		case oki != okj:
			return oki
		}
		return num(want[i]) < num(want[j])
	})
	if !slices.Equal(risks, want) {
		p.t.Fatalf("risk items\n%v\nwant\n%v", risks, want)
	}
	if len(risks) != len(p.allKeys()) {
		p.t.Fatalf("%d risk items, want %d", len(risks), len(p.allKeys()))
	}
	if wantOthers != nil && !slices.Equal(others, wantOthers) {
		p.t.Fatalf("other items %v, want %v", others, wantOthers)
	}
	for _, it := range items {
		if it.Issue == nil {
			continue
		}
		is, _ := p.gh.Issue(it.Issue.Repo, it.Issue.Number)
		k, _, ok := strings.Cut(strings.TrimPrefix(is.Title, "["), "]")
		if !ok || !strings.HasPrefix(is.Title, "[RISK-") {
			continue
		}
		s, scored := p.score(k)
		if !scored {
			if it.Values["Risk score"] != nil || it.Values["Priority"] != nil {
				p.t.Fatalf("unscored %s has values %v", k, it.Values)
			}
			continue
		}
		prio := "P3"
		switch {
		case s >= 60:
			prio = "P0"
		case s >= 30:
			prio = "P1"
		case s >= 12:
			prio = "P2"
		}
		if it.Values["Risk score"] != float64(s) || it.Values["Priority"] != prio {
			p.t.Fatalf("%s (score %d) has values %v", k, s, it.Values)
		}
	}
}

func (p *projectCLI) allKeys() []string {
	var out []string
	for n := 1; ; n++ {
		k := "RISK-" + strconv.Itoa(n)
		if _, ok := p.ratings[k]; !ok && n > p.maxKey {
			return out
		}
		out = append(out, k)
	}
}

func (p *projectCLI) itemOf(key string) githubtest.ProjectItem {
	p.t.Helper()
	for _, it := range p.gh.ProjectItems("acme", 7) {
		if it.Issue == nil {
			continue
		}
		if is, _ := p.gh.Issue(it.Issue.Repo, it.Issue.Number); strings.HasPrefix(is.Title, "["+key+"]") {
			return it
		}
	}
	p.t.Fatalf("no item for %s", key)
	return githubtest.ProjectItem{}
}

func TestProjectBacklogEndToEnd(t *testing.T) {
	p := newProjectCLI(t)
	// A person's draft and a non-risk issue are in the project already.
	p.gh.AddProjectDraft("acme", 7, "Q3 planning")
	bug := p.gh.CreateIssue("acme/rel", githubtest.NewIssue{Title: "flaky deploys"})
	p.gh.AddProjectIssue("acme", 7, "acme/rel", bug)
	for n := 1; n <= 50; n++ {
		p.add(n, true)
	}
	for n := 51; n <= 53; n++ {
		p.add(n, false)
	}
	p.maxKey = 53

	// Dry run: the plan places every epic, nothing is written.
	plan := decode[map[string]any](t, p.ok("sync", "--once", "--dry-run", "--json"))
	if n := len(plan["creates"].([]any)); n != 53 {
		t.Fatalf("dry run plans %d creates", n)
	}
	if p.gh.Writes() != 0 {
		t.Fatalf("dry run wrote %d times", p.gh.Writes())
	}

	// First placement: 53 epics, each an item with its fields, in score order.
	p.ok("sync", "--once")
	p.checkOrder("draft:Q3 planning", "acme/rel#1")

	// Steady: nothing written.
	w0 := p.gh.Writes()
	p.clock.Advance(time.Minute)
	out := p.ok("sync", "--once")
	if p.gh.Writes() != w0 || !strings.Contains(out, "0 creates, 0 updates, 0 closes, 0 comments") {
		t.Fatalf("steady pass wrote %d times:\n%s", p.gh.Writes()-w0, out)
	}

	// Dry run of a pending change plans the field write and the move, and writes nothing.
	p.ok("risk", "update", "RISK-7", "--impact", "5", "--scope", "5", "--likelihood", "5")
	p.ratings["RISK-7"] = [3]int{5, 5, 5}
	plan = decode[map[string]any](t, p.ok("sync", "--once", "--dry-run", "--json"))
	if p.gh.Writes() != w0 || !strings.Contains(fmt.Sprint(plan["updates"]), "Risk score") {
		t.Fatalf("dry run: %d writes, plan %v", p.gh.Writes()-w0, plan["updates"])
	}

	// A score change: one field write and at most one move in the project.
	p.gh.ResetRequests()
	p.clock.Advance(time.Minute)
	p.ok("sync", "--once")
	p.checkOrder()
	if n := p.gh.Count("PATCH", githubtest.RouteOrgItem); n != 1 {
		t.Fatalf("%d field writes, want 1", n)
	}
	if n := p.gh.Count("POST", githubtest.RouteGraphQL); n > 1 {
		t.Fatalf("%d moves, want at most 1", n)
	}

	// A person drags a low risk to the top: restored, with one comment.
	moved := p.itemOf("RISK-50")
	p.gh.MoveProjectItem("acme", 7, moved.ID, 0)
	p.gh.ResetRequests()
	p.clock.Advance(time.Minute)
	out = p.ok("sync", "--once")
	p.checkOrder()
	if n := p.gh.Count("POST", githubtest.RouteGraphQL); n != 1 {
		t.Fatalf("%d moves to restore, want 1:\n%s", n, out)
	}
	is, _ := p.gh.Issue(moved.Issue.Repo, moved.Issue.Number)
	if len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "risk epics are ordered by their score in the risk registry") {
		t.Fatalf("comments on %s: %+v", moved.Key(), is.Comments)
	}
	// Moved again: restored again, silently.
	p.gh.MoveProjectItem("acme", 7, moved.ID, 0)
	p.clock.Advance(time.Minute)
	p.ok("sync", "--once")
	p.checkOrder()
	if is, _ := p.gh.Issue(moved.Issue.Repo, moved.Issue.Number); len(is.Comments) != 1 {
		t.Fatalf("second restore commented again: %d comments", len(is.Comments))
	}

	// Steady again: nothing written.
	w1 := p.gh.Writes()
	p.clock.Advance(time.Minute)
	p.ok("sync", "--once")
	if p.gh.Writes() != w1 {
		t.Fatalf("steady pass wrote %d times", p.gh.Writes()-w1)
	}
}

func TestProjectBacklogMissingOptionFailsNamingOptions(t *testing.T) {
	p := newProjectCLI(t)
	p.gh.AddProjectField("acme", 7, "Urgency", githubtest.FieldSingleSelect, "Urgent", "High", "Medium", "Low")
	b, err := os.ReadFile(p.env["RISKSYNC_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	p.writeConfig(strings.Replace(string(b), "priority_field: Priority", "priority_field: Urgency", 1))
	p.add(1, true)
	_, errOut, code := p.run("sync", "--once")
	if code != 1 || !strings.Contains(errOut, "did not converge") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	out, _, _ := p.run("sync", "--once")
	if !strings.Contains(out, `github.project.priority_field "Urgency" has no option "P0": options are Urgent, High, Medium, Low`) {
		t.Fatalf("output:\n%s", out)
	}
}
