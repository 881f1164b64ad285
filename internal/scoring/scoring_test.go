package scoring_test

import (
	"math"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

func p[T any](v T) *T { return &v }

var ordinal = scoring.Config{Model: scoring.Ordinal, Bands: []scoring.Band{
	{Name: "critical", MinScore: 60, GitHubLabel: "priority/P0", JiraPriority: "Highest", ReviewEvery: 7 * 24 * time.Hour},
	{Name: "high", MinScore: 30, GitHubLabel: "priority/P1", JiraPriority: "High", ReviewEvery: 14 * 24 * time.Hour},
	{Name: "medium", MinScore: 12, GitHubLabel: "priority/P2", JiraPriority: "Medium", ReviewEvery: 30 * 24 * time.Hour},
	{Name: "low", MinScore: 0, GitHubLabel: "priority/P3", JiraPriority: "Low", ReviewEvery: 90 * 24 * time.Hour},
}}

func TestOrdinal(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		impact, scope, likelihood *int
		score                     float64 // -1: unscored
		band, explain             string
	}{
		{"issue example", p(4), p(5), p(3), 60, "critical", "impact 4 × scope 5 × likelihood 3 = 60 → critical → priority/P0 / Jira Highest"},
		{"bounds are inclusive", p(2), p(3), p(5), 30, "high", "impact 2 × scope 3 × likelihood 5 = 30 → high → priority/P1 / Jira High"},
		{"just below a bound", p(1), p(1), p(11 % 6), 5, "low", ""},
		{"maximum", p(5), p(5), p(5), 125, "critical", ""},
		{"minimum", p(1), p(1), p(1), 1, "low", ""},
		{"missing likelihood is unscored, not zero", p(5), p(5), nil, -1, "", "unscored: missing likelihood"},
		{"nothing rated", nil, nil, nil, -1, "", "unscored: missing impact, scope, likelihood"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ordinal.Evaluate(scoring.Inputs{Impact: tc.impact, Scope: tc.scope, Likelihood: tc.likelihood})
			if tc.score < 0 {
				if res.Score != nil || res.Band != nil {
					t.Fatalf("scored %v; want unscored", *res.Score)
				}
			} else if res.Score == nil || *res.Score != tc.score || res.Band.Name != tc.band {
				t.Fatalf("got %v %v; want %v %s", res.Score, res.Band, tc.score, tc.band)
			}
			if tc.explain != "" {
				if got := res.Explain(registry.TrackerGitHub, registry.TrackerJira); got != tc.explain {
					t.Fatalf("explain %q\nwant    %q", got, tc.explain)
				}
			}
		})
	}
}

// The essay: a daily degradation hitting many users outranks a rare full outage.
func TestDailyDegradationOutranksRareOutage(t *testing.T) {
	daily := ordinal.Evaluate(scoring.Inputs{Impact: p(2), Scope: p(4), Likelihood: p(5)})
	outage := ordinal.Evaluate(scoring.Inputs{Impact: p(5), Scope: p(5), Likelihood: p(1)})
	if *daily.Score != 40 || *outage.Score != 25 || !(*daily.Score > *outage.Score) {
		t.Fatalf("daily %v, outage %v: the daily degradation must rank first", *daily.Score, *outage.Score)
	}
	if daily.Band.Name != "high" || outage.Band.Name != "medium" {
		t.Fatalf("bands %s / %s", daily.Band.Name, outage.Band.Name)
	}
}

func TestExpectedMinutes(t *testing.T) {
	budget := scoring.ErrorBudgetMinutes(0.999) // 525.96 minutes a year
	if math.Abs(budget-525.96) > 1e-9 {
		t.Fatalf("budget %v", budget)
	}
	cfg := scoring.Config{Model: scoring.ExpectedMinutes, Bands: []scoring.Band{
		{Name: "critical", MinScore: budget, JiraPriority: "Highest"},
		{Name: "high", MinScore: budget / 2, JiraPriority: "High"},
		{Name: "low", MinScore: 0, JiraPriority: "Low"},
	}}
	// 30 + 90 minutes, 25% of users, every 30 days: 120 × 0.25 × 12.175 = 365.25.
	res := cfg.Evaluate(scoring.Inputs{ETTDMinutes: p(30.0), ETTRMinutes: p(90.0), ImpactPercent: p(25.0), ETTFDays: p(30.0)})
	if res.Score == nil || math.Abs(*res.Score-365.25) > 1e-9 || res.Band.Name != "high" {
		t.Fatalf("got %v %v", res.Score, res.Band)
	}
	want := "(ettd 30 + ettr 90) min × 25% × 365.25/30 d = 365.3 bad minutes/year → high → Jira High"
	if got := res.Explain(registry.TrackerJira); got != want {
		t.Fatalf("explain %q\nwant    %q", got, want)
	}
	// Ordinal ratings alone do not score under this model.
	un := cfg.Evaluate(scoring.Inputs{Impact: p(5), Scope: p(5), Likelihood: p(5), ETTDMinutes: p(1.0)})
	if un.Score != nil || un.Explain() != "unscored: missing ettr_minutes, impact_percent, ettf_days" {
		t.Fatalf("got %v %q", un.Score, un.Explain())
	}
}

func TestPriorityAndReviewDue(t *testing.T) {
	b := ordinal.BandFor(60)
	if got := b.Priority(registry.TrackerGitHub, registry.TrackerJira); got["github"] != "priority/P0" || got["jira"] != "Highest" || len(got) != 2 {
		t.Fatalf("priority %v", got)
	}
	if got := b.Priority(registry.TrackerJira); len(got) != 1 {
		t.Fatalf("only configured trackers: %v", got)
	}
	var none *scoring.Band
	if none.Priority(registry.TrackerGitHub) != nil {
		t.Fatal("unscored risks have no priority")
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &registry.Risk{CreatedAt: created, Status: registry.StatusActive}
	if due := ordinal.ReviewDue(r, ordinal.Band("medium")); !due.Equal(created.Add(30 * 24 * time.Hour)) {
		t.Fatalf("medium due %v", due)
	}
	if due := ordinal.ReviewDue(r, nil); !due.Equal(created.Add(7 * 24 * time.Hour)) {
		t.Fatalf("unscored risks take the most frequent cadence, got %v", due)
	}
	reviewed := created.Add(100 * time.Hour)
	r.LastReviewedAt = &reviewed
	if due := ordinal.ReviewDue(r, ordinal.Band("critical")); !due.Equal(reviewed.Add(7 * 24 * time.Hour)) {
		t.Fatalf("due counts from the last review, got %v", due)
	}
	r.Status = registry.StatusRetired
	if ordinal.ReviewDue(r, ordinal.Band("critical")) != nil {
		t.Fatal("retired risks are never due")
	}
}

func TestFormatScore(t *testing.T) {
	for in, want := range map[float64]string{60: "60", 365.25: "365.3", 0.04: "0.0"} {
		if got := scoring.FormatScore(in); got != want {
			t.Errorf("FormatScore(%v) = %q, want %q", in, got, want)
		}
	}
}
