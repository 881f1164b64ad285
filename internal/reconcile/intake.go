package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/reconcile/postmortem"
	"github.com/risksync/risksync/internal/registry"
)

// intake reads the tracker's postmortems changed since its stored cursor.
func (e *Engine) intake(ctx context.Context, res *Result, ix *index, name string, t registry.Tracker, storedCursor string, dryRun bool) {
	if !e.opts.Routing.Postmortems[name] {
		return
	}
	cursorName := intakeCursorKey(name)
	var since time.Time
	if storedCursor != "" {
		since, _ = parseStateTime(storedCursor)
	}
	pms, err := t.Postmortems(ctx, since)
	if err != nil {
		res.fail("", name, "intake", err)
		return
	}
	sort.Slice(pms, func(i, j int) bool { return pms[i].UpdatedAt.Before(pms[j].UpdatedAt) })
	cursor, blocked := since, false
	for _, pm := range pms {
		if err := e.intakeOne(ctx, res, ix, t, pm, dryRun); err != nil {
			res.fail(pm.Key, name, "intake", err)
			blocked = true // the cursor stays before this postmortem, so it is read again
		}
		if !blocked && pm.UpdatedAt.After(cursor) {
			cursor = pm.UpdatedAt
		}
	}
	if !dryRun && cursor.After(since) {
		if err := e.opts.Store.SetState(ctx, cursorName, formatStateTime(cursor)); err != nil {
			res.fail("", name, "intake", err)
		}
	}
}

func (e *Engine) intakeOne(ctx context.Context, res *Result, ix *index, t registry.Tracker, pm registry.Postmortem, dryRun bool) error {
	st := e.opts.Store
	tables := postmortem.Parse(pm.Body)
	unknownOwners := map[int]string{}
	// Tables that name an existing risk (or a key) set no field, so their
	// missing ratings or owner are no problem worth a comment.
	references := map[int]bool{}
	for _, tb := range tables {
		if tb.Title == "" {
			continue // a table without a Risk row makes no risk; the comment says why
		}
		owner := ""
		if team := postmortem.MatchOwner(tb.Owner, e.opts.Routing.MatchTeam); team != nil {
			owner = team.Name
		} else if strings.TrimSpace(tb.Owner) != "" {
			unknownOwners[tb.Position] = tb.Owner
		}
		src := registry.Source{Tracker: pm.Tracker, Key: pm.Key, URL: pm.URL, Position: tb.Position}
		stateName := intakeTableKey(pm.Tracker, pm.Key, tb.Position)
		hash := tableHash(tb, owner)
		action := IntakeAction{Postmortem: pm.Key, Table: tb.Position + 1, Title: tb.Title}
		refKey, isRef := referencedKey(tb.Title)
		if r := ix.bySource[sourceID(src.Tracker, src.Key, src.Position)]; r != nil {
			prev, _, err := st.State(ctx, stateName)
			if err != nil {
				return err
			}
			if isRef || isRecurrenceSource(r, src) {
				references[tb.Position] = true
				if prev == hash {
					continue
				}
				if prev == "" {
					// Stored as a recurrence but never finished (a crash):
					// finish it. An edit of a finished one changes nothing.
					if err := e.confirmRecurrence(ctx, res, ix, t, pm, tb, r, dryRun); err != nil {
						return err
					}
				}
				if !dryRun {
					if err := st.SetState(ctx, stateName, hash); err != nil {
						return err
					}
				}
				continue
			}
			if prev == hash {
				continue
			}
			action.Kind, action.Risk = "update", r.Key
			res.Intake = append(res.Intake, action)
			if dryRun {
				continue
			}
			updated, err := st.UpdateRisk(ctx, r.Key, registry.ActorIntake, func(r *registry.Risk) error { applyTable(r, tb, owner); return nil })
			if err != nil {
				return err
			}
			ix.put(updated)
		} else if r := existingRisk(ix, tb.Title, refKey, isRef); r != nil || isRef {
			references[tb.Position] = true
			if r == nil {
				if err := e.commentOnce(ctx, res, t, "", pm.Tracker, pm.Key, unknownKeyCommentKey(pm.Tracker, pm.Key, tb.Position, refKey),
					unknownKeyComment(tb.Position, refKey), dryRun); err != nil {
					return err
				}
				continue // creates nothing; a later edit naming a real key is read again
			}
			action.Kind, action.Risk = "recurrence", r.Key
			res.Intake = append(res.Intake, action)
			if !dryRun {
				src.Recurrence = true
				updated, err := st.UpdateRisk(ctx, r.Key, registry.ActorIntake, func(r *registry.Risk) error {
					r.Sources = append(r.Sources, src)
					return nil
				})
				if err != nil {
					return err
				}
				ix.put(updated)
				r = updated
			}
			if err := e.confirmRecurrence(ctx, res, ix, t, pm, tb, r, dryRun); err != nil {
				return err
			}
			if dryRun {
				continue
			}
		} else {
			action.Kind = "create"
			if dryRun {
				res.Intake = append(res.Intake, action)
				continue
			}
			r := &registry.Risk{Sources: []registry.Source{src}}
			applyTable(r, tb, owner)
			created, err := st.CreateRisk(ctx, r, registry.ActorIntake)
			if err != nil {
				return err
			}
			action.Risk = created.Key
			res.Intake = append(res.Intake, action)
			ix.put(created)
		}
		if err := st.SetState(ctx, stateName, hash); err != nil {
			return err
		}
	}
	var own []postmortem.Table
	problems := false
	for _, tb := range tables {
		if !references[tb.Position] {
			own = append(own, tb)
			problems = problems || len(tb.Problems) > 0
		} else {
			delete(unknownOwners, tb.Position)
		}
	}
	if !problems && len(unknownOwners) == 0 {
		return nil
	}
	return e.commentOnce(ctx, res, t, "", pm.Tracker, pm.Key, intakeCommentKey(pm.Tracker, pm.Key),
		postmortem.ProblemComment(own, unknownOwners, e.opts.Routing.TeamNames()), dryRun)
}

func applyTable(r *registry.Risk, tb postmortem.Table, owner string) {
	r.Title = tb.Title
	if tb.Description != "" {
		r.Description = tb.Description
	}
	r.Impact, r.Scope, r.Likelihood = tb.Impact, tb.Scope, tb.Likelihood
	r.Owner = owner
}

func tableHash(tb postmortem.Table, owner string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%v\x00%v\x00%s", tb.Title, tb.Description, deref(tb.Impact), deref(tb.Scope), deref(tb.Likelihood), owner)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
