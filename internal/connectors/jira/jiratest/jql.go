package jiratest

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// A JQL subset: clauses on project, labels, issuetype/type, parent,
// key/issuekey/id, status, statusCategory, summary (~), created, updated;
// operators = != > >= < <= ~ in, not in, is [not] empty; AND, OR, NOT,
// parentheses; ORDER BY (ignored beyond created/updated/key). Dates are read
// like Jira does: "yyyy-MM-dd HH:mm" (or yyyy/MM/dd, or a date alone) in the
// searching user's time zone, to the minute; seconds are a syntax error.

type jqlExpr interface {
	eval(s *Server, is *issue) bool
}

type jqlAnd struct{ l, r jqlExpr }
type jqlOr struct{ l, r jqlExpr }
type jqlNot struct{ e jqlExpr }
type jqlClause struct {
	field, op string
	values    []string
}

func (e jqlAnd) eval(s *Server, is *issue) bool { return e.l.eval(s, is) && e.r.eval(s, is) }
func (e jqlOr) eval(s *Server, is *issue) bool  { return e.l.eval(s, is) || e.r.eval(s, is) }
func (e jqlNot) eval(s *Server, is *issue) bool { return !e.e.eval(s, is) }

type jqlQuery struct {
	where   jqlExpr // nil: every issue (an unbounded query)
	orderBy string
	desc    bool
}

type token struct {
	kind string // word | string | op | ( | ) | ,
	val  string
}

func lex(q string) ([]token, error) {
	var out []token
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')' || r == ',':
			out = append(out, token{kind: string(r)})
			i++
		case r == '"' || r == '\'':
			quoteCh := r
			var b strings.Builder
			i++
			for ; i < len(rs) && rs[i] != quoteCh; i++ {
				if rs[i] == '\\' && i+1 < len(rs) {
					i++
				}
				b.WriteRune(rs[i])
			}
			if i >= len(rs) {
				return nil, fmt.Errorf("Error in the JQL Query: unterminated string")
			}
			i++
			out = append(out, token{kind: "string", val: b.String()})
		case strings.ContainsRune("=!<>~", r):
			op := string(r)
			if i+1 < len(rs) && rs[i+1] == '=' {
				op += "="
				i++
			}
			i++
			if op == "!" {
				return nil, fmt.Errorf("Error in the JQL Query: unexpected '!'")
			}
			out = append(out, token{kind: "op", val: op})
		default:
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || strings.ContainsRune("-_.:/[]", rs[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("Error in the JQL Query: the character '%c' is a reserved JQL character", r)
			}
			out = append(out, token{kind: "word", val: string(rs[i:j])})
			i = j
		}
	}
	return out, nil
}

type jqlParser struct {
	toks []token
	pos  int
}

func (p *jqlParser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: "eof"}
}

func (p *jqlParser) next() token { t := p.peek(); p.pos++; return t }

func (p *jqlParser) keyword(w string) bool {
	t := p.peek()
	if t.kind == "word" && strings.EqualFold(t.val, w) {
		p.pos++
		return true
	}
	return false
}

func parseJQL(q string) (*jqlQuery, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &jqlParser{toks: toks}
	out := &jqlQuery{}
	if t := p.peek(); t.kind != "eof" && !(t.kind == "word" && strings.EqualFold(t.val, "order")) {
		if out.where, err = p.or(); err != nil {
			return nil, err
		}
	}
	if p.keyword("order") {
		if !p.keyword("by") {
			return nil, fmt.Errorf("Error in the JQL Query: expecting 'by' after 'order'")
		}
		f := p.next()
		out.orderBy = strings.ToLower(f.val)
		if p.keyword("desc") {
			out.desc = true
		} else {
			p.keyword("asc")
		}
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("Error in the JQL Query: unexpected %q", t.val)
	}
	return out, nil
}

func (p *jqlParser) or() (jqlExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = jqlOr{l, r}
	}
	return l, nil
}

func (p *jqlParser) and() (jqlExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = jqlAnd{l, r}
	}
	return l, nil
}

func (p *jqlParser) unary() (jqlExpr, error) {
	if p.keyword("not") {
		e, err := p.unary()
		return jqlNot{e}, err
	}
	if p.peek().kind == "(" {
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next().kind != ")" {
			return nil, fmt.Errorf("Error in the JQL Query: expecting ')'")
		}
		return e, nil
	}
	return p.clause()
}

var jqlFields = map[string]string{"project": "project", "labels": "labels", "issuetype": "issuetype", "type": "issuetype",
	"parent": "parent", "key": "key", "issuekey": "key", "id": "key", "status": "status", "statuscategory": "statuscategory",
	"summary": "summary", "cf[10008]": "epiclink", "epic link": "epiclink", "created": "created", "createddate": "created", "updated": "updated", "updateddate": "updated"}

func (p *jqlParser) clause() (jqlExpr, error) {
	f := p.next()
	if f.kind != "word" && f.kind != "string" {
		return nil, fmt.Errorf("Error in the JQL Query: expecting a field name but got %q", f.val)
	}
	field, ok := jqlFields[strings.ToLower(f.val)]
	if !ok {
		return nil, fmt.Errorf("Field '%s' does not exist or you do not have permission to view it.", f.val)
	}
	c := jqlClause{field: field}
	switch t := p.peek(); {
	case t.kind == "op":
		p.next()
		c.op = t.val
		v := p.next()
		if v.kind != "word" && v.kind != "string" {
			return nil, fmt.Errorf("Error in the JQL Query: expecting a value after %s", c.op)
		}
		c.values = []string{v.val}
	case p.keyword("in"):
		c.op = "in"
	case p.keyword("not"):
		if !p.keyword("in") {
			return nil, fmt.Errorf("Error in the JQL Query: expecting 'in' after 'not'")
		}
		c.op = "not in"
	case p.keyword("is"):
		c.op = "is"
		if p.keyword("not") {
			c.op = "is not"
		}
		if !p.keyword("empty") && !p.keyword("null") {
			return nil, fmt.Errorf("Error in the JQL Query: expecting EMPTY after IS")
		}
		return c, nil
	default:
		return nil, fmt.Errorf("Error in the JQL Query: expecting an operator after %s", f.val)
	}
	if c.op == "in" || c.op == "not in" {
		if p.next().kind != "(" {
			return nil, fmt.Errorf("Error in the JQL Query: expecting '(' after IN")
		}
		for {
			v := p.next()
			if v.kind != "word" && v.kind != "string" {
				return nil, fmt.Errorf("Error in the JQL Query: expecting a value in the list")
			}
			c.values = append(c.values, v.val)
			if t := p.next(); t.kind == ")" {
				break
			} else if t.kind != "," {
				return nil, fmt.Errorf("Error in the JQL Query: expecting ',' or ')'")
			}
		}
	}
	if c.field == "created" || c.field == "updated" {
		for _, v := range c.values {
			if _, err := parseJQLDate(v, time.UTC); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// parseJQLDate reads the date formats JQL accepts, in loc, to the minute.
func parseJQLDate(v string, loc *time.Location) (time.Time, error) {
	for _, l := range []string{"2006-01-02 15:04", "2006/01/02 15:04", "2006-01-02", "2006/01/02"} {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("Date value '%s' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", v)
}

func (c jqlClause) eval(s *Server, is *issue) bool {
	var have []string
	switch c.field {
	case "project":
		have = []string{is.project.Key, is.project.ID}
	case "labels":
		have = is.Labels
	case "issuetype":
		have = []string{is.typ.Name, is.typ.ID}
	case "parent":
		if is.Parent != "" {
			have = []string{is.Parent}
		}
	case "epiclink":
		if is.EpicLink != "" {
			have = []string{is.EpicLink}
		}
	case "key":
		have = []string{is.Key, fmt.Sprint(is.ID)}
	case "status":
		have = []string{is.status.Name, is.status.ID}
	case "statuscategory":
		have = []string{is.status.Category, categoryName(is.status.Category)}
	case "summary":
		if c.op == "~" {
			return strings.Contains(strings.ToLower(is.Summary), strings.ToLower(strings.Trim(c.values[0], "*")))
		}
		have = []string{is.Summary}
	case "created", "updated":
		t := is.Created
		if c.field == "updated" {
			t = is.Updated
		}
		return c.evalTime(s, t)
	}
	match := func(v string) bool {
		for _, h := range have {
			if strings.EqualFold(h, v) {
				return true
			}
		}
		return false
	}
	switch c.op {
	case "=", "~":
		return match(c.values[0])
	case "!=":
		return len(have) > 0 && !match(c.values[0])
	case "in":
		for _, v := range c.values {
			if match(v) {
				return true
			}
		}
		return false
	case "not in":
		for _, v := range c.values {
			if match(v) {
				return false
			}
		}
		return len(have) > 0
	case "is":
		return len(have) == 0
	case "is not":
		return len(have) > 0
	}
	return false
}

func (c jqlClause) evalTime(s *Server, t time.Time) bool {
	if c.op == "is" || c.op == "is not" {
		return (c.op == "is") == t.IsZero()
	}
	v, err := parseJQLDate(c.values[0], s.tz)
	if err != nil {
		return false
	}
	switch c.op {
	case ">=":
		return !t.Before(v)
	case ">":
		return t.After(v)
	case "<=":
		return !t.After(v)
	case "<":
		return t.Before(v)
	case "=":
		return t.Truncate(time.Minute).Equal(v)
	}
	return false
}
