package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/github"
	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/report"
)

// The weekly issue through the real connector and the GitHub fake: created
// once in a week, updated by a second publish, closed the next week.
func TestReportIssueAdapterPublishesWeekly(t *testing.T) {
	ctx := context.Background()
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // 2026-W10
	clock := githubtest.NewClock(monday)
	srv := githubtest.NewServer(t, githubtest.WithClock(clock.Now))
	srv.AddRepo("acme/reliability")
	older := srv.CreateIssue("acme/reliability", githubtest.NewIssue{Title: report.Title("2026-W09"), Labels: []string{report.IssueLabel}})
	srv.CreateIssue("acme/reliability", githubtest.NewIssue{Title: report.Title("2026-W09"), Labels: []string{report.IssueLabel}, PullRequest: true})
	c, err := github.New(github.Options{Config: &config.GitHub{BaseURL: srv.URL(), Repo: "acme/reliability"},
		Token: config.NewSecret(srv.Token()), HTTPClient: srv.HTTPClient(), Now: clock.Now, Sleep: clock.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	store := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(registrytest.NewClock())).Store
	if _, err := store.CreateRisk(ctx, registrytest.NewRisk("Orphaned snapshots slow backups", 4, 5, 3), "alice"); err != nil {
		t.Fatal(err)
	}
	p := &report.Publisher{Store: store, Issues: reportIssueAdapter{c}, Repo: "acme/reliability"}
	publish := func(at time.Time) report.Outcome {
		t.Helper()
		rep, err := report.Generate(ctx, report.Deps{Store: store, Scoring: cfg.ScoringConfig(), StagnationAfter: 14 * 24 * time.Hour}, at, report.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Publish(ctx, rep)
		if err != nil || len(out) != 1 {
			t.Fatalf("publish %s: %+v %v", rep.Week, out, err)
		}
		return out[0]
	}

	first := publish(monday)
	if first.Action != "created" || first.Ref != "acme/reliability#3" || first.URL == "" {
		t.Fatalf("first publish %+v", first)
	}
	is, _ := srv.Issue("acme/reliability", 3)
	if is.Title != report.Title("2026-W10") || !strings.Contains(is.Body, "## Stagnant risks") || len(is.Labels) != 1 || is.Labels[0] != report.IssueLabel {
		t.Fatalf("issue %+v", is)
	}
	if old, _ := srv.Issue("acme/reliability", older); old.State != "closed" || old.StateReason != "completed" ||
		len(old.Comments) != 1 || !strings.Contains(old.Comments[0].Body, first.URL) {
		t.Fatalf("last week's issue %+v", old)
	}

	clock.Advance(26 * time.Hour)
	second := publish(monday.Add(26 * time.Hour))
	if second.Action != "updated" || second.Ref != first.Ref || srv.Count("POST", "/repos/{owner}/{repo}/issues") != 1 {
		t.Fatalf("second publish %+v; creates %d", second, srv.Count("POST", "/repos/{owner}/{repo}/issues"))
	}

	clock.Advance(7 * 24 * time.Hour)
	next := publish(monday.AddDate(0, 0, 7))
	if next.Action != "created" || next.Ref == first.Ref {
		t.Fatalf("next week %+v", next)
	}
	if is, _ := srv.Issue("acme/reliability", 3); is.State != "closed" || is.StateReason != "completed" {
		t.Fatalf("W10 issue after W11 published: %+v", is)
	}
	open, err := reportIssueAdapter{c}.ListOpenIssues(ctx, "acme/reliability", report.IssueLabel)
	if err != nil || len(open) != 1 || open[0].Key != next.Ref || open[0].Title != report.Title("2026-W11") {
		t.Fatalf("open report issues %+v %v", open, err)
	}
}
