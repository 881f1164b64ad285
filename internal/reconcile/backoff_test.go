package reconcile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// A risk failing with a terminal error backs off (exponentially, capped),
// survives a restart, shows its fix, and is tried again at once after a
// registry change of that risk or a configuration change.
func TestTerminalFailureBacksOffPerRisk(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("bad labels", 4, 5, 3, "storage-sre")
		b := h.add("fine", 2, 2, 2, "storage-sre")
		h.gh.failEnsure[a.Key] = &registry.TrackerError{Tracker: "github", Op: "create", Status: 422, Err: errors.New("validation failed"), Fix: "rename the label"}
		res := h.engine.Pass(h.ctx, false)
		if len(res.Failures) != 1 || res.Failures[0].Retryable || res.Failures[0].Fix != "rename the label" {
			t.Fatalf("first failure %+v", res.Failures)
		}
		if h.risk(b.Key).CurrentLink() == nil {
			t.Fatal("the rest of the pass stopped")
		}
		calls := h.gh.callsFor[a.Key]
		res = h.engine.Pass(h.ctx, false)
		if h.gh.callsFor[a.Key] != calls {
			t.Fatalf("a backing-off risk was tried again within its backoff (%d calls)", h.gh.callsFor[a.Key]-calls)
		}
		if len(res.Failures) != 1 || res.Failures[0].Step != "backoff" || res.Failures[0].Fix != "rename the label" || res.Failures[0].RetryAt == nil {
			t.Fatalf("backoff not reported: %+v", res.Failures)
		}
		// Doubling: after 1 minute the second try fails, then 2 minutes.
		wait := func(d time.Duration) { h.clock.Advance(d) }
		wait(time.Minute)
		h.engine.Pass(h.ctx, false)
		if h.gh.callsFor[a.Key] != calls+1 {
			t.Fatalf("not retried after the first backoff")
		}
		wait(time.Minute)
		h.engine.Pass(h.ctx, false)
		if h.gh.callsFor[a.Key] != calls+1 {
			t.Fatalf("second backoff is not longer than the first")
		}
		// A restart keeps it.
		restarted := New(h.engine.opts)
		if res := restarted.Pass(h.ctx, false); h.gh.callsFor[a.Key] != calls+1 || res.Failures[0].Step != "backoff" {
			t.Fatalf("backoff lost on restart: %+v", res.Failures)
		}
		// A registry change of the risk ends it.
		if _, err := h.store.UpdateRisk(h.ctx, a.Key, "bob", func(r *registry.Risk) error { r.Title = "bad labels, renamed"; return nil }); err != nil {
			t.Fatal(err)
		}
		restarted.Pass(h.ctx, false)
		if h.gh.callsFor[a.Key] != calls+2 {
			t.Fatal("a registry change did not end the backoff")
		}
		// So does a configuration change; success clears it.
		opts := h.engine.opts
		opts.ConfigVersion = "v2"
		delete(h.gh.failEnsure, a.Key)
		if res := New(opts).Pass(h.ctx, false); !res.Converged() {
			t.Fatalf("after the config change: %+v", res.Failures)
		}
		if ok, _ := h.hasState(backoffKey(a.Key)); ok {
			t.Fatal("backoff kept after success")
		}
	})
}

// The cap: a long streak waits at most backoffMax; a RetryAt from the
// tracker is honoured as given.
func TestBackoffCapAndRetryAt(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("quota", 3, 3, 3, "storage-sre")
		h.gh.failEnsure[a.Key] = &registry.TrackerError{Tracker: "github", Op: "update", Status: 403, Err: errors.New("forbidden"), Fix: "grant issues: write"}
		for range 15 {
			h.engine.Pass(h.ctx, false)
			h.clock.Advance(backoffMax)
		}
		res := h.engine.Pass(h.ctx, false)
		if res.Failures[0].Step != "push" {
			t.Fatalf("capped backoff should have expired after %s: %+v", backoffMax, res.Failures)
		}
		if at := *h.engine.Pass(h.ctx, false).Failures[0].RetryAt; at.Sub(h.clock.Now()) != backoffMax {
			t.Fatalf("wait %s, want the cap %s", at.Sub(h.clock.Now()), backoffMax)
		}
		retryAt := h.clock.Now().Add(90 * time.Minute)
		h.clock.Advance(backoffMax)
		h.gh.failEnsure[a.Key] = &registry.TrackerError{Tracker: "github", Op: "update", Status: 429, Retryable: true, RetryAt: retryAt.Add(backoffMax), Err: errors.New("rate limited")}
		h.engine.Pass(h.ctx, false)
		res = h.engine.Pass(h.ctx, false)
		if f := res.Failures[0]; f.Step != "backoff" || !f.RetryAt.Equal(retryAt.Add(backoffMax)) || !strings.Contains(f.Error, "rate limited") {
			t.Fatalf("RetryAt not honoured: %+v", f)
		}
	})
}
