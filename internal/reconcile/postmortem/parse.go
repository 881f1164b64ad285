package postmortem

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/risksync/risksync/internal/registry"
)

// Limits that keep a hostile body from blowing up memory or the registry.
const (
	MaxTables         = 50
	MaxProblems       = 20 // per table, the last one saying how many more there were
	MaxTitleLen       = registry.MaxTitleLen
	MaxOwnerLen       = 300
	MaxExplanationLen = 1024
	MaxCellQuote      = 200 // bytes of a cell kept in Problem.Cell
)

// maxCells bounds the cells split out of one row; the last keeps the rest,
// so a line of a million pipes costs one allocation, not a million.
const maxCells = 16

// Canonical field names, as used in Problem.Field and Table.Explanations.
const (
	FieldRisk        = "risk"
	FieldDescription = "description"
	FieldImpact      = "impact"
	FieldScope       = "scope"
	FieldLikelihood  = "likelihood"
	FieldOwner       = "owner"
)

// fields is the order rows are checked and reported in.
var fields = [...]string{FieldRisk, FieldDescription, FieldImpact, FieldScope, FieldLikelihood, FieldOwner}

const (
	fRisk = iota
	fDescription
	fImpact
	fScope
	fLikelihood
	fOwner
	numFields
)

// displayNames spell the fields as authors write them.
var displayNames = [numFields]string{"Risk", "Description", "Impact", "Scope", "Likelihood", "Owner"}

// Table is one risk table of a postmortem body.
type Table struct {
	// Position is the 0-based index among the risk tables of the body: the
	// sync engine matches an edited table to its risk by source + position.
	Position int
	// Line is the 1-based line of the table's first line in the body.
	Line int
	// Title is the Risk row: one line, at most MaxTitleLen bytes. Empty when
	// the table has no usable Risk row; no risk is created from it then.
	Title       string
	Description string
	// Ratings 1..5; nil when missing or unreadable (see Problems).
	Impact, Scope, Likelihood *int
	// Explanations maps a rating field (FieldImpact, ...) to the text after
	// its rating, or to the whole cell when the rating is unreadable. Nil
	// when there is none.
	Explanations map[string]string
	// Owner is the raw Owner cell; see MatchOwner.
	Owner    string
	Problems []Problem
}

// Problem is something in a table the author should fix.
type Problem struct {
	Field string // a Field* constant; "" for the table as a whole
	Line  int    // 1-based line in the body
	Cell  string // the offending cell, cut at MaxCellQuote bytes; "" when the row is missing
	// Message is one sentence naming the row and what is accepted. It never
	// contains the author's text (that is Cell), so it is safe to render.
	Message string
}

// String renders the problem for logs and the CLI.
func (p Problem) String() string {
	if p.Cell == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("line %d: %q: %s", p.Line, p.Cell, p.Message)
}

// Parse returns the risk tables of a postmortem body in order. It never
// fails: what it cannot read becomes a Problem on the table concerned.
func Parse(body string) []Table {
	if !utf8.ValidString(body) {
		body = strings.ToValidUTF8(body, "\uFFFD")
	}
	var p parser
	n := 0
	for line := range strings.Lines(body) {
		n++
		line = strings.TrimSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\r")
		p.line(n, line)
		if p.done {
			return p.tables
		}
	}
	p.endTable()
	return p.tables
}

type parser struct {
	tables    []Table
	cur       *tableState
	fenceChar byte // '`' or '~' while inside a fenced code block
	fenceLen  int
	inComment bool
	done      bool     // MaxTables reached
	cells     []string // scratch for splitCells
}

func (p *parser) line(n int, s string) {
	t := strings.TrimLeft(s, " \t")
	if p.fenceLen > 0 {
		if closesFence(t, p.fenceChar, p.fenceLen) {
			p.fenceLen = 0
		}
		return
	}
	if p.inComment {
		if strings.Contains(s, "-->") {
			p.inComment = false
		}
		return
	}
	if c, l, ok := opensFence(t); ok {
		p.endTable()
		p.fenceChar, p.fenceLen = c, l
		return
	}
	if rest, ok := strings.CutPrefix(t, "<!--"); ok {
		p.endTable()
		p.inComment = !strings.Contains(rest, "-->")
		return
	}
	if !strings.HasPrefix(t, "|") {
		p.endTable()
		return
	}
	if p.cur == nil {
		p.cur = &tableState{line: n, prev: -1}
	}
	cells := splitCells(p.cells[:0], strings.TrimRight(t, " \t"))
	p.cells = cells[:0] // reused: a long table costs no allocation per row
	if isSeparator(cells) {
		p.cur.separator()
		return
	}
	p.cur.row(n, cells)
}

// opensFence reports whether t opens a fenced code block (CommonMark: three
// or more backticks or tildes; a backtick fence's info string has none).
func opensFence(t string) (byte, int, bool) {
	if t == "" || (t[0] != '`' && t[0] != '~') {
		return 0, 0, false
	}
	c := t[0]
	n := 0
	for n < len(t) && t[n] == c {
		n++
	}
	if n < 3 || (c == '`' && strings.IndexByte(t[n:], '`') >= 0) {
		return 0, 0, false
	}
	return c, n, true
}

func closesFence(t string, c byte, n int) bool {
	i := 0
	for i < len(t) && t[i] == c {
		i++
	}
	return i >= n && strings.TrimSpace(t[i:]) == ""
}

// splitCells appends the cells of row s to cells. It splits on unescaped
// pipes, GFM style: a backslash escapes the next character, and "\|" becomes
// a literal pipe. Cells are trimmed; the empty cell before the leading pipe
// and empty cells at the end (the trailing pipe, "| Impact | |") are dropped.
func splitCells(cells []string, s string) []string {
	start := 1 // s starts with '|'
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			if len(cells) == maxCells-1 {
				i = len(s)
				break
			}
			cells = append(cells, s[start:i])
			start = i + 1
		}
	}
	cells = append(cells, s[start:])
	for i, c := range cells {
		c = strings.TrimSpace(c)
		if strings.Contains(c, `\|`) {
			c = strings.ReplaceAll(c, `\|`, "|")
		}
		cells[i] = c
	}
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	return cells
}

// isSeparator reports whether cells form a GFM delimiter row (|---|:--:|).
func isSeparator(cells []string) bool {
	if len(cells) == 0 {
		return false
	}
	for _, c := range cells {
		c = strings.TrimSuffix(strings.TrimPrefix(c, ":"), ":")
		if c == "" || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return true
}

// fieldIndex returns the known field a row's first cell names, or -1.
func fieldIndex(cell string) int {
	name := strings.TrimSpace(cell)
	name = strings.TrimSuffix(name, ":")
	name = strings.Trim(name, "*_` \t")
	name = strings.TrimSuffix(name, ":") // "**Impact:**"
	for i, f := range fields {
		if strings.EqualFold(strings.TrimSpace(name), f) {
			return i
		}
	}
	return -1
}

// row is the last row seen for one field of a table.
type row struct {
	set    bool
	line   int
	value  string
	extra  bool // the row had more than one value cell
	header bool // the row was followed by a |---| line
}

// tableState accumulates one run of table lines. It keeps only the last row
// of each known field, so its size does not grow with the number of rows.
type tableState struct {
	line     int
	rows     [numFields]row
	prev     int // field of the previous line when it was a known row, else -1
	problems []Problem
	dropped  int // duplicate-row problems not kept
}

func (st *tableState) separator() {
	if st.prev >= 0 {
		st.rows[st.prev].header = true
	}
	st.prev = -1
}

func (st *tableState) row(n int, cells []string) {
	st.prev = -1
	if len(cells) == 0 {
		return
	}
	f := fieldIndex(cells[0])
	if f < 0 {
		return
	}
	// Empty cells add nothing: "| Risk | | x |" means x.
	values := slices.DeleteFunc(cells[1:], func(c string) bool { return c == "" })
	r := row{set: true, line: n, value: strings.Join(values, " | "), extra: len(values) > 1}
	if old := st.rows[f]; old.set {
		if len(st.problems) >= MaxProblems {
			st.dropped++ // only counted, so a million duplicates cost nothing
		} else {
			st.problems = append(st.problems, Problem{
				Field: fields[f], Line: n, Cell: quote(r.value),
				Message: fmt.Sprintf("%s is given again here (also on line %d); the last %s row is used, so remove the others.",
					displayNames[f], old.line, displayNames[f]),
			})
		}
	}
	st.rows[f] = r
	st.prev = f
}

func (p *parser) endTable() {
	st := p.cur
	p.cur = nil
	if st == nil {
		return
	}
	known := 0
	for _, r := range st.rows {
		if r.set {
			known++
		}
	}
	risk := st.rows[fRisk]
	switch {
	case risk.set && risk.header && known == 1:
		return // "| Risk | Mitigation |" heading a table about something else
	case risk.set, known >= 2:
	default:
		return
	}
	if len(p.tables) == MaxTables {
		last := &p.tables[MaxTables-1]
		last.Problems = append(last.Problems, Problem{
			Line: st.line,
			Message: fmt.Sprintf("This postmortem has more than %d risk tables; only the first %d are read, so the table on line %d and any after it were ignored.",
				MaxTables, MaxTables, st.line),
		})
		p.done = true
		return
	}
	p.tables = append(p.tables, st.table(len(p.tables)))
}

// table turns the collected rows into a Table at the given position.
func (st *tableState) table(pos int) Table {
	t := Table{Position: pos, Line: st.line}
	probs := st.problems
	add := func(f, line int, cell, format string, args ...any) {
		field := ""
		if f >= 0 {
			field = fields[f]
		}
		probs = append(probs, Problem{Field: field, Line: line, Cell: quote(cell), Message: fmt.Sprintf(format, args...)})
	}
	// cut shortens v to max bytes on a rune boundary, with a Problem.
	cut := func(f int, r row, v string, max int) string {
		if len(v) <= max {
			return v
		}
		add(f, r.line, v, "%s is %d bytes long; at most %d are kept, so it was cut.", displayNames[f], len(v), max)
		return cutUTF8(v, max)
	}

	for f, r := range st.rows {
		if r.set && r.extra {
			add(f, r.line, r.value, "%s has more than one value cell, so they were joined with \" | \"; write a pipe inside a value as `\\|`.", displayNames[f])
		}
	}

	switch risk := st.rows[fRisk]; {
	case !risk.set:
		add(fRisk, st.line, "", "Table %d has no Risk row, so no risk was created from it; add `| Risk | the failure mode, in one line |`.", pos+1)
	default:
		title := oneLine(risk.value)
		if len(title) > MaxTitleLen {
			add(fRisk, risk.line, title, "Risk is %d bytes long; a title is at most %d, so it was cut: keep it to one short line and move the detail to a `| Description | ... |` row.", len(title), MaxTitleLen)
			title = strings.TrimSpace(cutUTF8(title, MaxTitleLen))
		}
		if strings.Trim(title, "*_` ") == "" {
			title = "" // "| Risk | **  ** |", a template left unfilled
			add(fRisk, risk.line, "", "Risk is empty, so no risk was created from this table; write the failure mode in one line.")
		}
		t.Title = title
	}

	if d := st.rows[fDescription]; d.set {
		t.Description = cut(fDescription, d, clean(d.value), registry.MaxDescriptionLen)
	}

	// Consequences are only worth saying when there is a risk to suffer them.
	unscored, unowned := ", so the risk stays unscored", ", so the risk is unowned"
	if t.Title == "" {
		unscored, unowned = "", ""
	}
	for _, f := range [...]int{fImpact, fScope, fLikelihood} {
		r := st.rows[f]
		name := displayNames[f]
		lower := fields[f]
		if !r.set {
			add(f, st.line, "", "The table has no %s row%s; add a row `| %s | rating |` where the rating is %s.", name, unscored, name, AcceptedRatings)
			continue
		}
		v := clean(r.value)
		n, expl, why := ParseRating(v)
		if why != "" {
			add(f, r.line, v, "%s %s%s; write %s.", name, why, unscored, AcceptedRatings)
			expl = v
		}
		if expl != "" {
			if t.Explanations == nil {
				t.Explanations = make(map[string]string, 3)
			}
			t.Explanations[lower] = cut(f, r, expl, MaxExplanationLen)
		}
		if n == 0 {
			continue
		}
		switch f {
		case fImpact:
			t.Impact = &n
		case fScope:
			t.Scope = &n
		case fLikelihood:
			t.Likelihood = &n
		}
	}

	switch o := st.rows[fOwner]; {
	case !o.set:
		add(fOwner, st.line, "", "The table has no Owner row%s; add `| Owner | team |` naming one of the configured teams.", unowned)
	default:
		t.Owner = strings.TrimSpace(cut(fOwner, o, oneLine(o.value), MaxOwnerLen))
		if t.Owner == "" {
			add(fOwner, o.line, "", "Owner is empty%s; name one of the configured teams.", unowned)
		}
	}

	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	// dropped > 0 implies len(probs) >= MaxProblems, so the slice below holds.
	if len(probs)+st.dropped > MaxProblems {
		more := len(probs) - (MaxProblems - 1) + st.dropped
		probs = append(probs[:MaxProblems-1:MaxProblems-1], Problem{
			Line:    st.line,
			Message: fmt.Sprintf("This table has %d more problems; fix the ones above and the rest will be listed after the next edit.", more),
		})
	}
	t.Problems = probs
	return t
}

// clean replaces control characters (a lone CR, NUL, tabs) with spaces:
// trackers and PostgreSQL reject or mangle them.
func clean(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// oneLine is clean for a value that must be one line; a row is already one
// line, but a lone CR or U+2028 would still break a tracker title.
func oneLine(s string) string {
	s = clean(s)
	if strings.ContainsAny(s, "\u2028\u2029\u0085") {
		s = strings.NewReplacer("\u2028", " ", "\u2029", " ", "\u0085", " ").Replace(s)
	}
	return s
}

// cutUTF8 returns the longest prefix of s of at most max bytes that does not
// split a rune.
func cutUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// quote keeps a cell short enough to repeat in a problem.
func quote(s string) string { return shorten(oneLine(s), MaxCellQuote) }
