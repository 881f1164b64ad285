package githubtest_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
)

var t0 = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func client(t *testing.T, srv *githubtest.Server, token string) *gh.Client {
	t.Helper()
	c, err := gh.NewClient(gh.WithHTTPClient(srv.HTTPClient()), gh.WithAuthToken(token),
		gh.WithEnterpriseURLs(srv.URL(), srv.URL()), gh.WithDisableRateLimitCheck())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFakeListingsBehaveLikeGitHub(t *testing.T) {
	clock := githubtest.NewClock(t0)
	srv := githubtest.NewServer(t, githubtest.WithClock(clock.Now))
	srv.AddRepo("acme/rel")
	for i := 0; i < 150; i++ {
		srv.CreateIssue("acme/rel", githubtest.NewIssue{Title: "i" + strconv.Itoa(i), Labels: []string{"risk"}, PullRequest: i == 0})
		clock.Advance(time.Second)
	}
	c := client(t, srv, srv.Token())
	ctx := context.Background()

	// per_page is capped at 100; the Link header leads to the next page.
	opts := &gh.IssueListByRepoOptions{State: "all", Labels: []string{"risk"}, ListOptions: gh.ListOptions{PerPage: 500}}
	page1, resp, err := c.Issues.ListByRepo(ctx, "acme", "rel", opts)
	if err != nil || len(page1) != 100 || resp.NextPage != 2 || resp.LastPage != 2 {
		t.Fatalf("page 1: %d issues, next %d, %v", len(page1), resp.NextPage, err)
	}
	opts.ListOptions.Page = 2
	page2, _, _ := c.Issues.ListByRepo(ctx, "acme", "rel", opts)
	prs := 0
	for _, is := range append(page1, page2...) {
		if is.IsPullRequest() {
			prs++
		}
	}
	if len(page2) != 50 || prs != 1 {
		t.Fatalf("page 2 = %d, pull requests listed = %d", len(page2), prs)
	}

	// since filters by updated_at (inclusive); our own edit bumps it.
	n := 10
	title := "edited"
	if _, _, err := c.Issues.Update(ctx, "acme", "rel", n, gh.UpdateIssueRequest{Title: &title}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := c.Issues.ListByRepo(ctx, "acme", "rel", &gh.IssueListByRepoOptions{State: "all", Since: clock.Now()})
	if len(got) != 1 || got[0].GetNumber() != n {
		t.Fatalf("since: %d issues", len(got))
	}

	// A matching If-None-Match gets 304 and costs no rate limit.
	req, _ := c.NewRequest(ctx, "GET", "repos/acme/rel/issues?state=all", nil)
	resp, err = c.Do(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	remaining := resp.Rate.Remaining
	req, _ = c.NewRequest(ctx, "GET", "repos/acme/rel/issues?state=all", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp, err = c.Do(req, nil)
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || resp.StatusCode != http.StatusNotModified || resp.Rate.Remaining != remaining {
		t.Fatalf("conditional: %v %v remaining %d → %d", err, resp.StatusCode, remaining, resp.Rate.Remaining)
	}
}

func TestFakeAuthFaultsAndSubIssues(t *testing.T) {
	clock := githubtest.NewClock(t0)
	srv := githubtest.NewServer(t, githubtest.WithClock(clock.Now))
	srv.AddRepo("acme/rel")
	srv.SetIssueTypes("acme", "Epic")
	ctx := context.Background()

	if _, _, err := client(t, srv, "wrong").Users.Get(ctx, ""); err == nil {
		t.Fatal("bad token accepted")
	}
	c := client(t, srv, srv.Token())
	u, _, err := c.Users.Get(ctx, "")
	if err != nil || u.GetLogin() != srv.Login() {
		t.Fatalf("user = %v, %v", u, err)
	}
	if _, _, err := c.Organizations.ListIssueTypes(ctx, "someone"); err == nil {
		t.Fatal("issue types for a user account")
	}

	srv.Inject(githubtest.Fault{Method: "POST", Route: "/repos/{owner}/{repo}/issues", Status: 403, Secondary: true, RetryAfter: "7", Times: 2})
	for i := 0; i < 2; i++ {
		_, _, err := c.Issues.Create(ctx, "acme", "rel", gh.CreateIssueRequest{Title: "x"})
		var are *gh.AbuseRateLimitError
		if !errors.As(err, &are) || are.RetryAfter == nil || *are.RetryAfter != 7*time.Second {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	typ := "Epic"
	epic, _, err := c.Issues.Create(ctx, "acme", "rel", gh.CreateIssueRequest{Title: "epic", Type: &typ})
	if err != nil || epic.GetType().GetName() != "Epic" {
		t.Fatalf("create after faults: %v", err)
	}
	bad := "Saga"
	if _, _, err := c.Issues.Create(ctx, "acme", "rel", gh.CreateIssueRequest{Title: "x", Type: &bad}); err == nil {
		t.Fatal("unknown issue type accepted")
	}
	child := srv.CreateIssue("acme/rel", githubtest.NewIssue{Title: "child"})
	ch, _ := srv.Issue("acme/rel", child)
	if _, _, err := c.SubIssue.Add(ctx, "acme", "rel", int64(epic.GetNumber()), gh.SubIssueRequest{SubIssueID: ch.ID}); err != nil {
		t.Fatal(err)
	}
	srv.CloseIssue("acme/rel", child, "completed", "")
	subs, _, err := c.SubIssue.ListByIssue(ctx, "acme", "rel", int64(epic.GetNumber()), nil)
	if err != nil || len(subs) != 1 || subs[0].State == nil || *subs[0].State != "closed" {
		t.Fatalf("sub-issues = %v, %v", subs, err)
	}
	got, _, _ := c.Issues.Get(ctx, "acme", "rel", epic.GetNumber())
	if s := got.GetSubIssuesSummary(); s.GetTotal() != 1 || s.GetCompleted() != 1 {
		t.Fatalf("summary = %+v", s)
	}
	if srv.Count("POST", "/repos/{owner}/{repo}/issues") != 4 || srv.Writes() != 5 {
		t.Fatalf("counts: %d posts, %d writes", srv.Count("POST", "/repos/{owner}/{repo}/issues"), srv.Writes())
	}
}
