// Package config reads risksync's YAML configuration: strictly decoded (an
// unknown key or a wrong type names the key and its line), defaults applied
// once, validated once.
package config

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

	// Source is where the configuration came from: a path, or "built-in defaults".
	Source string `yaml:"-"`
}

type Database struct {
	URL string `yaml:"url"`
}

type Server struct {
	Listen string `yaml:"listen"`
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
}

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
