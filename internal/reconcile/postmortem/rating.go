package postmortem

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// AcceptedRatings ends every rating problem, so authors see the fix where
// they see the fault.
const AcceptedRatings = "1 to 5 or negligible, low, medium, high, critical, optionally followed by \" — \" and why, e.g. `4 — every cluster in the region`"

var ratingWords = map[string]int{"negligible": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

// ParseRating reads a rating cell such as "4 — all clusters" or "**High**:
// data loss". It returns the rating 1..5 and the explanation, or n == 0 and
// why (a predicate such as "is not a rating") when the cell cannot be read.
// Import reads its rating cells with it, so a file and a postmortem take
// the same grammar.
func ParseRating(cell string) (n int, explanation, why string) {
	s := strings.TrimLeft(strings.TrimSpace(cell), "*_`")
	if s == "" {
		return 0, "", "is empty"
	}
	var rest string
	if isDigit(s[0]) {
		j := 0
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		num, after := s[:j], s[j:]
		if len(after) > 1 && (after[0] == '.' || after[0] == ',') && isDigit(after[1]) {
			return 0, "", "is not a whole number"
		}
		if len(num) != 1 || num[0] < '1' || num[0] > '5' {
			return 0, "", "is outside 1 to 5"
		}
		n = int(num[0] - '0')
		rest = strings.TrimPrefix(after, "/5") // "4/5"
	} else {
		j := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
		if j < 0 {
			j = len(s)
		}
		n = ratingWords[strings.ToLower(s[:j])]
		if n == 0 {
			return 0, "", "is not a rating"
		}
		rest = s[j:]
	}
	rest = strings.TrimLeft(rest, "*_`") // closing emphasis
	t := strings.TrimLeftFunc(rest, unicode.IsSpace)
	if t == "" {
		return n, "", ""
	}
	spaceBefore := len(t) < len(rest)
	sep, size := utf8.DecodeRuneInString(t)
	after := t[size:]
	switch sep {
	case '—', '–', '-':
		if sep == '-' {
			after = strings.TrimLeft(after, "-") // "4 -- why"
		}
		spaceAfter := after == "" || startsWithSpace(after)
		if !spaceBefore && !spaceAfter {
			// "3-4", "3–4" is a range; "high-level" is a word, not a rating.
			if isDigit(after[0]) {
				return 0, "", "is a range, not one rating"
			}
			if sep == '-' {
				return 0, "", "is not a rating"
			}
		}
	case ':':
	case '(':
		after = strings.TrimSuffix(strings.TrimSpace(after), ")")
	default:
		return 0, "", "is not a rating"
	}
	return n, strings.TrimSpace(after), ""
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}
