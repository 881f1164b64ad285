package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

func (e *Engine) spec(r *registry.Risk, target string) registry.EpicSpec {
	res := e.scoring.Evaluate(scoring.InputsOf(r))
	spec := registry.EpicSpec{Target: target, Risk: r, Explanation: res.Explain(e.opts.Routing.Trackers...), MayCreate: true}
	if res.Band != nil {
		spec.Band = res.Band.Name
	}
	return spec
}

func inTarget(l *registry.Link, tracker, target string) bool {
	return l != nil && l.Tracker == tracker && strings.EqualFold(targetOf(l.Tracker, l.Key), target)
}

func openState(s registry.LinkState) bool {
	return s == registry.LinkOpen || s == registry.LinkInProgress
}

// push converges one risk's epics: the current one where its owner routes
// it, and none left open elsewhere.
func (e *Engine) push(ctx context.Context, res *Result, ix *index, r *registry.Risk, live map[string]registry.Tracker, dryRun bool) {
	route, ok := e.opts.Routing.Route(r.Owner)
	if !ok {
		return // no tracker configured for it: the registry keeps it
	}
	target := route.Name
	cur := r.CurrentLink()
	if r.Status.Decided() {
		for _, l := range r.Links {
			if !l.Current {
				e.closeLeftBehind(ctx, res, ix, r, l, live, dryRun)
			}
		}
		if cur != nil {
			e.closeDecided(ctx, res, ix, r, *cur, live, dryRun)
		}
		return
	}
	t := live[route.Tracker]
	if t == nil {
		return
	}
	linked, exclude, err := e.linkedIn(ctx, r, route.Tracker, target)
	if err != nil {
		res.fail(r.Key, route.Tracker, "push", err)
		return
	}
	// Epics left behind by earlier moves are closed, whatever the registry
	// last stored (a person may have reopened one; the connector answers from
	// the tracker's state this pass, without a request when it is closed);
	// the one this target already has is reused instead.
	for _, l := range r.Links {
		if !l.Current && (linked == nil || l.Key != linked.Key || l.Tracker != linked.Tracker) {
			e.closeLeftBehind(ctx, res, ix, r, l, live, dryRun)
		}
	}
	if linked != nil && !openState(linked.State) {
		if err := e.reopenIfOurs(ctx, res, ix, r, *linked, t, dryRun); err != nil {
			res.fail(r.Key, route.Tracker, "push", err)
			return
		}
	}
	spec := e.spec(r, target)
	spec.Linked, spec.Exclude = linked, exclude
	er, intent, err := e.ensure(ctx, t, spec, route.Tracker, dryRun)
	e.record(res, r.Key, route.Tracker, er.Writes)
	if err != nil {
		res.fail(r.Key, route.Tracker, "push", err)
		return
	}
	if dryRun {
		if len(er.Drift) > 0 {
			e.record(res, r.Key, route.Tracker, []registry.Write{{Kind: registry.WriteComment, Target: er.Link.Key}})
		}
		return
	}
	if cur == nil || cur.Tracker != er.Link.Tracker || cur.Key != er.Link.Key || cur.URL != er.Link.URL || er.Gone != "" {
		updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorSync, func(x *registry.Risk) error {
			recordCurrent(x, er.Link, er.Gone)
			return nil
		})
		if err != nil {
			res.fail(r.Key, route.Tracker, "push", err)
			return
		}
		ix.put(updated)
		r = updated
		if cur != nil && !inTarget(cur, route.Tracker, target) {
			prev := *cur
			e.closeLeftBehind(ctx, res, ix, r, prev, live, dryRun)
		}
	}
	if intent != "" {
		if err := e.opts.Store.DeleteState(ctx, intent); err != nil {
			res.fail(r.Key, route.Tracker, "push", err)
		}
	}
	if len(er.Drift) > 0 {
		body := fmt.Sprintf("risksync overwrote %s on this epic: %s comes from the risk registry, which is the source of truth for %s. "+
			"To change it, run `risksync risk update %s` (or edit the postmortem's risk table); the next pass mirrors it here. "+
			"This comment is posted once per epic; later overwrites are silent.",
			strings.Join(er.Drift, ", "), strings.Join(er.Drift, ", "), r.Key, r.Key)
		if err := e.commentOnce(ctx, res, t, r.Key, route.Tracker, er.Link.Key, driftCommentKey(er.Link.Tracker, er.Link.Key), body, false); err != nil {
			res.fail(r.Key, route.Tracker, "comment", err)
		}
	}
}

// recordCurrent makes link the risk's current epic, adding it when new. A
// link the tracker reported gone stays for the record, not planned.
func recordCurrent(x *registry.Risk, link registry.Link, gone string) {
	found := false
	for i := range x.Links {
		l := &x.Links[i]
		l.Current = false
		if l.Tracker == link.Tracker && l.Key == gone && gone != link.Key {
			l.State = registry.LinkNotPlanned
		}
		if l.Tracker == link.Tracker && l.Key == link.Key {
			l.Current, l.URL, found = true, link.URL, true
		}
	}
	if !found {
		link.Current = true
		if !link.State.Valid() {
			link.State = registry.LinkOpen
		}
		x.Links = append(x.Links, link)
	}
}

// linkedIn returns the epic the registry records for the risk in target,
// and the epics there that must not be adopted again. The current link
// wins; after a move back, an earlier epic in the target is reused when it
// is open or risksync closed it, and one a person closed is excluded.
func (e *Engine) linkedIn(ctx context.Context, r *registry.Risk, tracker, target string) (*registry.Link, []string, error) {
	if cur := r.CurrentLink(); inTarget(cur, tracker, target) {
		return cur, nil, nil
	}
	var linked *registry.Link
	var exclude []string
	for i := len(r.Links) - 1; i >= 0; i-- {
		l := &r.Links[i]
		if l.Current || !inTarget(l, tracker, target) {
			continue
		}
		if linked == nil {
			reuse := openState(l.State)
			if !reuse {
				_, ours, err := e.opts.Store.State(ctx, closedKey(l.Tracker, l.Key))
				if err != nil {
					return nil, nil, err
				}
				reuse = ours
			}
			if reuse {
				linked = l
				continue
			}
		}
		exclude = append(exclude, l.Key)
	}
	return linked, exclude, nil
}

// ensure calls EnsureEpic. While the registry has an epic for the risk in
// the target, no create is allowed; only the tracker saying that epic is
// gone leads to ensureNew.
func (e *Engine) ensure(ctx context.Context, t registry.Tracker, spec registry.EpicSpec, tracker string, dryRun bool) (registry.EpicResult, string, error) {
	if spec.Linked == nil && !dryRun {
		return e.ensureNew(ctx, t, spec, tracker)
	}
	spec.MayCreate = spec.Linked == nil // a dry run plans the create
	er, err := t.EnsureEpic(ctx, spec, dryRun)
	if err != nil || er.Gone == "" || dryRun {
		return er, "", err
	}
	e.log.Warn("linked epic is gone from the tracker; creating a new one", "risk", spec.Risk.Key, "tracker", tracker, "epic", er.Gone)
	spec.Linked, spec.Exclude = nil, append(spec.Exclude, er.Gone)
	created, intent, err := e.ensureNew(ctx, t, spec, tracker)
	created.Gone, created.Writes = er.Gone, append(er.Writes, created.Writes...)
	return created, intent, err
}

// ensureNew records an intent before an epic may be created. An intent
// younger than the tracker's IntentGrace allows adoption only: one empty
// search right after an unconfirmed create proves nothing.
func (e *Engine) ensureNew(ctx context.Context, t registry.Tracker, spec registry.EpicSpec, tracker string) (registry.EpicResult, string, error) {
	name := intentKey(spec.Risk.Key, tracker, spec.Target)
	started, existed, err := e.intent(ctx, name)
	if err != nil {
		return registry.EpicResult{}, "", err
	}
	grace := e.opts.IntentGrace[tracker]
	spec.MayCreate = !existed || e.opts.Now().Sub(started) >= grace
	er, err := t.EnsureEpic(ctx, spec, false)
	if errors.Is(err, registry.ErrCreateWithheld) {
		// No RetryAt: adopting the epic once search shows it needs no wait.
		err = &registry.TrackerError{Tracker: tracker, Op: "create epic " + spec.Target + " " + spec.Risk.Key, Retryable: true,
			Err: fmt.Errorf("%w (a create is allowed from %s)", err, started.Add(grace).UTC().Format(time.RFC3339))}
	}
	return er, name, err
}

// intent returns when an unconfirmed create started, recording one now
// when there is none.
func (e *Engine) intent(ctx context.Context, name string) (started time.Time, existed bool, err error) {
	v, ok, err := e.opts.Store.State(ctx, name)
	if err != nil {
		return time.Time{}, false, err
	}
	if ok {
		if t, valid := parseStateTime(v); valid {
			return t, true, nil
		}
	}
	now := e.opts.Now()
	return now, false, e.opts.Store.SetState(ctx, name, formatStateTime(now))
}
