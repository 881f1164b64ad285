// Package command reads `/risk …` commands from tracker comments. It only
// parses: the service validates values (its messages are the replies), and
// the engine decides who may act and applies each command once.
package command

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Verbs a command may use.
const (
	Review   = "review"
	Rate     = "rate"
	Owner    = "owner"
	Accept   = "accept"
	Retire   = "retire"
	Activate = "activate"
)

// MaxLine bounds the command line: anything longer is refused, not parsed.
const MaxLine = 2000

// Usage lists the commands, for replies to a command that cannot be read.
const Usage = "`/risk review [note]`, `/risk rate impact=N scope=N likelihood=N` (1 to 5 or negligible, low, medium, high, critical), " +
	"`/risk owner TEAM`, `/risk accept [until=YYYY-MM-DD] REASON`, `/risk retire REASON`, `/risk activate`"

// Command is one parsed `/risk` line.
type Command struct {
	Key  string // the risk named on the line ("RISK-7"), "" for the epic's own
	Verb string
	// Text is the review note, or the reason of accept and retire.
	Text                      string
	Impact, Scope, Likelihood *int
	Team                      string
	Until                     *time.Time
	// Ignored counts further `/risk` lines: only the first line is a command.
	Ignored int
}

// Error is a command that cannot be read; its message is the reply.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func fail(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

var keyRe = regexp.MustCompile(`^(?i)RISK-[1-9][0-9]{0,17}$`)

var ratingWords = map[string]int{"negligible": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

// Parse reads a comment body. ok is false when the body is not a command
// (its first line does not start with `/risk`; quotes and code blocks never
// do). err, when ok, says why the command cannot be read.
func Parse(body string) (c Command, ok bool, err error) {
	body = strings.TrimLeft(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	first, rest, _ := strings.Cut(body, "\n")
	// Up to three spaces of indent still make a paragraph in Markdown; four
	// make a code block, which is ignored like quotes (">") and fences.
	line := strings.TrimRight(first, " \t")
	trimmed := strings.TrimLeft(line, " ")
	if len(line)-len(trimmed) > 3 || !isCommand(trimmed) {
		return Command{}, false, nil
	}
	for l := range strings.SplitSeq(rest, "\n") {
		if isCommand(strings.TrimSpace(l)) {
			c.Ignored++
		}
	}
	if len(trimmed) > MaxLine {
		return c, true, fail("the command line is %d bytes long; at most %d", len(trimmed), MaxLine)
	}
	words := strings.Fields(trimmed)[1:]
	if len(words) > 0 && keyRe.MatchString(words[0]) {
		c.Key = strings.ToUpper(words[0])
		words = words[1:]
	}
	if len(words) == 0 {
		return c, true, fail("no sub-command: use %s", Usage)
	}
	c.Verb = strings.ToLower(words[0])
	args := words[1:]
	// The free text keeps the author's spacing: cut it from the line itself.
	text := func(skip int) string {
		s := trimmed
		for range 2 + skip + boolInt(c.Key != "") {
			s = strings.TrimLeft(s, " \t")
			if i := strings.IndexAny(s, " \t"); i >= 0 {
				s = s[i:]
			} else {
				s = ""
			}
		}
		return strings.TrimSpace(s)
	}
	switch c.Verb {
	case Review:
		c.Text = text(0)
	case Rate:
		if len(args) == 0 {
			return c, true, fail("`/risk rate` needs at least one of impact=N, scope=N, likelihood=N")
		}
		for _, a := range args {
			name, val, found := strings.Cut(a, "=")
			if !found {
				return c, true, fail("%q is not name=rating: use impact=N scope=N likelihood=N", a)
			}
			n, err := parseRating(val)
			if err != nil {
				return c, true, err
			}
			var dst **int
			switch strings.ToLower(name) {
			case "impact":
				dst = &c.Impact
			case "scope":
				dst = &c.Scope
			case "likelihood":
				dst = &c.Likelihood
			default:
				return c, true, fail("unknown rating %q: use impact, scope or likelihood", name)
			}
			if *dst != nil {
				return c, true, fail("%s is given twice", strings.ToLower(name))
			}
			*dst = &n
		}
	case Owner:
		if len(args) != 1 {
			return c, true, fail("`/risk owner` takes one team name")
		}
		c.Team = args[0]
	case Accept:
		skip := 0
		if len(args) > 0 && strings.HasPrefix(strings.ToLower(args[0]), "until=") {
			v := args[0][len("until="):]
			d, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return c, true, fail("until=%s is not a date: use until=YYYY-MM-DD", v)
			}
			c.Until, skip = &d, 1
		}
		c.Text = text(skip)
	case Retire:
		c.Text = text(0)
	case Activate:
		if len(args) > 0 {
			return c, true, fail("`/risk activate` takes nothing after it")
		}
	default:
		return c, true, fail("unknown sub-command %q: use %s", words[0], Usage)
	}
	return c, true, nil
}

func isCommand(line string) bool {
	return line == "/risk" || strings.HasPrefix(line, "/risk ") || strings.HasPrefix(line, "/risk\t")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseRating reads 1..9 digits (the service says which are not ratings)
// or a rating word.
func parseRating(v string) (int, error) {
	if n, ok := ratingWords[strings.ToLower(v)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || len(v) > 3 {
		return 0, fail("%q is not a rating: use 1 to 5 or negligible, low, medium, high, critical", v)
	}
	return n, nil
}
