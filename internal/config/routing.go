package config

import (
	"cmp"
	"slices"

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
// space, as postmortem tables spell owners (rules: registry.Routing.MatchTeam).
func (c *Config) MatchTeam(s string) *Team {
	r := c.Routing()
	m := r.MatchTeam(s)
	for i := range r.Teams { // r.Teams is c.Teams in order
		if &r.Teams[i] == m {
			return &c.Teams[i]
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
// false when no tracker is configured for it (rules: registry.Routing.Route).
func (c *Config) Route(owner string) (Target, bool) {
	t, ok := c.Routing().Route(owner)
	switch {
	case !ok:
		return Target{}, false
	case t.Tracker == registry.TrackerJira:
		return Target{Tracker: t.Tracker, Project: t.Name}, true
	}
	return Target{Tracker: t.Tracker, Repo: t.Name}, true
}

// Routing is the routing part of the configuration, for code that routes
// epics but has no business reading the rest.
func (c *Config) Routing() registry.Routing {
	r := registry.Routing{
		Teams:    make([]registry.Team, len(c.Teams)),
		Default:  c.target(c.DefaultTracker, "", ""),
		Trackers: c.Trackers(),
		Postmortems: map[string]bool{
			registry.TrackerGitHub: c.GitHub != nil && len(c.GitHub.Postmortem.Repos) > 0,
			registry.TrackerJira:   c.Jira != nil && len(c.Jira.Postmortem.Projects) > 0,
		},
	}
	for i, t := range c.Teams {
		tracker := cmp.Or(t.Tracker, c.DefaultTracker)
		r.Teams[i] = registry.Team{Name: t.Name, Aliases: slices.Clone(t.Aliases),
			Target: c.target(tracker, t.GitHubRepo, t.JiraProject)}
	}
	return r
}

// target fills a team's missing repo or project from the tracker's section.
// A tracker without a section keeps what it has: Route refuses it anyway.
func (c *Config) target(tracker, repo, project string) registry.Target {
	switch tracker {
	case registry.TrackerGitHub:
		if repo == "" && c.GitHub != nil {
			repo = c.GitHub.Repo
		}
		return registry.Target{Tracker: tracker, Name: repo}
	case registry.TrackerJira:
		if project == "" && c.Jira != nil {
			project = c.Jira.Project
		}
		return registry.Target{Tracker: tracker, Name: project}
	}
	return registry.Target{Tracker: tracker}
}
