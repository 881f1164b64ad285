package github

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/github/githubtest"
	"github.com/risksync/risksync/internal/registry"
)

// requestTimes returns when the fake received each request on route.
func requestTimes(srv *githubtest.Server, method, route string) []githubtest.Request {
	var out []githubtest.Request
	for _, r := range srv.Requests() {
		if r.Method == method && r.Route == route {
			out = append(out, r)
		}
	}
	return out
}

func TestRateLimitWaitsAreHonoured(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(e *env)
		minWait time.Duration
	}{
		{"429 retry-after", func(e *env) {
			e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 429, RetryAfter: "30"})
		}, 30 * time.Second},
		{"403 secondary retry-after", func(e *env) {
			e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 403, Secondary: true, RetryAfter: "45"})
		}, 45 * time.Second},
		{"403 secondary without retry-after", func(e *env) {
			e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 403, Secondary: true})
		}, 60 * time.Second},
		{"429 without retry-after", func(e *env) {
			e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 429})
		}, 60 * time.Second},
		{"primary exhausted until reset", func(e *env) {
			e.srv.SetRateLimit(0, start.Add(90*time.Second))
		}, 90 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			if _, err := e.c.PullBack(context.Background(), repoName); err != nil {
				t.Fatal(err)
			}
			reqs := requestTimes(e.srv, "GET", issuesRoute)
			if len(reqs) < 2 || reqs[0].Status < 400 || reqs[1].Status != 200 {
				t.Fatalf("requests = %+v", reqs)
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap < tc.minWait {
				t.Fatalf("retried after %v, before the deadline (%v)", gap, tc.minWait)
			}
		})
	}
}

func TestSecondaryLimitBacksOffExponentially(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxWait = 10 * time.Minute })
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 403, Secondary: true, Times: 3})
	if _, err := e.c.PullBack(context.Background(), repoName); err != nil {
		t.Fatal(err)
	}
	reqs := requestTimes(e.srv, "GET", issuesRoute)
	if len(reqs) != 4 {
		t.Fatalf("requests = %d", len(reqs))
	}
	for i, min := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
		if gap := reqs[i+1].At.Sub(reqs[i].At); gap < min || gap > min*12/10 {
			t.Errorf("wait %d = %v, want %v..+20%%", i, gap, min)
		}
	}
}

func TestLongRateLimitDefersInsteadOfBlocking(t *testing.T) {
	e := newEnv(t) // MaxWait 2m
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 429, RetryAfter: "600"})
	_, err := e.c.PullBack(context.Background(), repoName)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.Status != 429 {
		t.Fatalf("err = %#v", err)
	}
	if want := start.Add(600 * time.Second); te.RetryAt.Before(want) {
		t.Fatalf("RetryAt = %v, want ≥ %v", te.RetryAt, want)
	}
	if len(e.clock.Slept()) != 0 {
		t.Fatalf("slept %v", e.clock.Slept())
	}
	// Until RetryAt nothing is sent: the work is deferred at once.
	n := len(e.srv.Requests())
	e.clock.Advance(5 * time.Minute)
	_, err = e.c.EnsureEpic(context.Background(), epicFor(1, "x", 1, 1, 1, ""), false)
	if !registry.IsRetryable(err) || len(e.srv.Requests()) != n {
		t.Fatalf("err = %v, requests %d → %d", err, n, len(e.srv.Requests()))
	}
	// Within MaxWait of the deadline the client waits, then proceeds.
	e.clock.Advance(4 * time.Minute)
	if _, err := e.c.EnsureEpic(context.Background(), epicFor(1, "x", 1, 1, 1, ""), false); err != nil {
		t.Fatal(err)
	}
	if first := e.srv.Requests()[n]; first.At.Before(start.Add(600 * time.Second)) {
		t.Fatalf("request at %v before the deadline", first.At)
	}
}

func TestPrimaryLimitErrorIsGoGithubRateLimitError(t *testing.T) {
	e := newEnv(t)
	e.srv.SetRateLimit(0, start.Add(time.Hour))
	_, err := e.c.PullBack(context.Background(), repoName)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || !te.RetryAt.Equal(start.Add(time.Hour).Add(time.Second)) && te.RetryAt.Before(start.Add(time.Hour)) {
		t.Fatalf("err = %#v", err)
	}
	var rle *gh.RateLimitError
	if !errors.As(err, &rle) || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("err = %v, want go-github's RateLimitError inside", err)
	}
}

func TestTerminalErrorsAreNotRetried(t *testing.T) {
	cases := []struct {
		name  string
		fault githubtest.Fault
		fix   string
	}{
		{"403 missing permission", githubtest.Fault{Method: "POST", Route: issuesRoute, Status: 403,
			Message: "Resource not accessible by personal access token",
			Header:  http.Header{"X-Accepted-Github-Permissions": {"issues=write"}}}, "issues=write"},
		{"404", githubtest.Fault{Method: "POST", Route: issuesRoute, Status: 404}, "repository"},
		{"422", githubtest.Fault{Method: "POST", Route: issuesRoute, Status: 422, Message: "Validation Failed"}, "rejected"},
		{"401", githubtest.Fault{Method: "POST", Route: issuesRoute, Status: 401, Message: "Bad credentials"}, "token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.ensure(epicFor(1, "labels exist", 1, 1, 1, ""))
			e.srv.Inject(tc.fault)
			_, err := e.c.EnsureEpic(context.Background(), epicFor(2, "second", 1, 1, 1, ""), false)
			var te *registry.TrackerError
			if !errors.As(err, &te) || te.Retryable || te.Status != tc.fault.Status || !strings.Contains(te.Fix, tc.fix) {
				t.Fatalf("err = %#v", err)
			}
			if n := e.srv.Count("POST", issuesRoute); n != 2 {
				t.Fatalf("POSTs = %d, want 2 (no retry)", n)
			}
			if len(e.issues(repoName)) != 1 {
				t.Fatal("created despite the error")
			}
		})
	}
}

func TestServerErrorsOnReadsAreRetried(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 502, Times: 2})
	if _, err := e.c.PullBack(context.Background(), repoName); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Count("GET", issuesRoute); n != 3 {
		t.Fatalf("GETs = %d", n)
	}
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 500, Times: 10})
	e.clock.Advance(time.Hour)
	_, err := e.c.PullBack(context.Background(), repoName)
	var te *registry.TrackerError
	if !errors.As(err, &te) || !te.Retryable || te.Status != 500 {
		t.Fatalf("err = %#v", err)
	}
}

func TestCancelledContextStopsWaiting(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 429, RetryAfter: "30"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.c.PullBack(ctx, repoName)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenNeverInLogsOrErrors(t *testing.T) {
	const sentinel = "ghp_SENTINEL_token_do_not_leak_123"
	clock := githubtest.NewClock(start)
	srv := githubtest.NewServer(t, githubtest.WithClock(clock.Now), githubtest.WithToken(sentinel))
	recordRoutes(t, srv)
	srv.AddRepo(repoName)
	logs := &syncBuffer{}
	var errs []string
	for _, tok := range []string{sentinel, sentinel + "-wrong"} {
		e := newEnv(t, func(o *Options) {
			o.Token, o.HTTPClient, o.Now, o.Sleep = config.NewSecret(tok), srv.HTTPClient(), clock.Now, clock.Sleep
			o.Config.BaseURL = srv.URL()
			o.Logger = newDebugLogger(logs)
		})
		ctx := context.Background()
		srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 429, RetryAfter: "1"})
		srv.Inject(githubtest.Fault{Method: "POST", Route: issuesRoute, Status: 403, Header: http.Header{"X-Accepted-Github-Permissions": {"issues=write"}}})
		for i := 0; i < 3; i++ {
			if _, err := e.c.EnsureEpic(ctx, epicFor(i+1, "leak?", 1, 1, 1, ""), false); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if _, err := e.c.PullBack(ctx, repoName); err != nil {
			errs = append(errs, err.Error())
		}
		if _, err := e.c.CloseEpic(ctx, "acme/rel#1", "c", false); err != nil {
			errs = append(errs, err.Error())
		}
		_ = e
	}
	all := logs.String() + strings.Join(errs, "\n")
	if len(errs) == 0 || !strings.Contains(logs.String(), "github: request") {
		t.Fatalf("scenario produced no errors or logs: %q", all)
	}
	if strings.Contains(all, "SENTINEL") {
		t.Fatalf("token leaked:\n%s", all)
	}
}

func TestSecondaryLimitOverMaxWaitIsAbuseRateLimitError(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxWait = 30 * time.Second })
	e.srv.Inject(githubtest.Fault{Method: "GET", Route: issuesRoute, Status: 403, Secondary: true})
	_, err := e.c.PullBack(context.Background(), repoName)
	var are *gh.AbuseRateLimitError
	var te *registry.TrackerError
	if !errors.As(err, &are) || !errors.As(err, &te) || !te.Retryable || te.RetryAt.Before(start.Add(time.Minute)) {
		t.Fatalf("err = %#v", err)
	}
	if n := e.srv.Count("GET", issuesRoute); n != 1 {
		t.Fatalf("GETs = %d, want 1", n)
	}
}
