package trackerhttp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GitHub's secondary limits come without a wait: "wait at least one
// minute", doubling while they persist, capped.
const (
	secondaryFallback = 60 * time.Second
	maxSecondaryWait  = 15 * time.Minute
	maxBodyPeek       = 64 << 10
)

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retryAfterOnly is the default reader: a 429 and its Retry-After.
func retryAfterOnly(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	d, _ := RetryAfter(resp.Header, now)
	return d, true
}

// GitHubLimits reads GitHub's rate-limit signals. It remembers how many
// secondary limits came in a row, so each connector has its own.
type GitHubLimits struct {
	mu     sync.Mutex
	streak int // consecutive secondary limits without a Retry-After
}

// Read is a RateLimitFunc. On a 403 or 429: Retry-After first, then
// x-ratelimit-remaining 0 with the epoch x-ratelimit-reset, then a secondary
// limit (a 429, or a 403 whose body says "secondary rate limit" or "abuse")
// without either: a minute, doubling while it persists, capped at 15
// minutes. Any other 403 is a permission problem, not a limit.
func (g *GitHubLimits) Read(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode < 400 {
		g.mu.Lock()
		g.streak = 0
		g.mu.Unlock()
	}
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if d, ok := RetryAfter(resp.Header, now); ok {
		return d, true
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(s, 0).Sub(now)+time.Second, time.Second), true
		}
		return secondaryFallback, true
	}
	if resp.StatusCode == http.StatusForbidden && !secondaryBody(resp) {
		return 0, false
	}
	g.mu.Lock()
	n := min(g.streak, 4)
	g.streak++
	g.mu.Unlock()
	return min(jitter(secondaryFallback<<n), maxSecondaryWait), true
}

// secondaryBody peeks at the body and puts it back for the library.
func secondaryBody(resp *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyPeek))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	s := strings.ToLower(string(b))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse")
}

// jitter adds up to 10%, never less, so replicas do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// JiraRateLimit is Jira's RateLimitFunc: a 429, or a 503 carrying rate
// headers. The wait is Retry-After, else X-RateLimit-Reset, which Jira
// sends as ISO-8601 to the minute (yyyy-MM-ddTHH:mmZ, not epoch seconds).
// Neither: unknown, a short backoff.
func JiraRateLimit(resp *http.Response, now time.Time) (time.Duration, bool) {
	h := resp.Header
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
	case http.StatusServiceUnavailable:
		if h.Get("Retry-After") == "" && h.Get("X-RateLimit-Reset") == "" {
			return 0, false // an outage, not a limit
		}
	default:
		return 0, false
	}
	if d, ok := RetryAfter(h, now); ok {
		return d, true
	}
	if t, ok := parseISO(strings.TrimSpace(h.Get("X-RateLimit-Reset"))); ok {
		if t.Second() == 0 && t.Nanosecond() == 0 {
			// The reset lies somewhere in that minute: wait for its end.
			t = t.Add(time.Minute)
		}
		return max(t.Sub(now), 0), true
	}
	return 0, true
}

var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z0700"}

func parseISO(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
