package web

import (
	"html/template"
	"net/url"
	"strconv"
	"time"
)

var funcs = template.FuncMap{
	"score": func(s *float64) string {
		if s == nil {
			return "—"
		}
		return strconv.FormatFloat(*s, 'f', -1, 64)
	},
	"date": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format(time.DateOnly)
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"deref": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"num": func(p any) string {
		switch v := p.(type) {
		case *int:
			if v != nil {
				return strconv.Itoa(*v)
			}
		case *float64:
			if v != nil {
				return strconv.FormatFloat(*v, 'f', -1, 64)
			}
		}
		return "—"
	},
	"isint": func(p *int, n int) bool { return p != nil && *p == n },
	"q":     query,
	"vals":  func(v url.Values, k string) string { return v.Get(k) },
	"list":  func(s ...string) []string { return s },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}
