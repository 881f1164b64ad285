package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// faultProxy sits in front of a tracker fake and fails a share of requests:
// 503, 429 with Retry-After, a reset before the tracker sees the request,
// and a reset after it committed (the client cannot know the outcome). It
// records any request that arrives before a Retry-After deadline.
type faultProxy struct {
	mu         gosync.Mutex
	rng        *rand.Rand
	rate       float64
	now        func() time.Time
	notBefore  time.Time
	violations []string
	faults     map[string]int
	requests   int
	srv        *httptest.Server
}

func newFaultProxy(t *testing.T, backend string, rate float64, now func() time.Time, seed uint64) *faultProxy {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{rng: rand.New(rand.NewPCG(seed, 99)), rate: rate, now: now, faults: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}) // paths pass through as they are
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		if now().Before(p.notBefore) {
			p.violations = append(p.violations, fmt.Sprintf("%s %s at %s, before the Retry-After deadline %s", r.Method, r.URL.Path, now().Format(time.TimeOnly), p.notBefore.Format(time.TimeOnly)))
		}
		fault := ""
		if p.rng.Float64() < p.rate {
			fault = []string{"503", "429", "reset-before", "reset-after"}[p.rng.IntN(4)]
			p.faults[fault]++
		}
		if fault == "429" {
			p.notBefore = now().Add(2 * time.Second)
		}
		p.mu.Unlock()
		switch fault {
		case "503":
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		case "429":
			w.Header().Set("Retry-After", "2")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "reset-before":
			hijackAndClose(w)
		case "reset-after":
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r) // the tracker stores the change...
			hijackAndClose(w)    // ...and the answer is lost
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func hijackAndClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

func TestConvergesUnderTrackerFaults(t *testing.T) {
	tr := newTrackers(t, "sync: {create_settle: 1m}\n")
	ghProxy := newFaultProxy(t, tr.gh.URL(), 0.2, tr.jr.Now, 1)
	jrProxy := newFaultProxy(t, tr.jr.URL, 0.2, tr.jr.Now, 2)
	cfg := strings.NewReplacer(tr.gh.URL(), ghProxy.srv.URL+"/api/v3/", tr.jr.URL, jrProxy.srv.URL)
	path := tr.env["RISKSYNC_CONFIG"]
	tr.writeConfig(cfg.Replace(readFile(t, path)))
	const risks = 30
	for i := 0; i < risks; i++ {
		owner := []string{"storage-sre", "payments", ""}[i%3]
		tr.ok("risk", "add", "--title", fmt.Sprintf("failure mode %d", i), "--impact", fmt.Sprint(1+i%5), "--scope", "3", "--likelihood", "2", "--owner", owner)
	}
	passes := 0
	for ; passes < 40; passes++ {
		out, errOut, code := tr.run("sync", "--once")
		if code == 0 {
			break
		}
		if passes < 3 || passes > 37 {
			t.Logf("pass %d: %s%s", passes, errOut, lastLines(out, 4))
		}
		tr.jr.Advance(30 * time.Second) // time for deferred work and Jira's settle window
	}
	if passes == 40 {
		t.Fatal("no convergence within 40 passes")
	}
	epics := countEpics(tr)
	for i := 1; i <= risks; i++ {
		key := fmt.Sprintf("RISK-%d", i)
		if epics[key] != 1 {
			t.Errorf("%s has %d epics, want 1", key, epics[key])
		}
		if len(tr.linkOfMaybe(key)) != 1 {
			t.Errorf("%s is not linked", key)
		}
	}
	for _, p := range []*faultProxy{ghProxy, jrProxy} {
		for _, v := range p.violations {
			t.Error(v)
		}
	}
	for _, kind := range []string{"503", "429", "reset-before", "reset-after"} {
		if ghProxy.faults[kind]+jrProxy.faults[kind] == 0 {
			t.Errorf("no %s fault was injected: the test proves nothing about it", kind)
		}
	}
	t.Logf("converged after %d failing passes; GitHub proxy %d requests, faults %v; Jira proxy %d requests, faults %v",
		passes, ghProxy.requests, ghProxy.faults, jrProxy.requests, jrProxy.faults)
}

func countEpics(tr *trackers) map[string]int {
	epics := map[string]int{}
	for _, repo := range []string{"acme/rel", "acme/storage"} {
		for _, is := range tr.gh.Issues(repo) {
			if i := strings.Index(is.Title, "]"); strings.HasPrefix(is.Title, "[RISK-") && i > 0 {
				epics[is.Title[1:i]]++
			}
		}
	}
	for _, is := range tr.jr.Issues() {
		if i := strings.Index(is.Summary, "]"); strings.HasPrefix(is.Summary, "[RISK-") && i > 0 {
			epics[is.Summary[1:i]]++
		}
	}
	return epics
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
