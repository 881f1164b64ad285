package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry"
)

const issuesRoute = "/repos/{owner}/{repo}/issues"

func TestEnsureEpicCreatesRenderedEpic(t *testing.T) {
	e := newEnv(t)
	want := epicFor(3, "Primary database failover stalls writes", 4, 5, 3, "storage-sre")
	res := e.ensure(want)

	if res.Link.Key != "acme/rel#1" || res.Link.State != registry.LinkOpen || res.Link.Tracker != "github" || res.Link.URL == "" {
		t.Fatalf("link = %+v", res.Link)
	}
	is, _ := e.srv.Issue(repoName, 1)
	if is.Title != "[RISK-3] Primary database failover stalls writes" {
		t.Errorf("title = %q", is.Title)
	}
	if got := slices.Sorted(slices.Values(is.Labels)); !slices.Equal(got, []string{"priority/P0", "risk", "team:storage-sre"}) {
		t.Errorf("labels = %v", got)
	}
	if is.Type != "Epic" {
		t.Errorf("type = %q, want Epic", is.Type)
	}
	for _, want := range []string{"<!-- risksync:RISK-3 -->", "| Risk | Primary database failover stalls writes |",
		"| Impact | 4 |", "| Scope | 5 |", "| Likelihood | 3 |", "| Score | 60 (critical) |", "| Owner | storage-sre |",
		"| Status | active |", "| Last Reviewed | never |", "impact 4 × scope 5 × likelihood 3 = 60 → critical → priority/P0",
		"managed by **risksync**", "overwrites its title", "writes stall"} {
		if !strings.Contains(is.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, is.Body)
		}
	}
	// Labels were created once, coloured by band.
	colors := map[string]string{}
	for _, l := range e.srv.Labels(repoName) {
		colors[l.Name] = l.Color
	}
	if colors["priority/P0"] != "b60205" || colors["risk"] == "" || colors["team:storage-sre"] == "" {
		t.Errorf("label colours = %v", colors)
	}
	if n := e.srv.Count("POST", issuesRoute); n != 1 {
		t.Errorf("creates = %d", n)
	}
	if n := e.srv.Count("POST", "/repos/{owner}/{repo}/labels"); n != 3 {
		t.Errorf("label creations = %d, want 3", n)
	}
	// Writes on first mirroring: 3 one-off labels + 1 create.
	if len(res.Writes) != 4 || res.Writes[3].Kind != registry.WriteCreate || res.Writes[3].Target != "acme/rel#1" {
		t.Errorf("writes = %+v", res.Writes)
	}

	// A second risk reuses the labels: one write.
	e.clock.Advance(time.Minute)
	res2 := e.ensure(epicFor(4, "Cache stampede", 4, 5, 3, "storage-sre"))
	if len(res2.Writes) != 1 || res2.Writes[0].Kind != registry.WriteCreate {
		t.Errorf("second risk writes = %+v", res2.Writes)
	}
}

func TestUnchangedRiskCostsNoWrite(t *testing.T) {
	e := newEnv(t)
	want := epicFor(1, "Disk fills up", 2, 4, 5, "storage-sre")
	e.ensure(want)
	writes := e.srv.Writes()

	res := e.ensure(want) // index still fresh: no request at all
	if len(res.Writes) != 0 || e.srv.Writes() != writes {
		t.Fatalf("unchanged risk wrote: %+v", res.Writes)
	}
	e.srv.ResetRequests()
	e.clock.Advance(time.Hour) // the listing is read again, conditionally
	res = e.ensure(want)
	if len(res.Writes) != 0 || e.srv.Writes() != 0 {
		t.Fatalf("unchanged risk wrote after relisting: %+v", res.Writes)
	}
	reqs := e.srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Route != issuesRoute {
		t.Fatalf("requests = %+v", reqs)
	}
}

func TestLostCreateResponseIsAdoptedNotDuplicated(t *testing.T) {
	for _, f := range []githubtest.Fault{
		{Method: "POST", Route: issuesRoute, AfterCommit: true, Drop: true},
		{Method: "POST", Route: issuesRoute, AfterCommit: true, Status: http.StatusBadGateway},
	} {
		e := newEnv(t)
		want := epicFor(7, "Certificate expiry", 5, 5, 2, "")
		e.ensure(epicFor(1, "warm up labels", 5, 5, 2, "")) // labels exist
		e.srv.Inject(f)
		res := e.ensure(want)
		if n := e.srv.Count("POST", issuesRoute); n != 2 {
			t.Errorf("fault %+v: POSTs = %d, want 2 (one per risk, none blind)", f, n)
		}
		var mine int
		for _, is := range e.issues(repoName) {
			if strings.Contains(is.Body, "<!-- risksync:RISK-7 -->") {
				mine++
			}
		}
		if mine != 1 {
			t.Fatalf("fault %+v: %d epics for RISK-7", f, mine)
		}
		if res.Link.Key != "acme/rel#2" {
			t.Errorf("adopted link = %+v", res.Link)
		}
		// Adopting an epic that is exactly what we sent costs nothing more.
		if k := res.Writes[len(res.Writes)-1].Kind; k != registry.WriteCreate || len(res.Writes) != 1 {
			t.Errorf("writes = %+v", res.Writes)
		}
	}
}

func TestCreateRejectedBy5xxIsRetriedAfterLooking(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(githubtest.Fault{Method: "POST", Route: issuesRoute, Status: http.StatusInternalServerError})
	e.ensure(epicFor(2, "Queue backlog", 3, 3, 3, "storage-sre"))
	if n := len(e.issues(repoName)); n != 1 {
		t.Fatalf("issues = %d", n)
	}
	if n := e.srv.Count("POST", issuesRoute); n != 2 {
		t.Fatalf("POSTs = %d, want 2", n)
	}
	// The look happened between the two POSTs.
	var seq []string
	for _, r := range e.srv.Requests() {
		if r.Route == issuesRoute {
			seq = append(seq, r.Method)
		}
	}
	if got := strings.Join(seq, ","); got != "GET,POST,GET,POST" {
		t.Fatalf("sequence = %s", got)
	}
}

func TestAdoptsExistingEpicByMarker(t *testing.T) {
	e := newEnv(t)
	e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "old title", Body: "hand made\n<!-- risksync:RISK-9 -->",
		Labels: []string{"risk", "customer-facing"}})
	e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "a pull request", Labels: []string{"risk"}, PullRequest: true})
	res := e.ensure(epicFor(9, "Region outage", 5, 5, 1, "storage-sre"))
	if e.srv.Count("POST", issuesRoute) != 0 {
		t.Fatal("created instead of adopting")
	}
	if res.Link.Key != "acme/rel#1" || len(res.Drift) != 0 {
		t.Fatalf("res = %+v", res)
	}
	is, _ := e.srv.Issue(repoName, 1)
	if is.Title != "[RISK-9] Region outage" || !slices.Contains(is.Labels, "customer-facing") || !slices.Contains(is.Labels, "priority/P2") {
		t.Fatalf("adopted epic = %q %v", is.Title, is.Labels)
	}
}

func TestBandChangeCostsAtMostTwoWrites(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(5, "Slow failover", 2, 3, 3, "storage-sre")) // 18: medium
	e.srv.Edit(repoName, 1, "", func(is *githubtest.Issue) { is.Labels = append(is.Labels, "customer-facing") })
	e.clock.Advance(time.Hour)
	before := e.srv.Writes()
	res := e.ensure(epicFor(5, "Slow failover", 4, 5, 3, "storage-sre")) // 60: critical
	if n := e.srv.Writes() - before; n > 2 || n != len(res.Writes) {
		t.Fatalf("band change cost %d writes (%+v)", n, res.Writes)
	}
	is, _ := e.srv.Issue(repoName, 1)
	if slices.Contains(is.Labels, "priority/P2") || !slices.Contains(is.Labels, "priority/P0") || !slices.Contains(is.Labels, "customer-facing") {
		t.Fatalf("labels = %v", is.Labels)
	}
	if len(res.Drift) != 0 {
		t.Fatalf("a person's own label is not drift: %v", res.Drift)
	}
	// The same change again costs nothing.
	e.clock.Advance(time.Hour)
	if res := e.ensure(epicFor(5, "Slow failover", 4, 5, 3, "storage-sre")); len(res.Writes) != 0 {
		t.Fatalf("rewrites: %+v", res.Writes)
	}
}

func TestManualEditIsDriftAndOverwritten(t *testing.T) {
	e := newEnv(t)
	want := epicFor(6, "Backups untested", 5, 4, 2, "storage-sre")
	e.ensure(want)
	e.srv.Edit(repoName, 1, "", func(is *githubtest.Issue) {
		is.Title = "Backups untested (edited)"
		is.Body = strings.ReplaceAll(is.Body, "\n", "\r\n") // the web editor's line endings are not an edit
	})
	e.clock.Advance(time.Hour)
	res := e.ensure(want)
	if !slices.Equal(res.Drift, []string{"title"}) {
		t.Fatalf("drift = %v", res.Drift)
	}
	if is, _ := e.srv.Issue(repoName, 1); is.Title != "[RISK-6] Backups untested" {
		t.Fatalf("title not restored: %q", is.Title)
	}
	// A registry change is not drift.
	e.clock.Advance(time.Hour)
	want.Risk.Title = "Backups never restored"
	if res := e.ensure(want); len(res.Drift) != 0 || len(res.Writes) != 1 {
		t.Fatalf("registry change: %+v", res)
	}
}

func TestUnscoredUnownedRisk(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(8, "Unknown blast radius", 0, 0, 0, ""))
	is, _ := e.srv.Issue(repoName, 1)
	if got := slices.Sorted(slices.Values(is.Labels)); !slices.Equal(got, []string{"risk", "risk:unscored", "team:unowned"}) {
		t.Fatalf("labels = %v", got)
	}
	if !strings.Contains(is.Body, "| Score | unscored |") || !strings.Contains(is.Body, "| Owner | unowned |") {
		t.Fatalf("body:\n%s", is.Body)
	}
}

func TestRepositoryWithoutIssueTypes(t *testing.T) {
	e := newEnv(t)
	e.srv.AddRepo("solo/rel")
	want := epicFor(1, "Laptop is the server", 3, 1, 4, "")
	want.Target = "solo/rel"
	if _, err := e.c.EnsureEpic(context.Background(), want, false); err != nil {
		t.Fatal(err)
	}
	is, _ := e.srv.Issue("solo/rel", 1)
	if is.Type != "" {
		t.Fatalf("type = %q", is.Type)
	}
	// The lookup is cached.
	if _, err := e.c.EnsureEpic(context.Background(), epicFor(2, "x", 1, 1, 1, ""), false); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Count("GET", "/orgs/{org}/issue-types"); n != 2 { // acme + solo, once each
		t.Fatalf("issue type lookups = %d", n)
	}
}

func TestDryRunSendsNoWrite(t *testing.T) {
	e := newEnv(t)
	res, err := e.c.EnsureEpic(context.Background(), epicFor(1, "Dry", 4, 5, 3, "storage-sre"), true)
	if err != nil {
		t.Fatal(err)
	}
	if e.srv.Writes() != 0 {
		t.Fatalf("dry run wrote %d times", e.srv.Writes())
	}
	var kinds []string
	for _, w := range res.Writes {
		kinds = append(kinds, string(w.Kind))
	}
	if strings.Join(kinds, ",") != "label,label,label,create" {
		t.Fatalf("plan = %+v", res.Writes)
	}
	e.ensure(epicFor(1, "Dry", 4, 5, 3, "storage-sre"))
	e.clock.Advance(time.Hour)
	before := e.srv.Writes()
	res, err = e.c.EnsureEpic(context.Background(), epicFor(1, "Wet", 4, 5, 3, "storage-sre"), true)
	if err != nil || len(res.Writes) != 1 || res.Writes[0].Fields["title"][1] != "[RISK-1] Wet" || e.srv.Writes() != before {
		t.Fatalf("update plan = %+v, %v", res.Writes, err)
	}
	ws, err := e.c.CloseEpic(context.Background(), "acme/rel#1", "accepted", true)
	if err != nil || len(ws) != 2 || e.srv.Writes() != before {
		t.Fatalf("close plan = %+v, %v", ws, err)
	}
}

func TestMinimumIntervalBetweenWrites(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		e.ensure(epicFor(i, "risk", 1, 1, 1, "storage-sre"))
	}
	var last time.Time
	for _, r := range e.srv.Requests() {
		if r.Method == "GET" {
			continue
		}
		if !last.IsZero() && r.At.Sub(last) < time.Second {
			t.Fatalf("write %s %s at %v, %v after the previous one", r.Method, r.Path, r.At, r.At.Sub(last))
		}
		last = r.At
	}
}

func TestCloseAndReopenEpic(t *testing.T) {
	e := newEnv(t)
	e.ensure(epicFor(1, "Accepted risk", 1, 2, 1, "storage-sre"))
	ctx := context.Background()
	ws, err := e.c.CloseEpic(ctx, "acme/rel#1", "Accepted in the registry.", false)
	if err != nil || len(ws) != 2 || ws[0].Kind != registry.WriteComment || ws[1].Kind != registry.WriteClose {
		t.Fatalf("close = %+v, %v", ws, err)
	}
	is, _ := e.srv.Issue(repoName, 1)
	if is.State != "closed" || is.StateReason != "not_planned" || len(is.Comments) != 1 || is.Comments[0].Body != "Accepted in the registry." {
		t.Fatalf("issue = %+v", is)
	}
	if ws, err := e.c.CloseEpic(ctx, "acme/rel#1", "again", false); err != nil || len(ws) != 0 {
		t.Fatalf("second close = %+v, %v", ws, err)
	}
	if _, err := e.c.CloseEpic(ctx, "acme/rel", "", false); registry.ErrorCode(err) != registry.EINVALID {
		t.Fatalf("bad key: %v", err)
	}
	ws, err = e.c.ReopenEpic(ctx, "acme/rel#1", "Re-opened: risk active again.", false)
	if err != nil || len(ws) != 2 {
		t.Fatalf("reopen = %+v, %v", ws, err)
	}
	if is, _ := e.srv.Issue(repoName, 1); is.State != "open" {
		t.Fatalf("state = %s", is.State)
	}
}

func TestPaginationOverManyEpics(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 230; i++ {
		e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "[RISK-" + itoa(i) + "] r", Body: marker("RISK-" + itoa(i)), Labels: []string{"risk"}})
	}
	e.pull()
	var pages int
	for _, r := range e.srv.Requests() {
		if r.Route == issuesRoute {
			pages++
			if r.Query.Get("per_page") != "100" {
				t.Fatalf("per_page = %q", r.Query.Get("per_page"))
			}
		}
	}
	if pages != 3 {
		t.Fatalf("pages = %d, want 3", pages)
	}
	e.srv.ResetRequests()
	if res := e.ensure(epicFor(230, "r", 0, 0, 0, "")); res.Link.Key != "acme/rel#230" {
		t.Fatalf("link = %+v", res.Link)
	}
	if e.srv.Count("POST", issuesRoute) != 0 {
		t.Fatal("duplicate created")
	}
}

func itoa(i int) string { return registry.FormatKey(int64(i))[5:] }

func TestGitHubComBaseURL(t *testing.T) {
	c, err := New(Options{Config: &config.GitHub{BaseURL: "https://api.github.com/"}, Token: config.NewSecret("x")})
	if err != nil || c.gh.BaseURL() != "https://api.github.com/" {
		t.Fatalf("base = %v, %v", c.gh.BaseURL(), err)
	}
	c, err = New(Options{Config: &config.GitHub{BaseURL: "https://ghe.example.com/api/v3/"}, Token: config.NewSecret("x")})
	if err != nil || c.gh.BaseURL() != "https://ghe.example.com/api/v3/" || c.gh.UploadURL() != "https://ghe.example.com/api/uploads/" {
		t.Fatalf("GHES base = %v %v, %v", c.gh.BaseURL(), c.gh.UploadURL(), err)
	}
	if _, err := New(Options{Config: &config.GitHub{}}); !errors.Is(err, errNoToken) {
		t.Fatalf("no token: %v", err)
	}
}

func TestLostCommentResponseIsNotReposted(t *testing.T) {
	e := newEnv(t)
	e.srv.CreateIssue("acme/incidents", githubtest.NewIssue{Title: "INC-2", Labels: []string{"postmortem"}})
	e.srv.Inject(githubtest.Fault{Method: "POST", Route: "/repos/{owner}/{repo}/issues/{issue_number}/comments", AfterCommit: true, Drop: true})
	if err := e.c.Comment(context.Background(), "acme/incidents#1", "Rows to fix: Likelihood"); err != nil {
		t.Fatal(err)
	}
	if is, _ := e.srv.Issue("acme/incidents", 1); len(is.Comments) != 1 {
		t.Fatalf("comments = %d", len(is.Comments))
	}
}

func TestConcurrentCallsKeepOneWriteInFlight(t *testing.T) {
	var mu sync.Mutex
	routes := map[string]int{}
	e := newEnv(t, func(o *Options) {
		o.OnRequest = func(method, route string, status int, d time.Duration) {
			mu.Lock()
			routes[method+" "+route]++
			mu.Unlock()
		}
	})
	// Real latency so overlapping writes would show at the fake.
	e.srv.Inject(githubtest.Fault{Method: "POST", Latency: 5 * time.Millisecond, Times: 100})
	e.srv.AddRepo("acme/other")
	var wg sync.WaitGroup
	for i := 1; i <= 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := epicFor(i, "concurrent", i%5+1, 2, 3, "storage-sre")
			if i%2 == 0 {
				w.Target = "acme/other"
			}
			if _, err := e.c.EnsureEpic(context.Background(), w, false); err != nil {
				t.Error(err)
			}
			if _, err := e.c.PullBack(context.Background(), w.Target); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := e.srv.MaxConcurrentWrites(); n != 1 {
		t.Fatalf("writes in flight at once = %d", n)
	}
	if len(e.issues(repoName))+len(e.issues("acme/other")) != 12 {
		t.Fatal("wrong number of epics")
	}
	mu.Lock()
	defer mu.Unlock()
	if routes["POST /repos/{owner}/{repo}/issues"] != 12 || routes["GET /repos/{owner}/{repo}/issues"] == 0 {
		t.Fatalf("metrics hook saw %v", routes)
	}
}

func TestGitHubLimitsAndLabelCase(t *testing.T) {
	e := newEnv(t)
	want := epicFor(1, strings.Repeat("long title ", 40), 3, 3, 3, "storage-sre")
	want.Risk.Description = strings.Repeat("x", registry.MaxDescriptionLen)
	e.ensure(want)
	is, _ := e.srv.Issue(repoName, 1)
	if n := len([]rune(is.Title)); n > 256 {
		t.Fatalf("title has %d characters", n)
	}
	if n := len([]rune(is.Body)); n > 65536 || !strings.Contains(is.Body, "truncated") {
		t.Fatalf("body has %d characters", n)
	}
	// A person renames a label's case: GitHub treats it as the same label.
	e.srv.Edit(repoName, 1, "", func(is *githubtest.Issue) {
		for i, l := range is.Labels {
			if l == "risk" {
				is.Labels[i] = "Risk"
			}
		}
	})
	e.clock.Advance(time.Hour)
	if res := e.ensure(want); len(res.Writes) != 0 {
		t.Fatalf("writes = %+v", res.Writes)
	}
}
