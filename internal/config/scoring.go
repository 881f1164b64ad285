package config

import (
	"github.com/risksync/risksync/internal/scoring"
)

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
			JiraPriority: b.JiraPriority, ReviewEvery: b.ReviewEvery.Std(), ProjectPriority: b.ProjectPriority})
	}
	rc := c.Scoring.Recurrence
	sc.Recurrence = scoring.Recurrence{Window: rc.Window.Std(), Mode: rc.Mode}
	for _, st := range rc.Likelihood {
		if st.Min != nil && st.Rating != nil {
			sc.Recurrence.Steps = append(sc.Recurrence.Steps, scoring.RecurrenceStep{Min: *st.Min, Rating: *st.Rating})
		}
	}
	return sc
}
