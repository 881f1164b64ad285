package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/service"
)

// riskFlags are the inputs shared by risk add and risk update. Ratings are
// read as text so a bad value gets our message, not the flag library's.
type riskFlags struct {
	title, description, owner               string
	impact, scope, likelihood               string
	ettd, ettr, impactPercent, ettf, status string
	reason, until                           string
	json                                    bool
}

func (f *riskFlags) register(fs *pflag.FlagSet, update bool) {
	fs.StringVar(&f.title, "title", "", "the failure mode, one line")
	fs.StringVar(&f.description, "description", "", "mechanism and user impact (Markdown)")
	fs.StringVar(&f.impact, "impact", "", "how severe the outcome is, 1..5")
	fs.StringVar(&f.scope, "scope", "", "how broadly the system is affected, 1..5")
	fs.StringVar(&f.likelihood, "likelihood", "", "how often it is expected to happen, 1..5")
	fs.StringVar(&f.owner, "owner", "", "owning team (a name or alias from the config's teams)")
	fs.StringVar(&f.ettd, "ettd-minutes", "", "expected time to detect, minutes")
	fs.StringVar(&f.ettr, "ettr-minutes", "", "expected time to repair, minutes")
	fs.StringVar(&f.impactPercent, "impact-percent", "", "share of users or requests hit, 0..100")
	fs.StringVar(&f.ettf, "ettf-days", "", "expected time between occurrences, days")
	fs.BoolVar(&f.json, "json", false, "print the risk as JSON")
	if update {
		fs.StringVar(&f.status, "status", "", "active, accepted or retired")
		fs.StringVar(&f.reason, "reason", "", "why the risk is accepted or retired (required for both)")
		fs.StringVar(&f.until, "until", "", "an acceptance ends on this date (YYYY-MM-DD); the risk then returns to active")
		fs.Lookup("owner").Usage += "; empty to unassign"
	}
}

// change turns the flags that were given into a service.Change. Only the
// parsing of text happens here; the rules are the service's.
func (f *riskFlags) change(cmd *cobra.Command) (service.Change, error) {
	var c service.Change
	changed := cmd.Flags().Changed
	text := func(name, v string) service.Field[string] {
		if !changed(name) {
			return service.Field[string]{}
		}
		return service.Some(v)
	}
	c.Title, c.Description, c.StatusReason = text("title", f.title), text("description", f.description), text("reason", f.reason)
	if changed("owner") {
		c.Owner = service.Some(f.owner)
	}
	for _, rf := range []struct {
		name string
		val  string
		dst  *service.Field[int]
	}{{"impact", f.impact, &c.Impact}, {"scope", f.scope, &c.Scope}, {"likelihood", f.likelihood, &c.Likelihood}} {
		if !changed(rf.name) {
			continue
		}
		v, err := parseRating(rf.name, rf.val)
		if err != nil {
			return c, err
		}
		*rf.dst = service.Field[int]{Set: true, Value: v}
	}
	for _, qf := range []struct {
		name string
		val  string
		dst  *service.Field[float64]
	}{{"ettd-minutes", f.ettd, &c.ETTDMinutes}, {"ettr-minutes", f.ettr, &c.ETTRMinutes},
		{"impact-percent", f.impactPercent, &c.ImpactPercent}, {"ettf-days", f.ettf, &c.ETTFDays}} {
		if !changed(qf.name) {
			continue
		}
		v, err := parseQuantity(qf.name, qf.val)
		if err != nil {
			return c, err
		}
		*qf.dst = service.Field[float64]{Set: true, Value: v}
	}
	if changed("status") {
		c.Status = service.Some(registry.Status(strings.ToLower(strings.TrimSpace(f.status))))
	}
	if changed("until") {
		if strings.TrimSpace(f.until) == "" {
			c.AcceptedUntil = service.Null[time.Time]()
		} else {
			d, err := time.Parse(time.DateOnly, strings.TrimSpace(f.until))
			if err != nil {
				return c, usageError{fmt.Errorf("--until: %q is not a date: use YYYY-MM-DD", f.until)}
			}
			c.AcceptedUntil = service.Some(d)
		}
	}
	return c, nil
}

// parseRating reads 1..5; an empty value clears the rating (unscored).
func parseRating(name, s string) (*int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 5 {
		return nil, usageError{fmt.Errorf("--%s: %q is not a rating: use a whole number from 1 to 5", name, s)}
	}
	return &n, nil
}

func parseQuantity(name, s string) (*float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return nil, usageError{fmt.Errorf("--%s: %q is not a number of zero or more", name, s)}
	}
	return &v, nil
}

// flagNames maps the service's field locations to the CLI's flags.
var flagNames = map[string]string{"status_reason": "--reason", "accepted_until": "--until"}

// cliError words a service error the way the CLI names its inputs: a bad
// field is a wrong command line (exit 2) naming the flag.
func cliError(err error) error {
	var e *registry.Error
	if !errors.As(err, &e) || e.Code != registry.EINVALID || len(e.Fields) == 0 {
		return err
	}
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		loc := f.Location
		if i := strings.IndexByte(loc, '.'); i > 0 && (loc[:i] == "body" || loc[:i] == "query" || loc[:i] == "path") {
			loc = loc[i+1:] // the API names where in the request; the CLI names the flag
		}
		flag, ok := flagNames[loc]
		if !ok {
			flag = "--" + strings.ReplaceAll(loc, "_", "-")
		}
		msgs[i] = flag + ": " + f.Message
	}
	return usageError{errors.New(strings.Join(msgs, "; "))}
}

// resolveOwner maps a team name or alias to the team's name.
func (m *Main) resolveOwner(s string) (string, error) {
	owner, err := m.newService(nil).ResolveOwner(s)
	return owner, cliError(err)
}

func (m *Main) riskCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "risk", Short: "Add, list, show, update, review, import and export risks"}
	cmd.AddCommand(m.riskAddCommand(), m.riskListCommand(), m.riskShowCommand(), m.riskUpdateCommand(), m.riskReviewCommand(),
		m.riskImportCommand(), m.riskExportCommand())
	for _, c := range cmd.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return cmd
}

// withBackend runs fn against the registry: the API with --server, else
// the database.
func (m *Main) withBackend(ctx context.Context, fn func(riskBackend) error) error {
	return cliError(m.withBackendFor(ctx, true, fn))
}

// withBackendFor is withBackend with the service's errors as they are
// (import words its own); rescore=false opens the database without
// rescoring it (a dry run writes nothing at all).
func (m *Main) withBackendFor(ctx context.Context, rescore bool, fn func(riskBackend) error) error {
	remote, err := m.remote()
	if err != nil {
		return err
	}
	if remote != nil {
		return fn(remote)
	}
	s, err := m.openStoreFor(ctx, rescore)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(localBackend{svc: m.newService(s), who: m.localPrincipal()})
}

func (m *Main) riskAddCommand() *cobra.Command {
	var f riskFlags
	cmd := &cobra.Command{
		Use:   "add --title T --impact N --scope N --likelihood N [--owner TEAM]",
		Short: "Add a risk (ratings may be left out: the risk is then unscored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.change(cmd)
			if err != nil {
				return err
			}
			return m.withBackend(cmd.Context(), func(b riskBackend) error {
				created, err := b.create(cmd.Context(), c)
				if err != nil {
					return err
				}
				return m.printChanged(created, f.json, "created")
			})
		},
	}
	f.register(cmd.Flags(), false)
	return cmd
}

func (m *Main) printChanged(r service.RiskView, asJSON bool, verb string) error {
	if asJSON {
		return writeJSON(m.Stdout, r)
	}
	_, err := fmt.Fprintf(m.Stdout, "%s %s: %s\n  %s\n", r.Key, verb, r.Title, r.Explanation)
	if err == nil && r.Owner == nil {
		_, err = fmt.Fprintf(m.Stdout, "  no owner yet: set one with risksync risk update %s --owner TEAM\n", r.Key)
	}
	return err
}

func (m *Main) riskListCommand() *cobra.Command {
	var status, owner string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--status S] [--owner T]",
		Short: "List risks ranked by score, highest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := service.Query{Owner: owner}
			if status != "" {
				for _, s := range strings.Split(status, ",") {
					q.Status = append(q.Status, registry.Status(strings.TrimSpace(strings.ToLower(s))))
				}
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit must be 0 (all) or more")}
			}
			q.Limit = limit
			return m.withBackend(cmd.Context(), func(b riskBackend) error {
				risks, err := b.list(cmd.Context(), q)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(m.Stdout, risks)
				}
				return writeRiskTable(m.Stdout, risks, m.Now())
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only these statuses (comma-separated)")
	cmd.Flags().StringVar(&owner, "owner", "", "only this team's risks; 'unowned' for risks without an owner")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (the top N); 0 for all")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of risks")
	return cmd
}

func (m *Main) riskShowCommand() *cobra.Command {
	var asJSON bool
	var historyLimit int
	cmd := &cobra.Command{
		Use:   "show KEY",
		Short: "Show a risk with its score explanation, epics, sources and history",
		Args:  exactKey,
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.withBackend(cmd.Context(), func(b riskBackend) error {
				v, err := b.get(cmd.Context(), args[0], historyLimit)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(m.Stdout, v)
				}
				return writeRiskDetail(m.Stdout, v)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the risk, with its history, as JSON")
	cmd.Flags().IntVar(&historyLimit, "history", 0, "show only the newest N history entries; 0 for all")
	return cmd
}

func (m *Main) riskUpdateCommand() *cobra.Command {
	var f riskFlags
	cmd := &cobra.Command{
		Use:   "update KEY [--title ..] [--impact N] [--scope N] [--likelihood N] [--owner T] [--status accepted|retired|active [--reason R] [--until DATE]]",
		Short: "Change a risk; every change is recorded in its history",
		Args:  exactKey,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Parse everything before opening the database, so bad input writes nothing.
			c, err := f.change(cmd)
			if err != nil {
				return err
			}
			if c.Empty() {
				return usageError{fmt.Errorf("risk update: nothing to change: give at least one of --title, --description, --impact, --scope, --likelihood, --owner, --status (with --reason, --until) or a quantitative input")}
			}
			return m.withBackend(cmd.Context(), func(b riskBackend) error {
				updated, err := b.update(cmd.Context(), args[0], c)
				if err != nil {
					return err
				}
				return m.printChanged(updated, f.json, "updated")
			})
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}

func (m *Main) riskReviewCommand() *cobra.Command {
	var note string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "review KEY [--note TEXT]",
		Short: "Record that the risk was reviewed (resets its review due date)",
		Args:  exactKey,
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.withBackend(cmd.Context(), func(b riskBackend) error {
				r, err := b.review(cmd.Context(), args[0], note)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(m.Stdout, r)
				}
				due := "never"
				if r.ReviewDueAt != nil {
					due = date(r.ReviewDueAt)
				}
				_, err = fmt.Fprintf(m.Stdout, "%s reviewed; next review due %s\n", r.Key, due)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what the review concluded (kept in the history)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the risk as JSON")
	return cmd
}
