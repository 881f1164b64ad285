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
	"github.com/risksync/risksync/internal/scoring"
)

// Epic is the desired state of one risk's epic.
type Epic struct {
	Repo        string         // "owner/name" the epic lives in
	Risk        *registry.Risk // key, title, description, ratings, owner, status, last review, score
	Band        *scoring.Band  // nil when unscored: label risk:unscored, no priority label
	Explanation string         // scoring explanation line rendered in the body
}

// Result of EnsureEpic.
type Result struct {
	// Link has the epic's key, URL and state; ChildrenTotal/Done and
	// LastActivityAt are those of the last PullBack (zero before one).
	Link   registry.Link
	Writes []Write // sent, or planned when dryRun
	// Drift lists registry-owned fields (title, body, labels, type) that a
	// person changed in GitHub since risksync's last write, and that this
	// call overwrote (or would overwrite): the engine comments once about it.
	Drift []string
}

// Write is one tracker write, for the dry-run plan and history.
type Write struct {
	Kind   string               // create | update | comment | close | reopen | label
	Target string               // "owner/repo" or "owner/repo#12"
	Fields map[string][2]string // field: old, new
}

// Write kinds.
const (
	WriteCreate  = "create"
	WriteUpdate  = "update"
	WriteComment = "comment"
	WriteClose   = "close"
	WriteReopen  = "reopen"
	WriteLabel   = "label"
)

// repoState is the in-memory index of one repository's epics and the
// cursors of its incremental listings.
type repoState struct {
	mu          sync.Mutex
	name        string
	listedOnce  bool
	listedAt    time.Time
	cursor      time.Time // newest updated_at in the epic listing
	childCursor time.Time // newest updated_at in the all-issues listing
	epics       map[string]*epicEntry
	byNumber    map[int]*epicEntry
	children    map[int]int // child issue number (this repo) → epic number
	childSeen   map[int]time.Time
}

type epicEntry struct {
	riskKey string
	issue   *gh.Issue
	// What the last PullBack saw and computed.
	pulled        time.Time
	pulledState   string
	flagged       bool // child work moved since
	children      []child
	stateChangeAt time.Time
	last          *EpicState
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
		rs = &repoState{name: name, epics: map[string]*epicEntry{}, byNumber: map[int]*epicEntry{},
			children: map[int]int{}, childSeen: map[int]time.Time{}}
		c.repos[name] = rs
	}
	return rs
}

// EnsureEpic finds the risk's epic (adopting one found by its marker) or
// creates it, and brings title, body, labels and issue type to the desired
// values. It never changes the epic's open/closed state (see CloseEpic,
// ReopenEpic). With dryRun it returns the planned writes and sends none.
func (c *Client) EnsureEpic(ctx context.Context, want Epic, dryRun bool) (Result, error) {
	if want.Risk == nil || want.Risk.Key == "" {
		return Result{}, registry.Errorf(registry.EINVALID, "github: ensure epic: no risk")
	}
	owner, _, err := splitRepo(want.Repo)
	if err != nil {
		return Result{}, err
	}
	op := fmt.Sprintf("ensure epic %s %s", want.Repo, want.Risk.Key)
	rs := c.repo(want.Repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()

	typ, err := c.issueTypeFor(ctx, owner)
	if err != nil {
		return Result{}, err
	}
	d := c.render(want, typ)
	if _, err := c.refreshEpics(ctx, rs, false); err != nil {
		return Result{}, c.fail(op, err)
	}
	if e := rs.epics[d.key]; e != nil {
		return c.updateEpic(ctx, rs, e, d, nil, dryRun)
	}
	return c.createEpic(ctx, rs, d, dryRun)
}

func (c *Client) createEpic(ctx context.Context, rs *repoState, d desired, dryRun bool) (Result, error) {
	owner, name, _ := splitRepo(rs.name)
	op := fmt.Sprintf("create epic %s %s", rs.name, d.key)
	writes, err := c.ensureLabels(ctx, rs.name, d.labels, dryRun)
	if err != nil {
		return Result{Writes: writes}, err
	}
	w := Write{Kind: WriteCreate, Target: rs.name, Fields: map[string][2]string{
		"title": {"", d.title}, "labels": {"", strings.Join(d.labels, ", ")}, "body": {"", "sha:" + d.hashes["body"]}}}
	if d.typ != "" {
		w.Fields["type"] = [2]string{"", d.typ}
	}
	if dryRun {
		return Result{Link: registry.Link{Tracker: registry.TrackerGitHub, State: registry.LinkOpen, Current: true},
			Writes: append(writes, w)}, nil
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
			c.index(rs, d.key, is)
			c.log.Info("github: created epic", "risk", d.key, "issue", key)
			w.Target = key
			return Result{Link: c.linkOf(rs, rs.epics[d.key]), Writes: append(writes, w)}, nil
		}
		if !unknownOutcome(err) || attempt == 3 {
			return Result{Writes: writes}, c.fail(op, err)
		}
		// The create may have happened: look again before creating.
		c.log.Warn("github: create outcome unknown; looking for the epic before retrying", "risk", d.key, "error", err)
		if _, lerr := c.refreshEpics(ctx, rs, true); lerr != nil {
			return Result{Writes: writes}, c.fail(op, errors.Join(err, lerr))
		}
		if e := rs.epics[d.key]; e != nil {
			// Ours if it is exactly what we sent.
			a := c.observe(e.issue.GetTitle(), e.issue.GetBody(), labelNames(e.issue), typeName(e.issue))
			if a.hashes["body"] == d.hashes["body"] && a.hashes["title"] == d.hashes["title"] {
				c.markOwn(registry.GitHubIssueKey(rs.name, e.issue.GetNumber()), e.issue.GetUpdatedAt().Time)
			}
			w.Target = registry.GitHubIssueKey(rs.name, e.issue.GetNumber())
			return c.updateEpic(ctx, rs, e, d, append(writes, w), false)
		}
	}
}

func (c *Client) updateEpic(ctx context.Context, rs *repoState, e *epicEntry, d desired, writes []Write, dryRun bool) (Result, error) {
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
		return Result{Link: c.linkOf(rs, e), Writes: writes}, nil
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
			return Result{Writes: writes, Drift: drift}, err
		}
	}
	w := Write{Kind: WriteUpdate, Target: key, Fields: fields}
	if dryRun {
		return Result{Link: c.linkOf(rs, e), Writes: append(writes, w), Drift: drift}, nil
	}
	updated, _, err := c.gh.Issues.Update(ctx, owner, name, is.GetNumber(), req)
	if err != nil {
		return Result{Writes: writes, Drift: drift}, c.fail(op, err)
	}
	c.markOwn(key, updated.GetUpdatedAt().Time)
	c.index(rs, d.key, updated)
	if len(drift) > 0 {
		c.log.Info("github: overwrote a manual edit", "issue", key, "risk", d.key, "fields", drift)
	}
	return Result{Link: c.linkOf(rs, e), Writes: append(writes, w), Drift: drift}, nil
}

// index records an issue as the epic of risk key.
func (c *Client) index(rs *repoState, key string, is *gh.Issue) {
	if e := rs.epics[key]; e != nil && e.issue.GetNumber() != is.GetNumber() {
		// Two issues claim one risk (made by hand, or before risksync
		// looked): keep the older, report the other.
		keep, other := e.issue, is
		if is.GetNumber() < keep.GetNumber() {
			keep, other = is, keep
		}
		c.log.Warn("github: two epics carry one risk; using the older", "risk", key,
			"epic", registry.GitHubIssueKey(rs.name, keep.GetNumber()), "duplicate", registry.GitHubIssueKey(rs.name, other.GetNumber()))
		if keep == e.issue {
			return
		}
		delete(rs.byNumber, e.issue.GetNumber())
		e.issue = is
		rs.byNumber[is.GetNumber()] = e
		return
	}
	e := rs.epics[key]
	if e == nil {
		e = &epicEntry{riskKey: key}
		rs.epics[key] = e
	}
	e.issue = is
	rs.byNumber[is.GetNumber()] = e
}

// refreshEpics lists the repository's issues labelled risk changed since
// the cursor, conditionally. Unless force, a listing younger than
// ListingMaxAge is reused. It reports whether it sent a request.
func (c *Client) refreshEpics(ctx context.Context, rs *repoState, force bool) (bool, error) {
	if !force && rs.listedOnce && c.now().Sub(rs.listedAt) < c.maxAge {
		return false, nil
	}
	q := url.Values{"labels": {labelRisk}, "state": {"all"}, "sort": {"updated"}, "direction": {"desc"}}
	if !rs.cursor.IsZero() {
		q.Set("since", rs.cursor.UTC().Format(time.RFC3339))
	}
	issues, _, date, err := c.listIssues(ctx, rs.name, q, "epics "+rs.name)
	if err != nil {
		return true, fmt.Errorf("list epics %s: %w", rs.name, err)
	}
	if !rs.listedOnce {
		// Child work older than this was read with the sub-issues.
		rs.childCursor = date.Add(-5 * time.Second)
	}
	rs.listedOnce, rs.listedAt = true, c.now()
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
	return true, nil
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
func (c *Client) ensureLabels(ctx context.Context, repo string, names []string, dryRun bool) ([]Write, error) {
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
	var writes []Write
	for _, n := range names {
		c.mu.Lock()
		ok := have[strings.ToLower(n)]
		c.mu.Unlock()
		if ok {
			continue
		}
		color := c.labelColor(n)
		writes = append(writes, Write{Kind: WriteLabel, Target: repo, Fields: map[string][2]string{"name": {"", n}, "color": {"", color}}})
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

// CloseEpic closes an epic with a comment first (so its updated_at is
// risksync's). stateReason is not_planned (accepted, retired, moved) or
// completed. An epic already closed is left as it is: no writes.
func (c *Client) CloseEpic(ctx context.Context, key, stateReason, comment string, dryRun bool) ([]Write, error) {
	if stateReason != "not_planned" && stateReason != "completed" {
		return nil, registry.Errorf(registry.EINVALID, "github: close %s: state reason %q: use not_planned or completed", key, stateReason)
	}
	return c.setState(ctx, key, "closed", stateReason, comment, dryRun)
}

// ReopenEpic reopens a closed epic, commenting first. An open epic is left
// as it is.
func (c *Client) ReopenEpic(ctx context.Context, key, comment string, dryRun bool) ([]Write, error) {
	return c.setState(ctx, key, "open", "", comment, dryRun)
}

func (c *Client) setState(ctx context.Context, key, state, reason, comment string, dryRun bool) ([]Write, error) {
	repo, n, err := parseIssueKey(key)
	if err != nil {
		return nil, err
	}
	owner, name, _ := splitRepo(repo)
	verb := map[string]string{"closed": WriteClose, "open": WriteReopen}[state]
	op := verb + " epic " + key
	rs := c.repo(repo)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	is, _, err := c.gh.Issues.Get(ctx, owner, name, n)
	if err != nil {
		return nil, c.fail(op, err)
	}
	if is.GetState() == state {
		return nil, nil
	}
	var writes []Write
	if comment != "" {
		writes = append(writes, Write{Kind: WriteComment, Target: key, Fields: map[string][2]string{"body": {"", comment}}})
	}
	w := Write{Kind: verb, Target: key, Fields: map[string][2]string{"state": {is.GetState(), state}}}
	if reason != "" {
		w.Fields["state_reason"] = [2]string{is.GetStateReason(), reason}
	}
	writes = append(writes, w)
	if dryRun {
		return writes, nil
	}
	if comment != "" {
		if err := c.comment(ctx, repo, n, comment); err != nil {
			return nil, c.fail(op, err)
		}
	}
	req := gh.UpdateIssueRequest{State: &state}
	if reason != "" {
		req.StateReason = &reason
	}
	updated, _, err := c.gh.Issues.Update(ctx, owner, name, n, req)
	if err != nil {
		return writes[:len(writes)-1], c.fail(op, err)
	}
	c.markOwn(key, updated.GetUpdatedAt().Time)
	c.mu.Lock()
	c.ownState[key] = updated.GetState() + "/" + updated.GetStateReason()
	c.mu.Unlock()
	if rk := riskKeyOf(updated.GetTitle(), updated.GetBody()); rk != "" {
		c.index(rs, rk, updated)
	}
	return writes, nil
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
