package config_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
)

// legacyRoute and legacyMatchTeam are config.Route and config.MatchTeam as
// they were before the rules moved to registry.Routing: the oracle that
// proves the move changed nothing.
func legacyRoute(c *config.Config, owner string) (config.Target, bool) {
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
			return config.Target{}, false
		}
		if repo == "" {
			repo = c.GitHub.Repo
		}
		return config.Target{Tracker: tracker, Repo: repo}, true
	case registry.TrackerJira:
		if c.Jira == nil {
			return config.Target{}, false
		}
		if project == "" {
			project = c.Jira.Project
		}
		return config.Target{Tracker: tracker, Project: project}, true
	}
	return config.Target{}, false
}

func legacyMatchTeam(c *config.Config, s string) *config.Team {
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

// routingConfigs are the example, the valid testdata, and hand-built
// configurations validation would refuse but Route must still answer.
func routingConfigs(t *testing.T) map[string]*config.Config {
	t.Helper()
	cfgs := map[string]*config.Config{}
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) < 4 {
		t.Fatalf("only %d valid configs", len(files))
	}
	for _, f := range append(files, "../../config.example.yaml") {
		cfg, err := config.Load(f, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		cfgs[f] = cfg
	}
	cfgs["unvalidated: tracker without a section"] = &config.Config{
		DefaultTracker: registry.TrackerJira,
		GitHub:         &config.GitHub{Repo: "acme/rel"},
		Teams: []config.Team{
			{Name: "a", Tracker: registry.TrackerJira, JiraProject: "A"},
			{Name: "b", Tracker: registry.TrackerGitHub, GitHubRepo: "acme/b", JiraProject: "B"},
			{Name: "c", Tracker: "gitlab"},
			{Name: "b", Aliases: []string{"Bee"}}, // a duplicate name: the first one routes
			{Name: "d"},
		},
	}
	cfgs["unvalidated: no default tracker"] = &config.Config{
		Jira:  &config.Jira{},
		Teams: []config.Team{{Name: "x"}, {Name: "y", Tracker: registry.TrackerJira}},
	}
	return cfgs
}

func TestRoutingAgreesWithConfig(t *testing.T) {
	for name, cfg := range routingConfigs(t) {
		t.Run(name, func(t *testing.T) {
			r := cfg.Routing()
			if got, want := r.TeamNames(), cfg.TeamNames(); !reflect.DeepEqual(got, want) {
				t.Errorf("TeamNames %q, config %q", got, want)
			}
			if !reflect.DeepEqual(r.Trackers, cfg.Trackers()) {
				t.Errorf("Trackers %q, config %q", r.Trackers, cfg.Trackers())
			}
			owners := []string{"", "nobody", "Nobody", "storage-sre", "STORAGE-SRE", "Bee", "cdn"}
			for _, tm := range cfg.Teams {
				owners = append(owners, tm.Name, strings.ToUpper(tm.Name), " "+tm.Name+" ")
				for _, a := range tm.Aliases {
					owners = append(owners, a, strings.ToLower(a), " "+strings.ToUpper(a)+" ")
				}
			}
			for _, o := range owners {
				want, wantOK := legacyRoute(cfg, o)
				got, ok := r.Route(o)
				gotCfg, okCfg := cfg.Route(o)
				if ok != wantOK || okCfg != wantOK || gotCfg != want || (ok && got.String() != want.String()) || (!ok && got != registry.Target{}) {
					t.Errorf("Route(%q) = %v %v, config %v %v, legacy %v %v", o, got, ok, gotCfg, okCfg, want, wantOK)
				}
				wantTeam := legacyMatchTeam(cfg, o)
				gotTeam, gotCfgTeam := r.MatchTeam(o), cfg.MatchTeam(o)
				if gotCfgTeam != wantTeam {
					t.Errorf("config.MatchTeam(%q) = %v, legacy %v", o, gotCfgTeam, wantTeam)
				}
				if (gotTeam == nil) != (wantTeam == nil) || (gotTeam != nil && gotTeam.Name != wantTeam.Name) {
					t.Errorf("MatchTeam(%q) = %v, legacy %v", o, gotTeam, wantTeam)
				}
			}
			for _, tr := range []string{registry.TrackerGitHub, registry.TrackerJira} {
				want := false
				switch {
				case tr == registry.TrackerGitHub && cfg.GitHub != nil:
					want = len(cfg.GitHub.Postmortem.Repos) > 0
				case tr == registry.TrackerJira && cfg.Jira != nil:
					want = len(cfg.Jira.Postmortem.Projects) > 0
				}
				if r.Postmortems[tr] != want {
					t.Errorf("Postmortems[%s] = %v", tr, r.Postmortems[tr])
				}
			}
		})
	}
}

func TestRoutingOfExample(t *testing.T) {
	cfg, err := config.Load("../../config.example.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Routing()
	for owner, want := range map[string]string{
		"":            "github acme/reliability",
		"payments":    "jira PAY",
		"storage-sre": "github acme/storage-reliability",
		"Payments":    "github acme/reliability", // owners are stored names: exact
	} {
		if got, ok := r.Route(owner); !ok || got.String() != want {
			t.Errorf("Route(%q) = %v %v, want %s", owner, got, ok, want)
		}
	}
	if tm := r.MatchTeam("  service lifecycle sre "); tm == nil || tm != &r.Teams[0] {
		t.Fatalf("alias match: %v", tm)
	}
	if !r.Postmortems[registry.TrackerGitHub] || !r.Postmortems[registry.TrackerJira] {
		t.Fatalf("postmortems %v", r.Postmortems)
	}
	// The value is the engine's own: changing the configuration afterwards does not reach it.
	cfg.Teams[0].Aliases[0] = "changed"
	if r.MatchTeam("Storage SRE") == nil {
		t.Fatal("routing shares aliases with the configuration")
	}
}

func TestRoutingWithoutTrackers(t *testing.T) {
	r := registry.Routing{Default: registry.Target{Tracker: registry.TrackerGitHub, Name: "acme/rel"},
		Teams: []registry.Team{{Name: "a", Target: registry.Target{Tracker: registry.TrackerJira, Name: "A"}}}}
	if _, ok := r.Route(""); ok {
		t.Fatal("routed to an unconfigured tracker")
	}
	r.Trackers = []string{registry.TrackerGitHub}
	if tg, ok := r.Route("a"); ok {
		t.Fatalf("team on unconfigured jira routed to %v", tg)
	}
	if tg, ok := r.Route("b"); !ok || tg.String() != "github acme/rel" {
		t.Fatalf("unknown owner routed to %v %v", tg, ok)
	}
}
