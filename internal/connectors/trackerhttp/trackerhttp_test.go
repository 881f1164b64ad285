package trackerhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 20, 0, time.UTC)

// clock is the injected Now and Sleep: sleeping advances it at once.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.slept)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// answer is one scripted reply; drop closes the connection instead.
type answer struct {
	status int
	header http.Header
	body   string
	drop   bool
}

type fake struct {
	mu      sync.Mutex
	script  []answer
	methods []string
	srv     *httptest.Server
}

func newFake(t *testing.T, script ...answer) *fake {
	f := &fake{script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.methods = append(f.methods, r.Method)
		a := answer{status: http.StatusOK, body: "ok"}
		if len(f.script) > 0 {
			a, f.script = f.script[0], f.script[1:]
		}
		f.mu.Unlock()
		if a.drop {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range a.header {
			w.Header()[k] = v
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.methods)
}

type env struct {
	t     *testing.T
	c     *Client
	clock *clock
	srv   *fake
}

func newEnv(t *testing.T, cfg Config, script ...answer) *env {
	e := &env{t: t, clock: &clock{now: t0}, srv: newFake(t, script...)}
	if cfg.Tracker == "" {
		cfg.Tracker = "jira"
	}
	cfg.Base = e.srv.srv.Client()
	cfg.Now, cfg.Sleep = e.clock.Now, e.clock.Sleep
	e.c = New(cfg, nil)
	return e
}

// do sends one request and classifies the outcome as a connector would.
func (e *env) do(ctx context.Context, method string, fix FixFunc) error {
	req, err := http.NewRequestWithContext(ctx, method, e.srv.srv.URL+"/rest/api/2/issue?token=SECRET", strings.NewReader("{}"))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.c.HTTPClient().Do(req)
	if err == nil && resp.StatusCode < 400 {
		resp.Body.Close()
		return nil
	}
	if resp != nil {
		defer resp.Body.Close()
		_, _ = io.ReadAll(resp.Body)
	}
	return e.c.Classify("create issue", resp, err, fix)
}

func TestRetryRules(t *testing.T) {
	retryAfter := http.Header{"Retry-After": {"3"}}
	cases := []struct {
		first   answer
		method  string
		safe    bool
		retried bool
	}{
		{answer{status: 500}, http.MethodGet, false, true},
		{answer{status: 502}, http.MethodHead, false, true},
		{answer{status: 503}, http.MethodPut, false, true},
		{answer{status: 504}, http.MethodDelete, false, true},
		{answer{status: 500}, http.MethodPost, false, false},
		{answer{status: 500}, http.MethodPost, true, true},
		{answer{status: 500}, http.MethodPatch, false, false},
		{answer{status: 500}, http.MethodPatch, true, true},
		{answer{status: 501}, http.MethodGet, false, false},
		{answer{drop: true}, http.MethodGet, false, true},
		{answer{drop: true}, http.MethodPost, false, false},
		{answer{drop: true}, http.MethodPost, true, true},
		{answer{drop: true}, http.MethodPatch, false, false},
		// A rate-limited request was not processed: any method repeats.
		{answer{status: 429, header: retryAfter}, http.MethodPost, false, true},
		{answer{status: 429, header: retryAfter}, http.MethodPatch, false, true},
		{answer{status: 429, header: retryAfter}, http.MethodGet, false, true},
		{answer{status: 503, header: retryAfter}, http.MethodPost, false, true},
		{answer{status: 400}, http.MethodGet, false, false},
		{answer{status: 401}, http.MethodGet, false, false},
		{answer{status: 403}, http.MethodGet, false, false},
		{answer{status: 404}, http.MethodGet, false, false},
		{answer{status: 409}, http.MethodPut, false, false},
		{answer{status: 410}, http.MethodGet, false, false},
		{answer{status: 422}, http.MethodPost, true, false},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%d drop=%v %s safe=%v", tc.first.status, tc.first.drop, tc.method, tc.safe)
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{RateLimit: JiraRateLimit}, tc.first)
			ctx := context.Background()
			if tc.safe {
				ctx = WithSafeRetry(ctx)
			}
			err := e.do(ctx, tc.method, nil)
			want := 1
			if tc.retried {
				want = 2
			}
			if n := e.srv.Requests(); n != want {
				t.Fatalf("requests = %d, want %d (err %v)", n, want, err)
			}
			if tc.retried != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if tc.retried && len(e.clock.Slept()) != 1 {
				t.Fatalf("slept %v, want one wait", e.clock.Slept())
			}
		})
	}
}

func TestServerErrorsGiveUpAfterRetryMax(t *testing.T) {
	var script []answer
	for range 10 {
		script = append(script, answer{status: 502})
	}
	e := newEnv(t, Config{RetryMax: 3}, script...)
	err := e.do(context.Background(), http.MethodGet, nil)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.Status != 502 || !te.RetryAt.IsZero() {
		t.Fatalf("err = %#v", err)
	}
	slept := e.clock.Slept()
	if e.srv.Requests() != 4 || len(slept) != 3 {
		t.Fatalf("requests %d, slept %v", e.srv.Requests(), slept)
	}
	// Capped exponential backoff with jitter: attempt n in [d/2, d], d = 500ms·2ⁿ⁻¹.
	for i, d := range slept {
		hi := backoffBase << i
		if d < hi/2 || d > hi {
			t.Errorf("wait %d = %v, want %v..%v", i, d, hi/2, hi)
		}
	}
}

func TestRateLimitWaits(t *testing.T) {
	cases := []struct {
		name   string
		reader RateLimitFunc
		first  answer
		want   time.Duration
	}{
		{"Retry-After seconds", JiraRateLimit, answer{status: 429, header: http.Header{"Retry-After": {"7"}}}, 7 * time.Second},
		{"Retry-After HTTP date", JiraRateLimit, answer{status: 429, header: http.Header{"Retry-After": {t0.Add(90 * time.Second).Format(http.TimeFormat)}}}, 90 * time.Second},
		{"Jira ISO reset to the minute", JiraRateLimit, answer{status: 429, header: http.Header{"X-RateLimit-Reset": {"2026-03-02T09:01Z"}}}, 100 * time.Second},
		{"Jira 503 with rate headers", JiraRateLimit, answer{status: 503, header: http.Header{"X-RateLimit-Reset": {"2026-03-02T09:00:50Z"}}}, 30 * time.Second},
		{"GitHub primary reset", (&GitHubLimits{}).Read, answer{status: 403, header: http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {fmt.Sprint(t0.Add(40 * time.Second).Unix())}}}, 41 * time.Second},
		{"GitHub secondary without header", (&GitHubLimits{}).Read, answer{status: 403, body: `{"message":"You have exceeded a secondary rate limit."}`}, time.Minute},
		{"GitHub 429 without header", (&GitHubLimits{}).Read, answer{status: 429}, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{RateLimit: tc.reader, MaxWait: 5 * time.Minute}, tc.first)
			if err := e.do(context.Background(), http.MethodPost, nil); err != nil {
				t.Fatal(err)
			}
			got := e.clock.Slept()
			if len(got) != 1 || got[0] < tc.want || got[0] > tc.want*11/10 {
				t.Fatalf("slept %v, want %v (+10%% jitter at most)", got, tc.want)
			}
			if e.srv.Requests() != 2 {
				t.Fatalf("requests = %d", e.srv.Requests())
			}
		})
	}
}

func TestLongRateLimitIsNotSlept(t *testing.T) {
	e := newEnv(t, Config{RateLimit: JiraRateLimit, MaxWait: 30 * time.Second},
		answer{status: 429, header: http.Header{"Retry-After": {"600"}}})
	err := e.do(context.Background(), http.MethodGet, nil)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.Status != 429 || !te.RetryAt.Equal(t0.Add(10*time.Minute)) || te.Tracker != "jira" {
		t.Fatalf("err = %#v", err)
	}
	if len(e.clock.Slept()) != 0 || e.srv.Requests() != 1 {
		t.Fatalf("slept %v, requests %d", e.clock.Slept(), e.srv.Requests())
	}
	if !e.c.BlockedUntil().Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("BlockedUntil = %v", e.c.BlockedUntil())
	}
	// Without HoldWhileLimited the next request is sent.
	if err := e.do(context.Background(), http.MethodGet, nil); err != nil || e.srv.Requests() != 2 {
		t.Fatalf("err %v, requests %d", err, e.srv.Requests())
	}
}

func TestRateLimitWaitsAreBounded(t *testing.T) {
	var script []answer
	for range 10 {
		script = append(script, answer{status: 429, header: http.Header{"Retry-After": {"1"}}})
	}
	e := newEnv(t, Config{RateLimit: JiraRateLimit, RateLimitMax: 4}, script...)
	err := e.do(context.Background(), http.MethodGet, nil)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.RetryAt.IsZero() {
		t.Fatalf("err = %#v", err)
	}
	if e.srv.Requests() != 5 || len(e.clock.Slept()) != 4 {
		t.Fatalf("requests %d, slept %v", e.srv.Requests(), e.clock.Slept())
	}
}

func TestHoldWhileLimited(t *testing.T) {
	e := newEnv(t, Config{Tracker: "github", RateLimit: (&GitHubLimits{}).Read, MaxWait: 2 * time.Minute, HoldWhileLimited: true},
		answer{status: 429, header: http.Header{"Retry-After": {"600"}}})
	if err := e.do(context.Background(), http.MethodGet, nil); !registry.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	// Until RetryAt nothing is sent; the error says when to come back.
	e.clock.Advance(5 * time.Minute)
	err := e.do(context.Background(), http.MethodGet, nil)
	var te *registry.TrackerError
	var de *DeferredError
	if !errors.As(err, &te) || !te.Retryable || te.Status != 0 || !te.RetryAt.Equal(t0.Add(10*time.Minute)) || !errors.As(err, &de) {
		t.Fatalf("err = %#v", err)
	}
	if UnknownOutcome(nil, err) {
		t.Fatal("a request never sent has a known outcome")
	}
	if e.srv.Requests() != 1 {
		t.Fatalf("requests = %d", e.srv.Requests())
	}
	// Within MaxWait of the end the request waits, then goes.
	e.clock.Advance(4 * time.Minute)
	if err := e.do(context.Background(), http.MethodGet, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.clock.Slept(); len(got) != 1 || got[0] != time.Minute || e.srv.Requests() != 2 {
		t.Fatalf("slept %v, requests %d", got, e.srv.Requests())
	}
}

func TestSerialWritesKeepTheirInterval(t *testing.T) {
	e := newEnv(t, Config{SerialWrites: true, MinWriteInterval: time.Second})
	for range 2 {
		if err := e.do(context.Background(), http.MethodPost, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.do(context.Background(), http.MethodGet, nil); err != nil { // reads do not wait
		t.Fatal(err)
	}
	if got := e.clock.Slept(); len(got) != 1 || got[0] != time.Second {
		t.Fatalf("slept %v, want [1s]", got)
	}
}

func TestClassify(t *testing.T) {
	fix := func(status int, resp *http.Response) string {
		return fmt.Sprintf("fix %d %s", status, resp.Header.Get("X-Hint"))
	}
	cases := []struct {
		first     answer
		retryable bool
		fix       string
	}{
		{answer{status: 401}, false, "fix 401 "},
		{answer{status: 403, header: http.Header{"X-Hint": {"issues=write"}}}, false, "fix 403 issues=write"},
		{answer{status: 404}, false, "fix 404 "},
		{answer{status: 410}, false, "fix 410 "},
		{answer{status: 422}, false, "fix 422 "},
		{answer{status: 500}, true, ""},
		{answer{status: 429, header: http.Header{"Retry-After": {"1"}}}, true, ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.first.status), func(t *testing.T) {
			e := newEnv(t, Config{RateLimit: JiraRateLimit, RateLimitMax: 1, RetryMax: 1}, tc.first, tc.first)
			err := e.do(context.Background(), http.MethodPost, fix)
			var te *registry.TrackerError
			if !errors.As(err, &te) || te.Retryable != tc.retryable || te.Fix != tc.fix || te.Status != tc.first.status || te.Op != "create issue" {
				t.Fatalf("err = %#v", err)
			}
		})
	}
	t.Run("no response", func(t *testing.T) {
		e := newEnv(t, Config{}, answer{drop: true})
		err := e.do(context.Background(), http.MethodPost, fix)
		var te *registry.TrackerError
		if !errors.As(err, &te) || !te.Retryable || te.Status != 0 || te.Fix != "" {
			t.Fatalf("err = %#v", err)
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), e.srv.srv.URL) {
			t.Fatalf("URL in the message: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "jira: create issue: no response") {
			t.Fatalf("message %q", err)
		}
	})
	t.Run("already classified", func(t *testing.T) {
		e := newEnv(t, Config{})
		in := registry.Errorf(registry.EINVALID, "jira: bad key")
		if err := e.c.Classify("op", nil, in, nil); err != in {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestUnknownOutcome(t *testing.T) {
	cases := []struct {
		first   answer
		unknown bool
	}{
		{answer{status: 502}, true},
		{answer{status: 503}, true},
		{answer{status: 503, header: http.Header{"Retry-After": {"600"}}}, false}, // Jira: rate limited, not processed
		{answer{status: 429, header: http.Header{"Retry-After": {"600"}}}, false},
		{answer{status: 422}, false},
	}
	for _, tc := range cases {
		e := newEnv(t, Config{RateLimit: JiraRateLimit, MaxWait: time.Second}, tc.first)
		req, _ := http.NewRequest(http.MethodPost, e.srv.srv.URL+"/x", nil)
		resp, err := e.c.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := UnknownOutcome(resp, fmt.Errorf("status %d", resp.StatusCode)); got != tc.unknown {
			t.Errorf("%d %v: unknown = %v", tc.first.status, tc.first.header, got)
		}
	}
	e := newEnv(t, Config{}, answer{drop: true})
	req, _ := http.NewRequest(http.MethodPost, e.srv.srv.URL+"/x", nil)
	resp, err := e.c.HTTPClient().Do(req)
	if resp != nil || !UnknownOutcome(resp, err) {
		t.Fatalf("dropped answer: resp %v, unknown %v", resp, UnknownOutcome(resp, err))
	}
	if UnknownOutcome(nil, context.Canceled) {
		t.Fatal("cancelled: unknown")
	}
}

func TestContextCancelled(t *testing.T) {
	t.Run("before sending", func(t *testing.T) {
		e := newEnv(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := e.do(ctx, http.MethodGet, nil)
		var te *registry.TrackerError
		if !errors.Is(err, context.Canceled) || errors.As(err, &te) || !strings.HasPrefix(err.Error(), "jira: create issue: ") {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("during a wait", func(t *testing.T) {
		e := newEnv(t, Config{RateLimit: JiraRateLimit}, answer{status: 429, header: http.Header{"Retry-After": {"5"}}})
		ctx, cancel := context.WithCancel(context.Background())
		e.c.cfg.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
		err := e.do(ctx, http.MethodGet, nil)
		var te *registry.TrackerError
		if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
			t.Fatalf("err = %#v", err)
		}
		if e.srv.Requests() != 1 {
			t.Fatalf("requests = %d", e.srv.Requests())
		}
	})
}

func TestOnRequestOncePerAttempt(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	e := newEnv(t, Config{
		Route: func(p string) string { return strings.Replace(p, "issue", "{x}", 1) },
		OnRequest: func(method, route string, status int, d time.Duration) {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s %s %d", method, route, status))
			mu.Unlock()
		},
	}, answer{status: 500}, answer{drop: true})
	// A search POST: net/http itself would repeat a GET on a dropped, reused connection.
	if err := e.do(WithSafeRetry(context.Background()), http.MethodPost, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /rest/api/2/{x} 500", "POST /rest/api/2/{x} 0", "POST /rest/api/2/{x} 200"}
	if !slices.Equal(seen, want) {
		t.Fatalf("seen %v, want %v", seen, want)
	}
}

func TestGitHubLimits(t *testing.T) {
	resp := func(status int, body string, h http.Header) *http.Response {
		if h == nil {
			h = http.Header{}
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	}
	g := &GitHubLimits{}
	secondary := `{"message":"You have exceeded a secondary rate limit"}`
	// Secondary limits without a header: a minute, doubling, capped at 15.
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		r := resp(http.StatusForbidden, secondary, nil)
		d, ok := g.Read(r, t0)
		if !ok || d < want || d > want*11/10 || d > maxSecondaryWait {
			t.Fatalf("secondary %d: %v %v, want %v", i, d, ok, want)
		}
		if b, _ := io.ReadAll(r.Body); string(b) != secondary {
			t.Fatalf("body not put back: %q", b)
		}
	}
	if _, ok := g.Read(resp(http.StatusOK, "", nil), t0); ok {
		t.Fatal("200 limited")
	}
	if d, ok := g.Read(resp(http.StatusForbidden, `{"message":"abuse detection mechanism"}`, nil), t0); !ok || d > time.Minute*11/10 {
		t.Fatalf("after a success the streak restarts: %v %v", d, ok)
	}
	if _, ok := g.Read(resp(http.StatusForbidden, `{"message":"Resource not accessible by integration"}`, nil), t0); ok {
		t.Fatal("a permission 403 read as a limit")
	}
	if d, ok := g.Read(resp(http.StatusForbidden, "", http.Header{"Retry-After": {"45"}}), t0); !ok || d != 45*time.Second {
		t.Fatalf("Retry-After: %v %v", d, ok)
	}
	if d, ok := g.Read(resp(http.StatusForbidden, "", http.Header{"X-Ratelimit-Remaining": {"0"}}), t0); !ok || d != time.Minute {
		t.Fatalf("remaining 0 without reset: %v %v", d, ok)
	}
	if _, ok := g.Read(resp(http.StatusServiceUnavailable, "", http.Header{"Retry-After": {"5"}}), t0); ok {
		t.Fatal("GitHub 503 read as a limit")
	}
}

func TestJiraRateLimit(t *testing.T) {
	cases := []struct {
		status  int
		h       http.Header
		wait    time.Duration
		limited bool
	}{
		{429, http.Header{"Retry-After": {"12"}}, 12 * time.Second, true},
		{429, http.Header{"Retry-After": {"12"}, "X-Ratelimit-Reset": {"2026-03-02T09:05Z"}}, 12 * time.Second, true},
		{429, http.Header{"X-Ratelimit-Reset": {"2026-03-02T09:01Z"}}, 100 * time.Second, true},       // to the end of 09:01
		{429, http.Header{"X-Ratelimit-Reset": {"2026-03-02T09:00:50.000Z"}}, 30 * time.Second, true}, // to the second: as is
		{429, http.Header{"X-Ratelimit-Reset": {"2026-03-02T08:58Z"}}, 0, true},                       // past: unknown, backoff
		{429, http.Header{"Retry-After": {t0.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{429, nil, 0, true},
		{503, http.Header{"Retry-After": {"4"}}, 4 * time.Second, true},
		{503, nil, 0, false},
		{403, http.Header{"Retry-After": {"4"}}, 0, false},
	}
	for _, tc := range cases {
		h := tc.h
		if h == nil {
			h = http.Header{}
		}
		d, ok := JiraRateLimit(&http.Response{StatusCode: tc.status, Header: h}, t0)
		if d != tc.wait || ok != tc.limited {
			t.Errorf("%d %v: %v %v, want %v %v", tc.status, tc.h, d, ok, tc.wait, tc.limited)
		}
	}
}
