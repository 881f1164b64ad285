package github

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/registry"
)

// PullBack reads the work state of a repository's epics and returns the
// state of each epic carrying a risk marker that changed since the last call
// (all of them on the first), several epics of one risk each under its own
// key. Link: state open | in_progress (a sub-issue is closed, or open and
// assigned) | done (closed as completed) | not_planned (closed as not
// planned or duplicate); children total/done from the sub-issues API;
// LastActivityAt the newest child create/update/close/reopen or epic state
// change by anyone but risksync, else the epic's creation.
// ClosedByRisksync comes from the issue's events: whenever the state moved
// (or on first sight of a closed or reopened epic) they are read, and it is
// true when the newest "closed" event's actor is the token's user.
//
// Per call it sends the pass's conditional listing of the repository's risk
// epics (unless this pass listed already; the pass's own writes are in the
// index) and one of its issues changed since the last pass (child work),
// both 304 when nothing moved; then, only for what moved, the sub-issues
// and events of those epics.
func (c *Client) PullBack(ctx context.Context, repo string) ([]registry.EpicState, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	op := "pull back " + repo
	rs := c.repo(repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	first := !rs.listedOnce
	if err := c.refreshEpics(ctx, rs, false); err != nil {
		return nil, c.fail(op, err)
	}
	if !first {
		if err := c.scanChildren(ctx, rs); err != nil {
			return nil, c.fail(op, err)
		}
	}
	c.mu.Lock()
	for n, e := range rs.byNumber {
		if k := registry.GitHubIssueKey(repo, n); c.pending[k] {
			e.flagged = true
			delete(c.pending, k)
		}
	}
	c.mu.Unlock()
	// Commit what was seen only when the whole pass succeeded, so a failed
	// pass is redone, not half-forgotten.
	type seen struct {
		e     *epicEntry
		at    time.Time
		state string
		st    registry.EpicState
	}
	var done []seen
	var out []registry.EpicState
	for _, e := range rs.byNumber {
		is := e.issue
		// closed_at tells a close-reopen-close between two looks.
		stateNow := is.GetState() + "/" + is.GetStateReason() + "/" + is.GetClosedAt().UTC().Format(time.RFC3339)
		// updated_at has one-second precision: a change in the same second as
		// the last look keeps it, so the state and child summary are compared too.
		if e.last != nil && !e.flagged && e.pulled.Equal(is.GetUpdatedAt().Time) && stateNow == e.pulledState && !summaryDiffers(is, e.last) {
			continue // nothing moved
		}
		key := registry.GitHubIssueKey(repo, is.GetNumber())
		own := c.isOwn(key, is.GetUpdatedAt().Time)
		stateChanged := e.last != nil && stateNow != e.pulledState
		summaryMoved := false
		if s := is.SubIssuesSummary; s != nil && e.last != nil {
			summaryMoved = s.GetTotal() != e.last.Link.ChildrenTotal || s.GetCompleted() != e.last.Link.ChildrenDone
		}
		// Children: re-read on first sight, when one moved, or when the
		// epic changed and not by our hand (a sub-issue added or removed).
		if e.last == nil || e.flagged || !own || summaryMoved {
			if s := is.SubIssuesSummary; e.last == nil && !e.flagged && s != nil && s.GetTotal() == 0 {
				e.children = nil
			} else if err := c.readChildren(ctx, rs, e, owner, name); err != nil {
				return nil, c.fail(op, err)
			}
		}
		closed := is.GetState() == "closed"
		st := registry.EpicState{RiskKey: e.riskKey}
		// Who closed it is GitHub's record, read whenever the state moved.
		if stateChanged || (e.last == nil && (closed || is.GetStateReason() == "reopened")) {
			at, closer, err := c.stateChanges(ctx, owner, name, is.GetNumber())
			if err != nil {
				return nil, c.fail(op, err)
			}
			if at.After(e.stateChangeAt) {
				e.stateChangeAt = at
			}
			login, err := c.self(ctx)
			if err != nil {
				return nil, c.fail(op, err)
			}
			st.ClosedByRisksync = closed && closer == login
		} else if e.last != nil {
			// The state has not moved since the events were read.
			st.ClosedByRisksync = closed && e.last.ClosedByRisksync
		}
		st.Link = registry.Link{Tracker: registry.TrackerGitHub, Key: key, URL: is.GetHTMLURL(),
			State: stateOfIssue(is, e.children), Current: true, CreatedAt: is.GetCreatedAt().Time}
		for _, ch := range e.children {
			st.Link.ChildrenTotal++
			if !ch.open {
				st.Link.ChildrenDone++
			}
		}
		last := e.stateChangeAt
		for _, ch := range e.children {
			if ch.activity.After(last) {
				last = ch.activity
			}
		}
		if last.IsZero() {
			last = is.GetCreatedAt().Time
		}
		last = last.UTC()
		st.Link.LastActivityAt = &last

		if e.last == nil || !sameState(*e.last, st) {
			out = append(out, st)
		}
		done = append(done, seen{e: e, at: is.GetUpdatedAt().Time, state: stateNow, st: st})
	}
	for _, d := range done {
		d.e.pulled, d.e.pulledState, d.e.flagged, d.e.last = d.at, d.state, false, &d.st
	}
	slices.SortFunc(out, func(a, b registry.EpicState) int { return strings.Compare(a.Link.Key, b.Link.Key) })
	return out, nil
}

func sameState(a, b registry.EpicState) bool {
	la, lb := a.Link, b.Link
	ta, tb := time.Time{}, time.Time{}
	if la.LastActivityAt != nil {
		ta = *la.LastActivityAt
	}
	if lb.LastActivityAt != nil {
		tb = *lb.LastActivityAt
	}
	return la.Key == lb.Key && la.State == lb.State && la.ChildrenTotal == lb.ChildrenTotal &&
		la.ChildrenDone == lb.ChildrenDone && ta.Equal(tb) && a.ClosedByRisksync == b.ClosedByRisksync && a.RiskKey == b.RiskKey
}

// stateOfIssue maps GitHub's state to the link state.
func stateOfIssue(is *gh.Issue, children []child) registry.LinkState {
	if is.GetState() == "closed" {
		switch is.GetStateReason() {
		case "not_planned", "duplicate":
			return registry.LinkNotPlanned
		}
		return registry.LinkDone
	}
	for _, ch := range children {
		if !ch.open || ch.started {
			return registry.LinkInProgress
		}
	}
	return registry.LinkOpen
}

// scanChildren lists the repository's issues changed since the last pass
// (one conditional request when nothing moved) and flags the epics whose
// sub-issues moved.
func (c *Client) scanChildren(ctx context.Context, rs *repoState) error {
	q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"desc"}}
	if !rs.childCursor.IsZero() {
		q.Set("since", rs.childCursor.UTC().Format(time.RFC3339))
	}
	issues, _, _, err := c.listIssues(ctx, rs.name, q, "issues "+rs.name)
	if err != nil {
		return fmt.Errorf("list issues %s: %w", rs.name, err)
	}
	for _, is := range issues {
		t := is.GetUpdatedAt().Time
		if t.After(rs.childCursor) {
			rs.childCursor = t
		}
		if is.IsPullRequest() || rs.byNumber[is.GetNumber()] != nil {
			continue
		}
		if seen, ok := rs.childSeen[is.GetNumber()]; ok && seen.Equal(t) {
			continue // listed again because since is inclusive
		}
		rs.childSeen[is.GetNumber()] = t
		parent := 0
		if pr, pn, ok := parseIssueURL(is.GetParentIssueURL()); ok && pr == rs.name {
			parent = pn
		} else if pn, ok := rs.children[is.GetNumber()]; ok {
			parent = pn // moved out of the epic, or GitHub omitted the parent
		}
		if e := rs.byNumber[parent]; e != nil {
			e.flagged = true
		}
		if pr, pn, ok := parseIssueURL(is.GetParentIssueURL()); ok && pr != rs.name {
			c.flagRemote(pr, pn)
		}
	}
	return nil
}

// flagRemote marks an epic of another repository whose child (in this
// one) moved; that repository's next PullBack re-reads it.
func (c *Client) flagRemote(repo string, number int) {
	c.mu.Lock()
	c.pending[registry.GitHubIssueKey(repo, number)] = true
	c.mu.Unlock()
}

// parseIssueURL reads ".../repos/{owner}/{repo}/issues/{n}".
func parseIssueURL(u string) (string, int, bool) {
	i := strings.Index(u, "/repos/")
	if i < 0 {
		return "", 0, false
	}
	parts := strings.Split(u[i+len("/repos/"):], "/")
	if len(parts) != 4 || parts[2] != "issues" {
		return "", 0, false
	}
	n, err := strconv.Atoi(parts[3])
	if err != nil {
		return "", 0, false
	}
	return parts[0] + "/" + parts[1], n, true
}

func (c *Client) readChildren(ctx context.Context, rs *repoState, e *epicEntry, owner, name string) error {
	opt := &gh.ListOptions{PerPage: 100}
	var kids []child
	for {
		subs, resp, err := c.gh.SubIssue.ListByIssue(ctx, owner, name, int64(e.issue.GetNumber()), opt)
		if err != nil {
			return fmt.Errorf("list sub-issues of %s#%d: %w", rs.name, e.issue.GetNumber(), err)
		}
		for _, s := range subs {
			is := (*gh.Issue)(s)
			ch := child{open: is.GetState() != "closed", started: len(is.Assignees) > 0}
			repo := rs.name
			if r, _, ok := parseIssueURL(is.GetURL()); ok {
				repo = r
			}
			ch.key = registry.GitHubIssueKey(repo, is.GetNumber())
			for _, t := range []*gh.Timestamp{is.CreatedAt, is.UpdatedAt, is.ClosedAt} {
				if t != nil && t.After(ch.activity) {
					ch.activity = t.Time
				}
			}
			if repo == rs.name {
				rs.children[is.GetNumber()] = e.issue.GetNumber()
				rs.childSeen[is.GetNumber()] = is.GetUpdatedAt().Time
			}
			kids = append(kids, ch)
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	e.children = kids
	return nil
}

// stateChanges returns the newest close/reopen of an issue by anyone but
// risksync, and the actor of its newest "closed" event.
func (c *Client) stateChanges(ctx context.Context, owner, name string, n int) (time.Time, string, error) {
	login, err := c.self(ctx)
	if err != nil {
		return time.Time{}, "", err
	}
	var newest, closedAt time.Time
	closer := ""
	opt := &gh.ListOptions{PerPage: 100}
	for {
		evs, resp, err := c.gh.Issues.ListIssueEvents(ctx, owner, name, n, opt)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("list events of %s/%s#%d: %w", owner, name, n, err)
		}
		for _, ev := range evs {
			if ev.GetEvent() != "closed" && ev.GetEvent() != "reopened" {
				continue
			}
			actor, t := ev.GetActor().GetLogin(), ev.GetCreatedAt().Time
			// Events come oldest first; a later one in the same second wins.
			if ev.GetEvent() == "closed" && !t.Before(closedAt) {
				closer, closedAt = actor, t
			}
			if actor != login && t.After(newest) {
				newest = t
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return newest, closer, nil
}

// Postmortems lists issues carrying the configured postmortem label in the
// configured repositories, changed since since (pull requests skipped).
// Repeated identical listings are conditional: a 304 returns the last answer.
func (c *Client) Postmortems(ctx context.Context, since time.Time) ([]registry.Postmortem, error) {
	var out []registry.Postmortem
	for _, repo := range c.cfg.Postmortem.Repos {
		if _, _, err := splitRepo(repo); err != nil {
			return out, err
		}
		q := url.Values{"labels": {c.pmLabel}, "state": {"all"}, "sort": {"updated"}, "direction": {"asc"}}
		if !since.IsZero() {
			q.Set("since", since.UTC().Format(time.RFC3339))
		}
		slot := "postmortems " + repo
		issues, unchanged, _, err := c.listIssues(ctx, repo, q, slot)
		if err != nil {
			return out, c.fail("list postmortems "+repo, err)
		}
		if unchanged {
			c.mu.Lock()
			out = append(out, c.pmCache[slot]...)
			c.mu.Unlock()
			continue
		}
		var pms []registry.Postmortem
		for _, is := range issues {
			if is.IsPullRequest() {
				continue
			}
			pms = append(pms, registry.Postmortem{Tracker: registry.TrackerGitHub,
				Key: registry.GitHubIssueKey(repo, is.GetNumber()), URL: is.GetHTMLURL(), Title: is.GetTitle(),
				Body: normalize(is.GetBody()), UpdatedAt: is.GetUpdatedAt().UTC(), Closed: is.GetState() == "closed"})
		}
		c.mu.Lock()
		c.pmCache[slot] = pms
		c.mu.Unlock()
		c.notePostmortems(pms)
		out = append(out, pms...)
	}
	return out, nil
}

// summaryDiffers reports whether the listing's sub-issue counts differ from
// what the last pull-back reported.
func summaryDiffers(is *gh.Issue, last *registry.EpicState) bool {
	s := is.SubIssuesSummary
	return s != nil && (s.GetTotal() != last.Link.ChildrenTotal || s.GetCompleted() != last.Link.ChildrenDone)
}
