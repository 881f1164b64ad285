// Package config reads risksync's YAML configuration: strictly decoded (an
// unknown key or a wrong type names the key and its line), defaults applied
// once, validated once.
package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Config is the whole configuration file.
type Config struct {
	Database       Database   `yaml:"database"`
	Server         Server     `yaml:"server"`
	Sync           Sync       `yaml:"sync"`
	Scoring        Scoring    `yaml:"scoring"`
	Teams          []Team     `yaml:"teams"`
	DefaultTracker string     `yaml:"default_tracker"`
	GitHub         *GitHub    `yaml:"github"`
	Jira           *Jira      `yaml:"jira"`
	Stagnation     Stagnation `yaml:"stagnation"`
	Report         Report     `yaml:"report"`
	Commands       Commands   `yaml:"commands"`

	// Source is where the configuration came from: a path, or "built-in defaults".
	Source string `yaml:"-"`
}

type Database struct {
	URL string `yaml:"url"`
}

type Server struct {
	Listen string     `yaml:"listen"`
	Auth   ServerAuth `yaml:"auth"`
}

type ServerAuth struct {
	// TrustedProxy, when set, signs people in from a header that a
	// single-sign-on proxy sets; nil means API tokens only.
	TrustedProxy *TrustedProxy `yaml:"trusted_proxy"`
}

// TrustedProxy: Header is believed only on requests whose direct peer is
// within CIDRs; those people get Role.
type TrustedProxy struct {
	Header string   `yaml:"header"`
	CIDRs  []string `yaml:"cidrs"`
	Role   string   `yaml:"role"`
}

// Prefixes returns the parsed CIDRs; a bare address is a one-address prefix.
func (p *TrustedProxy) Prefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(p.CIDRs))
	for _, c := range p.CIDRs {
		pf, err := parsePrefix(c)
		if err != nil {
			return nil, err
		}
		out = append(out, pf)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or fd00::/8", s)
	}
	if pf.Addr().Is4In6() { // ::ffff:10.0.0.0/104 means 10.0.0.0/8; peers are compared unmapped
		if pf.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or fd00::/8", s)
		}
		pf = netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-96)
	}
	return pf.Masked(), nil
}

type Sync struct {
	Interval Duration `yaml:"interval"`
	// CreateSettle is how long a Jira epic create whose outcome was never
	// recorded (a crash, a lost response) blocks another create while JQL
	// search catches up. GitHub's listing is consistent and needs no wait.
	CreateSettle Duration `yaml:"create_settle"`
}

type Scoring struct {
	Model string `yaml:"model"`
	// SLO, e.g. 0.999, turns min_budget_share bands into minutes under
	// expected_minutes: share × (1 − slo) × 525,960.
	SLO   float64 `yaml:"slo"`
	Bands []Band  `yaml:"bands"`
	// Recurrence is what repeated postmortems of one risk do to its likelihood.
	Recurrence Recurrence `yaml:"recurrence"`
}

// Recurrence is scoring.recurrence.
type Recurrence struct {
	Window     Duration         `yaml:"window"`
	Mode       string           `yaml:"mode"` // raise | suggest | off
	Likelihood []RecurrenceStep `yaml:"likelihood"`
}

// RecurrenceStep: at least Min occurrences in the window call for Rating.
type RecurrenceStep struct {
	Min    *int `yaml:"min"`
	Rating *int `yaml:"rating"`
}

type Band struct {
	Name           string   `yaml:"name"`
	MinScore       *float64 `yaml:"min_score"`
	MinBudgetShare *float64 `yaml:"min_budget_share"`
	GitHubLabel    string   `yaml:"github_label"`
	JiraPriority   string   `yaml:"jira_priority"`
	ReviewEvery    Duration `yaml:"review_every"`
	// ProjectPriority is the option of github.project.priority_field for this band, e.g. P0.
	ProjectPriority string `yaml:"project_priority"`
}

type Team struct {
	Name        string   `yaml:"name"`
	Tracker     string   `yaml:"tracker"`
	GitHubRepo  string   `yaml:"github_repo"`
	JiraProject string   `yaml:"jira_project"`
	Aliases     []string `yaml:"aliases"`
	// GitHubProject overrides github.project for this team's epics.
	GitHubProject *GitHubProject `yaml:"github_project"`
}

type GitHub struct {
	BaseURL           string           `yaml:"base_url"`
	TokenEnv          string           `yaml:"token_env"`
	TokenFile         string           `yaml:"token_file"`
	Repo              string           `yaml:"repo"`
	EpicIssueType     string           `yaml:"epic_issue_type"`
	WebhookSecretEnv  string           `yaml:"webhook_secret_env"`
	WebhookSecretFile string           `yaml:"webhook_secret_file"`
	Postmortem        GitHubPostmortem `yaml:"postmortem"`
	// Project is the GitHub Project (v2) where managers see the backlog.
	Project *GitHubProject `yaml:"project"`
}

type GitHubPostmortem struct {
	Repos []string `yaml:"repos"`
	Label string   `yaml:"label"`
}

// Token is where the GitHub token comes from.
func (g *GitHub) Token() SecretRef {
	return SecretRef{Name: "github.token", Env: g.TokenEnv, File: g.TokenFile}
}

// WebhookSecret is where the GitHub webhook secret comes from.
func (g *GitHub) WebhookSecret() SecretRef {
	return SecretRef{Name: "github.webhook_secret", Env: g.WebhookSecretEnv, File: g.WebhookSecretFile}
}

// Jira deployments.
const (
	JiraAuto       = "auto"       // ask /serverInfo once
	JiraCloud      = "cloud"      // email + API token; /search/jql
	JiraDataCenter = "datacenter" // personal access token (Bearer); /search
)

type Jira struct {
	BaseURL           string         `yaml:"base_url"`
	Deployment        string         `yaml:"deployment"`
	EmailEnv          string         `yaml:"email_env"`
	EmailFile         string         `yaml:"email_file"`
	APITokenEnv       string         `yaml:"api_token_env"`
	APITokenFile      string         `yaml:"api_token_file"`
	PATEnv            string         `yaml:"pat_env"`
	PATFile           string         `yaml:"pat_file"`
	Project           string         `yaml:"project"`
	EpicIssueType     string         `yaml:"epic_issue_type"`
	WebhookSecretEnv  string         `yaml:"webhook_secret_env"`
	WebhookSecretFile string         `yaml:"webhook_secret_file"`
	Postmortem        JiraPostmortem `yaml:"postmortem"`
	// Rank is how risk epics are ordered in each project's backlog:
	// JiraRankOff (default) or JiraRankByScore.
	Rank string `yaml:"rank"`
}

// Jira backlog ranking (jira.rank).
const (
	JiraRankOff     = "off"
	JiraRankByScore = "by_score" // highest score first, ties by key, unscored last
)

type JiraPostmortem struct {
	Projects []string `yaml:"projects"`
	Label    string   `yaml:"label"`
}

func (j *Jira) Email() SecretRef {
	return SecretRef{Name: "jira.email", Env: j.EmailEnv, File: j.EmailFile}
}
func (j *Jira) APIToken() SecretRef {
	return SecretRef{Name: "jira.api_token", Env: j.APITokenEnv, File: j.APITokenFile}
}
func (j *Jira) PAT() SecretRef { return SecretRef{Name: "jira.pat", Env: j.PATEnv, File: j.PATFile} }
func (j *Jira) WebhookSecret() SecretRef {
	return SecretRef{Name: "jira.webhook_secret", Env: j.WebhookSecretEnv, File: j.WebhookSecretFile}
}

// UsesPAT reports whether Jira authenticates with a personal access token
// (Data Center) rather than email + API token (Cloud).
func (j *Jira) UsesPAT() bool { return j.PAT().Set() }

// Commands turns on `/risk …` commands in tracker comments (off by default:
// they let tracker users change the registry).
type Commands struct {
	Enabled bool `yaml:"enabled"`
}

type Stagnation struct {
	After Duration `yaml:"after"`
}

type Report struct {
	Schedule       string `yaml:"schedule"`
	GitHubIssue    bool   `yaml:"github_issue"`
	WebhookURLEnv  string `yaml:"webhook_url_env"`
	WebhookURLFile string `yaml:"webhook_url_file"`
}

func (r *Report) WebhookURL() SecretRef {
	return SecretRef{Name: "report.webhook_url", Env: r.WebhookURLEnv, File: r.WebhookURLFile}
}
