package config

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"

	"github.com/risksync/risksync/internal/registry"
)

// Orders of a GitHub project's risk items.
const (
	ProjectOrderOff     = "off"      // items and fields only; people order the project
	ProjectOrderByScore = "by_score" // risk items in score order among themselves
)

// GitHubProject is a GitHub Project (v2) that shows every epic: github.project,
// or a team's github_project. A team's project takes priority_field,
// score_field and order from github.project when it leaves them out.
type GitHubProject struct {
	Owner         string `yaml:"owner"`  // organisation or user login
	Number        int    `yaml:"number"` // the number in the project's URL
	PriorityField string `yaml:"priority_field"`
	ScoreField    string `yaml:"score_field"`
	Order         string `yaml:"order"` // off (default) | by_score
	// Where names the configuration key, for errors ("github.project").
	Where string `yaml:"-"`
}

// ByScore reports whether the project's risk items are kept in score order.
func (p *GitHubProject) ByScore() bool { return p.Order == ProjectOrderByScore }

// String is "owner#number", the project's name in messages.
func (p *GitHubProject) String() string { return fmt.Sprintf("%s#%d", p.Owner, p.Number) }

var loginRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

func (p *GitHubProject) validate(loc locator, where string, path ...any) error {
	at := func(msg string, key string) error {
		return loc.errorf(where+": "+msg, append(path, key)...)
	}
	if !loginRe.MatchString(p.Owner) {
		return at(fmt.Sprintf("owner %q must be an organisation or user login such as acme", p.Owner), "owner")
	}
	if p.Number < 1 {
		return at(fmt.Sprintf("number %d must be the project's number (the 7 of github.com/orgs/acme/projects/7)", p.Number), "number")
	}
	switch p.Order {
	case "", ProjectOrderOff, ProjectOrderByScore:
	default:
		return at(fmt.Sprintf("order %q: use off or by_score", p.Order), "order")
	}
	for _, f := range []struct{ key, v string }{{"priority_field", p.PriorityField}, {"score_field", p.ScoreField}} {
		if f.v != "" && strings.TrimSpace(f.v) != f.v {
			return at(fmt.Sprintf("%s %q has leading or trailing spaces", f.key, f.v), f.key)
		}
	}
	return nil
}

// validateProjectPriorities needs a project_priority on every band when a
// project sets a priority field: a band without one would leave epics blank.
func (c *Config) validateProjectPriorities(loc locator) error {
	if c.GitHub == nil {
		return nil
	}
	var needs *GitHubProject
	for _, p := range c.GitHubProjects() {
		if p.PriorityField != "" {
			needs = p
			break
		}
	}
	if needs == nil {
		return nil
	}
	for i, b := range c.Scoring.Bands {
		if strings.TrimSpace(b.ProjectPriority) == "" {
			return loc.errorf(fmt.Sprintf("scoring.bands[%d] (%s): project_priority is required because %s.priority_field is %q (name the field's option for this band, e.g. P0)",
				i, b.Name, needs.Where, needs.PriorityField), "scoring", "bands", i, "name")
		}
	}
	return nil
}

// GitHubProjectFor returns the project of an epic of a risk owned by owner
// ("" unowned): the team's github_project, else github.project; nil when
// none. The result is a copy with inherited keys filled in.
func (c *Config) GitHubProjectFor(owner string) *GitHubProject {
	if c.GitHub == nil {
		return nil
	}
	g := c.GitHub.Project
	if t := c.Team(owner); t != nil && t.GitHubProject != nil && cmp.Or(t.Tracker, c.DefaultTracker) == registry.TrackerGitHub {
		p := *t.GitHubProject
		p.Where = fmt.Sprintf("teams[%s].github_project", t.Name)
		if g != nil {
			p.PriorityField = cmp.Or(p.PriorityField, g.PriorityField)
			p.ScoreField = cmp.Or(p.ScoreField, g.ScoreField)
			p.Order = cmp.Or(p.Order, g.Order)
		}
		return &p
	}
	if g == nil {
		return nil
	}
	p := *g
	p.Where = "github.project"
	return &p
}

// GitHubProjects lists every configured project (github.project first,
// then the teams'), resolved as GitHubProjectFor resolves them.
func (c *Config) GitHubProjects() []*GitHubProject {
	var out []*GitHubProject
	if p := c.GitHubProjectFor(""); p != nil && c.Team("") == nil {
		out = append(out, p)
	}
	for _, t := range c.Teams {
		if t.GitHubProject != nil {
			if p := c.GitHubProjectFor(t.Name); p != nil && p.Where != "github.project" {
				out = append(out, p)
			}
		}
	}
	return out
}
