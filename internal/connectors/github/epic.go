package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/registry"
)

var _ registry.Tracker = (*Client)(nil)

// repoState is one repository's epic index and listing cursors. All of it
// caches what GitHub lists: a restarted client lists everything once and
// rebuilds it, so losing it costs requests, never a decision.
type repoState struct {
	mu   sync.Mutex
	name string
	// listedOnce, listedAt and stale say when the epic listing was last
	// read; StartPass sets stale so each pass lists once (a 304 when
	// nothing moved). Lost, the next call lists again.
	listedOnce bool
	listedAt   time.Time
	stale      bool
	// cursor caches the newest updated_at of the epic listing (its since=);
	// zero lists every epic again.
	cursor time.Time
	// childCursor caches the newest updated_at of the all-issues listing;
	// lost, the next first listing sets it anew and sub-issues are re-read.
	childCursor time.Time
	// byNumber caches every issue carrying a risk marker, by number; a full
	// listing rebuilds it.
	byNumber map[int]*epicEntry
	// byRisk holds the same entries per risk, oldest first: people make
	// duplicates, and an epic a person closed stays beside its successor.
	byRisk map[string][]*epicEntry
	// children caches child number (this repository) → epic number, to flag
	// an epic whose child left it; lost, the epic's sub-issues are re-read.
	children map[int]int
	// childSeen caches the updated_at of each child already accounted for,
	// because since= is inclusive; lost, a child is counted once more as moved.
	childSeen map[int]time.Time
}

// epicEntry is one indexed epic and what the last PullBack saw of it (a
// cache: without it the epic is read as on first sight).
type epicEntry struct {
	riskKey string
	issue   *gh.Issue
	// What the last PullBack saw and computed.
	pulled        time.Time
	pulledState   string // state/state_reason/closed_at
	flagged       bool   // child work moved since
	children      []child
	stateChangeAt time.Time
	last          *registry.EpicState
}

type child struct {
	key      string
	open     bool
	started  bool
	activity time.Time
}

func (c *Client) repo(name string) *repoState {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.repos[name]
	if rs == nil {
		rs = &repoState{name: name, byNumber: map[int]*epicEntry{}, byRisk: map[string][]*epicEntry{},
			children: map[int]int{}, childSeen: map[int]time.Time{}}
		c.repos[name] = rs
	}
	return rs
}

// StartPass marks every repository's epic listing stale: the first
// EnsureEpic, CloseEpic, ReopenEpic or PullBack of the pass lists again
// (conditionally), later calls of the pass reuse that listing.
func (c *Client) StartPass(ctx context.Context) error {
	c.mu.Lock()
	all := make([]*repoState, 0, len(c.repos))
	for _, rs := range c.repos {
		all = append(all, rs)
	}
	c.mu.Unlock()
	for _, rs := range all {
		rs.mu.Lock()
		rs.stale = true
		rs.mu.Unlock()
	}
	return ctx.Err()
}

// EnsureEpic finds the risk's epic or creates it, and brings title, body,
// labels and issue type to the desired values. It never changes the epic's
// open/closed state (see CloseEpic, ReopenEpic). With spec.Linked it uses
// that epic and never creates one: an epic the listing does not show is
// read by number, and only GitHub saying it is gone (404, 410) ends in
// EpicResult.Gone. Without, it adopts the oldest epic carrying the risk's
// marker that spec.Exclude does not name, or creates one when
// spec.MayCreate (else registry.ErrCreateWithheld). With dryRun it returns
// the planned writes and sends none.
func (c *Client) EnsureEpic(ctx context.Context, spec registry.EpicSpec, dryRun bool) (registry.EpicResult, error) {
	if spec.Risk == nil || spec.Risk.Key == "" {
		return registry.EpicResult{}, registry.Errorf(registry.EINVALID, "github: ensure epic: no risk")
	}
	owner, _, err := splitRepo(spec.Target)
	if err != nil {
		return registry.EpicResult{}, err
	}
	op := fmt.Sprintf("ensure epic %s %s", spec.Target, spec.Risk.Key)
	band, err := c.bandNamed(spec.Band)
	if err != nil {
		return registry.EpicResult{}, fmt.Errorf("github: %s: %w", op, err)
	}
	rs := c.repo(spec.Target)
	rs.mu.Lock()
	defer rs.mu.Unlock()

	typ, err := c.issueTypeFor(ctx, owner)
	if err != nil {
		return registry.EpicResult{}, err
	}
	d := c.render(spec, band, typ)
	if err := c.refreshEpics(ctx, rs, false); err != nil {
		return registry.EpicResult{}, c.fail(op, err)
	}
	if spec.Linked != nil {
		return c.ensureLinked(ctx, rs, *spec.Linked, d, dryRun)
	}
	if e := rs.pick(d.key, spec.Exclude); e != nil {
		return c.updateEpic(ctx, rs, e, d, nil, dryRun)
	}
	if !spec.MayCreate {
		return registry.EpicResult{}, fmt.Errorf("github: %s: %w", op, registry.ErrCreateWithheld)
	}
	return c.createEpic(ctx, rs, d, spec.Exclude, dryRun)
}

// ensureLinked converges the epic the registry links. The index may not
// show it (label removed, or not listed since a restart): then it is read
// by number, and 404 or 410 means it is gone. The repository was just
// listed, so a 404 here is the issue, not the token's access.
func (c *Client) ensureLinked(ctx context.Context, rs *repoState, l registry.Link, d desired, dryRun bool) (registry.EpicResult, error) {
	repo, n, err := parseIssueKey(l.Key)
	if err != nil {
		return registry.EpicResult{}, err
	}
	if repo != rs.name {
		return registry.EpicResult{}, registry.Errorf(registry.EINVALID, "github: ensure epic %s %s: linked epic %s is not in %s", rs.name, d.key, l.Key, rs.name)
	}
	if e := rs.byNumber[n]; e != nil {
		return c.updateEpic(ctx, rs, e, d, nil, dryRun)
	}
	owner, name, _ := splitRepo(repo)
	is, _, err := c.gh.Issues.Get(ctx, owner, name, n)
	if status := errStatus(err); status == http.StatusNotFound || status == http.StatusGone {
		c.log.Warn("github: linked epic is gone", "risk", d.key, "epic", l.Key, "status", status)
		return registry.EpicResult{Gone: l.Key}, nil
	}
	if err != nil {
		return registry.EpicResult{}, c.fail(fmt.Sprintf("read linked epic %s of %s", l.Key, d.key), err)
	}
	// A transferred issue answers with its new home (GitHub redirects).
	if r, m, ok := parseIssueURL(is.GetURL()); (ok && (r != repo || m != n)) || is.IsPullRequest() {
		c.log.Warn("github: linked epic was moved away", "risk", d.key, "epic", l.Key, "now", is.GetHTMLURL())
		return registry.EpicResult{Gone: l.Key}, nil
	}
	return c.updateEpic(ctx, rs, c.index(rs, d.key, is), d, nil, dryRun)
}

// pick returns the oldest indexed epic of risk that exclude does not name.
func (rs *repoState) pick(risk string, exclude []string) *epicEntry {
	for _, e := range rs.byRisk[risk] {
		if !slices.Contains(exclude, registry.GitHubIssueKey(rs.name, e.issue.GetNumber())) {
			return e
		}
	}
	return nil
}

func errStatus(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		return statusOf(er.Response)
	}
	return 0
}

func (c *Client) createEpic(ctx context.Context, rs *repoState, d desired, exclude []string, dryRun bool) (registry.EpicResult, error) {
	owner, name, _ := splitRepo(rs.name)
	op := fmt.Sprintf("create epic %s %s", rs.name, d.key)
	writes, err := c.ensureLabels(ctx, rs.name, d.labels, dryRun)
	if err != nil {
		return registry.EpicResult{Writes: writes}, err
	}
	w := registry.Write{Kind: registry.WriteCreate, Target: rs.name, Fields: map[string][2]string{
		"title": {"", d.title}, "labels": {"", strings.Join(d.labels, ", ")}, "body": {"", "sha:" + d.hashes["body"]}}}
	if d.typ != "" {
		w.Fields["type"] = [2]string{"", d.typ}
	}
	if dryRun {
		return registry.EpicResult{Link: registry.Link{Tracker: registry.TrackerGitHub, State: registry.LinkOpen, Current: true},
			Writes: append(writes, w), Created: true}, nil
	}
	req := gh.CreateIssueRequest{Title: d.title, Body: &d.body, Labels: d.labels}
	if d.typ != "" {
		req.Type = &d.typ
	}
	for attempt := 1; ; attempt++ {
		is, _, err := c.gh.Issues.Create(ctx, owner, name, req)
		if err == nil {
			key := registry.GitHubIssueKey(rs.name, is.GetNumber())
			c.markOwn(key, is.GetUpdatedAt().Time)
			e := c.index(rs, d.key, is)
			c.log.Info("github: created epic", "risk", d.key, "issue", key)
			w.Target = key
			return registry.EpicResult{Link: c.linkOf(rs, e), Writes: append(writes, w), Created: true}, nil
		}
		if !unknownOutcome(err) || attempt == 3 {
			return registry.EpicResult{Writes: writes}, c.fail(op, err)
		}
		// The create may have happened: look again before creating.
		c.log.Warn("github: create outcome unknown; looking for the epic before retrying", "risk", d.key, "error", err)
		if lerr := c.refreshEpics(ctx, rs, true); lerr != nil {
			return registry.EpicResult{Writes: writes}, c.fail(op, errors.Join(err, lerr))
		}
		if e := rs.pick(d.key, exclude); e != nil {
			// Ours if it is exactly what we sent.
			a := c.observe(e.issue.GetTitle(), e.issue.GetBody(), labelNames(e.issue), typeName(e.issue))
			ours := a.hashes["body"] == d.hashes["body"] && a.hashes["title"] == d.hashes["title"]
			if ours {
				c.markOwn(registry.GitHubIssueKey(rs.name, e.issue.GetNumber()), e.issue.GetUpdatedAt().Time)
			}
			w.Target = registry.GitHubIssueKey(rs.name, e.issue.GetNumber())
			res, err := c.updateEpic(ctx, rs, e, d, append(writes, w), false)
			res.Created = ours
			return res, err
		}
	}
}

func (c *Client) updateEpic(ctx context.Context, rs *repoState, e *epicEntry, d desired, writes []registry.Write, dryRun bool) (registry.EpicResult, error) {
	owner, name, _ := splitRepo(rs.name)
	is := e.issue
	key := registry.GitHubIssueKey(rs.name, is.GetNumber())
	op := fmt.Sprintf("update epic %s %s", key, d.key)
	curLabels := labelNames(is)
	a := c.observe(is.GetTitle(), is.GetBody(), curLabels, typeName(is))
	fields := map[string][2]string{}
	var req gh.UpdateIssueRequest
	var drift []string
	diff := func(f string) bool {
		if a.hashes[f] == d.hashes[f] {
			return false
		}
		if a.stored != nil && a.stored[f] != "" && a.stored[f] != a.hashes[f] {
			drift = append(drift, f)
		}
		return true
	}
	if diff("title") {
		req.Title = &d.title
		fields["title"] = [2]string{is.GetTitle(), d.title}
	}
	if diff("body") {
		fields["body"] = [2]string{"sha:" + a.hashes["body"], "sha:" + d.hashes["body"]}
	}
	if diff("labels") {
		next := slices.Clone(d.labels)
		for _, l := range curLabels {
			if !c.owned(l) {
				next = append(next, l) // people's own labels stay
			}
		}
		slices.Sort(next)
		req.Labels = next
		fields["labels"] = [2]string{strings.Join(c.ownedOf(curLabels), ", "), strings.Join(d.labels, ", ")}
	}
	if d.typ != "" && diff("type") {
		req.Type = &d.typ
		fields["type"] = [2]string{typeName(is), d.typ}
	}
	if len(fields) == 0 {
		return registry.EpicResult{Link: c.linkOf(rs, e), Writes: writes}, nil
	}
	// The body carries the state line: rewrite it with any change.
	req.Body = &d.body
	if _, ok := fields["body"]; !ok {
		fields["body"] = [2]string{"sha:" + a.hashes["body"], "sha:" + d.hashes["body"]}
	}
	if req.Labels != nil {
		lw, err := c.ensureLabels(ctx, rs.name, d.labels, dryRun)
		writes = append(writes, lw...)
		if err != nil {
			return registry.EpicResult{Writes: writes, Drift: drift}, err
		}
	}
	w := registry.Write{Kind: registry.WriteUpdate, Target: key, Fields: fields}
	if dryRun {
		return registry.EpicResult{Link: c.linkOf(rs, e), Writes: append(writes, w), Drift: drift}, nil
	}
	updated, _, err := c.gh.Issues.Update(ctx, owner, name, is.GetNumber(), req)
	if err != nil {
		return registry.EpicResult{Writes: writes, Drift: drift}, c.fail(op, err)
	}
	c.markOwn(key, updated.GetUpdatedAt().Time)
	c.index(rs, d.key, updated)
	if len(drift) > 0 {
		c.log.Info("github: overwrote a manual edit", "issue", key, "risk", d.key, "fields", drift)
	}
	return registry.EpicResult{Link: c.linkOf(rs, e), Writes: append(writes, w), Drift: drift}, nil
}

// index records an issue as an epic of risk key and returns its entry. An
// entry keeps its number; it moves when its marker names another risk.
func (c *Client) index(rs *repoState, key string, is *gh.Issue) *epicEntry {
	n := is.GetNumber()
	e := rs.byNumber[n]
	switch {
	case e == nil:
		e = &epicEntry{riskKey: key}
		rs.byNumber[n] = e
		rs.addRisk(e, n)
		if others := len(rs.byRisk[key]) - 1; others > 0 {
			c.log.Info("github: several epics carry one risk", "risk", key, "epic", registry.GitHubIssueKey(rs.name, n), "others", others)
		}
	case e.riskKey != key:
		rs.byRisk[e.riskKey] = slices.DeleteFunc(rs.byRisk[e.riskKey], func(x *epicEntry) bool { return x == e })
		e.riskKey = key
		rs.addRisk(e, n)
	}
	e.issue = is
	return e
}

// addRisk files e (issue n) under its risk, oldest (lowest number) first.
func (rs *repoState) addRisk(e *epicEntry, n int) {
	list := rs.byRisk[e.riskKey]
	i, _ := slices.BinarySearchFunc(list, n, func(x *epicEntry, n int) int { return x.issue.GetNumber() - n })
	rs.byRisk[e.riskKey] = slices.Insert(list, i, e)
}

// reindex refreshes an issue risksync just read or wrote, if it is an epic.
func (c *Client) reindex(rs *repoState, is *gh.Issue) {
	key := riskKeyOf(is.GetTitle(), is.GetBody())
	if e := rs.byNumber[is.GetNumber()]; e != nil {
		key = e.riskKey
	}
	if key != "" {
		c.index(rs, key, is)
	}
}

// refreshEpics lists the repository's issues labelled risk changed since
// the cursor, conditionally. Unless force, the listing is reused within a
// pass (until StartPass marks it stale), and for at most ListingMaxAge.
func (c *Client) refreshEpics(ctx context.Context, rs *repoState, force bool) error {
	if !force && rs.listedOnce && !rs.stale && c.now().Sub(rs.listedAt) < c.maxAge {
		return nil
	}
	q := url.Values{"labels": {labelRisk}, "state": {"all"}, "sort": {"updated"}, "direction": {"desc"}}
	if !rs.cursor.IsZero() {
		q.Set("since", rs.cursor.UTC().Format(time.RFC3339))
	}
	issues, _, date, err := c.listIssues(ctx, rs.name, q, "epics "+rs.name)
	if err != nil {
		return fmt.Errorf("list epics %s: %w", rs.name, err)
	}
	if !rs.listedOnce {
		// Child work older than this was read with the sub-issues.
		rs.childCursor = date.Add(-5 * time.Second)
	}
	rs.listedOnce, rs.listedAt, rs.stale = true, c.now(), false
	for _, is := range issues {
		if is.IsPullRequest() {
			continue
		}
		if t := is.GetUpdatedAt().Time; t.After(rs.cursor) {
			rs.cursor = t
		}
		if key := riskKeyOf(is.GetTitle(), is.GetBody()); key != "" {
			c.index(rs, key, is)
		}
	}
	return nil
}

// listIssues pages through GET /repos/{owner}/{repo}/issues. With
// conditional, the first page carries the ETag of the last identical
// request: a 304 (free against the rate limit) returns unchanged. date is
// the server's Date of the first page.
// slot names the listing for its ETag ("" for none); only the last URL of
// each slot is remembered, so cursors that move do not grow the cache.
func (c *Client) listIssues(ctx context.Context, repo string, q url.Values, slot string) (out []*gh.Issue, unchanged bool, date time.Time, err error) {
	conditional := slot != ""
	q.Set("per_page", "100")
	first := fmt.Sprintf("repos/%s/issues?%s", repo, q.Encode())
	u, etag := first, ""
	for page := 1; ; page++ {
		req, err := c.gh.NewRequest(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, false, date, err
		}
		if page == 1 && conditional {
			c.mu.Lock()
			if e := c.etags[slot]; e.url == first && e.etag != "" {
				req.Header.Set("If-None-Match", e.etag)
			}
			c.mu.Unlock()
		}
		var batch []*gh.Issue
		resp, err := c.gh.Do(req, &batch)
		if page == 1 && resp != nil {
			date = serverDate(resp.Response, c.now())
		}
		if err != nil {
			if page == 1 && notModified(err) {
				return nil, true, date, nil
			}
			return nil, false, date, err
		}
		if page == 1 {
			etag = resp.Header.Get("ETag")
		}
		out = append(out, batch...)
		if resp.NextPage == 0 {
			break
		}
		q.Set("page", strconv.Itoa(resp.NextPage))
		u = fmt.Sprintf("repos/%s/issues?%s", repo, q.Encode())
	}
	c.noteListed(repo, out)
	if conditional && etag != "" {
		c.mu.Lock()
		c.etags[slot] = etagEntry{url: first, etag: etag}
		c.mu.Unlock()
	}
	return out, false, date, nil
}

func serverDate(r *http.Response, fallback time.Time) time.Time {
	if r != nil {
		if t, err := http.ParseTime(r.Header.Get("Date")); err == nil {
			return t
		}
	}
	return fallback
}

// issueTypeFor returns the configured epic issue type when the owner
// organisation offers it (looked up once), else "".
func (c *Client) issueTypeFor(ctx context.Context, owner string) (string, error) {
	if c.epicType == "" {
		return "", nil
	}
	c.mu.Lock()
	types, ok := c.orgTypes[owner]
	c.mu.Unlock()
	if !ok {
		list, resp, err := c.gh.Organizations.ListIssueTypes(ctx, owner)
		switch {
		case err == nil:
			types = []string{}
			for _, t := range list {
				if t.IsEnabled == nil || t.GetIsEnabled() {
					types = append(types, t.GetName())
				}
			}
		case resp != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden):
			// A user account, an organisation without issue types, an
			// older GHES, or a token without organisation read access.
			c.log.Info("github: no issue types; epics are plain issues", "owner", owner, "status", resp.StatusCode)
			types = []string{}
		default:
			return "", c.fail("list issue types "+owner, err)
		}
		c.mu.Lock()
		c.orgTypes[owner] = types
		c.mu.Unlock()
	}
	for _, t := range types {
		if strings.EqualFold(t, c.epicType) {
			return t, nil
		}
	}
	return "", nil
}

// ensureLabels creates the missing labels of names, once per repository.
func (c *Client) ensureLabels(ctx context.Context, repo string, names []string, dryRun bool) ([]registry.Write, error) {
	owner, name, _ := splitRepo(repo)
	c.mu.Lock()
	have := c.repoLabels[repo]
	c.mu.Unlock()
	if have == nil {
		have = map[string]bool{}
		opt := &gh.ListOptions{PerPage: 100}
		for {
			ls, resp, err := c.gh.Issues.ListLabels(ctx, owner, name, opt)
			if err != nil {
				return nil, c.fail("list labels "+repo, err)
			}
			for _, l := range ls {
				have[strings.ToLower(l.GetName())] = true
			}
			if resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
		c.mu.Lock()
		c.repoLabels[repo] = have
		c.mu.Unlock()
	}
	var writes []registry.Write
	for _, n := range names {
		c.mu.Lock()
		ok := have[strings.ToLower(n)]
		c.mu.Unlock()
		if ok {
			continue
		}
		color := c.labelColor(n)
		writes = append(writes, registry.Write{Kind: registry.WriteLabel, Target: repo, Fields: map[string][2]string{"name": {"", n}, "color": {"", color}}})
		if dryRun {
			continue
		}
		_, _, err := c.gh.Issues.CreateLabel(ctx, owner, name, gh.CreateIssueLabelRequest{Name: n, Color: &color})
		var er *gh.ErrorResponse
		if err != nil && !(errors.As(err, &er) && statusOf(er.Response) == http.StatusUnprocessableEntity) {
			return writes, c.fail("create label "+n+" in "+repo, err)
		}
		c.mu.Lock()
		have[strings.ToLower(n)] = true // created, or it already existed (422)
		c.mu.Unlock()
	}
	return writes, nil
}

// CloseEpic closes an epic as not planned, with a comment first (so its
// updated_at is risksync's). An epic the pass's listing or GitHub shows
// closed is left as it is: no writes.
func (c *Client) CloseEpic(ctx context.Context, key, comment string, dryRun bool) ([]registry.Write, error) {
	return c.setEpicState(ctx, key, "closed", "not_planned", comment, dryRun)
}

// ReopenEpic reopens a closed epic, commenting first. An open epic is left
// as it is.
func (c *Client) ReopenEpic(ctx context.Context, key, comment string, dryRun bool) ([]registry.Write, error) {
	return c.setEpicState(ctx, key, "open", "", comment, dryRun)
}

// setEpicState answers from the pass's listing when it already shows state
// (no request); else it reads the issue and acts on what GitHub shows. The
// index takes the result, so PullBack reports the pass's own writes.
func (c *Client) setEpicState(ctx context.Context, key, state, reason, comment string, dryRun bool) ([]registry.Write, error) {
	repo, n, err := parseIssueKey(key)
	if err != nil {
		return nil, err
	}
	rs := c.repo(repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	op := map[string]string{"closed": "close", "open": "reopen"}[state] + " epic " + key
	if err := c.refreshEpics(ctx, rs, false); err != nil {
		return nil, c.fail(op, err)
	}
	if e := rs.byNumber[n]; e != nil && e.issue.GetState() == state {
		return nil, nil
	}
	writes, latest, err := c.setIssueState(ctx, op, repo, n, state, reason, comment, dryRun)
	if latest != nil {
		c.reindex(rs, latest)
	}
	return writes, err
}

// setIssueState reads issue n of repo and, unless it is in state already,
// comments (when comment is not empty) and sets state and reason. It
// returns the writes done (or planned, with dryRun) and the issue as GitHub
// last showed it. Callers hold the repository's lock.
func (c *Client) setIssueState(ctx context.Context, op, repo string, n int, state, reason, comment string, dryRun bool) ([]registry.Write, *gh.Issue, error) {
	owner, name, _ := splitRepo(repo)
	key := registry.GitHubIssueKey(repo, n)
	is, _, err := c.gh.Issues.Get(ctx, owner, name, n)
	if err != nil {
		return nil, nil, c.fail(op, err)
	}
	if is.GetState() == state {
		return nil, is, nil
	}
	var writes []registry.Write
	if comment != "" {
		writes = append(writes, registry.Write{Kind: registry.WriteComment, Target: key, Fields: map[string][2]string{"body": {"", comment}}})
	}
	kind := registry.WriteReopen
	if state == "closed" {
		kind = registry.WriteClose
	}
	w := registry.Write{Kind: kind, Target: key, Fields: map[string][2]string{"state": {is.GetState(), state}}}
	if reason != "" {
		w.Fields["state_reason"] = [2]string{is.GetStateReason(), reason}
	}
	writes = append(writes, w)
	if dryRun {
		return writes, is, nil
	}
	if comment != "" {
		if err := c.comment(ctx, repo, n, comment); err != nil {
			return nil, is, c.fail(op, err)
		}
	}
	req := gh.UpdateIssueRequest{State: &state}
	if reason != "" {
		req.StateReason = &reason
	}
	updated, _, err := c.gh.Issues.Update(ctx, owner, name, n, req)
	if err != nil {
		return writes[:len(writes)-1], is, c.fail(op, err)
	}
	c.markOwn(key, updated.GetUpdatedAt().Time)
	return writes, updated, nil
}

// Comment posts a comment on an issue (a postmortem or an epic).
func (c *Client) Comment(ctx context.Context, issueKey, body string) error {
	repo, n, err := parseIssueKey(issueKey)
	if err != nil {
		return err
	}
	return c.fail("comment on "+issueKey, c.comment(ctx, repo, n, body))
}

func (c *Client) comment(ctx context.Context, repo string, n int, body string) error {
	owner, name, _ := splitRepo(repo)
	sentAt := c.now()
	cm, _, err := c.gh.Issues.CreateComment(ctx, owner, name, n, gh.IssueCommentRequest{Body: body})
	if err != nil && unknownOutcome(err) {
		// Never post twice: look for the comment before reporting failure.
		if found, lerr := c.findComment(ctx, owner, name, n, body, sentAt); lerr == nil && found != nil {
			cm, err = found, nil
		}
	}
	if err != nil {
		return err
	}
	// A comment bumps the issue's updated_at to its own creation time.
	c.markOwn(registry.GitHubIssueKey(repo, n), cm.GetCreatedAt().Time)
	return nil
}

// findComment looks for risksync's comment with body, posted at or after since.
func (c *Client) findComment(ctx context.Context, owner, name string, n int, body string, since time.Time) (*gh.IssueComment, error) {
	login, err := c.self(ctx)
	if err != nil {
		return nil, err
	}
	ts := since.Add(-time.Minute) // the server's clock may lag ours
	opt := &gh.IssueListCommentsOptions{Since: &ts, ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		cms, resp, err := c.gh.Issues.ListComments(ctx, owner, name, n, opt)
		if err != nil {
			return nil, err
		}
		for _, cm := range cms {
			if cm.GetUser().GetLogin() == login && normalize(cm.GetBody()) == normalize(body) {
				return cm, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opt.Page = resp.NextPage
	}
}

func (c *Client) linkOf(rs *repoState, e *epicEntry) registry.Link {
	is := e.issue
	l := registry.Link{Tracker: registry.TrackerGitHub, Key: registry.GitHubIssueKey(rs.name, is.GetNumber()),
		URL: is.GetHTMLURL(), State: stateOfIssue(is, e.children), Current: true, CreatedAt: is.GetCreatedAt().Time}
	if e.last != nil {
		l.ChildrenTotal, l.ChildrenDone = e.last.Link.ChildrenTotal, e.last.Link.ChildrenDone
		l.LastActivityAt = e.last.Link.LastActivityAt
	}
	return l
}

func labelNames(is *gh.Issue) []string {
	out := make([]string, 0, len(is.Labels))
	for _, l := range is.Labels {
		out = append(out, l.GetName())
	}
	return out
}

func typeName(is *gh.Issue) string {
	if is.Type == nil {
		return ""
	}
	return is.Type.GetName()
}
