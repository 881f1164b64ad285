package reconcile

import (
	"context"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// AcceptanceExpired reports whether an acceptance has ended at now. The
// date is the last day of the acceptance (UTC): it ends when that day does.
func AcceptanceExpired(r *registry.Risk, now time.Time) bool {
	return r.Status == registry.StatusAccepted && r.AcceptedUntil != nil &&
		!now.Before(r.AcceptedUntil.UTC().Truncate(24*time.Hour).Add(24*time.Hour))
}

// expire returns accepted risks whose accepted_until has passed to active,
// before push: push then reopens the epic only if risksync closed it
// (reopenIfOurs). Both steps read stored facts, so a restart between them
// converges on the next pass, and an expired risk is never expired twice.
func (e *Engine) expire(ctx context.Context, res *Result, ix *index, dryRun bool) {
	now := e.opts.Now()
	for _, key := range ix.order {
		r := ix.byKey[key]
		if !AcceptanceExpired(r, now) {
			continue
		}
		res.Expired = append(res.Expired, key)
		if dryRun {
			// The plan shows the reopen this would lead to; nothing is stored.
			c := r.Clone()
			expireAcceptance(c)
			ix.put(c)
			continue
		}
		updated, err := e.opts.Store.UpdateRisk(ctx, key, registry.ActorExpiry, func(x *registry.Risk) error {
			if AcceptanceExpired(x, now) { // a person may have decided again meanwhile
				expireAcceptance(x)
			}
			return nil
		})
		if err != nil {
			res.Expired = res.Expired[:len(res.Expired)-1]
			res.fail(key, "", "expiry", err)
			continue
		}
		e.log.Info("acceptance expired", "risk", key, "accepted_until", r.AcceptedUntil.UTC().Format(time.DateOnly))
		ix.put(updated)
	}
}

// expireAcceptance ends the decision; its reason and date stay in history.
func expireAcceptance(r *registry.Risk) {
	r.Status, r.StatusReason, r.AcceptedUntil = registry.StatusActive, "", nil
}
