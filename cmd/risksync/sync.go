package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry"
)

func (m *Main) syncCommand() *cobra.Command {
	var once, dryRun, asJSON, verbose bool
	cmd := &cobra.Command{
		Use:   "sync --once [--dry-run]",
		Short: "Run one full pass: intake, push, pull-back (--dry-run: print the planned tracker writes, make none)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once {
				return usageError{fmt.Errorf("sync: add --once for a single pass; `risksync serve` runs the daemon")}
			}
			logger := slog.New(slog.DiscardHandler)
			if verbose {
				logger = m.logger()
			}
			return m.syncOnce(cmd.Context(), logger, dryRun, asJSON)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "one pass, then exit (0 when everything converged)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the planned tracker writes; write nothing to trackers or the registry")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"creates":[],"updates":[],"closes":[],"comments":[]} (with failures after a real pass)`)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every tracker write on stderr")
	return cmd
}

func (m *Main) syncOnce(ctx context.Context, logger *slog.Logger, dryRun, asJSON bool) error {
	// The engine scores from the configuration itself, so a dry run's plan is
	// right even when stored scores predate a config change it must not write.
	s, err := m.openStoreFor(ctx, !dryRun)
	if err != nil {
		return err
	}
	defer s.Close()
	if len(m.cfg.Trackers()) == 0 {
		if asJSON {
			return writeJSON(m.Stdout, (&reconcile.Result{DryRun: dryRun}).Plan())
		}
		_, err := fmt.Fprintf(m.Stdout, "no tracker configured in %s: nothing to mirror (add a github or jira section)\n", m.cfg.Source)
		return err
	}
	if !dryRun {
		// One writer at a time: a running daemon, or another sync, holds this.
		ok, err := s.leader.TryAcquire(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("sync: another risksync process is syncing %s; a dry run (--dry-run) works meanwhile", s.where)
		}
		defer s.leader.Release()
	}
	ts, err := m.buildTrackers(logger, func(string, string, string, int, time.Duration) {}, nil)
	if err != nil {
		return err
	}
	engine := m.newEngine(s, ts, logger, nil)
	res := engine.Pass(ctx, dryRun)
	if asJSON {
		out := struct {
			reconcile.Plan
			Converged bool                `json:"converged"`
			Failures  []reconcile.Failure `json:"failures"`
		}{res.Plan(), res.Converged(), res.Failures}
		if out.Failures == nil {
			out.Failures = []reconcile.Failure{}
		}
		if err := writeJSON(m.Stdout, out); err != nil {
			return err
		}
	} else if err := writeSyncResult(m.Stdout, res); err != nil {
		return err
	}
	if !res.Converged() {
		return fmt.Errorf("sync: %s", failureSummary(res.Failures))
	}
	return nil
}

func writeSyncResult(w io.Writer, res *reconcile.Result) error {
	verb := map[registry.WriteKind]string{registry.WriteCreate: "created", registry.WriteUpdate: "updated", registry.WriteClose: "closed",
		registry.WriteReopen: "reopened", registry.WriteComment: "commented", registry.WriteLabel: "labelled",
		registry.WriteProperty: "set property", registry.WriteTransition: "transitioned", registry.WriteMove: "moved"}
	prefix := ""
	if res.DryRun {
		prefix = "would "
		for k := range verb {
			verb[k] = string(k)
		}
	}
	for _, a := range res.Intake {
		risk := a.Risk
		if risk == "" {
			risk = "new risk"
		}
		fmt.Fprintf(w, "%sintake %-10s %s from %s table %d: %s\n", prefix, a.Kind, risk, a.Postmortem, a.Table, oneLine(a.Title, 60))
	}
	for _, key := range res.Expired {
		fmt.Fprintf(w, "%sexpire   %-8s acceptance ended: active again\n", prefix, key)
	}
	for _, wr := range res.Writes {
		fmt.Fprintf(w, "%s%-8s %-8s %s %s%s\n", prefix, verb[wr.Kind], wr.Risk, wr.Tracker, wr.Target, fieldChanges(wr.Fields))
	}
	p := res.Plan()
	summary := fmt.Sprintf("%d creates, %d updates, %d closes, %d comments; %d intake changes", len(p.Creates), len(p.Updates), len(p.Closes), len(p.Comments), len(p.Intake))
	switch {
	case res.DryRun:
		summary = "dry run, nothing written: " + summary
	case res.Converged():
		summary += "; every risk converged"
	default:
		summary += fmt.Sprintf("; %d did not converge", len(res.Failures))
	}
	_, err := fmt.Fprintln(w, summary)
	for _, f := range res.Failures {
		fmt.Fprintf(w, "failed   %-8s %s %s: %s\n", orDash(f.Risk), orDash(f.Tracker), f.Step, f.Error)
	}
	return err
}

func fieldChanges(fields map[string][2]string) string {
	if len(fields) == 0 {
		return ""
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s: %q → %q", k, oneLine(fields[k][0], 40), oneLine(fields[k][1], 40))
	}
	return "  " + strings.Join(parts, "; ")
}

func failureSummary(fs []reconcile.Failure) string {
	parts := make([]string, 0, len(fs))
	for i, f := range fs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(fs)-3))
			break
		}
		who := f.Risk
		if who == "" {
			who = f.Tracker
		}
		parts = append(parts, fmt.Sprintf("%s (%s %s: %s)", who, f.Tracker, f.Step, oneLine(f.Error, 120)))
	}
	retry := ""
	if allRetryable(fs) {
		retry = "; all retryable: the next pass tries again"
	}
	return fmt.Sprintf("%d did not converge, the rest was applied: %s%s", len(fs), strings.Join(parts, "; "), retry)
}

func allRetryable(fs []reconcile.Failure) bool {
	for _, f := range fs {
		if !f.Retryable {
			return false
		}
	}
	return true
}
