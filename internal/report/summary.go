package report

import (
	"fmt"
	"strings"

	"github.com/risksync/risksync/internal/scoring"
)

// summaryRows bounds each list in the chat summary: it points to the issue
// for the rest.
const summaryRows = 5

// Summary is the chat form of the report for a Slack-compatible webhook:
// Slack's mrkdwn (*bold*, <url|text> links), counts, the stuck top risks,
// the most urgent stagnant risks with their epics, movement, and a link to
// the full report when there is one.
func Summary(r *Report, reportURL string) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	title := Title(r.Week)
	if safeURL(reportURL) {
		title = "<" + reportURL + "|" + slack(title) + ">"
	} else {
		title = slack(title)
	}
	p("*%s*\n", title)
	p("%d open risks · exposure %s (%s) · %d stagnant · %d reviews overdue · %d needing a decision · %d unowned · %d unscored\n",
		r.Totals.Risks, scoring.FormatScore(r.Totals.Exposure), r.Exposure.Unit, len(r.Stagnant), len(r.ReviewOverdue),
		len(r.NeedsDecision), len(r.Unowned), len(r.Unscored))
	if stuck := stuckTop(r); len(stuck) > 0 {
		p("\n:warning: *In the top 10 for more than %d weeks (%d):*\n", StuckWeeks, len(stuck))
		for i, t := range stuck {
			if i == summaryRows {
				p("• … and %d more\n", len(stuck)-summaryRows)
				break
			}
			p("• %s %s — %s, %s, %d weeks\n", t.Key, slack(t.Title), scoreBand(t.Score, t.Band), slackOwner(t.Owner), t.WeeksInTop)
		}
	}
	if len(r.Stagnant) > 0 {
		p("\n*Stagnant (%d):*\n", len(r.Stagnant))
		for i, e := range r.Stagnant {
			if i == summaryRows {
				p("• … and %d more\n", len(r.Stagnant)-summaryRows)
				break
			}
			epic := "no epic"
			if e.Epic != nil {
				epic = slackLink(e.Epic.Key, e.Epic.URL) + " " + children(e.Epic)
			}
			p("• %s %s — %s, %s, idle %s, %s\n", e.Key, slack(e.Title), scoreBand(e.Score, e.Band), slackOwner(e.Owner), days(e.IdleDays), epic)
		}
	}
	if len(r.NeedsDecision) > 0 {
		p("\n*Needs a decision (%d):*\n", len(r.NeedsDecision))
		for i, e := range r.NeedsDecision {
			if i == summaryRows {
				p("• … and %d more\n", len(r.NeedsDecision)-summaryRows)
				break
			}
			p("• %s %s — epic %s closed as not planned\n", e.Key, slack(e.Title), slackLink(e.Epic.Key, e.Epic.URL))
		}
	}
	if len(r.AcceptanceExpired) > 0 {
		p("\n*Acceptance expired (%d):*\n", len(r.AcceptanceExpired))
		for i, e := range r.AcceptanceExpired {
			if i == summaryRows {
				p("• … and %d more\n", len(r.AcceptanceExpired)-summaryRows)
				break
			}
			p("• %s %s — %s, %s, accepted until %s, now %s\n", e.Key, slack(e.Title), scoreBand(e.Score, e.Band), slackOwner(e.Owner), orDash(e.AcceptedUntil), e.Status)
		}
	}
	if len(r.Recurring) > 0 {
		p("\n*Recurring (%d):*\n", len(r.Recurring))
		for i, e := range r.Recurring {
			if i == summaryRows {
				p("• … and %d more\n", len(r.Recurring)-summaryRows)
				break
			}
			p("• %s %s — %s, %s, %d occurrences in %s\n", e.Key, slack(e.Title), scoreBand(e.Score, e.Band), slackOwner(e.Owner), e.Occurrences, days(int(r.RecurrenceWindowDays)))
		}
	}
	m := r.Movement
	p("\n*Since %s:* %d new, %d mitigated, %d accepted, %d retired, %d score changes, %d recurrences\n",
		m.Since.Format("2006-01-02"), len(m.New), len(m.Mitigated), len(m.Accepted), len(m.Retired), len(m.ScoreChanges), len(m.Recurrences))
	if safeURL(reportURL) {
		p("Full report: %s\n", reportURL)
	}
	return sb.String()
}

// slack escapes the three characters Slack's mrkdwn reserves.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slack(s string) string { return slackEscaper.Replace(s) }

func slackLink(text, url string) string {
	if !safeURL(url) || strings.ContainsAny(url, "<>| ") {
		return slack(text)
	}
	return "<" + url + "|" + slack(text) + ">"
}

func slackOwner(o *string) string {
	if o == nil {
		return "*unowned*"
	}
	return slack(*o)
}
