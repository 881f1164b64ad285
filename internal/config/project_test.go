package config_test

import (
	"testing"

	"github.com/risksync/risksync/internal/config"
)

func TestGitHubProjectPerTeam(t *testing.T) {
	cfg, err := config.Load("testdata/valid/github_project.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.GitHubProjectFor("payments")
	if g.String() != "acme#7" || !g.ByScore() || g.PriorityField != "Priority" || g.ScoreField != "Risk score" || g.Where != "github.project" {
		t.Fatalf("payments' project = %+v", g)
	}
	if u := cfg.GitHubProjectFor(""); u.String() != "acme#7" {
		t.Fatalf("unowned risks' project = %+v", u)
	}
	// The team's own project inherits the field names and the order.
	s := cfg.GitHubProjectFor("storage-sre")
	if s.String() != "octocat#2" || !s.ByScore() || s.PriorityField != "Priority" || s.Where != "teams[storage-sre].github_project" {
		t.Fatalf("storage-sre's project = %+v", s)
	}
	if n := len(cfg.GitHubProjects()); n != 2 {
		t.Fatalf("%d projects, want 2", n)
	}
	sc := cfg.ScoringConfig()
	if sc.Bands[0].ProjectPriority != "P0" || sc.Bands[3].ProjectPriority != "P3" {
		t.Fatalf("bands = %+v", sc.Bands)
	}
}
