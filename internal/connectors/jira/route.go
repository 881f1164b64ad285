package jira

import (
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// rateLimitWait reads how long Jira asks us to wait: Retry-After (seconds or
// an HTTP date) first, else X-RateLimit-Reset, which Jira sends as an
// ISO-8601 timestamp to the minute, yyyy-MM-ddTHH:mmZ (not epoch seconds as
// elsewhere).
func rateLimitWait(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return clampWait(t.Sub(now)), true
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if t, ok := parseISO(v); ok {
			if t.Second() == 0 && t.Nanosecond() == 0 {
				// Documented as yyyy-MM-ddTHH:mmZ: the reset lies somewhere
				// in that minute, so wait for its end.
				t = t.Add(time.Minute)
			}
			return clampWait(t.Sub(now)), true
		}
	}
	return 0, false
}

func clampWait(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z0700"}

func parseISO(v string) (time.Time, bool) {
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// backoff is capped exponential backoff with full jitter: 0.5s, 1s, 2s … ≤ 30s.
func backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := 500 * time.Millisecond << min(attempt-1, 6)
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

// Route turns a request path into its documented template, for metrics and
// for checking requests against the OpenAPI description, e.g.
// /rest/api/2/issue/PAY-7/transitions → /rest/api/2/issue/{issueIdOrKey}/transitions.
func Route(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 4 || segs[0] != "rest" || segs[1] != "api" {
		return path
	}
	rest := segs[3:]
	switch {
	case len(rest) >= 3 && rest[0] == "issue" && rest[1] == "createmeta":
		rest[2] = "{projectIdOrKey}"
		if len(rest) >= 5 && rest[3] == "issuetypes" {
			rest[4] = "{issueTypeId}"
		}
	case len(rest) >= 2 && rest[0] == "issue":
		rest[1] = "{issueIdOrKey}"
		if len(rest) >= 4 && rest[2] == "properties" {
			rest[3] = "{propertyKey}"
		}
		if len(rest) >= 4 && rest[2] == "comment" {
			rest[3] = "{id}"
		}
	case len(rest) >= 2 && rest[0] == "project":
		rest[1] = "{projectIdOrKey}"
	}
	return "/" + strings.Join(append(segs[:3:3], rest...), "/")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
