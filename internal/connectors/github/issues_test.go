package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry"
)

const (
	reportLabel = "risk-report"
	labelsRoute = "/repos/{owner}/{repo}/labels"
	issueRoute  = "/repos/{owner}/{repo}/issues/{issue_number}"
	weekTitle   = "Risk registry report — 2026-W10"
	nextTitle   = "Risk registry report — 2026-W11"
)

func (e *env) createIssue(title, body string) IssueRef {
	e.t.Helper()
	ref, err := e.c.CreateIssue(context.Background(), repoName, title, body, []string{reportLabel})
	if err != nil {
		e.t.Fatalf("CreateIssue %q: %v", title, err)
	}
	return ref
}

func TestReportIssueLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// Look-alikes that must not be found: a pull request with the same
	// title and label, an issue with the title but not the label.
	e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: weekTitle, Labels: []string{reportLabel}, PullRequest: true})
	e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: weekTitle})

	if ref, found, err := e.c.FindIssue(ctx, repoName, reportLabel, weekTitle); err != nil || found {
		t.Fatalf("FindIssue before create = %+v %v %v", ref, found, err)
	}
	ref := e.createIssue(weekTitle, "# Report\n\nfirst\n")
	if ref.Key != "acme/rel#3" || ref.Title != weekTitle || !strings.HasSuffix(ref.URL, "/acme/rel/issues/3") {
		t.Fatalf("created %+v", ref)
	}
	is, _ := e.srv.Issue(repoName, 3)
	if is.Title != weekTitle || is.Body != "# Report\n\nfirst\n" || !slices.Equal(is.Labels, []string{reportLabel}) || is.Author != e.srv.Login() {
		t.Fatalf("issue %+v", is)
	}

	got, found, err := e.c.FindIssue(ctx, repoName, reportLabel, weekTitle)
	if err != nil || !found || got != ref {
		t.Fatalf("FindIssue = %+v %v %v, want %+v", got, found, err, ref)
	}

	// Update: one PATCH with the new body; the same body again sends nothing.
	e.srv.ResetRequests()
	if err := e.c.UpdateIssue(ctx, ref.Key, "# Report\n\nsecond\n"); err != nil {
		t.Fatal(err)
	}
	if is, _ := e.srv.Issue(repoName, 3); is.Body != "# Report\n\nsecond\n" || e.srv.Count("PATCH", issueRoute) != 1 {
		t.Fatalf("after update: body %q, PATCHes %d", is.Body, e.srv.Count("PATCH", issueRoute))
	}
	e.srv.ResetRequests()
	if err := e.c.UpdateIssue(ctx, ref.Key, "# Report\r\n\r\nsecond\r\n"); err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Writes(); w != 0 {
		t.Fatalf("unchanged update sent %d writes: %+v", w, e.srv.Requests())
	}

	e.clock.Advance(7 * 24 * time.Hour)
	next := e.createIssue(nextTitle, "# Report\n\nnext\n")

	open, err := e.c.ListOpenIssues(ctx, repoName, reportLabel)
	if err != nil || !slices.Equal(open, []IssueRef{ref, next}) {
		t.Fatalf("ListOpenIssues = %+v %v", open, err)
	}

	// Close: comment first, then closed as completed; a second close sends nothing.
	if err := e.c.CloseIssue(ctx, ref.Key, "Superseded by "+next.URL+"."); err != nil {
		t.Fatal(err)
	}
	is, _ = e.srv.Issue(repoName, 3)
	if is.State != "closed" || is.StateReason != "completed" || len(is.Comments) != 1 || is.Comments[0].Body != "Superseded by "+next.URL+"." {
		t.Fatalf("closed issue %+v", is)
	}
	e.srv.ResetRequests()
	if err := e.c.CloseIssue(ctx, ref.Key, "again"); err != nil || e.srv.Writes() != 0 {
		t.Fatalf("second close: %v, %d writes", err, e.srv.Writes())
	}
	if open, err := e.c.ListOpenIssues(ctx, repoName, reportLabel); err != nil || !slices.Equal(open, []IssueRef{next}) {
		t.Fatalf("ListOpenIssues after close = %+v %v", open, err)
	}
	// Closed issues are still found by title.
	if got, found, err := e.c.FindIssue(ctx, repoName, reportLabel, weekTitle); err != nil || !found || got.Key != ref.Key {
		t.Fatalf("FindIssue of a closed issue = %+v %v %v", got, found, err)
	}
}

func TestIssueLabelCreatedOnce(t *testing.T) {
	e := newEnv(t)
	e.createIssue(weekTitle, "one\n")
	if n := e.srv.Count("POST", labelsRoute); n != 1 {
		t.Errorf("label creations = %d, want 1", n)
	}
	var found bool
	for _, l := range e.srv.Labels(repoName) {
		found = found || (l.Name == reportLabel && l.Color != "")
	}
	if !found {
		t.Errorf("labels = %+v", e.srv.Labels(repoName))
	}
	// Next week's issue reuses it: no label listing nor creation.
	e.srv.ResetRequests()
	e.createIssue(nextTitle, "two\n")
	if e.srv.Count("GET", labelsRoute) != 0 || e.srv.Count("POST", labelsRoute) != 0 {
		t.Errorf("labels listed %d, created %d times on the second create", e.srv.Count("GET", labelsRoute), e.srv.Count("POST", labelsRoute))
	}
	// A label that exists already is not created.
	e2 := newEnv(t)
	e2.srv.AddLabel(repoName, reportLabel, "0e8a16")
	e2.createIssue(weekTitle, "one\n")
	if n := e2.srv.Count("POST", labelsRoute); n != 0 {
		t.Errorf("existing label created again: %d", n)
	}
}

func TestCreateIssueTwiceMakesOneIssue(t *testing.T) {
	e := newEnv(t)
	first := e.createIssue(weekTitle, "body one\n")
	second := e.createIssue(weekTitle, "body one\n")
	if first != second {
		t.Fatalf("second create returned %+v, want %+v", second, first)
	}
	if n := e.srv.Count("POST", issuesRoute); n != 1 || e.srv.Count("PATCH", issueRoute) != 0 {
		t.Fatalf("POSTs %d, PATCHes %d; want 1, 0", n, e.srv.Count("PATCH", issueRoute))
	}
	// A create with another body adopts the issue and brings its body up to date.
	third := e.createIssue(weekTitle, "body two\n")
	is, _ := e.srv.Issue(repoName, numberOf(first))
	if third != first || is.Body != "body two\n" || len(e.issues(repoName)) != 1 || e.srv.Count("POST", issuesRoute) != 1 {
		t.Fatalf("third create %+v, body %q, %d issues", third, is.Body, len(e.issues(repoName)))
	}
}

// numberOf is the issue number of a key.
func numberOf(r IssueRef) int {
	_, n, _ := parseIssueKey(r.Key)
	return n
}

func TestCreateIssueUnknownOutcomeIsFoundNotDuplicated(t *testing.T) {
	for _, f := range []githubtest.Fault{
		{Method: "POST", Route: issuesRoute, AfterCommit: true, Drop: true},
		{Method: "POST", Route: issuesRoute, AfterCommit: true, Status: http.StatusBadGateway},
	} {
		t.Run(fmt.Sprintf("status %d drop %v", f.Status, f.Drop), func(t *testing.T) {
			e := newEnv(t)
			e.srv.Inject(f)
			ref := e.createIssue(weekTitle, "body\n")
			if n := e.srv.Count("POST", issuesRoute); n != 1 {
				t.Errorf("POSTs = %d, want 1 (no blind retry)", n)
			}
			if got := e.issues(repoName); len(got) != 1 || ref.Key != "acme/rel#1" || ref.URL == "" {
				t.Fatalf("issues %d, ref %+v", len(got), ref)
			}
			// Found by listing after the lost response, before any second POST.
			var order []string
			for _, r := range e.srv.Requests() {
				if r.Route == issuesRoute {
					order = append(order, r.Method)
				}
			}
			if !slices.Equal(order, []string{"GET", "POST", "GET"}) {
				t.Errorf("issue listing/creation order = %v", order)
			}
			if !strings.Contains(e.logs.String(), "create outcome unknown") {
				t.Errorf("no log of the unknown outcome")
			}
		})
	}

	// Refused before anything was stored: looked for, not found, created once.
	e := newEnv(t)
	e.srv.Inject(githubtest.Fault{Method: "POST", Route: issuesRoute, Status: http.StatusBadGateway})
	e.createIssue(weekTitle, "body\n")
	if n, got := e.srv.Count("POST", issuesRoute), len(e.issues(repoName)); n != 2 || got != 1 {
		t.Fatalf("POSTs %d, issues %d; want 2, 1", n, got)
	}
}

func TestIssueListingsFollowPages(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for i := range 120 {
		e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: fmt.Sprintf("Risk registry report — old %d", i), Labels: []string{reportLabel}})
		if i%10 == 0 {
			e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "a pull request", Labels: []string{reportLabel}, PullRequest: true})
		}
	}
	n := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: weekTitle, Labels: []string{reportLabel, "other"}})
	ref, found, err := e.c.FindIssue(ctx, repoName, reportLabel, weekTitle)
	if err != nil || !found || ref.Key != registry.GitHubIssueKey(repoName, n) {
		t.Fatalf("FindIssue = %+v %v %v", ref, found, err)
	}
	open, err := e.c.ListOpenIssues(ctx, repoName, reportLabel)
	if err != nil || len(open) != 121 || open[120] != ref {
		t.Fatalf("ListOpenIssues: %d issues, %v", len(open), err)
	}
	if got := e.srv.Count("GET", issuesRoute); got != 4 {
		t.Errorf("listing requests = %d, want 2 pages × 2", got)
	}
}

func TestIssueErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var te *registry.TrackerError
	var seen []error
	check := func(err error) error { seen = append(seen, err); return err }

	_, _, err := e.c.FindIssue(ctx, "acme/missing", reportLabel, weekTitle)
	check(err)
	if !errors.As(err, &te) || te.Status != http.StatusNotFound || te.Retryable || te.Fix == "" {
		t.Fatalf("FindIssue in a missing repository: %#v", err)
	}
	ref := e.createIssue(weekTitle, "body\n")
	e.srv.Inject(githubtest.Fault{Method: "PATCH", Route: issueRoute, Status: http.StatusUnprocessableEntity})
	err = check(e.c.UpdateIssue(ctx, ref.Key, "new body\n"))
	if !errors.As(err, &te) || te.Status != http.StatusUnprocessableEntity || te.Retryable {
		t.Fatalf("UpdateIssue refused: %#v", err)
	}
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: issueRoute, Status: http.StatusServiceUnavailable, Times: 10})
	err = check(e.c.CloseIssue(ctx, ref.Key, "bye"))
	if !errors.As(err, &te) || te.Status != http.StatusServiceUnavailable || !te.Retryable {
		t.Fatalf("CloseIssue on a 503: %#v", err)
	}
	// A write refused by a 5xx before it was stored is not retried blindly.
	e.srv.Inject(githubtest.Fault{Method: "POST", Route: issuesRoute, Status: http.StatusBadGateway, Times: 10})
	_, err = e.c.CreateIssue(ctx, repoName, nextTitle, "body\n", []string{reportLabel})
	check(err)
	if !errors.As(err, &te) || !te.Retryable || e.srv.Count("POST", issuesRoute) != 1+maxCreateAttempts {
		t.Fatalf("CreateIssue on 502s: %v; POSTs %d", err, e.srv.Count("POST", issuesRoute))
	}
	if len(e.issues(repoName)) != 1 {
		t.Fatalf("issues = %d", len(e.issues(repoName)))
	}
	for _, err := range []error{
		func() error { _, err := e.c.CreateIssue(ctx, repoName, weekTitle, "b", nil); return err }(),
		func() error { _, _, err := e.c.FindIssue(ctx, "acme", reportLabel, weekTitle); return err }(),
		e.c.UpdateIssue(ctx, "acme/rel", "b"),
		e.c.CloseIssue(ctx, "acme/rel#x", "b"),
	} {
		if registry.ErrorCode(err) != registry.EINVALID {
			t.Errorf("invalid call: %v", err)
		}
	}
	for _, err := range seen {
		if err == nil || strings.Contains(err.Error(), e.srv.Token()) {
			t.Errorf("error %v: nil, or it shows the token", err)
		}
	}
	if strings.Contains(e.logs.String(), e.srv.Token()) {
		t.Error("the token appears in the logs")
	}
}

func TestIssueWritesArePaced(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MinWriteInterval = 2 * time.Second })
	ref := e.createIssue(weekTitle, "one\n")
	if err := e.c.UpdateIssue(context.Background(), ref.Key, "two\n"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.CloseIssue(context.Background(), ref.Key, "closing"); err != nil {
		t.Fatal(err)
	}
	var writes []githubtest.Request
	for _, r := range e.srv.Requests() {
		if r.Method != "GET" {
			writes = append(writes, r)
		}
	}
	if len(writes) != 5 { // label, create, update, comment, close
		t.Fatalf("writes = %+v", writes)
	}
	for i := 1; i < len(writes); i++ {
		if gap := writes[i].At.Sub(writes[i-1].At); gap < 2*time.Second {
			t.Errorf("write %d came %v after the previous one", i, gap)
		}
	}
	if e.srv.MaxConcurrentWrites() != 1 {
		t.Errorf("concurrent writes = %d", e.srv.MaxConcurrentWrites())
	}
}
