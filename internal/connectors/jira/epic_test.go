package jira_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

const (
	routeIssue      = "/rest/api/2/issue"
	routeIssueKey   = "/rest/api/2/issue/{issueIdOrKey}"
	routeSearchJQL  = "/rest/api/2/search/jql"
	routeSearchOld  = "/rest/api/2/search"
	routeTransition = "/rest/api/2/issue/{issueIdOrKey}/transitions"
)

func TestEnsureEpicCreatesOnceThenCostsNoWrite(t *testing.T) {
	e := newEnv(t)
	r := newRisk(3, "Orphaned snapshots exhaust storage", 4, 5, 3) // 60: critical
	res := e.ensure(r)
	if len(res.Writes) != 1 || res.Writes[0].Kind != registry.WriteCreate {
		t.Fatalf("first mirroring: want one create, got %+v", res.Writes)
	}
	if res.Link.Key == "" || res.Link.State != registry.LinkOpen || res.Link.Tracker != registry.TrackerJira || !res.Link.Current {
		t.Fatalf("link: %+v", res.Link)
	}
	is := e.srv.Issue(res.Link.Key)
	if is.Summary != "[RISK-3] Orphaned snapshots exhaust storage" || is.Type != "Epic" || is.Priority != "Highest" {
		t.Errorf("issue: summary %q type %q priority %q", is.Summary, is.Type, is.Priority)
	}
	if want := []string{"risk", "risksync-RISK-3", "risk-critical"}; !slices.Equal(is.Labels, want) {
		t.Errorf("labels %v, want %v", is.Labels, want)
	}
	if got := string(is.Properties["risksync"]); got != `{"key":"RISK-3"}` {
		t.Errorf("property risksync = %s", got)
	}
	text := jira.DescriptionText(is.Description)
	for _, want := range []string{"| Field | Value |", "| Risk | Orphaned snapshots exhaust storage |", "| Impact | 4 |", "| Scope | 5 |",
		"| Likelihood | 3 |", "| Score | 60 (critical) |", "| Owner | payments |", "| Status | active |", "| Last Reviewed | never |",
		"impact 4 × scope 5 × likelihood 3 = 60 → critical → Jira Highest", "Managed by risksync"} {
		if !strings.Contains(text, want) {
			t.Errorf("description lacks %q:\n%s", want, text)
		}
	}
	writes := e.srv.Writes()
	for i := 0; i < 3; i++ {
		e.pass()
		res = e.ensure(r)
		if len(res.Writes) != 0 {
			t.Fatalf("unchanged risk, pass %d: writes %+v", i, res.Writes)
		}
	}
	if got := e.srv.Writes(); got != writes {
		t.Errorf("unchanged risk wrote %d times", got-writes)
	}
	if n := len(e.srv.Issues()); n != 1 {
		t.Errorf("%d issues, want 1", n)
	}
}

func TestBandChangeCostsAtMostTwoWrites(t *testing.T) {
	e := newEnv(t)
	r := newRisk(4, "Certificate expiry", 2, 4, 4) // 32: high
	res := e.ensure(r)
	e.pass()
	before := e.srv.Writes()
	r.Impact = intp(4) // 64: critical
	scoringConfig.Derive(r)
	res2, err := e.c.EnsureEpic(e.ctx, epicOf(r, "PAY"), false)
	if err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Writes() - before; w < 1 || w > 2 {
		t.Errorf("band change: %d writes, want 1..2", w)
	}
	if len(res2.Drift) != 0 {
		t.Errorf("a registry change is not drift: %v", res2.Drift)
	}
	is := e.srv.Issue(res.Link.Key)
	if is.Priority != "Highest" || !slices.Contains(is.Labels, "risk-critical") || slices.Contains(is.Labels, "risk-high") {
		t.Errorf("after band change: priority %s labels %v", is.Priority, is.Labels)
	}
	// Labels a person added survive.
	e.srv.Edit(res.Link.Key, "labels", strings.Join(append(is.Labels, "customer-facing"), ","))
	e.pass()
	r.Impact = intp(1) // 16: medium
	scoringConfig.Derive(r)
	e.ensure(r)
	is = e.srv.Issue(res.Link.Key)
	if !slices.Contains(is.Labels, "customer-facing") || !slices.Contains(is.Labels, "risk-medium") || slices.Contains(is.Labels, "risk-critical") {
		t.Errorf("labels %v", is.Labels)
	}
}

func TestUnscoredRiskGetsLabelAndDefaultPriority(t *testing.T) {
	e := newEnv(t)
	r := &registry.Risk{ID: 9, Key: "RISK-9", Title: "Unrated intake", Status: registry.StatusActive}
	res, err := e.c.EnsureEpic(e.ctx, registry.EpicSpec{Target: "PAY", Risk: r, Explanation: "unscored: missing impact, scope, likelihood", MayCreate: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	is := e.srv.Issue(res.Link.Key)
	if !slices.Contains(is.Labels, "risk-unscored") || is.Priority != "Medium" {
		t.Errorf("labels %v priority %s", is.Labels, is.Priority)
	}
	if !strings.Contains(jira.DescriptionText(is.Description), "| Score | unscored |") {
		t.Errorf("description: %s", is.Description)
	}
	// Scoring it later replaces the label.
	r.Impact, r.Scope, r.Likelihood = intp(5), intp(5), intp(5)
	scoringConfig.Derive(r)
	e.pass()
	e.ensure(r)
	is = e.srv.Issue(res.Link.Key)
	if slices.Contains(is.Labels, "risk-unscored") || !slices.Contains(is.Labels, "risk-critical") || is.Priority != "Highest" {
		t.Errorf("after scoring: labels %v priority %s", is.Labels, is.Priority)
	}
}

func TestDryRunPlansWithoutWriting(t *testing.T) {
	e := newEnv(t)
	r := newRisk(5, "Queue backlog", 3, 3, 3)
	res, err := e.c.EnsureEpic(e.ctx, epicOf(r, "PAY"), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Writes) != 1 || res.Writes[0].Kind != registry.WriteCreate || res.Writes[0].Fields["priority"][1] != "Medium" {
		t.Fatalf("plan: %+v", res.Writes)
	}
	if e.srv.Writes() != 0 || len(e.srv.Issues()) != 0 {
		t.Fatalf("dry run wrote")
	}
	real := e.ensure(r)
	r.Title = "Queue backlog grows"
	e.pass()
	res, err = e.c.EnsureEpic(e.ctx, epicOf(r, "PAY"), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Writes) != 1 || res.Writes[0].Kind != registry.WriteUpdate || res.Writes[0].Fields["summary"][1] != "[RISK-5] Queue backlog grows" {
		t.Fatalf("plan: %+v", res.Writes)
	}
	if e.srv.Issue(real.Link.Key).Summary != "[RISK-5] Queue backlog" {
		t.Fatal("dry run wrote")
	}
}

func TestManualEditIsDriftAndOverwritten(t *testing.T) {
	e := newEnv(t)
	r := newRisk(6, "Disk fills", 3, 3, 2)
	res := e.ensure(r)
	e.srv.Advance(time.Minute)
	e.srv.Edit(res.Link.Key, "summary", "Disk fills (edited by hand)")
	e.srv.Edit(res.Link.Key, "priority", "Lowest")
	e.srv.Advance(time.Minute)
	e.pass()
	res2 := e.ensure(r)
	if want := []string{"priority", "summary"}; !slices.Equal(res2.Drift, want) {
		t.Errorf("drift %v, want %v", res2.Drift, want)
	}
	is := e.srv.Issue(res.Link.Key)
	if is.Summary != "[RISK-6] Disk fills" || is.Priority != "Medium" {
		t.Errorf("not overwritten: %q %s", is.Summary, is.Priority)
	}
	// Our own overwrite is not drift next time.
	r.Title = "Disk fills up"
	e.pass()
	if res3 := e.ensure(r); len(res3.Drift) != 0 {
		t.Errorf("drift after own write: %v", res3.Drift)
	}
}

func TestLostCreateResponseIsAdoptedNotDuplicated(t *testing.T) {
	e := newEnv(t)
	e.srv.SetSearchLag(30 * time.Second)
	e.srv.DropAfterCommit(http.MethodPost, routeIssue, 1)
	r := newRisk(7, "DNS outage", 5, 5, 2)
	_, err := e.c.EnsureEpic(e.ctx, epicOf(r, "PAY"), false)
	if !registry.IsRetryable(err) {
		t.Fatalf("lost answer: want a retryable error, got %v", err)
	}
	if n := len(e.srv.Issues()); n != 1 {
		t.Fatalf("the fake committed %d issues, want 1", n)
	}
	// Next pass, search still lags: one empty search is no proof of absence.
	// The engine's create intent is young, so it withholds the create.
	e.srv.Advance(10 * time.Second)
	e.pass()
	withheld := epicOf(r, "PAY")
	withheld.MayCreate = false
	writes := e.srv.Writes()
	_, err = e.c.EnsureEpic(e.ctx, withheld, false)
	if !errors.Is(err, registry.ErrCreateWithheld) {
		t.Fatalf("under lag: want ErrCreateWithheld, got %v", err)
	}
	if n := e.srv.Count(http.MethodPost, routeIssue); n != 1 || e.srv.Writes() != writes {
		t.Fatalf("%d creates, %d other writes; want 1 create", n, e.srv.Writes()-writes)
	}
	// Once search catches up, the epic is adopted.
	e.srv.Advance(time.Minute)
	e.pass()
	res, err := e.c.EnsureEpic(e.ctx, withheld, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Issues()); n != 1 || res.Link.Key != e.srv.Issues()[0].Key {
		t.Fatalf("%d issues, link %s", n, res.Link.Key)
	}
	if n := e.srv.Count(http.MethodPost, routeIssue); n != 1 {
		t.Fatalf("%d creates, want 1", n)
	}
}

func TestSearchLagIsReconciled(t *testing.T) {
	// Every pass lists the project in full (as after a restart of the
	// mirror), so only reconcileIssues can show a fresh epic under lag.
	e := newEnv(t, withOptions(func(o *jira.Options) { o.FullRefresh = time.Nanosecond }))
	e.srv.SetSearchLag(time.Minute)
	r := newRisk(8, "Config push loops", 2, 2, 2)
	res := e.ensure(r)
	e.srv.Advance(time.Second)
	e.pass()
	res2 := e.ensure(r)
	if res2.Link.Key != res.Link.Key || len(res2.Writes) != 0 || len(e.srv.Issues()) != 1 {
		t.Fatalf("under lag: %+v, %d issues", res2, len(e.srv.Issues()))
	}
	reqs := e.srv.Requests()
	last := reqs[len(reqs)-1]
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Route == routeSearchJQL {
			last = reqs[i]
			break
		}
	}
	if last.Query.Get("reconcileIssues") == "" {
		t.Errorf("search without reconcileIssues: %v", last.Query)
	}
}

func TestExistingEpicFoundByLabelAndByProperty(t *testing.T) {
	e := newEnv(t)
	byLabel := e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: "old title", Labels: []string{"risk", "risksync-RISK-11"}})
	bySummary := e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: "[RISK-12] Lost its labels"})
	e.srv.SetProperty(bySummary, "risksync", map[string]string{"key": "RISK-12"})
	impostor := e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: "[RISK-13] Someone else's"})
	_ = impostor
	if res := e.ensure(newRisk(11, "Eleven", 1, 1, 1)); res.Link.Key != byLabel {
		t.Errorf("by label: %s, want %s", res.Link.Key, byLabel)
	}
	if res := e.ensure(newRisk(12, "Lost its labels", 1, 1, 1)); res.Link.Key != bySummary {
		t.Errorf("by property: %s, want %s", res.Link.Key, bySummary)
	}
	if res := e.ensure(newRisk(13, "Thirteen", 1, 1, 1)); res.Link.Key == impostor {
		t.Errorf("adopted an issue without our property")
	}
	if !slices.Contains(e.srv.Issue(bySummary).Labels, "risksync-RISK-12") {
		t.Errorf("label not restored: %v", e.srv.Issue(bySummary).Labels)
	}
	// The epic found by label had no property: set along with the update.
	if got := strings.TrimSpace(string(e.srv.Issue(byLabel).Properties["risksync"])); got != `{"key":"RISK-11"}` {
		t.Errorf("property on %s: %s", byLabel, got)
	}
}

func TestConfigurationErrors(t *testing.T) {
	t.Run("missing priority names the available ones", func(t *testing.T) {
		bands := append([]scoring.Band(nil), testBands...)
		bands[0].JiraPriority = "Blocker"
		e := newEnv(t, withOptions(func(o *jira.Options) { o.Bands = bands }))
		_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(1, "x", 1, 1, 1), "PAY"), false)
		var te *registry.TrackerError
		if !errors.As(err, &te) || te.Retryable || !strings.Contains(err.Error(), `"Blocker"`) ||
			!strings.Contains(err.Error(), "Highest, High, Medium, Low, Lowest") && !strings.Contains(err.Error(), "available:") {
			t.Fatalf("got %v", err)
		}
		for _, p := range []string{"Highest", "Lowest", "Medium"} {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name %s: %v", p, err)
			}
		}
	})
	t.Run("required fields risksync cannot fill", func(t *testing.T) {
		e := newEnv(t)
		e.srv.AddProject(jiratest.Project{Key: "OPS", RequiredFields: []string{"Team"}})
		_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(1, "x", 1, 1, 1), "OPS"), false)
		if err == nil || !strings.Contains(err.Error(), "Team (customfield_10100)") || registry.IsRetryable(err) {
			t.Fatalf("got %v", err)
		}
		if e.srv.Count(http.MethodPost, routeIssue) != 0 {
			t.Error("tried to create anyway")
		}
	})
	t.Run("no epic issue type", func(t *testing.T) {
		e := newEnv(t)
		e.srv.AddProject(jiratest.Project{Key: "KAN", IssueTypes: []jiratest.IssueType{{ID: "1", Name: "Task"}}})
		_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(1, "x", 1, 1, 1), "KAN"), false)
		if err == nil || !strings.Contains(err.Error(), `no issue type "Epic" (it has: Task)`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a 400 names the field", func(t *testing.T) {
		e := newEnv(t)
		e.srv.FailJSON(http.MethodPost, routeIssue, 1, 400, map[string]any{"errorMessages": []string{},
			"errors": map[string]string{"customfield_10010": "Team is required."}})
		_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(1, "x", 1, 1, 1), "PAY"), false)
		var te *registry.TrackerError
		if !errors.As(err, &te) || te.Status != 400 || te.Retryable || !strings.Contains(err.Error(), "field customfield_10010: Team is required.") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("long titles are cut to Jira's summary limit", func(t *testing.T) {
		e := newEnv(t)
		r := newRisk(1, strings.Repeat("long ", 60), 1, 1, 1)
		res := e.ensure(r)
		if s := e.srv.Issue(res.Link.Key).Summary; len([]rune(s)) != 255 || !strings.HasPrefix(s, "[RISK-1] long") {
			t.Fatalf("summary %q", s)
		}
		e.pass()
		if res := e.ensure(r); len(res.Writes) != 0 {
			t.Fatalf("rewrote: %+v", res.Writes)
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		e := newEnv(t, withOptions(func(o *jira.Options) { o.APIToken = config.NewSecret("sentinel-wrong-token-4711") }))
		_, err := e.c.EnsureEpic(e.ctx, epicOf(newRisk(1, "x", 1, 1, 1), "PAY"), false)
		var te *registry.TrackerError
		if !errors.As(err, &te) || te.Status != 401 || te.Fix == "" || strings.Contains(err.Error(), "sentinel-wrong-token-4711") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCloudNeverCallsRemovedSearch(t *testing.T) {
	e := newEnv(t)
	runEverything(t, e)
	if n := e.srv.Count("", routeSearchOld); n != 0 {
		t.Fatalf("called the removed /search %d times", n)
	}
	if e.srv.Count(http.MethodGet, routeSearchJQL) == 0 {
		t.Fatal("no /search/jql")
	}
	for _, r := range e.srv.Requests() {
		if r.Route == routeSearchJQL && r.Query.Get("fields") == "" {
			t.Errorf("search without explicit fields: %s", r.Query.Get("jql"))
		}
	}
}

func TestDataCenterUsesOldSearchAndBearer(t *testing.T) {
	e := newEnv(t, withServer(jiratest.WithDeployment(jiratest.DataCenter)), withOptions(func(o *jira.Options) {
		o.Email, o.APIToken = config.Secret{}, config.Secret{}
		o.PAT = config.NewSecret(jiratest.PAT)
	}))
	runEverything(t, e)
	// Children hang off the epic by Epic Link there.
	key := e.ensure(newRisk(50, "DC", 1, 1, 1)).Link.Key
	child := e.srv.CreateChild(key, "work")
	e.srv.Transition(child, jiratest.StatusDone, "")
	e.srv.Advance(time.Minute)
	e.pass()
	states, err := e.c.PullBack(e.ctx, "PAY")
	if err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, states, "RISK-50"); s == nil || s.Link.ChildrenTotal != 1 || s.Link.ChildrenDone != 1 || s.Link.State != registry.LinkInProgress {
		t.Fatalf("Epic Link children: %+v", states)
	}
	if e.srv.Count("", routeSearchJQL) != 0 || e.srv.Count(http.MethodGet, routeSearchOld) == 0 {
		t.Fatalf("Data Center: /search/jql %d, /search %d", e.srv.Count("", routeSearchJQL), e.srv.Count("", routeSearchOld))
	}
}

// runEverything drives every operation once, for request-level checks.
func runEverything(t *testing.T, e *env) {
	t.Helper()
	r := newRisk(1, "Everything", 4, 4, 4)
	res := e.ensure(r)
	e.ensure(newRisk(2, "Second", 1, 2, 3))
	child := e.srv.CreateChild(res.Link.Key, "mitigate")
	e.srv.Transition(child, jiratest.StatusInProgress, "")
	e.srv.Advance(time.Minute)
	e.pass()
	r.Impact = intp(1)
	scoringConfig.Derive(r)
	e.ensure(r)
	if _, err := e.c.PullBack(e.ctx, "PAY"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CloseEpic(e.ctx, res.Link.Key, "Risk accepted in the registry.", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ReopenEpic(e.ctx, res.Link.Key, "Risk reopened in the registry.", false); err != nil {
		t.Fatal(err)
	}
	pm := e.srv.CreateIssue(jiratest.NewIssue{Project: "INC", Type: "Task", Summary: "Outage", Labels: []string{"postmortem"},
		Description: "||Field||Value||\n|Risk|Disk fills|\n|Impact|4|"})
	if _, err := e.c.Postmortems(e.ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Comment(e.ctx, pm, "Registered as RISK-1."); err != nil {
		t.Fatal(err)
	}
	e.srv.Advance(time.Minute)
	e.pass()
	if _, err := e.c.PullBack(e.ctx, "PAY"); err != nil {
		t.Fatal(err)
	}
	readCommands(t, e, res.Link.Key)
}
