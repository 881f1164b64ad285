package github

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/registry"
)

// Plain issues identified by title and label, for the weekly report
// (report.github_issue): one issue a week, found again by its exact title
// before any create, updated in place, closed when superseded.
//
//	ref, found, err := c.FindIssue(ctx, repo, "risk-report", title)
//	ref, err = c.CreateIssue(ctx, repo, title, body, []string{"risk-report"})
//	err = c.UpdateIssue(ctx, ref.Key, body)   // nothing sent when unchanged
//	err = c.CloseIssue(ctx, ref.Key, comment) // completed, with the comment
//	refs, err := c.ListOpenIssues(ctx, repo, "risk-report")
//
// Issues are found by listing the repository's issues with the label (GET
// /repos/{owner}/{repo}/issues, every page), never through the search API,
// whose index lags: an issue created a moment ago is seen. Writes go
// through the same pacing, rate-limit handling and error classification as
// the epics; calls on one repository are serialised with its epic calls.

// IssueRef names an issue.
type IssueRef struct {
	Key   string // owner/repo#12
	URL   string // html_url
	Title string
}

// maxCreateAttempts bounds CreateIssue's POSTs when outcomes stay unknown;
// each retry follows a listing that did not find the issue.
const maxCreateAttempts = 3

// FindIssue returns the issue (not pull request) of repo titled exactly
// title that carries label, open or closed. When several match, the oldest
// is returned (the others are logged).
func (c *Client) FindIssue(ctx context.Context, repo, label, title string) (IssueRef, bool, error) {
	if _, _, err := splitRepo(repo); err != nil {
		return IssueRef{}, false, err
	}
	if strings.TrimSpace(label) == "" {
		return IssueRef{}, false, registry.Errorf(registry.EINVALID, "github: find issue %q in %s: a label is required", title, repo)
	}
	rs := c.repo(repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	is, err := c.findIssue(ctx, repo, []string{label}, title)
	if err != nil || is == nil {
		return IssueRef{}, false, c.fail(fmt.Sprintf("find issue %q in %s", title, repo), err)
	}
	return refOf(repo, is), true, nil
}

// findIssue lists repo's issues carrying every label, all states, every
// page, and returns the oldest titled exactly title (nil when none).
func (c *Client) findIssue(ctx context.Context, repo string, labels []string, title string) (*gh.Issue, error) {
	q := url.Values{"labels": {strings.Join(labels, ",")}, "state": {"all"}, "sort": {"created"}, "direction": {"asc"}}
	issues, _, _, err := c.listIssues(ctx, repo, q, "")
	if err != nil {
		return nil, err
	}
	want := strings.TrimSpace(title)
	var found *gh.Issue
	for _, is := range issues {
		if is.IsPullRequest() || strings.TrimSpace(is.GetTitle()) != want {
			continue
		}
		if found == nil {
			found = is
			continue
		}
		keep, dup := found, is
		if is.GetNumber() < found.GetNumber() {
			keep, dup = is, found
		}
		c.log.Warn("github: two issues carry one title; using the older", "title", title,
			"issue", registry.GitHubIssueKey(repo, keep.GetNumber()), "duplicate", registry.GitHubIssueKey(repo, dup.GetNumber()))
		found = keep
	}
	return found, nil
}

// CreateIssue creates an issue with title, body and labels (created in the
// repository first when missing, once). It is idempotent by title: an
// issue of repo with exactly this title and these labels, open or closed,
// is returned instead of creating a second (its body brought to body, no
// write when equal). A POST whose outcome is unknown (no response, or a 5xx
// after sending) is never retried blindly: the issue is looked for again
// and adopted when found. At least one label is required: it is how the
// issue is found again.
func (c *Client) CreateIssue(ctx context.Context, repo, title, body string, labels []string) (IssueRef, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return IssueRef{}, err
	}
	op := fmt.Sprintf("create issue %q in %s", title, repo)
	labels = nonEmpty(labels)
	if len(labels) == 0 {
		return IssueRef{}, registry.Errorf(registry.EINVALID, "github: %s: at least one label is required", op)
	}
	if strings.TrimSpace(title) == "" {
		return IssueRef{}, registry.Errorf(registry.EINVALID, "github: %s: the title is empty", op)
	}
	rs := c.repo(repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()

	existing, err := c.findIssue(ctx, repo, labels, title)
	if err != nil {
		return IssueRef{}, c.fail(op, err)
	}
	if existing != nil {
		return c.adoptIssue(ctx, repo, existing, body, op)
	}
	if _, err := c.ensureLabels(ctx, repo, labels, false); err != nil {
		return IssueRef{}, err
	}
	req := gh.CreateIssueRequest{Title: title, Body: &body, Labels: labels}
	for attempt := 1; ; attempt++ {
		is, _, err := c.gh.Issues.Create(ctx, owner, name, req)
		if err == nil {
			ref := refOf(repo, is)
			c.markOwn(ref.Key, is.GetUpdatedAt().Time)
			c.log.Info("github: created issue", "issue", ref.Key, "title", title)
			return ref, nil
		}
		if !unknownOutcome(err) || attempt == maxCreateAttempts {
			return IssueRef{}, c.fail(op, err)
		}
		// The create may have happened: look again before creating.
		c.log.Warn("github: create outcome unknown; looking for the issue before retrying", "repo", repo, "title", title, "error", err)
		found, lerr := c.findIssue(ctx, repo, labels, title)
		if lerr != nil {
			return IssueRef{}, c.fail(op, errors.Join(err, lerr))
		}
		if found != nil {
			return c.adoptIssue(ctx, repo, found, body, op)
		}
	}
}

// adoptIssue returns an existing issue as the one created, with its body
// brought to body when it differs.
func (c *Client) adoptIssue(ctx context.Context, repo string, is *gh.Issue, body, op string) (IssueRef, error) {
	ref := refOf(repo, is)
	if normalize(is.GetBody()) == normalize(body) {
		c.markOwn(ref.Key, is.GetUpdatedAt().Time)
		return ref, nil
	}
	if err := c.updateBody(ctx, repo, is.GetNumber(), body); err != nil {
		return IssueRef{}, c.fail(op, err)
	}
	return ref, nil
}

// UpdateIssue sets the issue's body. An unchanged body sends no write (one
// GET); the issue's title, labels and state are left as they are.
func (c *Client) UpdateIssue(ctx context.Context, key, body string) error {
	repo, n, err := parseIssueKey(key)
	if err != nil {
		return err
	}
	owner, name, _ := splitRepo(repo)
	op := "update issue " + key
	rs := c.repo(repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	is, _, err := c.gh.Issues.Get(ctx, owner, name, n)
	if err != nil {
		return c.fail(op, err)
	}
	if is.IsPullRequest() {
		return registry.Errorf(registry.EINVALID, "github: %s: it is a pull request", op)
	}
	if normalize(is.GetBody()) == normalize(body) {
		return nil
	}
	return c.fail(op, c.updateBody(ctx, repo, n, body))
}

func (c *Client) updateBody(ctx context.Context, repo string, n int, body string) error {
	owner, name, _ := splitRepo(repo)
	updated, _, err := c.gh.Issues.Update(ctx, owner, name, n, gh.UpdateIssueRequest{Body: &body})
	if err != nil {
		return err
	}
	c.markOwn(registry.GitHubIssueKey(repo, n), updated.GetUpdatedAt().Time)
	return nil
}

// CloseIssue closes an open issue as completed, posting comment first (when
// not empty; a comment whose outcome is unknown is looked for, never
// posted twice). An issue already closed is left as it is: no writes.
func (c *Client) CloseIssue(ctx context.Context, key, comment string) error {
	repo, n, err := parseIssueKey(key)
	if err != nil {
		return err
	}
	rs := c.repo(repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	_, _, err = c.setIssueState(ctx, "close issue "+key, repo, n, "closed", "completed", comment, false)
	return err
}

// ListOpenIssues returns repo's open issues (not pull requests) carrying
// label, oldest first, every page.
func (c *Client) ListOpenIssues(ctx context.Context, repo, label string) ([]IssueRef, error) {
	if _, _, err := splitRepo(repo); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("list open issues labelled %s in %s", label, repo)
	if strings.TrimSpace(label) == "" {
		return nil, registry.Errorf(registry.EINVALID, "github: %s: a label is required", op)
	}
	q := url.Values{"labels": {label}, "state": {"open"}, "sort": {"created"}, "direction": {"asc"}}
	issues, _, _, err := c.listIssues(ctx, repo, q, "")
	if err != nil {
		return nil, c.fail(op, err)
	}
	out := []IssueRef{}
	for _, is := range issues {
		if !is.IsPullRequest() && is.GetState() == "open" {
			out = append(out, refOf(repo, is))
		}
	}
	return out, nil
}

func refOf(repo string, is *gh.Issue) IssueRef {
	return IssueRef{Key: registry.GitHubIssueKey(repo, is.GetNumber()), URL: is.GetHTMLURL(), Title: is.GetTitle()}
}

func nonEmpty(labels []string) []string {
	var out []string
	for _, l := range labels {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
