package config

import (
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

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
	c.Scoring.Recurrence.applyDefaults()
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
		if j.Rank == "" {
			j.Rank = JiraRankOff
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

func (r *Recurrence) applyDefaults() {
	def := scoring.DefaultRecurrence()
	if r.Window == 0 {
		r.Window = Duration(def.Window)
	}
	if r.Mode == "" {
		r.Mode = def.Mode
	}
	if r.Likelihood == nil {
		for _, s := range def.Steps {
			r.Likelihood = append(r.Likelihood, RecurrenceStep{Min: &s.Min, Rating: &s.Rating})
		}
	}
}
