package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/risksync/risksync/internal/scoring"
)

// RenderHTML writes the report as one self-contained page: inline CSS and
// an inline SVG chart, no script, no external resource; readable on screen
// and printable.
func RenderHTML(w io.Writer, r *Report) error {
	if err := pageTemplate.Execute(w, htmlData{Report: r, Chart: template.HTML(ExposureChart(r.Exposure)), Stuck: stuckTop(r)}); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}

type htmlData struct {
	*Report
	Chart template.HTML
	Stuck []Top
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"title":    Title,
	"score":    scoreText,
	"band":     bandText,
	"days":     days,
	"date":     dateText,
	"fmtScore": scoring.FormatScore,
	"owner": func(o *string) string {
		if o == nil {
			return "unowned"
		}
		return *o
	},
	"children":  children,
	"scoreBand": scoreBand,
	"keys":      keys,
	"safe":      safeURL,
	"inc":       func(i int) int { return i + 1 },
	"orDash":    orDash,
	"rating":    rating,
	"critical":  criticalName,
	"moved":     func(m Movement) bool { return !movementEmpty(m) },
	"int":       func(f float64) int { return int(f) },
	"args": func(name string, list []Entry) any {
		return struct {
			Name string
			List []Entry
		}{name, list}
	},
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title .Week}}{{with .OwnerFilter}} — {{.}}{{end}}</title>
<style>
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --warn: #9a3412; --warnbg: #fff4e5; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0 auto; padding: 24px; max-width: 1120px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 16px 0 6px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
.warn { background: var(--warnbg); border-left: 4px solid var(--warn); padding: 8px 12px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; white-space: nowrap; }
td.t { white-space: normal; min-width: 12em; }
th { font-weight: 600; background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.stuck { color: var(--warn); font-weight: 700; }
.none { color: var(--muted); }
.unowned { color: var(--warn); font-style: italic; }
figure { margin: 8px 0; }
figcaption { color: var(--muted); font-size: 13px; }
svg { max-width: 100%; height: auto; }
a { color: #0969da; }
@media print {
  body { padding: 0; max-width: none; font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; }
  tr, figure { break-inside: avoid; }
}
</style>
</head>
<body>
<h1>{{title .Week}}{{with .OwnerFilter}} — {{.}}{{end}}</h1>
<p class="meta">Generated {{.GeneratedAt.Format "2006-01-02 15:04 UTC"}} · movement since {{.Movement.Since.Format "2006-01-02 15:04 UTC"}} · stagnant = no movement in linked work for {{days (int .StagnationAfterDays)}}</p>
<div class="cards">
<div class="card"><b>{{.Totals.Risks}}</b>open risks</div>
<div class="card"><b>{{fmtScore .Totals.Exposure}}</b>exposure ({{.Exposure.Unit}})</div>
<div class="card"><b>{{len .Stagnant}}</b>stagnant</div>
<div class="card"><b>{{len .ReviewOverdue}}</b>reviews overdue</div>
<div class="card"><b>{{len .NeedsDecision}}</b>needing a decision</div>
<div class="card"><b>{{len .Unowned}}</b>unowned</div>
<div class="card"><b>{{len .Unscored}}</b>unscored</div>
</div>
{{with .StuckCritical}}<p class="warn"><b>🚨 {{critical .}} in the top 10 for more than 8 weeks:</b> {{range $i, $t := .}}{{if $i}}; {{end}}{{$t.Key}} {{$t.Title}} ({{$t.WeeksInTop}} weeks){{end}}. The team should be deciding how quickly to remove these, not whether.</p>{{end}}
{{with .Stuck}}<p class="warn"><b>In the top 10 for more than 8 weeks ({{len .}}):</b> {{range $i, $t := .}}{{if $i}}, {{end}}{{$t.Key}} ({{$t.WeeksInTop}} weeks){{end}}. If the same risks sit at the top for months, the system is not working.</p>{{end}}

<h2>Exposure, last 26 weeks</h2>
<figure>
{{.Chart}}
<figcaption>Total exposure of open risks ({{.Exposure.Unit}}), the last snapshot of each week; {{.Exposure.Scope}}.</figcaption>
</figure>

<h2>Stagnant risks ({{len .Stagnant}})</h2>
{{if .Stagnant}}<table>
<tr><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Owner</th><th class="num">Idle</th><th>Epic</th><th>Children</th><th>Why</th></tr>
{{range .Stagnant}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td>{{template "owner" .Owner}}<td class="num">{{days .IdleDays}}</td>{{template "epic" .Epic}}<td>{{children .Epic}}</td><td class="t">{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}

<h2>Reviews overdue ({{len .ReviewOverdue}})</h2>
{{if .ReviewOverdue}}<table>
<tr><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Owner</th><th>Status</th><th>Review due</th></tr>
{{range .ReviewOverdue}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td>{{template "owner" .Owner}}<td>{{.Status}}</td><td>{{date .ReviewDueAt}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}

<h2>Needs a decision ({{len .NeedsDecision}})</h2>
{{if .NeedsDecision}}<table>
<tr><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Owner</th><th>Epic</th><th>Why</th></tr>
{{range .NeedsDecision}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td>{{template "owner" .Owner}}{{template "epic" .Epic}}<td class="t">{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}

<h2>Unowned ({{len .Unowned}})</h2>
{{if .Unowned}}<table>
<tr><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Status</th><th>Epic</th></tr>
{{range .Unowned}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td><td>{{.Status}}</td>{{template "epic" .Epic}}</tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}

<h2>Unscored ({{len .Unscored}})</h2>
{{if .Unscored}}<table>
<tr><th>Risk</th><th>Title</th><th>Owner</th><th>Status</th><th>Why</th></tr>
{{range .Unscored}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td>{{template "owner" .Owner}}<td>{{.Status}}</td><td class="t">{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}

<h2>Recurring ({{len .Recurring}})</h2>
{{if .Recurring}}<table>
<tr><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Owner</th><th>Status</th><th class="num">In {{days (int .RecurrenceWindowDays)}}</th><th class="num">All</th><th>Last</th></tr>
{{range .Recurring}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td>{{template "owner" .Owner}}<td>{{.Status}}</td><td class="num">{{.Occurrences}}</td><td class="num">{{.TotalOccurrences}}</td><td>{{if safe .LastSource.URL}}<a href="{{.LastSource.URL}}">{{.LastSource.Key}}</a>{{else}}{{.LastSource.Key}}{{end}} {{.LastAt.Format "2006-01-02"}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}

<h2>Acceptance expired ({{len .AcceptanceExpired}})</h2>
{{if .AcceptanceExpired}}<table>
<tr><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Owner</th><th>Accepted until</th><th>Accepted because</th><th>Status now</th></tr>
{{range .AcceptanceExpired}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td>{{template "owner" .Owner}}<td>{{orDash .AcceptedUntil}}</td><td class="t">{{orDash .AcceptReason}}</td><td>{{.Status}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}
{{if eq .RecurrenceMode "suggest"}}
<h2>Likelihood suggestions ({{len .LikelihoodSuggestions}})</h2>
{{if .LikelihoodSuggestions}}<table>
<tr><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Owner</th><th class="num">Occurrences</th><th>Likelihood</th><th>Would score</th><th>Apply with</th></tr>
{{range .LikelihoodSuggestions}}<tr><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td>{{template "owner" .Owner}}<td class="num">{{.Occurrences}}</td><td>{{rating .LikelihoodFrom}} → {{.LikelihoodTo}}</td><td>{{scoreBand .ScoreTo .BandTo}}</td><td><code>risksync risk update {{.Key}} --likelihood {{.LikelihoodTo}}</code></td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}
{{end}}
<h2>Movement since {{.Movement.Since.Format "2006-01-02"}}</h2>
{{with .Movement}}{{if not (moved .)}}<p class="none">Nothing moved. A registry that does not move is one nobody works on.</p>{{end}}
{{template "moves" (args "New" .New)}}{{template "moves" (args "Mitigated" .Mitigated)}}{{template "moves" (args "Accepted" .Accepted)}}{{template "moves" (args "Retired" .Retired)}}
{{if .ScoreChanges}}<h3>Score and band changes ({{len .ScoreChanges}})</h3><ul>
{{range .ScoreChanges}}<li>{{.Key}} {{.Title}} — {{scoreBand .ScoreFrom .BandFrom}} → {{scoreBand .ScoreTo .BandTo}}, {{owner .Owner}}</li>
{{end}}</ul>{{end}}
{{if .Recurrences}}<h3>Recurrences ({{len .Recurrences}})</h3><ul>
{{range .Recurrences}}<li>{{.Key}} {{.Title}} — re-confirmed by {{if safe .Source.URL}}<a href="{{.Source.URL}}">{{.Source.Key}}</a>{{else}}{{.Source.Key}}{{end}} on {{.At.Format "2006-01-02"}}</li>
{{end}}</ul>{{end}}{{end}}

<h2>Top 10 by score</h2>
{{if .Top}}<table>
<tr><th class="num">#</th><th>Risk</th><th>Title</th><th class="num">Score</th><th>Band</th><th>Owner</th><th class="num">Weeks in top 10</th></tr>
{{range $i, $t := .Top}}<tr><td class="num">{{inc $i}}</td><td>{{.Key}}</td><td class="t">{{.Title}}</td><td class="num">{{score .Score}}</td><td>{{band .Band}}</td>{{template "owner" .Owner}}<td class="num{{if .Stuck}} stuck{{end}}">{{.WeeksInTop}}{{if .Stuck}} ⚠{{end}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}

<h2>Totals</h2>
<table>
<tr><th>Band</th><th class="num">Open risks</th></tr>
{{range .Totals.ByBand}}<tr><td>{{.Band}}</td><td class="num">{{.Risks}}</td></tr>
{{end}}</table>
<h3>By team</h3>
{{if .Totals.ByOwner}}<table>
<tr><th>Team</th><th class="num">Open risks</th><th class="num">Exposure</th><th>Stagnant</th><th>Reviews overdue</th><th>Needs a decision</th></tr>
{{range .Totals.ByOwner}}<tr>{{template "owner" .Owner}}<td class="num">{{.Risks}}</td><td class="num">{{fmtScore .Exposure}}</td><td>{{keys .Stagnant}}</td><td>{{keys .ReviewOverdue}}</td><td>{{keys .NeedsDecision}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}
</body>
</html>
{{define "owner"}}{{if .}}<td>{{.}}</td>{{else}}<td class="unowned">unowned</td>{{end}}{{end}}
{{define "epic"}}{{if .}}<td class="t">{{if safe .URL}}<a href="{{.URL}}">{{.Key}}</a>{{else}}{{.Key}}{{end}} {{.State}}</td>{{else}}<td class="none">—</td>{{end}}{{end}}
{{define "moves"}}{{if .List}}<h3>{{.Name}} ({{len .List}})</h3><ul>
{{range .List}}<li>{{.Key}} {{.Title}} — {{scoreBand .Score .Band}}, {{owner .Owner}}{{if .Reason}}; {{.Reason}}{{end}}</li>
{{end}}</ul>{{end}}{{end}}
`

// Chart geometry, in SVG user units.
const (
	chartW, chartH                   = 880, 300
	padLeft, padRight, padTop, padBo = 70, 40, 20, 50
)

// ChartColor is the exposure line's colour; the browser test looks for it.
const ChartColor = "#d9480f"

// ExposureChart draws the exposure series as an inline SVG line chart: one
// point per week, gaps where no snapshot exists, the y axis labelled with
// the unit.
func ExposureChart(e Exposure) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	hi := 0.0
	for _, pt := range e.Weeks {
		if pt.Exposure != nil {
			hi = max(hi, *pt.Exposure)
		}
	}
	top := niceCeil(hi)
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBo)
	n := max(len(e.Weeks), 2)
	x := func(i int) float64 { return padLeft + plotW*float64(i)/float64(n-1) }
	y := func(v float64) float64 { return padTop + plotH*(1-v/top) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="chart-title">`, chartW, chartH, chartW, chartH)
	p(`<title id="chart-title">Total exposure (%s), last %d weeks</title>`, html.EscapeString(e.Unit), len(e.Weeks))
	p(`<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`, chartW, chartH)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d1d9e0" stroke-width="1"/>`, padLeft, y(v), chartW-padRight, y(v))
		p(`<text x="%d" y="%.1f" font-size="12" text-anchor="end" fill="#59636e">%s</text>`, padLeft-8, y(v)+4, scoring.FormatScore(v))
	}
	for i, pt := range e.Weeks {
		if i%4 == (len(e.Weeks)-1)%4 { // label every fourth week, ending on the current one
			p(`<text x="%.1f" y="%d" font-size="12" text-anchor="middle" fill="#59636e">%s</text>`, x(i), chartH-padBo+18, html.EscapeString(pt.Week))
		}
	}
	p(`<text x="16" y="%.1f" font-size="12" text-anchor="middle" fill="#1f2328" transform="rotate(-90 16 %.1f)">%s</text>`,
		padTop+plotH/2, padTop+plotH/2, html.EscapeString(yLabel(e.Unit)))
	p(`<text x="%.1f" y="%d" font-size="12" text-anchor="middle" fill="#1f2328">ISO week</text>`, padLeft+plotW/2, chartH-8)
	// One run of consecutive weeks per polyline, so a missing week shows as a gap.
	var run []string
	var area strings.Builder
	flush := func(lastIdx int, firstIdx int) {
		if len(run) == 0 {
			return
		}
		fmt.Fprintf(&area, `<polygon points="%.1f,%.1f %s %.1f,%.1f" fill="%s" fill-opacity="0.15" stroke="none"/>`,
			x(firstIdx), y(0), strings.Join(run, " "), x(lastIdx), y(0), ChartColor)
		if len(run) > 1 {
			fmt.Fprintf(&area, `<polyline points="%s" fill="none" stroke="%s" stroke-width="3" stroke-linejoin="round"/>`, strings.Join(run, " "), ChartColor)
		}
		run = nil
	}
	start := -1
	for i, pt := range e.Weeks {
		if pt.Exposure == nil {
			flush(i-1, start)
			start = -1
			continue
		}
		if start < 0 {
			start = i
		}
		run = append(run, fmt.Sprintf("%.1f,%.1f", x(i), y(*pt.Exposure)))
	}
	flush(len(e.Weeks)-1, start)
	sb.WriteString(area.String())
	for i, pt := range e.Weeks {
		if pt.Exposure != nil {
			p(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s: %s</title></circle>`, x(i), y(*pt.Exposure), ChartColor,
				html.EscapeString(pt.Week), scoring.FormatScore(*pt.Exposure))
		}
	}
	p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#59636e" stroke-width="1"/>`, padLeft, y(0), chartW-padRight, y(0))
	p(`<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="#59636e" stroke-width="1"/>`, padLeft, padTop, padLeft, y(0))
	sb.WriteString(`</svg>`)
	return sb.String()
}

func yLabel(unit string) string {
	if unit == "" {
		return "Exposure"
	}
	return "Exposure (" + unit + ")"
}

// niceCeil rounds the chart's top up so that each of its four grid steps
// is a round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 4
	}
	step := v / 4
	mag := math.Pow(10, math.Floor(math.Log10(step)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if step <= m*mag {
			return 4 * m * mag
		}
	}
	return 40 * mag
}
