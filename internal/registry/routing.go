package registry

import (
	"slices"
	"strings"
)

// Routing says where each team's epics live; built from the configuration at
// wiring time, so the sync engine needs no configuration to route.
type Routing struct {
	Teams []Team
	// Default is where unowned risks, and risks of owners naming no team, go.
	Default Target
	// Trackers lists the configured trackers, github first. A target on any
	// other tracker does not route.
	Trackers []string
	// Postmortems says, by tracker, whether postmortems are read from it.
	Postmortems map[string]bool
}

// Target is where a risk's epic lives.
type Target struct {
	Tracker string // github | jira
	Name    string // "owner/repo" (github) or project key (jira)
}

// String renders the target, e.g. "github acme/reliability".
func (t Target) String() string { return t.Tracker + " " + t.Name }

// Team is a configured team. Target is already resolved: a team naming no
// tracker, repo or project has the defaults filled in.
type Team struct {
	Name    string
	Aliases []string
	Target  Target
}

// Route returns where the epic of a risk owned by owner ("" for unowned)
// lives: the team's target, else Default. ok is false when that target's
// tracker is not configured; the risk then stays in the registry only.
func (r Routing) Route(owner string) (Target, bool) {
	t := r.Default
	// Owners are stored team names, so the match is exact, unlike MatchTeam.
	for i := range r.Teams {
		if r.Teams[i].Name == owner {
			t = r.Teams[i].Target
			break
		}
	}
	if !slices.Contains(r.Trackers, t.Tracker) {
		return Target{}, false
	}
	return t, true
}

// MatchTeam finds a team by name or alias, ignoring case and surrounding
// space, as postmortem tables spell owners. The result points into r.Teams;
// nil when none matches.
func (r Routing) MatchTeam(name string) *Team {
	k := strings.ToLower(strings.TrimSpace(name))
	for i := range r.Teams {
		t := &r.Teams[i]
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

// TeamNames lists the team names in order.
func (r Routing) TeamNames() []string {
	out := make([]string, len(r.Teams))
	for i, t := range r.Teams {
		out[i] = t.Name
	}
	return out
}
