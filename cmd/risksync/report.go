package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
)

func (m *Main) reportCommand() *cobra.Command {
	var format, owner string
	var publish bool
	cmd := &cobra.Command{
		Use:   "report [--format markdown|json|html] [--publish] [--owner TEAM]",
		Short: "Print the weekly report of the registry; --publish delivers it to the configured channels",
		Long: `Print the weekly report, computed from the registry alone: stagnant risks, reviews overdue,
risks that need a decision, unowned and unscored risks, movement since the last report, the top 10
with how long each has been there, totals by band and team, and exposure over 26 weeks.

--publish takes today's snapshot and delivers the report as configured under report:
github_issue (an issue titled "Risk registry report — <ISO week>", labelled risk-report, updated
on a second publish in the same week) and webhook_url_env (a Slack-compatible post, at most one
accepted delivery per ISO week).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			render, err := reportRenderer(format)
			if err != nil {
				return err
			}
			var opts report.Options
			switch {
			case strings.EqualFold(owner, "unowned") || strings.EqualFold(owner, "none"):
				opts.Unowned = true
			case owner != "" && m.serverFlag == "" && m.getenv("RISKSYNC_SERVER") == "":
				if opts.Owner, err = m.resolveOwner(owner); err != nil {
					return err
				}
			}
			if publish && (opts.Owner != "" || opts.Unowned) {
				return usageError{errors.New("report: --owner prints a team's view; --publish delivers the whole registry's weekly report: use one or the other")}
			}
			if remote, err := m.remote(); err != nil || remote != nil {
				if err != nil {
					return err
				}
				if publish {
					return usageError{errors.New("report --publish needs the database and the trackers' secrets: run it where the daemon runs, without --server")}
				}
				rep, err := remote.report(cmd.Context(), owner)
				if err != nil {
					return cliError(err)
				}
				return render(m.Stdout, rep)
			}
			return m.withStore(cmd.Context(), func(rs *openedStore) error {
				var pub *report.Publisher
				if publish { // before any report work, so a missing secret fails first
					if pub, err = m.reportPublisher(rs, nil); err != nil {
						return err
					}
				}
				ctx, sc, now := cmd.Context(), m.cfg.ScoringConfig(), m.Now()
				if publish {
					// A CLI run from cron, without the daemon, still builds a history.
					if err := report.TakeSnapshot(ctx, rs, sc, now); err != nil {
						return err
					}
				}
				rep, err := report.Generate(ctx, report.Deps{Store: rs, Scoring: sc, StagnationAfter: m.cfg.Stagnation.After.Std(), Logger: m.logger()}, now, opts)
				if err != nil {
					return err
				}
				if err := render(m.Stdout, rep); err != nil {
					return err
				}
				if pub == nil {
					return nil
				}
				return m.publishReport(cmd, pub, rep)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown, json or html")
	cmd.Flags().BoolVar(&publish, "publish", false, "deliver the report to the channels configured under report: (GitHub issue, webhook)")
	cmd.Flags().StringVar(&owner, "owner", "", "only this team's risks ('unowned' for risks without an owner)")
	return cmd
}

func reportRenderer(format string) (func(io.Writer, *report.Report) error, error) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "markdown", "md":
		return report.RenderMarkdown, nil
	case "json":
		return report.RenderJSON, nil
	case "html":
		return report.RenderHTML, nil
	}
	return nil, usageError{fmt.Errorf("--format: unknown format %q: use markdown, json or html", format)}
}

// reportPublisher resolves the configured channels before anything is
// read, so a missing secret fails fast and names the variable. The daemon
// passes its trackers so the report issue reuses its GitHub client.
func (m *Main) reportPublisher(store registry.ReportStore, ts *trackerSet) (*report.Publisher, error) {
	rc := m.cfg.Report
	if !rc.GitHubIssue && !rc.WebhookURL().Set() {
		return nil, errors.New("report --publish: nothing to publish to: set report.github_issue or report.webhook_url_env in the config")
	}
	p := &report.Publisher{Store: store, Logger: m.logger(), HTTP: m.HTTPClient, Sleep: m.Sleep}
	if rc.WebhookURL().Set() {
		u, err := rc.WebhookURL().Resolve(m.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("report --publish: %w", err)
		}
		p.WebhookURL = u.Reveal()
	}
	if rc.GitHubIssue {
		if ts == nil || ts.github == nil {
			built, err := m.buildTrackers(slog.New(slog.DiscardHandler), func(string, string, string, int, time.Duration) {}, nil)
			if err != nil {
				return nil, fmt.Errorf("report --publish: github issue: %w", err)
			}
			ts = built
		}
		p.Issues, p.Repo = reportIssueAdapter{ts.github}, m.cfg.GitHub.Repo
	}
	return p, nil
}

// publishReport delivers rep and prints one line per channel on stderr
// (stdout holds the report). A channel that is configured but could not be
// published fails the command.
func (m *Main) publishReport(cmd *cobra.Command, p *report.Publisher, rep *report.Report) error {
	outcomes, err := p.Publish(cmd.Context(), rep)
	for _, o := range outcomes {
		if o.Err == nil {
			fmt.Fprintf(m.Stderr, "report %s: %s %s %s\n", rep.Week, o.Channel, o.Action, o.Ref)
		}
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
