package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/risksync/risksync/internal/registry"
)

// closeDecided closes the epic of an accepted or retired risk. It asks the
// connector whatever the registry last stored: a person may have reopened
// the epic since, and the connector answers from the tracker's state.
func (e *Engine) closeDecided(ctx context.Context, res *Result, ix *index, r *registry.Risk, l registry.Link, live map[string]registry.Tracker, dryRun bool) {
	comment := fmt.Sprintf("Closed by risksync: %s was marked **%s** in the risk registry. Run `risksync risk show %s` for the decision and its history.", r.Key, r.Status, r.Key)
	e.closeEpic(ctx, res, ix, r, l, live, comment, dryRun)
}

// closeLeftBehind closes an epic the risk no longer uses after its owner moved.
func (e *Engine) closeLeftBehind(ctx context.Context, res *Result, ix *index, r *registry.Risk, old registry.Link, live map[string]registry.Tracker, dryRun bool) {
	where := "the registry"
	if next := r.CurrentLink(); next != nil && next.Key != old.Key {
		where = next.Key
		if next.URL != "" {
			where = fmt.Sprintf("[%s](%s)", next.Key, next.URL)
		}
	}
	comment := fmt.Sprintf("risksync: %s moved to a new owner, and its epic is now %s. This epic is closed and no longer updated.", r.Key, where)
	e.closeEpic(ctx, res, ix, r, old, live, comment, dryRun)
}

// closeEpic closes l as not planned. Only a close risksync actually made is
// remembered as its own (the fact that later allows a reopen); an epic the
// tracker shows closed already keeps whatever a person decided.
func (e *Engine) closeEpic(ctx context.Context, res *Result, ix *index, r *registry.Risk, l registry.Link, live map[string]registry.Tracker, comment string, dryRun bool) {
	t := live[l.Tracker]
	if t == nil {
		return
	}
	writes, err := t.CloseEpic(ctx, l.Key, comment, dryRun)
	e.record(res, r.Key, l.Tracker, writes)
	if gone(err) {
		// Deleted or transferred: nothing is left open. Record it so the
		// registry does not show an open epic that no longer exists.
		e.log.Warn("epic to close is gone from the tracker", "risk", r.Key, "tracker", l.Tracker, "epic", l.Key)
		if !dryRun && l.State != registry.LinkNotPlanned {
			e.setLinkState(ctx, res, ix, r, l, registry.LinkNotPlanned)
		}
		return
	}
	if err != nil {
		res.fail(r.Key, l.Tracker, "close", err)
		return
	}
	if dryRun || !closes(writes) {
		return
	}
	if err := e.opts.Store.SetState(ctx, closedKey(l.Tracker, l.Key), string(r.Status)); err != nil {
		res.fail(r.Key, l.Tracker, "close", err)
		return
	}
	e.setLinkState(ctx, res, ix, r, l, registry.LinkNotPlanned)
}

// gone reports whether the tracker answered that an epic no longer exists.
func gone(err error) bool {
	var te *registry.TrackerError
	return errors.As(err, &te) && (te.Status == http.StatusNotFound || te.Status == http.StatusGone)
}

func closes(writes []registry.Write) bool {
	for _, w := range writes {
		if w.Kind == registry.WriteClose || w.Kind == registry.WriteTransition {
			return true
		}
	}
	return false
}

// reopenIfOurs reopens an epic only when risksync closed it: never what a
// person closed.
func (e *Engine) reopenIfOurs(ctx context.Context, res *Result, ix *index, r *registry.Risk, l registry.Link, t registry.Tracker, dryRun bool) error {
	marker := closedKey(l.Tracker, l.Key)
	if _, ours, err := e.opts.Store.State(ctx, marker); err != nil || !ours {
		return err
	}
	comment := fmt.Sprintf("Reopened by risksync: %s is %s again in the risk registry.", r.Key, r.Status)
	writes, err := t.ReopenEpic(ctx, l.Key, comment, dryRun)
	e.record(res, r.Key, l.Tracker, writes)
	if err != nil || dryRun {
		return err
	}
	if err := e.opts.Store.DeleteState(ctx, marker); err != nil {
		return err
	}
	e.setLinkState(ctx, res, ix, r, l, registry.LinkOpen)
	return nil
}

func (e *Engine) setLinkState(ctx context.Context, res *Result, ix *index, r *registry.Risk, l registry.Link, state registry.LinkState) {
	updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorSync, func(x *registry.Risk) error {
		for i := range x.Links {
			if x.Links[i].Tracker == l.Tracker && x.Links[i].Key == l.Key {
				x.Links[i].State = state
			}
		}
		return nil
	})
	if err != nil {
		res.fail(r.Key, l.Tracker, "close", err)
		return
	}
	ix.put(updated)
}
