package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	repoRe    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	projectRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,9}$`)
)

func (c *Config) validate(loc locator) error {
	if _, err := ParseDatabaseURL(c.Database.URL); err != nil {
		return loc.errorf(err.Error(), "database", "url")
	}
	if err := c.validateServerAuth(loc); err != nil {
		return err
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
	if err := c.validateProjectPriorities(loc); err != nil {
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

// headerRe is an HTTP field name (RFC 9110 token).
var headerRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (c *Config) validateServerAuth(loc locator) error {
	p := c.Server.Auth.TrustedProxy
	if p == nil {
		return nil
	}
	at := func(msg string, key ...any) error {
		return loc.errorf("server.auth.trusted_proxy: "+msg, append([]any{"server", "auth", "trusted_proxy"}, key...)...)
	}
	switch h := strings.TrimSpace(p.Header); {
	case h == "":
		return at("header is required: the header the proxy sets to the signed-in email, e.g. X-Forwarded-Email", "header")
	case !headerRe.MatchString(h):
		return at(fmt.Sprintf("header %q is not an HTTP header name", p.Header), "header")
	case strings.EqualFold(h, "Authorization") || strings.EqualFold(h, "Cookie"):
		return at(fmt.Sprintf("header %q carries credentials, not an email: name the header the proxy sets, e.g. X-Forwarded-Email", p.Header), "header")
	}
	if len(p.CIDRs) == 0 {
		return at("cidrs is required: the proxy's source addresses, e.g. [10.0.0.0/8]; the header is believed from nowhere else", "cidrs")
	}
	for i, cidr := range p.CIDRs {
		if _, err := parsePrefix(cidr); err != nil {
			return at(fmt.Sprintf("cidrs[%d]: %v", i, err), "cidrs", i)
		}
	}
	if r, err := registry.ParseRole(p.Role); err != nil || string(r) != p.Role {
		return at(fmt.Sprintf("role %q: use reader, editor or admin", p.Role), "role")
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
	return s.Recurrence.validate(loc)
}

func (r *Recurrence) validate(loc locator) error {
	switch r.Mode {
	case scoring.RecurrenceRaise, scoring.RecurrenceSuggest, scoring.RecurrenceOff:
	default:
		return loc.errorf(fmt.Sprintf("scoring.recurrence.mode %q: use raise, suggest or off", r.Mode), "scoring", "recurrence", "mode")
	}
	if r.Window.Std() < 24*time.Hour {
		return loc.errorf(fmt.Sprintf("scoring.recurrence.window %s must be at least 1d: occurrences are counted over days", r.Window.Std()), "scoring", "recurrence", "window")
	}
	if len(r.Likelihood) == 0 && r.Mode != scoring.RecurrenceOff {
		return loc.errorf("scoring.recurrence.likelihood: give at least one step such as {min: 2, rating: 4}, or set mode: off", "scoring", "recurrence", "likelihood")
	}
	prevMin, prevRating := 0, 0
	for i, st := range r.Likelihood {
		at := func(msg, key string) error {
			return loc.errorf(fmt.Sprintf("scoring.recurrence.likelihood[%d]: %s", i, msg), "scoring", "recurrence", "likelihood", i, key)
		}
		switch {
		case st.Min == nil:
			return at("min is required: how many occurrences in the window", "min")
		case st.Rating == nil:
			return at("rating is required: the likelihood from 1 to 5", "rating")
		case *st.Min < 1:
			return at(fmt.Sprintf("min %d must be at least 1", *st.Min), "min")
		case *st.Rating < 1 || *st.Rating > 5:
			return at(fmt.Sprintf("rating %d must be a likelihood from 1 to 5", *st.Rating), "rating")
		case i > 0 && *st.Min <= prevMin:
			return at(fmt.Sprintf("steps go lowest min first: min %d is not above the previous step's %d", *st.Min, prevMin), "min")
		case i > 0 && *st.Rating <= prevRating:
			return at(fmt.Sprintf("more occurrences must call for a higher rating: %d is not above the previous step's %d", *st.Rating, prevRating), "rating")
		}
		prevMin, prevRating = *st.Min, *st.Rating
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
	if g.Project != nil {
		return g.Project.validate(loc, "github.project", "github", "project")
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
	switch j.Rank {
	case JiraRankOff, JiraRankByScore:
	default:
		return loc.errorf(fmt.Sprintf("jira.rank %q: use off or by_score", j.Rank), "jira", "rank")
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
		if t.GitHubProject != nil && tracker != registry.TrackerGitHub {
			return at(fmt.Sprintf("github_project applies to teams on github, and this team uses %q", tracker), "github_project")
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
			if t.GitHubProject != nil {
				if err := t.GitHubProject.validate(loc, fmt.Sprintf("teams[%d] (%s): github_project", i, t.Name), "teams", i, "github_project"); err != nil {
					return err
				}
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
