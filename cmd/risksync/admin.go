package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/scoring"
)

func (m *Main) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema (also done at start-up)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := m.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			applied := s.applied
			where := config.RedactURL(m.cfg.Database.URL)
			if len(applied) == 0 {
				_, err = fmt.Fprintf(m.Stdout, "%s: schema is up to date\n", where)
				return err
			}
			_, err = fmt.Fprintf(m.Stdout, "%s: applied %d migration(s), now at version %d\n", where, len(applied), applied[len(applied)-1])
			return err
		},
	}
}

func (m *Main) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and the secrets it names, and print a summary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.configCheck()
		},
	})
	return cmd
}

func (m *Main) configCheck() error {
	c := m.cfg
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("config", c.Source)
	row("database", config.RedactURL(c.Database.URL))
	row("listen", c.Server.Listen)
	row("sync interval", config.FormatDuration(c.Sync.Interval.Std()))
	row("scoring", c.Scoring.Model)
	for _, b := range c.ScoringConfig().Bands {
		row("  band "+b.Name, fmt.Sprintf("score ≥ %s, GitHub %s, Jira %s, review every %s", scoring.FormatScore(b.MinScore),
			orDash(b.GitHubLabel), orDash(b.JiraPriority), config.FormatDuration(b.ReviewEvery)))
	}
	trackers := c.Trackers()
	if len(trackers) == 0 {
		row("trackers", "none: risksync keeps the registry only (add a github or jira section to mirror risks)")
	} else {
		row("trackers", strings.Join(trackers, ", ")+" (default "+c.DefaultTracker+")")
	}
	for _, t := range c.Teams {
		target, _ := c.Route(t.Name)
		row("  team "+t.Name, target.String())
	}
	if target, ok := c.Route(""); ok {
		row("  unowned", target.String())
	}
	row("stagnation after", config.FormatDuration(c.Stagnation.After.Std()))
	row("report", c.Report.Schedule)
	if err := tw.Flush(); err != nil {
		return err
	}
	if errs := c.CheckSecrets(m.LookupEnv); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("config %s: %s", c.Source, strings.Join(msgs, "; "))
	}
	_, err := fmt.Fprintln(m.Stdout, "configuration OK")
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
