package config

import (
	"strings"

	"github.com/risksync/risksync/internal/registry"
)

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
