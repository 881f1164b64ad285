package reconcile

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/risksync/risksync/internal/reconcile/command"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
	"github.com/risksync/risksync/internal/service"
)

// CommandService is the part of the service layer tracker commands use:
// commands follow the same rules, and leave the same history, as the CLI.
type CommandService interface {
	Update(ctx context.Context, who registry.Principal, key string, c service.Change, ifVersion int64) (*registry.Risk, error)
	Review(ctx context.Context, who registry.Principal, key, note string) (*registry.Risk, error)
}

// permissionTTL is how long a tracker's answer about who may edit is reused.
const permissionTTL = 5 * time.Minute

// permCache remembers the trackers' answers briefly, so a burst of commands
// costs one permission request per person and issue.
type permCache struct {
	mu gosync.Mutex
	m  map[string]permEntry
}

type permEntry struct {
	ok  bool
	exp time.Time
}

// Command states in the sync state, one key per comment: claimed before the
// registry changes, applied (holding the reply) before the reply is posted,
// replied after. A restart resumes from the state; a replayed or edited
// comment finds it and does nothing.
const (
	cmdClaimed = "claimed"
	cmdApplied = "applied\n"
	cmdReplied = "replied"
)

// commandKey holds a command comment's state.
func commandKey(tracker, commentID string) string { return "command:" + tracker + ":" + commentID }

// commandCursorKey holds the newest comment time read from a target.
func commandCursorKey(tracker, target string) string {
	return commandCursorPrefix + tracker + ":" + target
}

const commandCursorPrefix = "cursor:commands:"

// firstLook is how far back a target never read before is read: a command
// posted just before commands were enabled still counts, older ones do not.
const firstLook = time.Hour

// replyFooter ends every reply; it lets a restarted engine recognise a
// reply it posted but did not record.
func replyFooter(commentID string) string {
	return "\n\n— risksync, in reply to comment " + commentID
}

var replyRe = regexp.MustCompile(`— risksync, in reply to comment (\S+)\s*$`)

// commands reads `/risk` comments from every target and applies each once.
// Risks it changed are pushed again, so their epics show the change this pass.
// facts are the pass's stored facts, read once at its start.
func (e *Engine) commands(ctx context.Context, res *Result, ix *index, live map[string]registry.Tracker, facts map[string]string, dryRun bool) {
	if e.opts.Commands == nil || dryRun {
		return
	}
	cursors := map[string]string{}
	for k, v := range facts {
		if strings.HasPrefix(k, commandCursorPrefix) {
			cursors[k] = v
		}
	}
	changed := map[string]bool{}
	for _, name := range e.trackerNames() {
		t := live[name]
		src, ok := t.(registry.CommentSource)
		if !ok {
			continue
		}
		for _, target := range e.commandTargets(ix, name, src, cursors) {
			if ctx.Err() != nil {
				return
			}
			e.commandsIn(ctx, res, ix, name, t, src, target, cursors[commandCursorKey(name, target)], changed)
		}
	}
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if r := ix.byKey[k]; r != nil && ctx.Err() == nil {
			e.push(ctx, res, ix, r, live, false)
		}
	}
}

// commandTargets lists where commands may be: every target holding a risk's
// epic, the tracker's postmortem targets, and targets read before.
func (e *Engine) commandTargets(ix *index, tracker string, src registry.CommentSource, cursors map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if t != "" && !seen[strings.ToLower(t)] {
			seen[strings.ToLower(t)] = true
			out = append(out, t)
		}
	}
	for _, key := range ix.order {
		for _, l := range ix.byKey[key].Links {
			if l.Tracker == tracker {
				add(targetOf(tracker, l.Key))
			}
		}
	}
	for _, t := range src.PostmortemTargets() {
		add(t)
	}
	prefix := commandCursorPrefix + tracker + ":"
	for k := range cursors {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			add(rest)
		}
	}
	sort.Strings(out)
	return out
}

func (e *Engine) commandsIn(ctx context.Context, res *Result, ix *index, tracker string, t registry.Tracker, src registry.CommentSource,
	target, stored string, changed map[string]bool) {
	since, ok := parseStateTime(stored)
	if !ok {
		since = e.opts.Now().Add(-firstLook)
	}
	comments, next, err := src.Comments(ctx, target, since)
	if err != nil {
		res.fail("", tracker, "commands", err)
		return
	}
	sort.SliceStable(comments, func(i, j int) bool { return comments[i].CreatedAt.Before(comments[j].CreatedAt) })
	// A reply posted by a run that stopped before recording it shows here:
	// record it, so it is not posted twice.
	for _, c := range comments {
		if m := replyRe.FindStringSubmatch(c.Body); c.Own && m != nil {
			key := commandKey(tracker, m[1])
			if v, _, err := e.opts.Store.State(ctx, key); err == nil && v != cmdReplied {
				err = e.opts.Store.SetState(ctx, key, cmdReplied)
			}
			if err != nil {
				res.fail("", tracker, "commands", err)
				return
			}
		}
	}
	for _, c := range comments {
		if c.Own {
			continue // risksync's own words are never commands
		}
		cmd, isCmd, perr := command.Parse(c.Body)
		if !isCmd {
			continue
		}
		if err := e.command(ctx, res, ix, tracker, t, src, c, cmd, perr, changed); err != nil {
			res.fail("", tracker, "commands", fmt.Errorf("command in comment %s on %s: %w", c.ID, c.IssueKey, err))
			return // the cursor stays: the comment is read again next pass
		}
	}
	if next.After(since) || stored == "" {
		if next.IsZero() {
			next = since
		}
		if err := e.opts.Store.SetState(ctx, commandCursorKey(tracker, target), formatStateTime(next)); err != nil {
			res.fail("", tracker, "commands", err)
		}
	}
}

// command applies one command comment exactly once and replies once.
func (e *Engine) command(ctx context.Context, res *Result, ix *index, tracker string, t registry.Tracker, src registry.CommentSource,
	c registry.TrackerComment, cmd command.Command, perr error, changed map[string]bool) error {
	st := e.opts.Store
	key := commandKey(tracker, c.ID)
	state, found, err := st.State(ctx, key)
	if err != nil {
		return err
	}
	if state == cmdReplied {
		return nil // applied and answered: a replay or an edit
	}
	reply, applied := strings.CutPrefix(state, cmdApplied)
	if !applied {
		resumed := found // claimed by a run that stopped before recording the outcome
		if !found {
			if err := st.SetState(ctx, key, cmdClaimed); err != nil {
				return err
			}
		}
		var risk string
		reply, risk, err = e.applyCommand(ctx, ix, tracker, src, c, cmd, perr, resumed)
		if err != nil {
			return err
		}
		if risk != "" {
			changed[risk] = true
		}
		if err := st.SetState(ctx, key, cmdApplied+reply); err != nil {
			return err
		}
	}
	e.record(res, "", tracker, []registry.Write{{Kind: registry.WriteComment, Target: c.IssueKey}})
	if err := t.Comment(ctx, c.IssueKey, reply+replyFooter(c.ID)); err != nil {
		return err
	}
	return st.SetState(ctx, key, cmdReplied)
}

// refusal is the reply to someone the tracker does not let edit: it says
// nothing about the risk.
const refusal = "Sorry, this command was not applied: only people who may edit this issue in the tracker can change risks from here. " +
	"Ask a maintainer of the risk's team, or use the risksync CLI or web UI."

// applyCommand checks who asks, then changes the registry through the
// service. It returns the reply and the risk it changed; err only for
// failures worth retrying (the tracker or database unreachable).
func (e *Engine) applyCommand(ctx context.Context, ix *index, tracker string, src registry.CommentSource, c registry.TrackerComment,
	cmd command.Command, perr error, resumed bool) (reply, changedRisk string, err error) {
	ok, err := e.canEdit(ctx, src, tracker, c.IssueKey, c.Author)
	if err != nil || !ok {
		return refusal, "", err
	}
	if perr != nil {
		return "This command was not applied: " + perr.Error() + ".", "", nil
	}
	r := ix.byLink[tracker+" "+c.IssueKey]
	if cmd.Key != "" && (r == nil || r.Key != cmd.Key) {
		r = ix.byKey[cmd.Key]
		if r == nil {
			return fmt.Sprintf("This command was not applied: there is no risk %s.", cmd.Key), "", nil
		}
		// Commands naming a risk from elsewhere need the right to edit its
		// epic too; only the epic's own tracker can say who has it.
		if cur := r.CurrentLink(); cur != nil && cur.Tracker != tracker {
			return refusal, "", nil
		} else if cur != nil && cur.Key != c.IssueKey {
			if ok, err := e.canEdit(ctx, src, tracker, cur.Key, c.Author); err != nil || !ok {
				return refusal, "", err
			}
		}
	}
	if r == nil {
		return "This command was not applied: this issue is not a risk's epic. Name the risk, e.g. `/risk RISK-7 review`.", "", nil
	}
	who := registry.Principal{Actor: tracker + ":" + c.Author, Role: registry.RoleEditor}
	before := r.Clone()
	var after *registry.Risk
	svc := e.opts.Commands
	if cmd.Verb == command.Review {
		note := strings.TrimSpace(cmd.Text + " (" + c.IssueKey + " comment " + c.ID + ")")
		if resumed {
			if done, err := e.reviewedBy(ctx, r.Key, note); err != nil || done {
				if err != nil {
					return "", "", err
				}
				return fmt.Sprintf("%s reviewed.", r.Key) + ignoredNote(cmd), r.Key, nil
			}
		}
		after, err = svc.Review(ctx, who, r.Key, note)
	} else {
		after, err = svc.Update(ctx, who, r.Key, changeOf(cmd), 0)
	}
	if err != nil {
		var re *registry.Error
		if errors.As(err, &re) && re.Code != registry.EINTERNAL && re.Code != registry.EUNAVAILABLE {
			return fmt.Sprintf("%s was not changed: %s.", r.Key, strings.TrimSuffix(re.Message, ".")) + ignoredNote(cmd), "", nil
		}
		return "", "", err
	}
	ix.put(after)
	return describe(before, after, cmd) + ignoredNote(cmd), after.Key, nil
}

func ignoredNote(cmd command.Command) string {
	if cmd.Ignored == 0 {
		return ""
	}
	return fmt.Sprintf("\n\nOnly the first line of a comment is a command: the %d other `/risk` line(s) were not applied; post each in its own comment.", cmd.Ignored)
}

// reviewedBy reports whether the review with note is in the history (a run
// stopped between recording it and its outcome).
func (e *Engine) reviewedBy(ctx context.Context, risk, note string) (bool, error) {
	h, err := e.opts.Store.History(ctx, risk, 50)
	if err != nil {
		return false, err
	}
	for _, x := range h {
		if x.NewValue != nil && strings.Contains(*x.NewValue, note) || x.OldValue != nil && strings.Contains(*x.OldValue, note) {
			return true, nil
		}
	}
	return false, nil
}

func (e *Engine) canEdit(ctx context.Context, src registry.CommentSource, tracker, issue, author string) (bool, error) {
	k := tracker + "\x00" + issue + "\x00" + author
	now := e.opts.Now()
	e.perms.mu.Lock()
	if p, ok := e.perms.m[k]; ok && now.Before(p.exp) {
		e.perms.mu.Unlock()
		return p.ok, nil
	}
	e.perms.mu.Unlock()
	ok, err := src.CanEdit(ctx, issue, author)
	if err != nil {
		return false, err
	}
	e.perms.mu.Lock()
	if e.perms.m == nil {
		e.perms.m = map[string]permEntry{}
	}
	e.perms.m[k] = permEntry{ok: ok, exp: now.Add(permissionTTL)}
	e.perms.mu.Unlock()
	return ok, nil
}

func changeOf(cmd command.Command) service.Change {
	var c service.Change
	set := func(f *service.Field[int], v *int) {
		if v != nil {
			*f = service.Some(*v)
		}
	}
	set(&c.Impact, cmd.Impact)
	set(&c.Scope, cmd.Scope)
	set(&c.Likelihood, cmd.Likelihood)
	switch cmd.Verb {
	case command.Owner:
		c.Owner = service.Some(cmd.Team)
	case command.Accept:
		c.Status, c.StatusReason = service.Some(registry.StatusAccepted), service.Some(cmd.Text)
		if cmd.Until != nil {
			c.AcceptedUntil = service.Some(*cmd.Until)
		} else {
			c.AcceptedUntil = service.Null[time.Time]()
		}
	case command.Retire:
		c.Status, c.StatusReason = service.Some(registry.StatusRetired), service.Some(cmd.Text)
	case command.Activate:
		c.Status = service.Some(registry.StatusActive)
	}
	return c
}

// describe says what changed, the way people read it:
// "RISK-7 likelihood 3 → 5, score 36 → 60, high → critical".
func describe(before, after *registry.Risk, cmd command.Command) string {
	if cmd.Verb == command.Review {
		s := after.Key + " reviewed."
		if after.ReviewDueAt != nil {
			s += " Next review due " + after.ReviewDueAt.UTC().Format(time.DateOnly) + "."
		}
		return s
	}
	var parts []string
	for _, d := range registry.Diff(before, after) {
		o, n := show(d.Field, d.OldValue), show(d.Field, d.NewValue)
		switch d.Field {
		case "band":
			parts = append(parts, o+" → "+n)
		case "status_reason":
			parts = append(parts, "reason: "+n)
		default:
			parts = append(parts, strings.ReplaceAll(d.Field, "_", " ")+" "+o+" → "+n)
		}
	}
	if len(parts) == 0 {
		return after.Key + " unchanged: it already says so."
	}
	return after.Key + " " + strings.Join(parts, ", ")
}

func show(field string, v *string) string {
	switch {
	case v == nil:
		return "none"
	case field == "score":
		var f float64
		if _, err := fmt.Sscan(*v, &f); err == nil {
			return scoring.FormatScore(f)
		}
	case field == "accepted_until":
		if t, err := time.Parse(time.RFC3339, *v); err == nil {
			return t.Format(time.DateOnly)
		}
	}
	return *v
}
