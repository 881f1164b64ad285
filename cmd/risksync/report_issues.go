package main

import (
	"context"

	"github.com/risksync/risksync/internal/connectors/github"
	"github.com/risksync/risksync/internal/report"
)

// reportIssueAdapter publishes the weekly report issue (report.github_issue)
// through the GitHub connector: it only converts the connector's IssueRef to
// the report's. Pacing, rate limits, label creation, finding the week's
// issue before any create and error classification are the connector's.
type reportIssueAdapter struct{ c *github.Client }

var _ report.IssuePublisher = reportIssueAdapter{}

func (a reportIssueAdapter) FindIssue(ctx context.Context, repo, label, title string) (report.IssueRef, bool, error) {
	ref, found, err := a.c.FindIssue(ctx, repo, label, title)
	return reportRef(ref), found, err
}

func (a reportIssueAdapter) CreateIssue(ctx context.Context, repo, title, body string, labels []string) (report.IssueRef, error) {
	ref, err := a.c.CreateIssue(ctx, repo, title, body, labels)
	return reportRef(ref), err
}

func (a reportIssueAdapter) UpdateIssue(ctx context.Context, key, body string) error {
	return a.c.UpdateIssue(ctx, key, body)
}

func (a reportIssueAdapter) CloseIssue(ctx context.Context, key, comment string) error {
	return a.c.CloseIssue(ctx, key, comment)
}

func (a reportIssueAdapter) ListOpenIssues(ctx context.Context, repo, label string) ([]report.IssueRef, error) {
	refs, err := a.c.ListOpenIssues(ctx, repo, label)
	if err != nil {
		return nil, err
	}
	out := make([]report.IssueRef, 0, len(refs))
	for _, r := range refs {
		out = append(out, reportRef(r))
	}
	return out, nil
}

func reportRef(r github.IssueRef) report.IssueRef {
	return report.IssueRef{Key: r.Key, URL: r.URL, Title: r.Title}
}
