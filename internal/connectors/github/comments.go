package github

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/registry"
)

// commentCache says, per repository, what the pass's own listings showed,
// so Comments asks GitHub only where an issue moved. Lost (a restart), each
// repository's comments are listed once.
type commentCache struct {
	mu sync.Mutex
	// newest is the newest updated_at any issue listing showed (a comment
	// bumps its issue's updated_at).
	newest map[string]time.Time
	// postmortems holds the postmortem issues seen, by key.
	postmortems map[string]bool
}

func (cc *commentCache) init() {
	if cc.newest == nil {
		cc.newest, cc.postmortems = map[string]time.Time{}, map[string]bool{}
	}
}

// noteListed records a listing's issues (called by listIssues).
func (c *Client) noteListed(repo string, issues []*gh.Issue) {
	c.cmts.mu.Lock()
	defer c.cmts.mu.Unlock()
	c.cmts.init()
	key := strings.ToLower(repo)
	if _, ok := c.cmts.newest[key]; !ok {
		c.cmts.newest[key] = time.Time{}
	}
	for _, is := range issues {
		if t := is.GetUpdatedAt().Time; t.After(c.cmts.newest[key]) {
			c.cmts.newest[key] = t
		}
	}
}

func (c *Client) notePostmortems(pms []registry.Postmortem) {
	c.cmts.mu.Lock()
	defer c.cmts.mu.Unlock()
	c.cmts.init()
	for _, pm := range pms {
		c.cmts.postmortems[pm.Key] = true
	}
}

// PostmortemTargets lists the repositories postmortems are read from.
func (c *Client) PostmortemTargets() []string { return c.cfg.Postmortem.Repos }

// Comments returns comments on the repository's risk epics and postmortems
// updated since, with one listing of the repository's comments
// (GET /repos/{owner}/{repo}/issues/comments?since=), sent only when this
// pass's issue listings showed an issue changed after since. next is the
// cursor for the next call.
func (c *Client) Comments(ctx context.Context, repo string, since time.Time) ([]registry.TrackerComment, time.Time, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, since, err
	}
	c.cmts.mu.Lock()
	c.cmts.init()
	newest, listed := c.cmts.newest[strings.ToLower(repo)]
	c.cmts.mu.Unlock()
	if listed && !newest.After(since) {
		return nil, since, nil // no issue moved: no comment is new
	}
	login, err := c.self(ctx)
	if err != nil {
		return nil, since, c.fail("list comments "+repo, err)
	}
	opt := &gh.IssueListCommentsOptions{Sort: gh.Ptr("updated"), Direction: gh.Ptr("asc"), Since: &since, ListOptions: gh.ListOptions{PerPage: 100}}
	var out []registry.TrackerComment
	started, next := c.now(), since
	for {
		cms, resp, err := c.gh.Issues.ListComments(ctx, owner, name, 0, opt)
		if err != nil {
			return nil, since, c.fail("list comments "+repo, err)
		}
		for _, cm := range cms {
			if t := cm.GetUpdatedAt().Time; t.After(next) {
				next = t
			}
			r, n, ok := parseIssueURL(cm.GetIssueURL())
			if !ok {
				continue
			}
			key := registry.GitHubIssueKey(r, n)
			if !c.readsIssue(r, n, key) {
				continue // an issue that is neither a risk's epic nor a postmortem
			}
			out = append(out, registry.TrackerComment{Tracker: registry.TrackerGitHub, ID: strconv.FormatInt(cm.GetID(), 10), IssueKey: key,
				Author: cm.GetUser().GetLogin(), Own: strings.EqualFold(cm.GetUser().GetLogin(), login), Body: normalize(cm.GetBody()),
				CreatedAt: cm.GetCreatedAt().Time, UpdatedAt: cm.GetUpdatedAt().Time})
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	// Everything the listings showed up to now has been read; a comment
	// posted in the listing's own second (or two, for clock skew) is read
	// again next time.
	if newest.After(next) {
		next = newest
	}
	if limit := started.Add(-2 * time.Second); next.After(limit) {
		next = limit
	}
	if next.Before(since) {
		next = since
	}
	return out, next, nil
}

func (c *Client) readsIssue(repo string, n int, key string) bool {
	c.cmts.mu.Lock()
	pm := c.cmts.postmortems[key]
	c.cmts.mu.Unlock()
	if pm {
		return true
	}
	c.mu.Lock()
	rs := c.repos[repo]
	c.mu.Unlock()
	if rs == nil {
		return false
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.byNumber[n] != nil
}

// CanEdit asks GitHub for author's permission on the issue's repository
// (GET /repos/{owner}/{repo}/collaborators/{username}/permission): write
// or higher may edit. A user GitHub does not know may not.
func (c *Client) CanEdit(ctx context.Context, issueKey, author string) (bool, error) {
	repo, _, err := parseIssueKey(issueKey)
	if err != nil {
		return false, err
	}
	owner, name, _ := splitRepo(repo)
	p, _, err := c.gh.Repositories.GetPermissionLevel(ctx, owner, name, author)
	if err != nil {
		if errStatus(err) == http.StatusNotFound {
			return false, nil
		}
		return false, c.fail("read permission of "+author+" on "+repo, err)
	}
	switch p.GetPermission() {
	case "admin", "write", "maintain":
		return true, nil
	}
	return false, nil
}
