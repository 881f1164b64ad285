// Package riskfile reads and writes the risk registry as a file people edit:
// CSV with a header row, or a JSON or YAML array of objects. It only turns
// cells into typed values and back; the service applies them with the same
// rules as every other change.
//
// Columns are matched ignoring case, spaces, "_" and "-": key, title (or
// risk), description, impact, scope, likelihood, owner, status,
// status_reason, accepted_until, last_reviewed, ettd_minutes, ettr_minutes,
// impact_percent, ettf_days. An empty cell (or JSON/YAML null) means "not
// given": a new risk starts without it and an existing one keeps its value.
//
// CSV injection: spreadsheets run a cell that starts with =, +, -, @, tab or
// CR as a formula. Write prefixes such a cell (also after leading quotes)
// with one ' and Parse removes exactly that one quote again, so an exported
// file imports with no change and opens safely in a spreadsheet. JSON and
// YAML are written and read as they are.
package riskfile

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/risksync/risksync/internal/reconcile/postmortem"
	"github.com/risksync/risksync/internal/registry"
)

// Formats Parse reads; Write writes csv and json.
const (
	CSV  = "csv"
	JSON = "json"
	YAML = "yaml"
)

// Row is one risk of a file: the values it gives, typed as service.Change
// takes them, so the service validates them like any other change.
type Row struct {
	// Line locates the row for messages: the line in a CSV or YAML file
	// where it starts (a CSV header is line 1), or for JSON the item's
	// position in the array, from 1.
	Line int
	// Key is the risk the row updates (RISK-12); "" when the row names its
	// risk by title.
	Key string

	Title, Description                                registry.Field[string]
	Impact, Scope, Likelihood                         registry.Field[int]
	ETTDMinutes, ETTRMinutes, ImpactPercent, ETTFDays registry.Field[float64]
	Owner                                             registry.Field[string]
	Status                                            registry.Field[registry.Status]
	StatusReason                                      registry.Field[string]
	AcceptedUntil                                     registry.Field[time.Time] // a date, UTC midnight
	LastReviewed                                      registry.Field[time.Time] // a date, UTC midnight
}

// Columns lists the columns in the order Write writes them.
var Columns = []string{"key", "title", "description", "impact", "scope", "likelihood", "owner", "status",
	"status_reason", "accepted_until", "last_reviewed", "ettd_minutes", "ettr_minutes", "impact_percent", "ettf_days"}

// columnOf maps a header, normalised, to its column.
var columnOf = func() map[string]string {
	m := map[string]string{"risk": "title"}
	for _, c := range Columns {
		m[normalise(c)] = c
	}
	return m
}()

func normalise(h string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(h)))
}

// problems collects every bad header and cell of a file.
type problems struct {
	where     string // "line" or "item"
	list      []registry.FieldError
	titleless bool // the header lacks title, said once there, not on every row
}

func (p *problems) add(n int, column, msg string) {
	loc := fmt.Sprintf("%s %d", p.where, n)
	if column != "" {
		loc += ": " + column
	}
	p.list = append(p.list, registry.FieldError{Location: loc, Message: msg})
}

// maxListed bounds the summary message; Fields keeps every problem.
const maxListed = 20

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	msgs := make([]string, 0, min(len(p.list), maxListed)+1)
	for i, f := range p.list {
		if i == maxListed {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(p.list)-maxListed))
			break
		}
		msgs = append(msgs, f.Location+": "+f.Message)
	}
	return &registry.Error{Code: registry.EINVALID, Message: strings.Join(msgs, "; "), Fields: p.list}
}

// header resolves column names; at is the line or item naming them.
func (p *problems) header(names []string, at int) []string {
	cols := make([]string, len(names))
	seen := map[string]string{}
	for i, name := range names {
		c, ok := columnOf[normalise(name)]
		switch {
		case strings.TrimSpace(name) == "":
			p.add(at, fmt.Sprintf("column %d", i+1), "has no name: name it, or delete the column")
		case !ok:
			p.add(at, name, "unknown column: columns are "+strings.Join(Columns, ", ")+" (risk is another name for title)")
		case seen[c] != "":
			p.add(at, name, fmt.Sprintf("%s is given twice (also as %q)", c, seen[c]))
		default:
			seen[c] = name
			cols[i] = c
		}
	}
	return cols
}

// cell is one value of a row as the file spells it; null is JSON/YAML null.
type cell struct {
	column string
	text   string
	null   bool
}

// row types the cells of one record, reporting every bad one.
func (p *problems) row(n int, cells []cell) Row {
	r := Row{Line: n}
	for _, c := range cells {
		v := strings.TrimSpace(c.text)
		if c.null || v == "" {
			continue // not given
		}
		bad := func(msg string) { p.add(n, c.column, msg) }
		if !utf8.ValidString(c.text) {
			bad("is not UTF-8 text: save the file as UTF-8 (spreadsheets offer \"CSV UTF-8\")")
			continue
		}
		switch c.column {
		case "key":
			id, err := registry.ParseKey(v)
			if err != nil {
				bad(fmt.Sprintf("%q is not a risk key: keys look like RISK-12", v))
				continue
			}
			r.Key = registry.FormatKey(id)
		case "title":
			r.Title = some(v)
		case "description":
			r.Description = some(c.text)
		case "owner":
			r.Owner = some(v)
		case "status_reason":
			r.StatusReason = some(v)
		case "impact", "scope", "likelihood":
			rating, _, why := postmortem.ParseRating(v)
			if rating == 0 {
				bad(fmt.Sprintf("%q %s: use %s", v, why, postmortem.AcceptedRatings))
				continue
			}
			*r.rating(c.column) = some(rating)
		case "ettd_minutes", "ettr_minutes", "impact_percent", "ettf_days":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				bad(fmt.Sprintf("%q is not a number: write it with digits and an optional decimal point, e.g. 30 or 2.5", v))
				continue
			}
			*r.quantity(c.column) = some(f)
		case "status":
			st := registry.Status(strings.ToLower(v))
			if !st.Valid() {
				bad(fmt.Sprintf("unknown status %q: use active, accepted or retired", v))
				continue
			}
			r.Status = some(st)
		case "accepted_until", "last_reviewed":
			d, err := parseDate(v)
			if err != nil {
				bad(fmt.Sprintf("%q is not a date: use YYYY-MM-DD", v))
				continue
			}
			if c.column == "accepted_until" {
				r.AcceptedUntil = some(d)
			} else {
				r.LastReviewed = some(d)
			}
		}
	}
	if !r.Title.Set && !p.titleless {
		p.add(n, "title", "required: one line naming the failure mode")
	}
	return r
}

func (r *Row) rating(column string) *registry.Field[int] {
	switch column {
	case "impact":
		return &r.Impact
	case "scope":
		return &r.Scope
	}
	return &r.Likelihood
}

func (r *Row) quantity(column string) *registry.Field[float64] {
	switch column {
	case "ettd_minutes":
		return &r.ETTDMinutes
	case "ettr_minutes":
		return &r.ETTRMinutes
	case "impact_percent":
		return &r.ImpactPercent
	}
	return &r.ETTFDays
}

func some[T any](v T) registry.Field[T] { return registry.Field[T]{Set: true, Value: &v} }

// parseDate reads YYYY-MM-DD, or an RFC 3339 time (as risk JSON carries
// them), as a UTC date.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
}

// Formula characters: a spreadsheet runs a cell starting with one of them.
const formulaStart = "=+-@\t\r"

// escapeCell prefixes a quote to a cell a spreadsheet would run, and to one
// that already starts with quotes before such a character, so unescapeCell
// restores every cell exactly.
func escapeCell(s string) string {
	if rest := strings.TrimLeft(s, "'"); rest != "" && strings.IndexByte(formulaStart, rest[0]) >= 0 {
		return "'" + s
	}
	return s
}

// unescapeCell removes the one quote escapeCell added.
func unescapeCell(s string) string {
	if len(s) > 1 && s[0] == '\'' {
		if rest := strings.TrimLeft(s, "'"); rest != "" && strings.IndexByte(formulaStart, rest[0]) >= 0 {
			return s[1:]
		}
	}
	return s
}

// Parse reads a file in format csv, json or yaml. Any unknown column or bad
// cell fails the whole file with a registry.Error (EINVALID) whose Fields
// name each problem as "line N: column" ("item N: column" for JSON).
func Parse(r io.Reader, format string) ([]Row, error) {
	switch strings.ToLower(format) {
	case CSV:
		return parseCSV(r)
	case JSON:
		return parseJSON(r)
	case YAML, "yml":
		return parseYAML(r)
	}
	return nil, registry.Errorf(registry.EINVALID, "unknown format %q: use csv, json or yaml", format)
}

// Location splits a problem's location ("line 12: impact") into the line
// (or item) and the column.
func Location(loc string) (n int, column string) {
	head, column, _ := strings.Cut(loc, ": ")
	_, num, _ := strings.Cut(head, " ")
	n, _ = strconv.Atoi(num)
	return n, column
}
