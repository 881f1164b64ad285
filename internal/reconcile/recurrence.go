package reconcile

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/reconcile/postmortem"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// recurrenceCommentKey marks the one comment on a postmortem table that
// re-confirmed a risk.
func recurrenceCommentKey(tracker, pm string, position int) string {
	return fmt.Sprintf("recurrence-comment:%s:%s:%d", tracker, pm, position)
}

// unknownKeyCommentKey marks the one comment on a table naming a key that
// is not in the registry; a table edited to another unknown key gets its own.
func unknownKeyCommentKey(tracker, pm string, position int, key string) string {
	return fmt.Sprintf("unknown-key-comment:%s:%s:%d:%s", tracker, pm, position, key)
}

// A Risk row naming a key ("RISK-7", or "RISK-7 — text") refers to that
// risk rather than describing a new one.
var keyRowPattern = regexp.MustCompile(`(?i)^\s*(RISK-[0-9]+)\s*(?:$|[—–:-]\s*)`)

func referencedKey(title string) (string, bool) {
	m := keyRowPattern.FindStringSubmatch(title)
	if m == nil {
		return "", false
	}
	id, err := registry.ParseKey(m[1])
	if err != nil {
		return strings.ToUpper(m[1]), true // a key out of range names no risk
	}
	return registry.FormatKey(id), true
}

// existingRisk is the risk a new table re-confirms: the one it names by
// key, else one whose title matches.
func existingRisk(ix *index, title, key string, isRef bool) *registry.Risk {
	if isRef {
		return ix.byKey[key]
	}
	return ix.byTitle[normalizeTitle(title)]
}

func isRecurrenceSource(r *registry.Risk, src registry.Source) bool {
	for _, s := range r.Sources {
		if s.Tracker == src.Tracker && s.Key == src.Key && s.Position == src.Position {
			return s.Recurrence
		}
	}
	return false
}

// confirmRecurrence applies scoring.recurrence to a risk a postmortem
// re-confirmed (the source is stored already) and says on the postmortem,
// once per table, what that did.
func (e *Engine) confirmRecurrence(ctx context.Context, res *Result, ix *index, t registry.Tracker, pm registry.Postmortem, tb postmortem.Table, r *registry.Risk, dryRun bool) error {
	before := r
	if !dryRun && e.scoring.Recurrence.Mode == scoring.RecurrenceRaise {
		raised, err := e.raise(ctx, ix, r)
		if err != nil {
			return err
		}
		r = raised
	}
	body := e.recurrenceComment(tb.Position, before, r)
	return e.commentOnce(ctx, res, t, r.Key, pm.Tracker, pm.Key, recurrenceCommentKey(pm.Tracker, pm.Key, tb.Position), body, dryRun)
}

// raise sets the risk's likelihood to what its occurrences in the window
// call for, never lower, whatever its status (a decision stands; the
// likelihood is a fact about the system).
func (e *Engine) raise(ctx context.Context, ix *index, r *registry.Risk) (*registry.Risk, error) {
	rc := e.scoring.Recurrence
	if _, ok := rc.Propose(r, e.opts.Now()); !ok {
		return r, nil
	}
	updated, err := e.opts.Store.UpdateRisk(ctx, r.Key, registry.ActorRecurrence, func(x *registry.Risk) error {
		if p, ok := rc.Propose(x, e.opts.Now()); ok {
			x.Likelihood = p.To
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ix.put(updated)
	return updated, nil
}

// recurrenceComment tells the postmortem's authors which risk their table
// re-confirmed and what changed; only registry values appear in it.
func (e *Engine) recurrenceComment(position int, before, after *registry.Risk) string {
	rc := e.scoring.Recurrence
	occ := scoring.Occurrences(after)
	window := windowText(rc.Window)
	var b strings.Builder
	fmt.Fprintf(&b, "risksync: table %d of this postmortem re-confirms **%s**, an existing risk in the registry. ", position+1, after.Key)
	fmt.Fprintf(&b, "It is recorded as an occurrence (%d in the last %s, %d in all); the table's ratings do not change the registry's.\n\n",
		rc.InWindow(occ, e.opts.Now()), window, len(occ))
	switch {
	case !sameInt(before.Likelihood, after.Likelihood):
		fmt.Fprintf(&b, "- likelihood %s → %s (recurrences in the last %s), score %s → %s, %s → %s\n",
			ratingText(before.Likelihood), ratingText(after.Likelihood), window,
			scoreText(before.Score), scoreText(after.Score), bandText(before.Band), bandText(after.Band))
	case rc.Mode == scoring.RecurrenceSuggest:
		if p, ok := rc.Propose(after, e.opts.Now()); ok {
			fmt.Fprintf(&b, "- the weekly report proposes likelihood %s → %d; to apply it: `risksync risk update %s --likelihood %d`\n",
				ratingText(p.From), *p.To, after.Key, *p.To)
		}
	}
	switch after.Status {
	case registry.StatusAccepted:
		fmt.Fprintf(&b, "- %s is **accepted** and stays so: review the decision in light of this incident (`risksync risk show %s`).\n", after.Key, after.Key)
	case registry.StatusRetired:
		fmt.Fprintf(&b, "- %s is **retired** and stays so, but this incident says it applies again: `risksync risk update %s --status active`.\n", after.Key, after.Key)
	}
	return strings.TrimRight(b.String(), "\n")
}

func unknownKeyComment(position int, key string) string {
	return fmt.Sprintf("risksync: table %d of this postmortem names **%s**, which is not in the risk registry, so nothing was created or changed. "+
		"Name an existing risk (`risksync risk list`), or write the failure mode itself in the Risk row to create a new risk.", position+1, key)
}

func windowText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return d.String()
}

func sameInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func ratingText(p *int) string {
	if p == nil {
		return "unrated"
	}
	return fmt.Sprint(*p)
}

func scoreText(s *float64) string {
	if s == nil {
		return "unscored"
	}
	return scoring.FormatScore(*s)
}

func bandText(b string) string {
	if b == "" {
		return "unscored"
	}
	return b
}
