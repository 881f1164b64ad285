package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
)

// tokenNameRe keeps names readable in history (actor token:<name>) and tables.
var tokenNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// tokenView is a token in JSON: the secret appears once, at creation; the
// hash never.
type tokenView struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Teams     []string   `json:"teams"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Token     string     `json:"token,omitempty"`
}

func newTokenView(t registry.Token) tokenView {
	v := tokenView{Name: t.Name, Role: string(t.Role), Teams: t.Teams, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: utcPtr(t.ExpiresAt)}
	if v.Teams == nil {
		v.Teams = []string{}
	}
	return v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (m *Main) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens (talks to the database directly)"}
	cmd.AddCommand(m.tokenCreateCommand(), m.tokenListCommand(), m.tokenRevokeCommand())
	for _, c := range cmd.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return cmd
}

func (m *Main) tokenCreateCommand() *cobra.Command {
	var name, role, expires string
	var teams []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --name NAME --role reader|editor|admin [--team TEAM]... [--expires 90d] [--json]",
		Short: "Create an API token and print it, this once (only its hash is stored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := m.tokenFromFlags(name, role, teams, expires)
			if err != nil {
				return err
			}
			secret := auth.NewToken()
			t.Hash = auth.Hash(secret)
			s, err := m.openStoreFor(cmd.Context(), false) // tokens only: no rescoring
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.CreateToken(cmd.Context(), t); err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			if asJSON {
				v := newTokenView(t)
				v.Token = secret
				return writeJSON(m.Stdout, v)
			}
			_, err = fmt.Fprintf(m.Stdout, "%s\ntoken %q created (%s); it is shown only this once: store it now, e.g. in a secret manager\n", secret, t.Name, describeToken(t))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a name for the token, unique among live tokens; history records token:<name>")
	f.StringVar(&role, "role", "", "reader, editor or admin")
	f.StringArrayVar(&teams, "team", nil, "limit an editor to this team's risks (name or alias; repeat for several)")
	f.StringVar(&expires, "expires", "", "lifetime, e.g. 90d or 12h (default: no expiry)")
	f.BoolVar(&asJSON, "json", false, "print the token as JSON")
	return cmd
}

// tokenFromFlags checks every flag before anything is opened or written.
func (m *Main) tokenFromFlags(name, role string, teams []string, expires string) (registry.Token, error) {
	t := registry.Token{Name: strings.TrimSpace(name), CreatedAt: registry.Truncate(m.Now())}
	switch {
	case t.Name == "":
		return t, usageError{fmt.Errorf("token create: --name is required, e.g. --name ci-deploy")}
	case !tokenNameRe.MatchString(t.Name):
		return t, usageError{fmt.Errorf("token create: --name %q: use up to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)}
	}
	if strings.TrimSpace(role) == "" {
		return t, usageError{fmt.Errorf("token create: --role is required: reader, editor or admin")}
	}
	r, err := registry.ParseRole(role)
	if err != nil {
		return t, usageError{fmt.Errorf("token create: --role: %w", err)}
	}
	t.Role = r
	if len(teams) > 0 && r != registry.RoleEditor {
		return t, usageError{fmt.Errorf("token create: --team limits editors only: a %s is not limited by team", r)}
	}
	t.Teams = []string{}
	for _, s := range teams {
		team := m.cfg.MatchTeam(s)
		if team == nil {
			if len(m.cfg.Teams) == 0 {
				return t, usageError{fmt.Errorf("token create: --team: unknown team %q: no teams are configured (list them under teams: in the config file)", s)}
			}
			return t, usageError{fmt.Errorf("token create: --team: unknown team %q: teams are %s", s, strings.Join(m.cfg.TeamNames(), ", "))}
		}
		if !slices.Contains(t.Teams, team.Name) {
			t.Teams = append(t.Teams, team.Name)
		}
	}
	slices.Sort(t.Teams) // as the store keeps them
	if expires != "" {
		d, err := config.ParseDuration(expires)
		if err != nil {
			return t, usageError{fmt.Errorf("token create: --expires: %w", err)}
		}
		if d <= 0 {
			return t, usageError{fmt.Errorf("token create: --expires %q: give a lifetime longer than zero, or leave it out for no expiry", expires)}
		}
		at := registry.Truncate(t.CreatedAt.Add(d))
		t.ExpiresAt = &at
	}
	return t, nil
}

func describeToken(t registry.Token) string {
	d := string(t.Role)
	if len(t.Teams) > 0 {
		d += " for " + strings.Join(t.Teams, ", ")
	}
	if t.ExpiresAt != nil {
		d += ", expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	} else {
		d += ", no expiry"
	}
	return d
}

func (m *Main) tokenListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List live API tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := m.openStoreFor(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer s.Close()
			ts, err := s.Tokens(cmd.Context())
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			if asJSON {
				views := make([]tokenListView, len(ts))
				for i, t := range ts {
					views[i] = tokenListView{newTokenView(t), utcPtr(t.LastUsedAt)}
				}
				return writeJSON(m.Stdout, views)
			}
			return writeTokenTable(m.Stdout, ts, m.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of tokens")
	return cmd
}

// tokenListView always carries last_used_at, null when never used.
type tokenListView struct {
	tokenView
	LastUsedAt *time.Time `json:"last_used_at"`
}

func writeTokenTable(w io.Writer, ts []registry.Token, now time.Time) error {
	if len(ts) == 0 {
		_, err := fmt.Fprintln(w, "no API tokens: create the first with risksync token create --name admin --role admin")
		return err
	}
	const day = "2006-01-02"
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tTEAMS\tCREATED\tEXPIRES\tLAST USED")
	for _, t := range ts {
		teams, expires, used := "all", "never", "never"
		if len(t.Teams) > 0 {
			teams = strings.Join(t.Teams, ",")
		}
		if t.ExpiresAt != nil {
			expires = t.ExpiresAt.UTC().Format(day)
			if !now.Before(*t.ExpiresAt) {
				expires += " (expired)"
			}
		}
		if t.LastUsedAt != nil {
			used = t.LastUsedAt.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, teams, t.CreatedAt.UTC().Format(day), expires, used)
	}
	return tw.Flush()
}

func (m *Main) tokenRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an API token: requests with it are refused from then on",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return usageError{fmt.Errorf("%s: give one token name (risksync token list shows them)", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := m.openStoreFor(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer s.Close()
			name := strings.TrimSpace(args[0])
			if err := s.RevokeToken(cmd.Context(), name, m.Now()); err != nil {
				return fmt.Errorf("token revoke: %w", err)
			}
			_, err = fmt.Fprintf(m.Stdout, "token %q revoked: requests with it are refused from now on\n", name)
			return err
		},
	}
}
