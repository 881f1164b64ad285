// Package config reads risksync's YAML configuration: strictly decoded (an
// unknown key or a wrong type names the key and its line), defaults applied
// once, validated once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
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
}

type Team struct {
	Name        string   `yaml:"name"`
	Tracker     string   `yaml:"tracker"`
	GitHubRepo  string   `yaml:"github_repo"`
	JiraProject string   `yaml:"jira_project"`
	Aliases     []string `yaml:"aliases"`
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

// DefaultPath is read when no --config and no $RISKSYNC_CONFIG are given.
const DefaultPath = "risksync.yaml"

// MaxFileSize bounds a configuration file.
const MaxFileSize = 1 << 20

// Locate returns the configuration file to read: flag, else $RISKSYNC_CONFIG,
// else ./risksync.yaml if present, else "" for the built-in defaults.
func Locate(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if p := getenv("RISKSYNC_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(DefaultPath); err == nil {
		return DefaultPath
	}
	return ""
}

// Load reads path ("" for the built-in defaults), applies defaults and the
// environment override of database.url, and validates.
func Load(path string, getenv func(string) string) (*Config, error) {
	var data []byte
	source := "built-in defaults"
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, unwrapPathError(err))
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if len(data) > MaxFileSize {
			return nil, fmt.Errorf("config %s: larger than %d bytes", path, MaxFileSize)
		}
		source = path
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", source, err)
	}
	cfg.Source = source
	if u := getenv("RISKSYNC_DATABASE_URL"); u != "" {
		cfg.Database.URL = u
		if _, err := ParseDatabaseURL(u); err != nil {
			return nil, fmt.Errorf("RISKSYNC_DATABASE_URL: %w", err)
		}
	}
	return cfg, nil
}

// Parse decodes, defaults and validates one YAML document. Empty input
// yields the defaults.
func Parse(data []byte) (*Config, error) {
	cfg := &Config{}
	var root yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &root); err != nil {
			return nil, yamlError(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlError(err)
		}
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			return nil, fmt.Errorf("line %d: only one YAML document is allowed", extra.Line)
		}
	}
	cfg.applyDefaults()
	if err := cfg.validate(locator{&root}); err != nil {
		return nil, err
	}
	return cfg, nil
}

var (
	unknownFieldRe = regexp.MustCompile(`^line (\d+): field (\S+) not found in type config\.(\w+)$`)
	cannotRe       = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
)

// yamlError turns the YAML library's messages into ones that name the key
// as written in the file.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msg := te.Errors[0]
	if m := unknownFieldRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
	} else if m := cannotRe.FindStringSubmatch(msg); m != nil {
		want := m[4]
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "config."), strings.HasPrefix(want, "*config."):
			want = "a mapping of keys"
		case strings.Contains(want, "int"), strings.Contains(want, "float"):
			want = "a number"
		case want == "bool":
			want = "true or false"
		case want == "string":
			want = "a text value"
		}
		msg = fmt.Sprintf("line %s: %q is not valid here: want %s", m[1], m[3], want)
	}
	if n := len(te.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return errors.New(msg)
}

func (c *Config) applyDefaults() {
	if c.Database.URL == "" {
		c.Database.URL = "sqlite://risksync.db"
	}
	if c.Server.Listen == "" {
		c.Server.Listen = "127.0.0.1:8080"
	}
	if c.Sync.Interval == 0 {
		c.Sync.Interval = Duration(5 * time.Minute)
	}
	if c.Sync.CreateSettle == 0 {
		c.Sync.CreateSettle = Duration(2 * time.Minute)
	}
	if c.Scoring.Model == "" {
		c.Scoring.Model = scoring.Ordinal
	}
	if c.Scoring.SLO == 0 {
		c.Scoring.SLO = 0.999
	}
	if len(c.Scoring.Bands) == 0 {
		c.Scoring.Bands = defaultBands(c.Scoring.Model)
	}
	for i := range c.Scoring.Bands {
		if c.Scoring.Bands[i].ReviewEvery == 0 {
			c.Scoring.Bands[i].ReviewEvery = Duration(30 * 24 * time.Hour)
		}
	}
	if c.DefaultTracker == "" {
		switch {
		case c.GitHub != nil:
			c.DefaultTracker = registry.TrackerGitHub
		case c.Jira != nil:
			c.DefaultTracker = registry.TrackerJira
		}
	}
	if g := c.GitHub; g != nil {
		if g.BaseURL == "" {
			g.BaseURL = "https://api.github.com/"
		}
		if !strings.HasSuffix(g.BaseURL, "/") {
			g.BaseURL += "/"
		}
		if !g.Token().Set() {
			g.TokenEnv = "GITHUB_TOKEN"
		}
		if g.EpicIssueType == "" {
			g.EpicIssueType = "Epic"
		}
		if g.Postmortem.Label == "" {
			g.Postmortem.Label = "postmortem"
		}
	}
	if j := c.Jira; j != nil {
		j.BaseURL = strings.TrimSuffix(j.BaseURL, "/")
		if j.Deployment == "" {
			j.Deployment = JiraAuto
		}
		if !j.PAT().Set() {
			if !j.Email().Set() {
				j.EmailEnv = "JIRA_EMAIL"
			}
			if !j.APIToken().Set() {
				j.APITokenEnv = "JIRA_API_TOKEN"
			}
		}
		if j.EpicIssueType == "" {
			j.EpicIssueType = "Epic"
		}
		if j.Postmortem.Label == "" {
			j.Postmortem.Label = "postmortem"
		}
	}
	if c.Stagnation.After == 0 {
		c.Stagnation.After = Duration(14 * 24 * time.Hour)
	}
	if c.Report.Schedule == "" {
		c.Report.Schedule = "0 9 * * MON"
	}
}

func defaultBands(model string) []Band {
	day := 24 * time.Hour
	f := func(v float64) *float64 { return &v }
	bands := []Band{
		{Name: "critical", GitHubLabel: "priority/P0", JiraPriority: "Highest", ReviewEvery: Duration(7 * day)},
		{Name: "high", GitHubLabel: "priority/P1", JiraPriority: "High", ReviewEvery: Duration(14 * day)},
		{Name: "medium", GitHubLabel: "priority/P2", JiraPriority: "Medium", ReviewEvery: Duration(30 * day)},
		{Name: "low", GitHubLabel: "priority/P3", JiraPriority: "Low", ReviewEvery: Duration(90 * day)},
	}
	if model == scoring.ExpectedMinutes {
		// Shares of the yearly error budget: a risk that alone burns it is critical.
		for i, s := range []float64{1, 0.5, 0.25, 0} {
			bands[i].MinBudgetShare = f(s)
		}
		return bands
	}
	for i, s := range []float64{60, 30, 12, 0} {
		bands[i].MinScore = f(s)
	}
	return bands
}

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	repoRe    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	projectRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,9}$`)
)

func (c *Config) validate(loc locator) error {
	if _, err := ParseDatabaseURL(c.Database.URL); err != nil {
		return loc.errorf(err.Error(), "database", "url")
	}
	if c.Sync.Interval.Std() < time.Second {
		return loc.errorf("sync.interval must be at least 1s", "sync", "interval")
	}
	if d := c.Sync.CreateSettle.Std(); d > time.Hour {
		return loc.errorf("sync.create_settle must be at most 1h", "sync", "create_settle")
	}
	if c.Stagnation.After.Std() < time.Hour {
		return loc.errorf("stagnation.after must be at least 1h", "stagnation", "after")
	}
	if err := c.validateScoring(loc); err != nil {
		return err
	}
	switch c.DefaultTracker {
	case "":
	case registry.TrackerGitHub, registry.TrackerJira:
		if !c.HasTracker(c.DefaultTracker) {
			return loc.errorf(fmt.Sprintf("default_tracker is %s but there is no %s section", c.DefaultTracker, c.DefaultTracker), "default_tracker")
		}
	default:
		return loc.errorf(fmt.Sprintf("default_tracker %q: use github or jira", c.DefaultTracker), "default_tracker")
	}
	if g := c.GitHub; g != nil {
		if err := g.validate(loc); err != nil {
			return err
		}
	}
	if j := c.Jira; j != nil {
		if err := j.validate(loc); err != nil {
			return err
		}
	}
	if err := c.validateTeams(loc); err != nil {
		return err
	}
	if _, err := cron.ParseStandard(c.Report.Schedule); err != nil {
		return loc.errorf(fmt.Sprintf("report.schedule %q is not a cron expression: %v", c.Report.Schedule, err), "report", "schedule")
	}
	if c.Report.GitHubIssue && (c.GitHub == nil || c.GitHub.Repo == "") {
		return loc.errorf("report.github_issue needs github.repo to publish into", "report", "github_issue")
	}
	if err := bothSet(loc, c.Report.WebhookURL(), "report"); err != nil {
		return err
	}
	return nil
}

func (c *Config) validateScoring(loc locator) error {
	s := &c.Scoring
	if s.Model != scoring.Ordinal && s.Model != scoring.ExpectedMinutes {
		return loc.errorf(fmt.Sprintf("scoring.model %q: use ordinal or expected_minutes", s.Model), "scoring", "model")
	}
	if s.SLO <= 0 || s.SLO >= 1 {
		return loc.errorf(fmt.Sprintf("scoring.slo %v must be between 0 and 1, e.g. 0.999", s.SLO), "scoring", "slo")
	}
	seen := map[string]bool{}
	prev := 0.0
	for i := range s.Bands {
		b := &s.Bands[i]
		at := func(msg string, key ...string) error {
			return loc.errorf(fmt.Sprintf("scoring.bands[%d]: %s", i, msg), append([]any{"scoring", "bands", i}, toAny(key)...)...)
		}
		if !nameRe.MatchString(b.Name) {
			return at(fmt.Sprintf("name %q must be lowercase letters, digits, '.', '_' or '-' (it becomes a label)", b.Name), "name")
		}
		if seen[b.Name] {
			return at(fmt.Sprintf("band %q is listed twice", b.Name), "name")
		}
		seen[b.Name] = true
		switch {
		case b.MinScore != nil && b.MinBudgetShare != nil:
			return at("give min_score or min_budget_share, not both", "min_budget_share")
		case b.MinBudgetShare != nil && s.Model != scoring.ExpectedMinutes:
			return at("min_budget_share applies to the expected_minutes model only", "min_budget_share")
		case b.MinScore == nil && b.MinBudgetShare == nil:
			return at("min_score is required")
		}
		min := 0.0
		if b.MinBudgetShare != nil {
			if *b.MinBudgetShare < 0 {
				return at("min_budget_share must not be negative", "min_budget_share")
			}
			min = *b.MinBudgetShare * scoring.ErrorBudgetMinutes(s.SLO)
		} else {
			min = *b.MinScore
			if min < 0 {
				return at("min_score must not be negative", "min_score")
			}
		}
		if i > 0 && min >= prev {
			return at(fmt.Sprintf("bands go highest first: minimum %v is not below the previous band's %v", min, prev), "min_score")
		}
		prev = min
		if b.ReviewEvery.Std() < time.Hour {
			return at("review_every must be at least 1h", "review_every")
		}
		if strings.ContainsAny(b.GitHubLabel, ",") {
			return at(fmt.Sprintf("github_label %q must not contain a comma", b.GitHubLabel), "github_label")
		}
	}
	if prev != 0 {
		return loc.errorf(fmt.Sprintf("scoring.bands: the last band must start at 0 so every score has a band (it starts at %v)", prev), "scoring", "bands")
	}
	return nil
}

func (g *GitHub) validate(loc locator) error {
	u, err := url.Parse(g.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return loc.errorf(fmt.Sprintf("github.base_url %q must be an http(s) URL such as https://api.github.com/ or https://ghe.example.com/api/v3/", g.BaseURL), "github", "base_url")
	}
	if g.Repo != "" && !repoRe.MatchString(g.Repo) {
		return loc.errorf(fmt.Sprintf("github.repo %q must look like owner/name", g.Repo), "github", "repo")
	}
	for i, r := range g.Postmortem.Repos {
		if !repoRe.MatchString(r) {
			return loc.errorf(fmt.Sprintf("github.postmortem.repos[%d] %q must look like owner/name", i, r), "github", "postmortem", "repos", i)
		}
	}
	for _, ref := range []SecretRef{g.Token(), g.WebhookSecret()} {
		if err := bothSet(loc, ref, "github"); err != nil {
			return err
		}
	}
	return nil
}

func (j *Jira) validate(loc locator) error {
	u, err := url.Parse(j.BaseURL)
	if j.BaseURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return loc.errorf(fmt.Sprintf("jira.base_url %q must be an http(s) URL such as https://acme.atlassian.net", j.BaseURL), "jira", "base_url")
	}
	switch j.Deployment {
	case JiraAuto, JiraCloud, JiraDataCenter:
	default:
		return loc.errorf(fmt.Sprintf("jira.deployment %q: use auto, cloud or datacenter", j.Deployment), "jira", "deployment")
	}
	if j.Project != "" && !projectRe.MatchString(j.Project) {
		return loc.errorf(fmt.Sprintf("jira.project %q must be a project key such as REL", j.Project), "jira", "project")
	}
	for i, p := range j.Postmortem.Projects {
		if !projectRe.MatchString(p) {
			return loc.errorf(fmt.Sprintf("jira.postmortem.projects[%d] %q must be a project key such as INC", i, p), "jira", "postmortem", "projects", i)
		}
	}
	for _, ref := range []SecretRef{j.Email(), j.APIToken(), j.PAT(), j.WebhookSecret()} {
		if err := bothSet(loc, ref, "jira"); err != nil {
			return err
		}
	}
	if j.PAT().Set() && (j.Email().Set() || j.APIToken().Set()) { // defaults are not applied beside a PAT
		return loc.errorf("jira: give pat_* (Data Center) or email_* with api_token_* (Cloud), not both", "jira", "pat_env")
	}
	return nil
}

func bothSet(loc locator, ref SecretRef, section string) error {
	if ref.Env != "" && ref.File != "" {
		key := strings.TrimPrefix(ref.Name, section+".")
		return loc.errorf(fmt.Sprintf("%s: give %s_env or %s_file, not both", ref.Name, key, key), section, key+"_file")
	}
	return nil
}

func (c *Config) validateTeams(loc locator) error {
	names := map[string]string{} // lower-cased name or alias → team
	for i := range c.Teams {
		t := &c.Teams[i]
		at := func(msg string, key ...string) error {
			return loc.errorf(fmt.Sprintf("teams[%d] (%s): %s", i, t.Name, msg), append([]any{"teams", i}, toAny(key)...)...)
		}
		if !nameRe.MatchString(t.Name) {
			return at(fmt.Sprintf("name %q must be lowercase letters, digits, '.', '_' or '-' (it becomes the label team:<name>)", t.Name), "name")
		}
		for _, n := range append([]string{t.Name}, t.Aliases...) {
			k := strings.ToLower(strings.TrimSpace(n))
			if k == "" {
				return at("an alias is empty", "aliases")
			}
			if other, dup := names[k]; dup {
				return at(fmt.Sprintf("%q is already used by team %s", n, other), "name")
			}
			names[k] = t.Name
		}
		tracker := t.Tracker
		if tracker == "" {
			tracker = c.DefaultTracker
		}
		switch tracker {
		case "":
			return at("no tracker: set tracker, or default_tracker with a github or jira section", "tracker")
		case registry.TrackerGitHub:
			if c.GitHub == nil {
				return at("uses github but there is no github section", "tracker")
			}
			if t.GitHubRepo == "" && c.GitHub.Repo == "" {
				return at("set github_repo, or github.repo for teams without their own repo", "github_repo")
			}
			if t.GitHubRepo != "" && !repoRe.MatchString(t.GitHubRepo) {
				return at(fmt.Sprintf("github_repo %q must look like owner/name", t.GitHubRepo), "github_repo")
			}
		case registry.TrackerJira:
			if c.Jira == nil {
				return at("uses jira but there is no jira section", "tracker")
			}
			if t.JiraProject == "" && c.Jira.Project == "" {
				return at("set jira_project, or jira.project for teams without their own project", "jira_project")
			}
			if t.JiraProject != "" && !projectRe.MatchString(t.JiraProject) {
				return at(fmt.Sprintf("jira_project %q must be a project key such as PAY", t.JiraProject), "jira_project")
			}
		default:
			return at(fmt.Sprintf("tracker %q: use github or jira", t.Tracker), "tracker")
		}
	}
	// Unowned risks go to the default tracker's global target.
	switch c.DefaultTracker {
	case registry.TrackerGitHub:
		if c.GitHub.Repo == "" {
			return loc.errorf("github.repo is required: unowned risks' epics go there", "github")
		}
	case registry.TrackerJira:
		if c.Jira.Project == "" {
			return loc.errorf("jira.project is required: unowned risks' epics go there", "jira")
		}
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// locator finds the line of a key in the parsed document, so validation
// errors point at the line to fix.
type locator struct{ root *yaml.Node }

func (l locator) errorf(msg string, path ...any) error {
	if line := l.line(path...); line > 0 {
		return fmt.Errorf("line %d: %s", line, msg)
	}
	return errors.New(msg)
}

func (l locator) line(path ...any) int {
	n := l.root
	if n == nil || n.Kind == 0 {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	best := 0
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						best = n.Content[i].Line
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				best = next.Line
			}
		}
		if next == nil {
			return best
		}
		n = next
	}
	return best
}

// DatabaseKind is the technology a database URL selects.
type DatabaseKind string

const (
	SQLite   DatabaseKind = "sqlite"
	Postgres DatabaseKind = "postgres"
)

// DatabaseTarget is a parsed database.url.
type DatabaseTarget struct {
	Kind DatabaseKind
	Path string // SQLite file path
	DSN  string // PostgreSQL connection URL
}

// ParseDatabaseURL accepts sqlite://relative.db, sqlite:///abs/path.db and
// postgres:// (or postgresql://) URLs.
func ParseDatabaseURL(raw string) (DatabaseTarget, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			return DatabaseTarget{}, fmt.Errorf("database url %q: sqlite URLs take no parameters", raw)
		}
		if p == "" || p == "/" {
			return DatabaseTarget{}, fmt.Errorf("database url %q has no file path: use sqlite://risksync.db or sqlite:///abs/path.db", raw)
		}
		return DatabaseTarget{Kind: SQLite, Path: filepath.Clean(p)}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return DatabaseTarget{}, fmt.Errorf("database url %s is not a valid postgres URL: use postgres://user@host:5432/db?sslmode=disable", RedactURL(raw))
		}
		return DatabaseTarget{Kind: Postgres, DSN: raw}, nil
	}
	return DatabaseTarget{}, fmt.Errorf("database url %s: use sqlite://FILE or postgres://user@host:5432/db", RedactURL(raw))
}

// RedactURL hides the password of a URL, for messages and logs.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			return "<url with credentials>"
		}
		return raw
	}
	return u.Redacted()
}

// Trackers lists the configured trackers, github first.
func (c *Config) Trackers() []string {
	var out []string
	if c.GitHub != nil {
		out = append(out, registry.TrackerGitHub)
	}
	if c.Jira != nil {
		out = append(out, registry.TrackerJira)
	}
	return out
}

// HasTracker reports whether a tracker has a configuration section.
func (c *Config) HasTracker(t string) bool {
	return (t == registry.TrackerGitHub && c.GitHub != nil) || (t == registry.TrackerJira && c.Jira != nil)
}

// Team returns the team with the given name, or nil.
func (c *Config) Team(name string) *Team {
	for i := range c.Teams {
		if c.Teams[i].Name == name {
			return &c.Teams[i]
		}
	}
	return nil
}

// MatchTeam finds a team by name or alias, ignoring case and surrounding
// space, as postmortem tables spell owners.
func (c *Config) MatchTeam(s string) *Team {
	k := strings.ToLower(strings.TrimSpace(s))
	for i := range c.Teams {
		t := &c.Teams[i]
		if strings.ToLower(t.Name) == k {
			return t
		}
		for _, a := range t.Aliases {
			if strings.ToLower(strings.TrimSpace(a)) == k {
				return t
			}
		}
	}
	return nil
}

// TeamNames lists the configured team names.
func (c *Config) TeamNames() []string {
	out := make([]string, len(c.Teams))
	for i, t := range c.Teams {
		out[i] = t.Name
	}
	return out
}

// Target is where a risk's epic lives.
type Target struct {
	Tracker string // github | jira
	Repo    string // GitHub owner/name
	Project string // Jira project key
}

// String renders the target, e.g. "github acme/reliability".
func (t Target) String() string {
	if t.Tracker == registry.TrackerJira {
		return "jira " + t.Project
	}
	return t.Tracker + " " + t.Repo
}

// Route returns where the epic of a risk owned by owner ("" for unowned)
// lives: the team's tracker and repo/project, else the global ones. ok is
// false when no tracker is configured for it.
func (c *Config) Route(owner string) (Target, bool) {
	tracker, repo, project := c.DefaultTracker, "", ""
	if t := c.Team(owner); t != nil {
		if t.Tracker != "" {
			tracker = t.Tracker
		}
		repo, project = t.GitHubRepo, t.JiraProject
	}
	switch tracker {
	case registry.TrackerGitHub:
		if c.GitHub == nil {
			return Target{}, false
		}
		if repo == "" {
			repo = c.GitHub.Repo
		}
		return Target{Tracker: tracker, Repo: repo}, true
	case registry.TrackerJira:
		if c.Jira == nil {
			return Target{}, false
		}
		if project == "" {
			project = c.Jira.Project
		}
		return Target{Tracker: tracker, Project: project}, true
	}
	return Target{}, false
}

// ScoringConfig returns the scoring model and bands with minimums resolved.
func (c *Config) ScoringConfig() scoring.Config {
	sc := scoring.Config{Model: c.Scoring.Model}
	for _, b := range c.Scoring.Bands {
		min := 0.0
		switch {
		case b.MinBudgetShare != nil:
			min = *b.MinBudgetShare * scoring.ErrorBudgetMinutes(c.Scoring.SLO)
		case b.MinScore != nil:
			min = *b.MinScore
		}
		sc.Bands = append(sc.Bands, scoring.Band{Name: b.Name, MinScore: min, GitHubLabel: b.GitHubLabel,
			JiraPriority: b.JiraPriority, ReviewEvery: b.ReviewEvery.Std()})
	}
	return sc
}

// SecretRefs lists every secret the configured trackers and report need.
func (c *Config) SecretRefs() []SecretRef {
	var refs []SecretRef
	if g := c.GitHub; g != nil {
		refs = append(refs, g.Token())
		if g.WebhookSecret().Set() {
			refs = append(refs, g.WebhookSecret())
		}
	}
	if j := c.Jira; j != nil {
		if j.UsesPAT() {
			refs = append(refs, j.PAT())
		} else {
			refs = append(refs, j.Email(), j.APIToken())
		}
		if j.WebhookSecret().Set() {
			refs = append(refs, j.WebhookSecret())
		}
	}
	if c.Report.WebhookURL().Set() {
		refs = append(refs, c.Report.WebhookURL())
	}
	return refs
}

// CheckSecrets resolves every secret and returns one error per missing one.
func (c *Config) CheckSecrets(lookup func(string) (string, bool)) []error {
	var errs []error
	for _, ref := range c.SecretRefs() {
		if _, err := ref.Resolve(lookup); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
