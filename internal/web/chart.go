package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// scoreChart draws the score over time as inline SVG from the history's
// score entries: a step line, since a score holds until it changes. It is
// an image with a text alternative; the history table carries the numbers.
func scoreChart(hist []registry.HistoryEntry) template.HTML {
	type point struct {
		at    time.Time
		score float64
		set   bool
	}
	var pts []point
	for _, e := range hist {
		if e.Field != "score" {
			continue
		}
		p := point{at: e.At}
		if e.NewValue != nil {
			if v, err := strconv.ParseFloat(*e.NewValue, 64); err == nil {
				p.score, p.set = v, true
			}
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return `<p>No score recorded yet.</p>`
	}
	const w, h, left, right, top, bottom = 640.0, 180.0, 48.0, 12.0, 12.0, 28.0
	t0, t1 := pts[0].at, time.Now()
	if last := pts[len(pts)-1].at; last.After(t1) || t1.Sub(last) > 365*24*time.Hour {
		t1 = last.Add(24 * time.Hour)
	}
	if !t1.After(t0) {
		t1 = t0.Add(24 * time.Hour)
	}
	maxScore := 0.0
	for _, p := range pts {
		maxScore = math.Max(maxScore, p.score)
	}
	if maxScore == 0 {
		maxScore = 1
	}
	x := func(t time.Time) float64 { return left + (w-left-right)*float64(t.Sub(t0))/float64(t1.Sub(t0)) }
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-v/maxScore) }
	var path strings.Builder
	var prev *point
	for i := range pts {
		p := &pts[i]
		switch {
		case !p.set:
			prev = nil // unscored: a gap
			continue
		case prev == nil:
			fmt.Fprintf(&path, "M%.1f %.1f", x(p.at), y(p.score))
		default:
			fmt.Fprintf(&path, " H%.1f V%.1f", x(p.at), y(p.score))
		}
		prev = p
	}
	if prev != nil {
		fmt.Fprintf(&path, " H%.1f", x(t1))
	}
	last := pts[len(pts)-1]
	alt := fmt.Sprintf("Score over time: %d changes from %s; now %s.", len(pts), t0.UTC().Format(time.DateOnly), map[bool]string{true: strconv.FormatFloat(last.score, 'f', -1, 64), false: "unscored"}[last.set])
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="chart-title"><title id="chart-title">%s</title>`, w, h, template.HTMLEscapeString(alt))
	fmt.Fprintf(&b, `<line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/><line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`,
		left, h-bottom, w-right, h-bottom, left, top, left, h-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text><text x="%.0f" y="%.0f" text-anchor="end">0</text>`,
		left-6, top+4, strconv.FormatFloat(maxScore, 'g', 4, 64), left-6, h-bottom+4)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`,
		left, h-8, t0.UTC().Format(time.DateOnly), w-right, h-8, t1.UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, `<path class="line" d="%s"/></svg>`, path.String())
	return template.HTML(b.String())
}
