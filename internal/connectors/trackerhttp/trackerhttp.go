// Package trackerhttp is the HTTP layer both tracker connectors (GitHub and
// Jira) send through: one retry policy, rate-limit waits, metering and the
// classification of failures into *registry.TrackerError.
//
// The rules:
//   - A request whose outcome is unknown (no answer, or a 5xx other than
//     501) is repeated, with capped exponential backoff and jitter, only when
//     it is safe: GET, HEAD, PUT and DELETE, or a context marked with
//     WithSafeRetry (a POST that only reads, such as a Jira search). A POST
//     that creates something never is: the connector looks before it writes
//     again.
//   - A rate-limited request was not processed, so any method is repeated
//     after the wait the tracker asks for (Config.RateLimit reads it). A wait
//     longer than MaxWait is not slept: the request fails at once and
//     Classify makes it retryable with RetryAt.
//   - Optionally (GitHub's guidance for integrators): no request while a
//     known limit is in force, one write in flight and MinWriteInterval
//     between writes.
//
// Usage:
//
//	t := trackerhttp.New(trackerhttp.Config{Tracker: "jira", Base: hc, RateLimit: trackerhttp.JiraRateLimit, ...}, logger)
//	client := t.HTTPClient() // for go-github or go-jira
//	...
//	return t.Classify(op, resp, err, fix)
package trackerhttp

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults for the zero Config values.
const (
	defaultRetryMax     = 3
	defaultRateLimitMax = 4
	defaultMaxWait      = time.Minute
	backoffBase         = 500 * time.Millisecond
	backoffCap          = 30 * time.Second
)

// RateLimitFunc reads whether resp is a rate limit and how long the tracker
// asks to wait before the next request (zero or less: unknown, a short
// backoff is used). It sees every response, including successes.
type RateLimitFunc func(resp *http.Response, now time.Time) (wait time.Duration, limited bool)

// Config configures a Client. Only Tracker is required.
type Config struct {
	Tracker string       // "github" or "jira": prefixes errors and log messages
	Base    *http.Client // per-attempt timeout, jar and bottom transport (credentials may be added there)
	Now     func() time.Time
	// Sleep waits d or until ctx ends; injectable so tests never really wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxWait is the longest rate-limit wait slept in place (default 1m).
	MaxWait time.Duration
	// RetryMax bounds the repeats of a safe request after a 5xx or no answer (default 3).
	RetryMax int
	// RateLimitMax bounds the consecutive rate-limit waits of one request (default 4).
	RateLimitMax int
	// RateLimit is the tracker's reader: (&GitHubLimits{}).Read or JiraRateLimit.
	// Default: 429 only, with Retry-After.
	RateLimit RateLimitFunc
	// Route turns a request path into its template for OnRequest and logs
	// (a bounded label set). Default: "other".
	Route func(path string) string
	// OnRequest is called once per HTTP attempt (metrics).
	OnRequest func(method, route string, status int, d time.Duration)

	// HoldWhileLimited refuses to send while a known rate limit is in force
	// for longer than MaxWait (DeferredError) and sleeps through a shorter one.
	HoldWhileLimited bool
	// SerialWrites keeps one non-GET/HEAD request in flight, MinWriteInterval apart.
	SerialWrites     bool
	MinWriteInterval time.Duration
}

// Client is the shared HTTP layer of one tracker connector. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client

	writeSem chan struct{}

	mu           sync.Mutex
	lastWrite    time.Time
	blockedUntil time.Time
}

// New builds a Client. It sends no request.
func New(cfg Config, logger *slog.Logger) *Client {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Base == nil {
		cfg.Base = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = Sleep
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = defaultMaxWait
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = defaultRetryMax
	}
	if cfg.RateLimitMax <= 0 {
		cfg.RateLimitMax = defaultRateLimitMax
	}
	if cfg.RateLimit == nil {
		cfg.RateLimit = retryAfterOnly
	}
	if cfg.Route == nil {
		cfg.Route = func(string) string { return "other" }
	}
	c := &Client{cfg: cfg, log: logger, writeSem: make(chan struct{}, 1)}

	bottom := cfg.Base.Transport
	if bottom == nil {
		bottom = http.DefaultTransport
	}
	metered := *cfg.Base // keeps the per-attempt timeout and jar
	metered.Transport = &meter{next: bottom, c: c}
	rc := &retryablehttp.Client{
		HTTPClient: &metered,
		Logger:     nil, // it would log URLs; the meter logs instead
		// Our own counters stop first; this only bounds the loop.
		RetryMax:   cfg.RetryMax + cfg.RateLimitMax,
		CheckRetry: c.checkRetry,
		// retryablehttp waits on a real timer: Backoff is zero and
		// PrepareRetry waits through the injected Sleep instead.
		Backoff:      func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 },
		PrepareRetry: c.prepareRetry,
		ErrorHandler: passThrough,
	}
	c.http = &http.Client{
		Transport: &gate{next: &retryablehttp.RoundTripper{Client: rc}, c: c},
		// Redirects are followed (or not) by the per-attempt client.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// HTTPClient is the client to give the tracker library. It has no overall
// timeout: rate-limit waits may be longer than one attempt's.
func (c *Client) HTTPClient() *http.Client { return c.http }

// BlockedUntil is the end of the last rate limit seen, zero when none is in force.
func (c *Client) BlockedUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blockedUntil.After(c.cfg.Now()) {
		return c.blockedUntil
	}
	return time.Time{}
}

func (c *Client) block(until time.Time) {
	c.mu.Lock()
	if until.After(c.blockedUntil) {
		c.blockedUntil = until
	}
	c.mu.Unlock()
}

// Sleep waits d or until ctx ends: the default Config.Sleep.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type safeKey struct{}

// WithSafeRetry marks requests made with ctx as safe to repeat after an
// unknown outcome: a POST that changes nothing, such as a search.
func WithSafeRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, safeKey{}, true)
}

// safe reports whether a request may be repeated when its outcome is unknown.
// PATCH and POST are not, unless marked.
func safe(ctx context.Context, method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	v, _ := ctx.Value(safeKey{}).(bool)
	return v
}

func isWrite(method string) bool { return method != http.MethodGet && method != http.MethodHead }

// attempt is one logical request's retry state. It travels in the request
// context because retryablehttp's CheckRetry sees only the context.
type attempt struct {
	safe       bool
	server     int           // 5xx / no-answer repeats so far
	rateLimits int           // rate-limit waits so far
	wait       time.Duration // before the next attempt

	mu      sync.Mutex // Classify may read while a late attempt is checked
	limited bool       // the last answer was a rate limit...
	until   time.Time  // ...in force until then
}

type attemptKey struct{}

func attemptOf(ctx context.Context) *attempt {
	at, _ := ctx.Value(attemptKey{}).(*attempt)
	return at
}

// limitOf reports the rate-limit verdict on resp, the last answer of a
// request sent through a Client.
func limitOf(resp *http.Response) (time.Time, bool) {
	if resp == nil || resp.Request == nil {
		return time.Time{}, false
	}
	at := attemptOf(resp.Request.Context())
	if at == nil {
		return time.Time{}, false
	}
	at.mu.Lock()
	defer at.mu.Unlock()
	return at.until, at.limited
}

// gate is the top transport: it holds requests while a limit is in force,
// serialises writes, and tags the request with its retry state.
type gate struct {
	next http.RoundTripper
	c    *Client
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	c, ctx := g.c, req.Context()
	if err := c.waitUnblocked(ctx); err != nil {
		return nil, err
	}
	if c.cfg.SerialWrites && isWrite(req.Method) {
		select {
		case c.writeSem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() {
			c.mu.Lock()
			c.lastWrite = c.cfg.Now()
			c.mu.Unlock()
			<-c.writeSem
		}()
		c.mu.Lock()
		var wait time.Duration
		if !c.lastWrite.IsZero() {
			wait = c.lastWrite.Add(c.cfg.MinWriteInterval).Sub(c.cfg.Now())
		}
		c.mu.Unlock()
		if wait > 0 {
			if err := c.cfg.Sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		if err := c.waitUnblocked(ctx); err != nil { // a limit seen meanwhile
			return nil, err
		}
	}
	at := &attempt{safe: safe(ctx, req.Method)}
	return g.next.RoundTrip(req.WithContext(context.WithValue(ctx, attemptKey{}, at)))
}

// waitUnblocked sleeps through a known rate limit no longer than MaxWait and
// refuses to send during a longer one (HoldWhileLimited only).
func (c *Client) waitUnblocked(ctx context.Context) error {
	if !c.cfg.HoldWhileLimited {
		return nil
	}
	until := c.BlockedUntil()
	if until.IsZero() {
		return nil
	}
	wait := until.Sub(c.cfg.Now())
	if wait > c.cfg.MaxWait {
		return &DeferredError{Until: until}
	}
	return c.cfg.Sleep(ctx, wait)
}

// checkRetry is go-retryablehttp's CheckRetry; PrepareRetry does the wait.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	at := attemptOf(ctx)
	if at == nil {
		at = &attempt{} // not sent through the gate: be conservative
	}
	at.wait = 0
	at.mu.Lock()
	at.limited, at.until = false, time.Time{}
	at.mu.Unlock()
	if err != nil || resp == nil {
		if !at.safe || at.server >= c.cfg.RetryMax {
			return false, nil
		}
		if ok, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err); !ok {
			return false, nil // a bad URL or certificate does not heal
		}
		at.server++
		at.wait = backoff(at.server)
		return true, nil
	}
	now := c.cfg.Now()
	if wait, limited := c.cfg.RateLimit(resp, now); limited {
		if wait <= 0 {
			wait = backoff(at.rateLimits + 1)
		}
		until := now.Add(wait)
		at.mu.Lock()
		at.limited, at.until = true, until
		at.mu.Unlock()
		c.block(until)
		route := c.cfg.Route(resp.Request.URL.Path)
		if wait > c.cfg.MaxWait || at.rateLimits >= c.cfg.RateLimitMax {
			c.log.Warn(c.cfg.Tracker+": rate limited; deferring", "status", resp.StatusCode, "route", route, "retry_at", until)
			return false, nil
		}
		c.log.Info(c.cfg.Tracker+": rate limited; waiting", "status", resp.StatusCode, "route", route, "wait", wait)
		at.rateLimits++
		at.wait = wait
		return true, nil
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented && at.safe && at.server < c.cfg.RetryMax {
		at.server++
		at.wait = backoff(at.server)
		return true, nil
	}
	return false, nil
}

func (c *Client) prepareRetry(req *http.Request) error {
	at := attemptOf(req.Context())
	if at == nil || at.wait <= 0 {
		return nil
	}
	return c.cfg.Sleep(req.Context(), at.wait)
}

// passThrough hands the last answer to the tracker library when retries
// end, so it sees the tracker's status and error body; a wait cut short
// returns its error.
func passThrough(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	return resp, nil
}

// backoff is capped exponential backoff with jitter: attempt n waits a
// random time in [d/2, d], d = 500ms·2ⁿ⁻¹ ≤ 30s, so replicas do not retry in
// lockstep.
func backoff(n int) time.Duration {
	d := min(backoffBase<<min(max(n, 1)-1, 6), backoffCap)
	return d/2 + rand.N(d/2+1)
}

// meter is the bottom transport: one OnRequest call and one debug line per
// attempt. It never logs headers or URLs (credentials may be in either).
type meter struct {
	next http.RoundTripper
	c    *Client
}

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now() // real elapsed time, not the injected clock
	resp, err := m.next.RoundTrip(req)
	d := time.Since(start)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		resp.Request = req // carries the retry state Classify reads
	}
	route := m.c.cfg.Route(req.URL.Path)
	m.c.log.Debug(m.c.cfg.Tracker+": request", "method", req.Method, "route", route, "status", status, "duration", d)
	if m.c.cfg.OnRequest != nil {
		m.c.cfg.OnRequest(req.Method, route, status, d)
	}
	return resp, err
}
