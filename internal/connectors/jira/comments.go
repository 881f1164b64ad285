package jira

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// pmSeen caches the postmortems Postmortems returned (key → updated), so
// Comments reads the comments of those that moved. Lost, a restarted client
// learns them again from the next postmortem search.
type pmSeen struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (c *Client) notePostmortems(pms []registry.Postmortem) {
	c.pms.mu.Lock()
	defer c.pms.mu.Unlock()
	if c.pms.m == nil {
		c.pms.m = map[string]time.Time{}
	}
	for _, pm := range pms {
		c.pms.m[pm.Key] = pm.UpdatedAt
	}
}

// PostmortemTargets lists the projects postmortems are read from.
func (c *Client) PostmortemTargets() []string { return c.cfg.Postmortem.Projects }

// Comments returns comments on the project's risk epics and postmortems
// updated since. Which issues to read comes from the pass's own searches
// (their `updated`: a comment bumps it), so only issues that changed cost
// a request (GET /rest/api/2/issue/{key}/comment), and a quiet project none.
func (c *Client) Comments(ctx context.Context, project string, since time.Time) ([]registry.TrackerComment, time.Time, error) {
	started := c.now()
	var keys []string
	newest := since
	c.mu.Lock()
	if st := c.projects[project]; st != nil {
		for k, e := range st.epics {
			if e.Updated.After(since) {
				keys = append(keys, k)
				newest = maxTime(newest, e.Updated)
			}
		}
	}
	c.mu.Unlock()
	c.pms.mu.Lock()
	for k, up := range c.pms.m {
		if up.After(since) && strings.EqualFold(projectOfKey(k), project) && !contains(keys, k) {
			keys = append(keys, k)
			newest = maxTime(newest, up)
		}
	}
	c.pms.mu.Unlock()
	if len(keys) == 0 {
		return nil, since, nil
	}
	sort.Strings(keys)
	me, err := c.myself(ctx)
	if err != nil {
		return nil, since, err
	}
	var out []registry.TrackerComment
	for _, k := range keys {
		cms, err := c.issueComments(ctx, k)
		if err != nil {
			return nil, since, err
		}
		for _, cm := range cms {
			up, _ := parseJiraTime(cm.Updated)
			created, _ := parseJiraTime(cm.Created)
			if up.IsZero() {
				up = created
			}
			if up.Before(since) {
				continue
			}
			author := cm.Author.AccountID
			if author == "" {
				author = cm.Author.Name // Data Center
			}
			own := (me.ID != "" && cm.Author.AccountID == me.ID) || (me.Name != "" && cm.Author.Name == me.Name)
			out = append(out, registry.TrackerComment{Tracker: registry.TrackerJira, ID: cm.ID, IssueKey: k, Author: author, Own: own,
				Body: strings.ReplaceAll(cm.Body, "\r\n", "\n"), CreatedAt: created, UpdatedAt: up})
		}
	}
	// A comment in the last two seconds may race the search: read it again.
	if limit := started.Add(-2 * time.Second); newest.After(limit) {
		newest = maxTime(since, limit)
	}
	return out, newest, nil
}

type jiraComment struct {
	ID      string `json:"id"`
	Body    string `json:"body"`
	Created string `json:"created"`
	Updated string `json:"updated"`
	Author  struct {
		AccountID string `json:"accountId"`
		Name      string `json:"name"`
	} `json:"author"`
}

func (c *Client) issueComments(ctx context.Context, key string) ([]jiraComment, error) {
	var all []jiraComment
	for start := 0; ; {
		var page struct {
			Comments   []jiraComment `json:"comments"`
			StartAt    int           `json:"startAt"`
			MaxResults int           `json:"maxResults"`
			Total      int           `json:"total"`
		}
		path := "rest/api/2/issue/" + url.PathEscape(key) + "/comment?orderBy=created&maxResults=100&startAt=" + strconv.Itoa(start)
		if err := c.doJSON(ctx, "read comments of "+key, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Comments...)
		start += len(page.Comments)
		if len(page.Comments) == 0 || start >= page.Total {
			return all, nil
		}
	}
}

// CanEdit asks Jira whether author holds Edit Issues on the issue:
// GET /rest/api/2/user/permission/search?permissions=EDIT_ISSUES&issueKey=…
// with accountId (Cloud) or username (Data Center). mypermissions answers
// only for the caller, never for another user.
func (c *Client) CanEdit(ctx context.Context, issueKey, author string) (bool, error) {
	cloud, err := c.isCloud(ctx)
	if err != nil {
		return false, err
	}
	q := url.Values{"permissions": {"EDIT_ISSUES"}, "issueKey": {issueKey}, "maxResults": {"10"}}
	if cloud {
		q.Set("accountId", author)
	} else {
		q.Set("username", author)
	}
	var users []struct {
		AccountID string `json:"accountId"`
		Name      string `json:"name"`
	}
	if err := c.doJSON(ctx, "read permission of "+author+" on "+issueKey, http.MethodGet, "rest/api/2/user/permission/search?"+q.Encode(), nil, &users); err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, err
	}
	for _, u := range users {
		if (cloud && u.AccountID == author) || (!cloud && strings.EqualFold(u.Name, author)) {
			return true, nil
		}
	}
	return false, nil
}
