package reconcile

import (
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// accept accepts a risk until the end of the given day (UTC).
func (h *harness) accept(key string, until time.Time) {
	h.t.Helper()
	if _, err := h.store.UpdateRisk(h.ctx, key, "bob", func(r *registry.Risk) error {
		r.Status, r.StatusReason, r.AcceptedUntil = registry.StatusAccepted, "vendor fix due", &until
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

// endOfAcceptance is the first instant after the accepted_until day.
func endOfAcceptance(until time.Time) time.Time { return until.Add(day) }

func TestAcceptanceExpiryReopensOwnClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("cert expiry", 4, 4, 2, "payments")
		h.pass()
		epic := h.risk(a.Key).CurrentLink().Key
		until := h.clock.Now().UTC().Truncate(day).Add(3 * day)
		h.accept(a.Key, until)
		h.pass()
		if e := h.jr.epics[epic]; e.state != registry.LinkNotPlanned {
			t.Fatalf("accepted risk's epic %s", e.state)
		}
		// The last instant of the accepted_until day: still accepted.
		h.clock.Advance(endOfAcceptance(until).Add(-time.Microsecond).Sub(h.clock.Now()))
		if res := h.pass(); len(res.Writes) != 0 || h.risk(a.Key).Status != registry.StatusAccepted {
			t.Fatalf("expired early: %+v", res.Writes)
		}
		h.clock.Advance(time.Microsecond)
		h.pass()
		r := h.risk(a.Key)
		if r.Status != registry.StatusActive || r.AcceptedUntil != nil || r.StatusReason != "" {
			t.Fatalf("after expiry: %s until %v reason %q", r.Status, r.AcceptedUntil, r.StatusReason)
		}
		hs := h.historyOf(a.Key, "status")
		if last := hs[len(hs)-1]; last.Actor != registry.ActorExpiry || *last.OldValue != "accepted" || *last.NewValue != "active" {
			t.Fatalf("status history %+v", last)
		}
		if e := h.jr.epics[epic]; e.state != registry.LinkOpen {
			t.Fatalf("risksync's own close not reopened: %s", e.state)
		}
		if res := h.pass(); len(res.Writes) != 0 {
			t.Fatalf("re-run wrote %+v", res.Writes)
		}
		if n := len(h.historyOf(a.Key, "status")); n != len(hs) {
			t.Fatal("expired twice")
		}
	})
}

// The process stops after the expiry is stored and before push reopens the
// epic: the next process (or replica) reopens it from the stored facts.
func TestAcceptanceExpiryRestartConverges(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("cert expiry", 4, 4, 2, "storage-sre")
		h.pass()
		epic := h.risk(a.Key).CurrentLink().Key
		until := h.clock.Now().UTC().Truncate(day).Add(day)
		h.accept(a.Key, until)
		h.pass()
		h.clock.Advance(3 * day)
		risks, err := h.store.ListRisks(h.ctx, registry.RiskFilter{})
		if err != nil {
			t.Fatal(err)
		}
		res := &Result{}
		h.engine.expire(h.ctx, res, newIndex(risks), false) // then the process dies
		if h.risk(a.Key).Status != registry.StatusActive || h.gh.epics[epic].state != registry.LinkNotPlanned || !res.Converged() {
			t.Fatalf("expiry step: %s, epic %s, %+v", h.risk(a.Key).Status, h.gh.epics[epic].state, res.Failures)
		}
		restarted := New(h.engine.opts)
		if res := restarted.Pass(h.ctx, false); !res.Converged() {
			t.Fatalf("%+v", res.Failures)
		}
		if e := h.gh.epics[epic]; e.state != registry.LinkOpen {
			t.Fatalf("epic %s after the restart", e.state)
		}
		if res := restarted.Pass(h.ctx, false); len(res.Writes) != 0 {
			t.Fatalf("not converged: %+v", res.Writes)
		}
	})
}

func TestAcceptanceExpiryLeavesAPersonsCloseAlone(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("stale runbook", 2, 2, 2, "payments")
		h.pass()
		epic := h.risk(a.Key).CurrentLink().Key
		h.jr.person(epic, func(e *memEpic) { e.state, e.closedByPerson = registry.LinkNotPlanned, true })
		h.pass()
		until := h.clock.Now().UTC().Truncate(day).Add(day)
		h.accept(a.Key, until)
		h.pass()
		h.clock.Advance(2 * day)
		// The dry run plans nothing for the epic either.
		if res := h.engine.Pass(h.ctx, true); len(res.Writes) != 0 {
			t.Fatalf("dry run plans %+v", res.Writes)
		}
		h.pass()
		if r := h.risk(a.Key); r.Status != registry.StatusActive {
			t.Fatalf("not expired: %s", r.Status)
		}
		if e := h.jr.epics[epic]; e.state != registry.LinkNotPlanned {
			t.Fatalf("risksync reopened a person's close: %s", e.state)
		}
	})
}

func TestAcceptanceExpiryDryRunPlansTheReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("cert expiry", 4, 4, 2, "storage-sre")
		h.pass()
		h.accept(a.Key, h.clock.Now().UTC().Truncate(day).Add(day))
		h.pass()
		h.clock.Advance(3 * day)
		res := h.engine.Pass(h.ctx, true)
		if len(res.Writes) == 0 || res.Writes[0].Kind != "reopen" || len(res.Plan().Expired) != 1 || res.Plan().Expired[0] != a.Key {
			t.Fatalf("dry run plans %+v", res.Writes)
		}
		if h.risk(a.Key).Status != registry.StatusAccepted {
			t.Fatal("the dry run stored the expiry")
		}
	})
}
