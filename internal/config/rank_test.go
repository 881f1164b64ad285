package config_test

import (
	"testing"

	"github.com/risksync/risksync/internal/config"
)

// jira.rank is off unless set, and by_score is accepted.
func TestJiraRank(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"jira: {base_url: https://acme.atlassian.net, project: REL}\n", config.JiraRankOff},
		{"jira: {base_url: https://acme.atlassian.net, project: REL, rank: off}\n", config.JiraRankOff},
		{"jira: {base_url: https://acme.atlassian.net, project: REL, rank: by_score}\n", config.JiraRankByScore},
	} {
		cfg, err := config.Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if cfg.Jira.Rank != tc.want {
			t.Fatalf("%q: rank %q, want %q", tc.yaml, cfg.Jira.Rank, tc.want)
		}
	}
}
