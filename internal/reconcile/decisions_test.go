package reconcile

import (
	"testing"

	"github.com/risksync/risksync/internal/registry"
)

func (h *harness) setStatus(key string, s registry.Status) {
	h.t.Helper()
	if _, err := h.store.UpdateRisk(h.ctx, key, "bob", func(r *registry.Risk) error { r.Status = s; return nil }); err != nil {
		h.t.Fatal(err)
	}
}

// A person reopens an epic the registry last saw closed, and the risk is
// accepted before any pass: the next pass closes it, acting on the
// tracker's state rather than the stored one.
func TestDecisionClosesEpicAPersonReopened(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("queue backlog", 3, 3, 3, "payments")
		h.pass()
		key := h.risk(a.Key).CurrentLink().Key
		h.jr.person(key, func(e *memEpic) { e.state, e.closedByPerson = registry.LinkNotPlanned, true })
		h.pass()
		if l := h.risk(a.Key).CurrentLink(); l.State != registry.LinkNotPlanned {
			t.Fatalf("person's not planned not pulled: %s", l.State)
		}
		h.jr.person(key, func(e *memEpic) { e.state = registry.LinkOpen })
		h.setStatus(a.Key, registry.StatusAccepted)
		h.pass()
		if e := h.jr.epics[key]; e.state != registry.LinkNotPlanned {
			t.Fatalf("epic left %s after the risk was accepted", e.state)
		}
		if res := h.pass(); len(res.Writes) != 0 {
			t.Fatalf("not converged in one pass: %+v", res.Writes)
		}
	})
}

// A person closes the epic; the risk is retired and later activated:
// risksync did not close it, so it never reopens it.
func TestNeverReopensWhatAPersonClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("stale runbook", 2, 2, 2, "payments")
		h.pass()
		key := h.risk(a.Key).CurrentLink().Key
		h.jr.person(key, func(e *memEpic) { e.state, e.closedByPerson = registry.LinkDone, true })
		h.setStatus(a.Key, registry.StatusRetired)
		res := h.pass()
		if len(res.Writes) != 0 {
			t.Fatalf("closed an epic the tracker shows closed: %+v", res.Writes)
		}
		h.setStatus(a.Key, registry.StatusActive)
		h.pass()
		if e := h.jr.epics[key]; e.state != registry.LinkDone {
			t.Fatalf("risksync reopened a person's close: %s", e.state)
		}
		if ok, _ := h.hasState(closedKey(registry.TrackerJira, key)); ok {
			t.Fatal("a person's close is recorded as risksync's")
		}
	})
}

// risksync's own close is learned from the tracker too: a close whose
// marker was lost (crash between the close and the store write) is
// attributed from pull-back, and the epic is reopened on reactivation.
func TestCloserComesFromTheTracker(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("cert expiry", 4, 4, 2, "storage-sre")
		h.pass()
		key := h.risk(a.Key).CurrentLink().Key
		h.setStatus(a.Key, registry.StatusAccepted)
		h.pass()
		if err := h.store.DeleteState(h.ctx, closedKey(registry.TrackerGitHub, key)); err != nil {
			t.Fatal(err)
		}
		h.gh.person(key, func(e *memEpic) {}) // any change: pull-back reports the epic again
		h.gh.epics[key].closedByUs = true
		h.pass()
		if ok, _ := h.hasState(closedKey(registry.TrackerGitHub, key)); !ok {
			t.Fatal("pull-back did not record the tracker's word that risksync closed the epic")
		}
		h.setStatus(a.Key, registry.StatusActive)
		h.pass()
		if e := h.gh.epics[key]; e.state != registry.LinkOpen {
			t.Fatalf("own close not reopened: %s", e.state)
		}
	})
}

func (h *harness) hasState(key string) (bool, error) {
	_, ok, err := h.store.State(h.ctx, key)
	return ok, err
}

// Two processes in a row within the search lag (a cron job, a restart, a
// replica taking over): the second knows the epic from the registry and
// never creates another.
func TestRestartWithinSearchLagCreatesNoDuplicate(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		a := h.add("db failover slow", 4, 3, 3, "payments")
		h.jr.searchLag = 1000
		h.pass()
		restarted := New(h.engine.opts)
		for range 3 {
			if res := restarted.Pass(h.ctx, false); !res.Converged() {
				t.Fatalf("after restart: %+v", res.Failures)
			}
		}
		if n := len(h.jr.epicsOf(a.Key)); n != 1 {
			t.Fatalf("%d epics for %s after a restart within the search lag", n, a.Key)
		}
		// Only the tracker saying the epic is gone allows a new one.
		key := h.risk(a.Key).CurrentLink().Key
		h.jr.epics[key].deleted = true
		res := restarted.Pass(h.ctx, false)
		if !res.Converged() || len(res.Plan().Creates) != 1 {
			t.Fatalf("gone epic: %+v %+v", res.Failures, res.Plan())
		}
		r := h.risk(a.Key)
		if cur := r.CurrentLink(); cur == nil || cur.Key == key || len(r.Links) != 2 {
			t.Fatalf("links after the epic was deleted: %+v", r.Links)
		}
	})
}
