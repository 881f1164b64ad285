package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Risks that fail back off one by one, so a terminal error (a missing
// permission, a deleted repository, a rejected field) does not cost
// requests every pass while the rest of the registry keeps converging.
const (
	// StepBackoff marks a risk skipped this pass because it is backing off.
	StepBackoff = "backoff"
	backoffBase = time.Minute
	backoffMax  = 6 * time.Hour
)

// backoff is a risk's failure streak, kept in the store: a restart does not
// start hammering a tracker that refuses.
type backoff struct {
	Streak  int       `json:"streak"`
	Until   time.Time `json:"until"`
	Tracker string    `json:"tracker"`
	Error   string    `json:"error"`
	Fix     string    `json:"fix,omitempty"`
	// Basis is what the failure happened under (the risk's version and the
	// configuration): a change to either ends the backoff at once.
	Basis string `json:"basis"`
}

func (e *Engine) basis(r *registry.Risk) string {
	return strconv.FormatInt(r.Version, 10) + "/" + e.opts.ConfigVersion
}

// backoffsOf picks every risk's backoff from the pass's stored facts.
func backoffsOf(facts map[string]string) map[string]backoff {
	out := map[string]backoff{}
	for k, v := range facts {
		var b backoff
		if risk, ok := strings.CutPrefix(k, backoffPrefix); ok && json.Unmarshal([]byte(v), &b) == nil {
			out[risk] = b
		}
	}
	return out
}

// deferred reports whether r is still backing off, and records that in res.
func (e *Engine) deferred(res *Result, r *registry.Risk, b backoff, ok bool) bool {
	if !ok || b.Basis != e.basis(r) || !e.opts.Now().Before(b.Until) {
		return false
	}
	until := b.Until
	res.Failures = append(res.Failures, Failure{Risk: r.Key, Tracker: b.Tracker, Step: StepBackoff, Retryable: true, RetryAt: &until, Fix: b.Fix,
		Error: fmt.Sprintf("not tried until %s after %d failed attempts: %s", until.UTC().Format(time.RFC3339), b.Streak, b.Error)})
	return true
}

// settleBackoff updates r's backoff from the failures its push added to
// res (from index first on): terminal ones extend the streak, a RetryAt in
// the future is honoured, success clears it.
func (e *Engine) settleBackoff(ctx context.Context, res *Result, r *registry.Risk, first int, prev backoff, had bool) {
	var worst *Failure
	for i := first; i < len(res.Failures); i++ {
		f := &res.Failures[i]
		if f.Risk != r.Key {
			continue
		}
		if worst == nil || (!f.Retryable && worst.Retryable) || (f.RetryAt != nil && (worst.RetryAt == nil || f.RetryAt.After(*worst.RetryAt))) {
			worst = f
		}
	}
	now := e.opts.Now()
	if worst == nil || (worst.Retryable && (worst.RetryAt == nil || !worst.RetryAt.After(now))) {
		if had {
			if err := e.opts.Store.DeleteState(ctx, backoffKey(r.Key)); err != nil {
				res.fail(r.Key, "", "backoff", err)
			}
		}
		return // converged, or worth trying again next pass
	}
	b := backoff{Streak: 1, Tracker: worst.Tracker, Error: worst.Error, Fix: worst.Fix, Basis: e.basis(r)}
	if had && prev.Basis == b.Basis {
		b.Streak = prev.Streak + 1
	}
	if worst.Retryable {
		b.Until = *worst.RetryAt
	} else {
		b.Until = now.Add(min(backoffBase<<min(b.Streak-1, 20), backoffMax))
	}
	until := b.Until
	worst.RetryAt = &until // the pass says when the risk is tried next
	v, _ := json.Marshal(b)
	if err := e.opts.Store.SetState(ctx, backoffKey(r.Key), string(v)); err != nil {
		res.fail(r.Key, "", "backoff", err)
	}
}

// fixOf is the remedy a tracker error names, if any.
func fixOf(err error) string {
	var te *registry.TrackerError
	if errors.As(err, &te) {
		return te.Fix
	}
	return ""
}

// retryAtOf is when a tracker asked to be tried again, if it did.
func retryAtOf(err error) *time.Time {
	var te *registry.TrackerError
	if errors.As(err, &te) && !te.RetryAt.IsZero() {
		t := te.RetryAt
		return &t
	}
	return nil
}
