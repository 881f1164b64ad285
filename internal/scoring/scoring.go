// Package scoring turns a risk's ratings into a score, a band, a tracker
// priority and a human explanation. Pure functions: no I/O, no clock.
package scoring

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Model names.
const (
	Ordinal         = "ordinal"          // impact × scope × likelihood, 1..125
	ExpectedMinutes = "expected_minutes" // Google CRE: bad minutes per year
)

// MinutesPerYear is 365.25 days of minutes: a yearly error budget is
// (1 − SLO) × MinutesPerYear.
const MinutesPerYear = 525960

// ErrorBudgetMinutes returns the yearly error budget of an SLO such as 0.999.
func ErrorBudgetMinutes(slo float64) float64 { return (1 - slo) * MinutesPerYear }

// Band maps a range of scores to a name, tracker priorities and a review cadence.
type Band struct {
	Name         string
	MinScore     float64 // inclusive
	GitHubLabel  string
	JiraPriority string
	ReviewEvery  time.Duration
	// ProjectPriority is the option of the GitHub project's priority field.
	ProjectPriority string
}

// Config is a scoring model and its bands, highest band first.
type Config struct {
	Model string
	Bands []Band
	// Recurrence is what repeated postmortems do to likelihood; its zero
	// value is mode off. It does not change derived values (not in Fingerprint).
	Recurrence Recurrence
}

// Inputs are what a model reads. A nil rating is missing.
type Inputs struct {
	Impact, Scope, Likelihood                         *int
	ETTDMinutes, ETTRMinutes, ImpactPercent, ETTFDays *float64
}

// InputsOf returns a risk's scoring inputs.
func InputsOf(r *registry.Risk) Inputs {
	return Inputs{Impact: r.Impact, Scope: r.Scope, Likelihood: r.Likelihood,
		ETTDMinutes: r.ETTDMinutes, ETTRMinutes: r.ETTRMinutes, ImpactPercent: r.ImpactPercent, ETTFDays: r.ETTFDays}
}

// Result is an evaluation. Score and Band are nil when the risk is unscored:
// a risk with missing inputs is never scored as zero.
type Result struct {
	Score   *float64
	Band    *Band
	Missing []string // inputs the model needs that are not set
	formula string
}

// Evaluate scores inputs under the configured model.
func (c Config) Evaluate(in Inputs) Result {
	var res Result
	switch c.Model {
	case ExpectedMinutes:
		res.Missing = missingFloats(map[string]*float64{"ettd_minutes": in.ETTDMinutes, "ettr_minutes": in.ETTRMinutes,
			"impact_percent": in.ImpactPercent, "ettf_days": in.ETTFDays}, "ettd_minutes", "ettr_minutes", "impact_percent", "ettf_days")
		if len(res.Missing) > 0 || *in.ETTFDays <= 0 {
			if len(res.Missing) == 0 {
				res.Missing = []string{"ettf_days"}
			}
			return res
		}
		s := (*in.ETTDMinutes + *in.ETTRMinutes) * *in.ImpactPercent / 100 * 365.25 / *in.ETTFDays
		res.Score = &s
		res.formula = fmt.Sprintf("(ettd %s + ettr %s) min × %s%% × 365.25/%s d = %s bad minutes/year",
			num(*in.ETTDMinutes), num(*in.ETTRMinutes), num(*in.ImpactPercent), num(*in.ETTFDays), FormatScore(s))
	default: // Ordinal; config validation rejects unknown models
		for _, f := range []struct {
			name string
			v    *int
		}{{"impact", in.Impact}, {"scope", in.Scope}, {"likelihood", in.Likelihood}} {
			if f.v == nil {
				res.Missing = append(res.Missing, f.name)
			}
		}
		if len(res.Missing) > 0 {
			return res
		}
		s := float64(*in.Impact * *in.Scope * *in.Likelihood)
		res.Score = &s
		res.formula = fmt.Sprintf("impact %d × scope %d × likelihood %d = %s", *in.Impact, *in.Scope, *in.Likelihood, FormatScore(s))
	}
	res.Band = c.BandFor(*res.Score)
	return res
}

func missingFloats(m map[string]*float64, order ...string) []string {
	var out []string
	for _, k := range order {
		if m[k] == nil {
			out = append(out, k)
		}
	}
	return out
}

// BandFor returns the highest band whose minimum the score reaches.
func (c Config) BandFor(score float64) *Band {
	for i := range c.Bands {
		if score >= c.Bands[i].MinScore {
			return &c.Bands[i]
		}
	}
	return nil
}

// Band returns the band with the given name, or nil.
func (c Config) Band(name string) *Band {
	for i := range c.Bands {
		if c.Bands[i].Name == name {
			return &c.Bands[i]
		}
	}
	return nil
}

// Explain renders inputs → score → band → priority, for example
// "impact 4 × scope 5 × likelihood 3 = 60 → critical → Jira Highest / priority/P0".
// Trackers lists the configured trackers whose priority is shown.
func (r Result) Explain(trackers ...string) string {
	if r.Score == nil {
		return "unscored: missing " + strings.Join(r.Missing, ", ")
	}
	if r.Band == nil {
		return r.formula + " → no band"
	}
	s := r.formula + " → " + r.Band.Name
	if p := r.Band.priorityText(trackers); p != "" {
		s += " → " + p
	}
	return s
}

func (b *Band) priorityText(trackers []string) string {
	var parts []string
	for _, t := range trackers {
		switch {
		case t == registry.TrackerJira && b.JiraPriority != "":
			parts = append(parts, "Jira "+b.JiraPriority)
		case t == registry.TrackerGitHub && b.GitHubLabel != "":
			parts = append(parts, b.GitHubLabel)
		}
	}
	return strings.Join(parts, " / ")
}

// Priority returns the band's priority per configured tracker, as the JSON
// shape spells it: {"github":"priority/P0","jira":"Highest"}. Nil when unscored.
func (b *Band) Priority(trackers ...string) map[string]string {
	if b == nil {
		return nil
	}
	out := map[string]string{}
	for _, t := range trackers {
		switch t {
		case registry.TrackerGitHub:
			out[t] = b.GitHubLabel
		case registry.TrackerJira:
			out[t] = b.JiraPriority
		}
	}
	return out
}

// ReviewDue returns when a risk is next due for review: its last review (or
// creation) plus its band's cadence. An unscored risk takes the most frequent
// cadence, since it needs triage; a retired risk is never due.
func (c Config) ReviewDue(r *registry.Risk, band *Band) *time.Time {
	if r.Status == registry.StatusRetired || len(c.Bands) == 0 {
		return nil
	}
	every := c.Bands[0].ReviewEvery
	for _, b := range c.Bands {
		if b.ReviewEvery > 0 && (every == 0 || b.ReviewEvery < every) {
			every = b.ReviewEvery
		}
	}
	if band != nil && band.ReviewEvery > 0 {
		every = band.ReviewEvery
	}
	if every <= 0 {
		return nil
	}
	base := r.CreatedAt
	if r.LastReviewedAt != nil {
		base = *r.LastReviewedAt
	}
	due := registry.Truncate(base.Add(every))
	return &due
}

// Derive fills Score, Band and ReviewDueAt; it is the registry.Deriver the
// stores call inside every write.
func (c Config) Derive(r *registry.Risk) {
	res := c.Evaluate(InputsOf(r))
	r.Score, r.Band = res.Score, ""
	if res.Band != nil {
		r.Band = res.Band.Name
	}
	r.ReviewDueAt = c.ReviewDue(r, res.Band)
}

// FormatScore prints integers without decimals and other scores with one.
func FormatScore(s float64) string {
	if s == math.Trunc(s) && math.Abs(s) < 1e15 {
		return strconv.FormatFloat(s, 'f', 0, 64)
	}
	return strconv.FormatFloat(math.Round(s*10)/10, 'f', 1, 64) // half away from zero, as people round
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Fingerprint identifies what derived values depend on (model, band names,
// minimums, cadences), so a store rescores only when it changes.
func (c Config) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", c.Model)
	for _, b := range c.Bands {
		fmt.Fprintf(h, "%s %v %d\n", b.Name, b.MinScore, b.ReviewEvery)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
