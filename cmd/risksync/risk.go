package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// riskFlags are the inputs shared by risk add and risk update. Ratings are
// read as text so a bad value gets our message, not the flag library's.
type riskFlags struct {
	title, description, owner               string
	impact, scope, likelihood               string
	ettd, ettr, impactPercent, ettf, status string
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
		fs.Lookup("owner").Usage += "; empty to unassign"
	}
}

// apply copies the flags that were given onto r.
func (m *Main) applyRiskFlags(cmd *cobra.Command, f *riskFlags, r *registry.Risk) error {
	changed := cmd.Flags().Changed
	if changed("title") {
		r.Title = f.title
	}
	if changed("description") {
		r.Description = f.description
	}
	for _, rf := range []struct {
		name string
		val  string
		dst  **int
	}{{"impact", f.impact, &r.Impact}, {"scope", f.scope, &r.Scope}, {"likelihood", f.likelihood, &r.Likelihood}} {
		if !changed(rf.name) {
			continue
		}
		v, err := parseRating(rf.name, rf.val)
		if err != nil {
			return err
		}
		*rf.dst = v
	}
	for _, qf := range []struct {
		name string
		val  string
		dst  **float64
	}{{"ettd-minutes", f.ettd, &r.ETTDMinutes}, {"ettr-minutes", f.ettr, &r.ETTRMinutes},
		{"impact-percent", f.impactPercent, &r.ImpactPercent}, {"ettf-days", f.ettf, &r.ETTFDays}} {
		if !changed(qf.name) {
			continue
		}
		v, err := parseQuantity(qf.name, qf.val)
		if err != nil {
			return err
		}
		*qf.dst = v
	}
	if changed("owner") {
		owner, err := m.resolveOwner(f.owner)
		if err != nil {
			return err
		}
		r.Owner = owner
	}
	if changed("status") {
		st, err := registry.ParseUserStatus(f.status)
		if err != nil {
			return usageError{fmt.Errorf("--status: %w", err)}
		}
		r.Status = st
	}
	return nil
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

// resolveOwner maps a team name or alias to the team's name.
func (m *Main) resolveOwner(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	if t := m.cfg.MatchTeam(s); t != nil {
		return t.Name, nil
	}
	if len(m.cfg.Teams) == 0 {
		return "", usageError{fmt.Errorf("--owner: unknown team %q: no teams are configured (list them under teams: in the config file)", s)}
	}
	return "", usageError{fmt.Errorf("--owner: unknown team %q: teams are %s", s, strings.Join(m.cfg.TeamNames(), ", "))}
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

func (m *Main) riskAddCommand() *cobra.Command {
	var f riskFlags
	cmd := &cobra.Command{
		Use:   "add --title T --impact N --scope N --likelihood N [--owner TEAM]",
		Short: "Add a risk (ratings may be left out: the risk is then unscored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(f.title) == "" {
				return usageError{fmt.Errorf("risk add: --title is required: one line naming the failure mode")}
			}
			r := &registry.Risk{}
			if err := m.applyRiskFlags(cmd, &f, r); err != nil {
				return err
			}
			return m.withStore(cmd.Context(), func(s *openedStore) error {
				created, err := s.CreateRisk(cmd.Context(), r, m.actor())
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

func (m *Main) printChanged(r *registry.Risk, asJSON bool, verb string) error {
	if asJSON {
		return writeJSON(m.Stdout, newRiskView(r, m.cfg))
	}
	res := m.cfg.ScoringConfig().Evaluate(scoring.InputsOf(r))
	_, err := fmt.Fprintf(m.Stdout, "%s %s: %s\n  %s\n", r.Key, verb, r.Title, res.Explain(m.cfg.Trackers()...))
	if err == nil && r.Owner == "" {
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
			var f registry.RiskFilter
			if status != "" {
				for _, s := range strings.Split(status, ",") {
					st := registry.Status(strings.TrimSpace(strings.ToLower(s)))
					if !st.Valid() {
						return usageError{fmt.Errorf("--status: unknown status %q: use active, mitigating, mitigated, accepted or retired", s)}
					}
					f.Status = append(f.Status, st)
				}
			}
			switch {
			case strings.EqualFold(owner, "unowned") || strings.EqualFold(owner, "none"):
				f.Unowned = true
			case owner != "":
				name, err := m.resolveOwner(owner)
				if err != nil {
					return err
				}
				f.Owner = name
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit must be 0 (all) or more")}
			}
			f.Limit = limit
			return m.withStore(cmd.Context(), func(s *openedStore) error {
				risks, err := s.ListRisks(cmd.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					views := make([]riskView, len(risks))
					for i, r := range risks {
						views[i] = newRiskView(r, m.cfg)
					}
					return writeJSON(m.Stdout, views)
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
			return m.withStore(cmd.Context(), func(s *openedStore) error {
				r, err := s.FindRisk(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				h, err := s.History(cmd.Context(), r.Key, historyLimit)
				if err != nil {
					return err
				}
				v := newRiskView(r, m.cfg)
				if asJSON {
					for _, e := range h {
						v.History = append(v.History, historyView{At: e.At.UTC(), Actor: e.Actor, Field: e.Field, Old: e.OldValue, New: e.NewValue})
					}
					return writeJSON(m.Stdout, v)
				}
				return writeRiskDetail(m.Stdout, v, r, h)
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
		Use:   "update KEY [--title ..] [--impact N] [--scope N] [--likelihood N] [--owner T] [--status accepted|retired|active]",
		Short: "Change a risk; every change is recorded in its history",
		Args:  exactKey,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 || (cmd.Flags().NFlag() == 1 && f.json) {
				return usageError{fmt.Errorf("risk update: nothing to change: give at least one of --title, --description, --impact, --scope, --likelihood, --owner, --status or a quantitative input")}
			}
			// Parse everything before opening the database, so bad input writes nothing.
			var probe registry.Risk
			if err := m.applyRiskFlags(cmd, &f, &probe); err != nil {
				return err
			}
			return m.withStore(cmd.Context(), func(s *openedStore) error {
				updated, err := s.UpdateRisk(cmd.Context(), args[0], m.actor(), func(r *registry.Risk) error {
					return m.applyRiskFlags(cmd, &f, r)
				})
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
			return m.withStore(cmd.Context(), func(s *openedStore) error {
				r, err := s.ReviewRisk(cmd.Context(), args[0], m.actor(), note)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(m.Stdout, newRiskView(r, m.cfg))
				}
				_, err = fmt.Fprintf(m.Stdout, "%s reviewed; next review due %s\n", r.Key, date(r.ReviewDueAt))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what the review concluded (kept in the history)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the risk as JSON")
	return cmd
}
