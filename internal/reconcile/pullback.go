package reconcile

import (
	"context"
	"sort"

	"github.com/risksync/risksync/internal/registry"
)

// StatusFor maps an epic's work state onto a risk's status: people's
// decisions (accepted, retired) stand, and an epic a person closed as not
// planned leaves the status for a person to decide.
func StatusFor(current registry.Status, epic registry.LinkState) registry.Status {
	if current.Decided() {
		return current
	}
	switch epic {
	case registry.LinkDone:
		return registry.StatusMitigated
	case registry.LinkInProgress:
		return registry.StatusMitigating
	case registry.LinkOpen:
		return registry.StatusActive
	}
	return current
}

// facts are the pass's stored facts: targets with an unconfirmed create
// are read too, so an epic whose create answer was lost is found even after
// its risk moved elsewhere.
func (e *Engine) pullBack(ctx context.Context, res *Result, ix *index, live map[string]registry.Tracker, facts map[string]string, dryRun bool) {
	type target struct{ tracker, name string }
	seen := map[target]bool{}
	var targets []target
	// Every target a link points to, current or left behind: who closed a
	// left-behind epic decides whether a move back may reopen it.
	for _, key := range ix.order {
		for _, l := range ix.byKey[key].Links {
			tg := target{l.Tracker, targetOf(l.Tracker, l.Key)}
			if !seen[tg] && live[tg.tracker] != nil {
				seen[tg] = true
				targets = append(targets, tg)
			}
		}
	}
	for k := range facts {
		if _, tracker, name, ok := parseIntentKey(k); ok {
			if tg := (target{tracker, name}); !seen[tg] && live[tracker] != nil {
				seen[tg] = true
				targets = append(targets, tg)
			}
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].tracker+targets[i].name < targets[j].tracker+targets[j].name })
	for _, tg := range targets {
		states, err := live[tg.tracker].PullBack(ctx, tg.name)
		if err != nil {
			res.fail("", tg.tracker, "pull-back", err)
			continue
		}
		for _, st := range states {
			r := ix.byLink[tg.tracker+" "+st.Link.Key]
			if r == nil && !dryRun {
				e.adoptOrphan(ctx, res, ix, live, tg.tracker, tg.name, st)
				continue
			}
			if r == nil || dryRun {
				continue
			}
			if err := e.noteCloser(ctx, r, tg.tracker, st); err != nil {
				res.fail(r.Key, tg.tracker, "pull-back", err)
				continue
			}
			if err := e.applyPulled(ctx, ix, r, tg.tracker, st.Link); err != nil {
				res.fail(r.Key, tg.tracker, "pull-back", err)
			}
		}
	}
}

// adoptOrphan deals with an epic that carries a risk's marker but is none of
// its links: a create whose answer was lost. While the risk has no current
// epic, the next push adopts it. Once the risk has one (elsewhere after a
// move, or a second create here), the orphan is recorded as left behind and
// closed, so no risk keeps two open epics.
func (e *Engine) adoptOrphan(ctx context.Context, res *Result, ix *index, live map[string]registry.Tracker, tracker, target string, st registry.EpicState) {
	r := ix.byKey[st.RiskKey]
	if r == nil || r.CurrentLink() == nil {
		return
	}
	orphan := st.Link
	orphan.Current = false
	updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorSync, func(x *registry.Risk) error {
		for _, l := range x.Links {
			if l.Tracker == orphan.Tracker && l.Key == orphan.Key {
				return nil
			}
		}
		x.Links = append(x.Links, orphan)
		return nil
	})
	if err != nil {
		res.fail(r.Key, tracker, "pull-back", err)
		return
	}
	ix.put(updated)
	e.log.Warn("found an epic of an unconfirmed create; closing it as left behind", "risk", r.Key, "tracker", tracker, "epic", orphan.Key)
	if err := e.opts.Store.DeleteState(ctx, intentKey(r.Key, tracker, target)); err != nil {
		res.fail(r.Key, tracker, "pull-back", err)
	}
	if openState(orphan.State) {
		e.closeLeftBehind(ctx, res, ix, updated, orphan, live, false)
	}
}

// noteCloser keeps the store's "risksync closed this epic" fact in line
// with the tracker's own record of who closed it: a close by a person, or a
// reopen, clears it; a close the tracker attributes to risksync sets it.
func (e *Engine) noteCloser(ctx context.Context, r *registry.Risk, tracker string, st registry.EpicState) error {
	var stored registry.LinkState
	for _, l := range r.Links {
		if l.Tracker == tracker && l.Key == st.Link.Key {
			stored = l.State
		}
	}
	key := closedKey(tracker, st.Link.Key)
	switch {
	case openState(st.Link.State):
		if openState(stored) {
			return nil // nothing closed or reopened since the last look
		}
		return e.opts.Store.DeleteState(ctx, key)
	case st.ClosedByRisksync:
		if _, ok, err := e.opts.Store.State(ctx, key); err != nil || ok {
			return err
		}
		return e.opts.Store.SetState(ctx, key, "pull-back")
	default:
		return e.opts.Store.DeleteState(ctx, key)
	}
}

func (e *Engine) applyPulled(ctx context.Context, ix *index, r *registry.Risk, tracker string, pulled registry.Link) error {
	apply := func(x *registry.Risk) bool {
		changed := false
		for i := range x.Links {
			l := &x.Links[i]
			if l.Tracker != tracker || l.Key != pulled.Key {
				continue
			}
			before := *l
			l.State, l.ChildrenTotal, l.ChildrenDone, l.LastActivityAt = pulled.State, pulled.ChildrenTotal, pulled.ChildrenDone, pulled.LastActivityAt
			if pulled.URL != "" {
				l.URL = pulled.URL
			}
			changed = changed || before.State != l.State || before.ChildrenTotal != l.ChildrenTotal || before.ChildrenDone != l.ChildrenDone ||
				before.URL != l.URL || !registry.SameTime(before.LastActivityAt, l.LastActivityAt)
			if l.Current {
				if s := StatusFor(x.Status, l.State); s != x.Status {
					x.Status, changed = s, true
				}
			}
		}
		return changed
	}
	// Compare in memory first: an unchanged epic costs no SQL.
	if !apply(r.Clone()) {
		return nil
	}
	updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorSync, func(x *registry.Risk) error { apply(x); return nil })
	if err != nil {
		return err
	}
	ix.put(updated)
	return nil
}
