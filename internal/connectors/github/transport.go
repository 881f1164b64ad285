package github

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Retry limits. Rate-limit waits are bounded by Options.MaxWait instead.
const (
	maxServerRetries   = 3                // 5xx / network errors on idempotent requests
	maxRateLimitWaits  = 4                // consecutive rate-limit waits for one request
	secondaryFallback  = 60 * time.Second // GitHub: "wait at least one minute"
	maxSecondaryWait   = 15 * time.Minute // cap of the exponential backoff
	serverRetryBase    = time.Second
	maxErrorBodyToRead = 64 << 10
)

// deferredError is returned instead of sending a request while the host is
// rate limited for longer than MaxWait.
type deferredError struct{ until time.Time }

func (e *deferredError) Error() string {
	return "rate limited until " + e.until.UTC().Format(time.RFC3339) + "; deferred"
}

// governor enforces GitHub's guidance for integrators: one write in flight
// per host, MinWriteInterval between writes, no request while a rate limit
// is known to be in force. It sits above go-retryablehttp, whose CheckRetry
// (below) does the waiting with the injected Sleep so tests stay fast.
type governor struct {
	next     http.RoundTripper
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	minWrite time.Duration
	maxWait  time.Duration
	log      *slog.Logger

	writeSem chan struct{}

	mu           sync.Mutex
	lastWrite    time.Time
	blockedUntil time.Time
	streak       int // consecutive secondary limits without a Retry-After
}

type attemptKey struct{}

type attempt struct {
	method     string
	server     int // server-error retries so far
	rateLimits int // rate-limit waits so far
}

func isWrite(method string) bool { return method != http.MethodGet && method != http.MethodHead }

func (g *governor) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := g.waitUnblocked(ctx); err != nil {
		return nil, err
	}
	if isWrite(req.Method) {
		select {
		case g.writeSem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() {
			g.mu.Lock()
			g.lastWrite = g.now()
			g.mu.Unlock()
			<-g.writeSem
		}()
		g.mu.Lock()
		wait := time.Duration(0)
		if !g.lastWrite.IsZero() {
			wait = g.lastWrite.Add(g.minWrite).Sub(g.now())
		}
		g.mu.Unlock()
		if wait > 0 {
			if err := g.sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		if err := g.waitUnblocked(ctx); err != nil {
			return nil, err
		}
	}
	req = req.WithContext(context.WithValue(ctx, attemptKey{}, &attempt{method: req.Method}))
	return g.next.RoundTrip(req)
}

// waitUnblocked sleeps through a known rate limit no longer than MaxWait,
// and refuses to send during a longer one.
func (g *governor) waitUnblocked(ctx context.Context) error {
	g.mu.Lock()
	until := g.blockedUntil
	g.mu.Unlock()
	wait := until.Sub(g.now())
	if wait <= 0 {
		return nil
	}
	if wait > g.maxWait {
		return &deferredError{until: until}
	}
	return g.sleep(ctx, wait)
}

func (g *governor) block(until time.Time) {
	g.mu.Lock()
	if until.After(g.blockedUntil) {
		g.blockedUntil = until
	}
	g.mu.Unlock()
}

// BlockedUntil is the end of the rate limit in force, zero when none.
func (g *governor) BlockedUntil() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blockedUntil.After(g.now()) {
		return g.blockedUntil
	}
	return time.Time{}
}

// checkRetry is go-retryablehttp's CheckRetry. It never retries a POST
// whose outcome is unknown, retries rate-limited requests (any method: a
// rate-limited request was not processed) after the wait GitHub asks for,
// and stops on terminal statuses. When it stops, the last response goes to
// go-github unchanged (PassthroughErrorHandler), so its RateLimitError and
// AbuseRateLimitError are seen.
func (g *governor) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	at, _ := ctx.Value(attemptKey{}).(*attempt)
	if at == nil {
		at = &attempt{method: http.MethodPost} // unknown: be conservative
	}
	idempotent := at.method != http.MethodPost
	if err != nil {
		if !idempotent || at.server >= maxServerRetries {
			return false, nil
		}
		if ok, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err); !ok {
			return false, nil
		}
		at.server++
		return true, g.sleep(ctx, jitter(serverRetryBase<<(at.server-1)))
	}
	if wait, limited, secondary := g.rateLimitWait(resp); limited {
		until := g.now().Add(wait)
		g.block(until)
		if wait > g.maxWait || at.rateLimits >= maxRateLimitWaits {
			g.log.Warn("github: rate limited; deferring", "status", resp.StatusCode, "secondary", secondary, "retry_at", until)
			return false, nil
		}
		at.rateLimits++
		g.log.Info("github: rate limited; waiting", "status", resp.StatusCode, "secondary", secondary, "wait", wait)
		if err := g.sleep(ctx, wait); err != nil {
			return false, err
		}
		return true, nil
	}
	if resp.StatusCode < 400 {
		g.mu.Lock()
		g.streak = 0
		g.mu.Unlock()
	}
	if resp.StatusCode >= 500 && idempotent && at.server < maxServerRetries {
		at.server++
		return true, g.sleep(ctx, jitter(serverRetryBase<<(at.server-1)))
	}
	return false, nil
}

// rateLimitWait reads GitHub's rate-limit signals: Retry-After first, then
// x-ratelimit-remaining 0 with x-ratelimit-reset, then a secondary limit
// (403 or 429) without either: a minute, doubling while it persists.
func (g *governor) rateLimitWait(resp *http.Response) (time.Duration, bool, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false, false
	}
	now := g.now()
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
		return d, true, true
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(s, 0).Sub(now)+time.Second, time.Second), true, false
		}
		return secondaryFallback, true, false
	}
	if resp.StatusCode == http.StatusForbidden && !secondaryBody(resp) {
		return 0, false, false // a permission problem: terminal
	}
	g.mu.Lock()
	n := min(g.streak, 4)
	g.streak++
	g.mu.Unlock()
	return min(jitter(secondaryFallback<<n), maxSecondaryWait), true, true
}

func secondaryBody(resp *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyToRead))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	s := strings.ToLower(string(b))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse")
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// jitter adds up to 10% so replicas do not retry in lockstep; never less.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// meter is the bottom transport: one call per attempt for the metrics hook
// and the debug log. It never logs headers (the token is one).
type meter struct {
	next     http.RoundTripper
	basePath string
	log      *slog.Logger
	hook     func(method, route string, status int, d time.Duration)
}

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now() // real elapsed time, not the injected clock
	resp, err := m.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	route := routeOf(strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(m.basePath, "/")))
	d := time.Since(start)
	m.log.Debug("github: request", "method", req.Method, "route", route, "status", status, "duration", d)
	if m.hook != nil {
		m.hook(req.Method, route, status, d)
	}
	return resp, err
}

var routePatterns = []struct {
	re    *regexp.Regexp
	route string
}{
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+/sub_issues$`), "/repos/{owner}/{repo}/issues/{issue_number}/sub_issues"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+/comments$`), "/repos/{owner}/{repo}/issues/{issue_number}/comments"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+/events$`), "/repos/{owner}/{repo}/issues/{issue_number}/events"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+$`), "/repos/{owner}/{repo}/issues/{issue_number}"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues$`), "/repos/{owner}/{repo}/issues"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/labels$`), "/repos/{owner}/{repo}/labels"},
	{regexp.MustCompile(`^/orgs/[^/]+/issue-types$`), "/orgs/{org}/issue-types"},
	{regexp.MustCompile(`^/user$`), "/user"},
}

// routeOf turns a request path into its operation template, for metrics
// with a bounded label set.
func routeOf(path string) string {
	for _, p := range routePatterns {
		if p.re.MatchString(path) {
			return p.route
		}
	}
	return "other"
}

var errNoToken = errors.New("github: token is empty: set github.token_env or github.token_file")
