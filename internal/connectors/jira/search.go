package jira

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/risksync/risksync/internal/connectors/trackerhttp"
)

const (
	pageSize = 100
	maxPages = 500 // a runaway pagination bound: 50,000 issues
	// searchOverlap widens every "updated >=" window: JQL reads dates to the
	// minute, clocks drift and search results lag behind writes. Precise
	// `updated` values are compared afterwards, so overlap costs nothing.
	searchOverlap = 2 * time.Minute
	maxReconcile  = 50 // Jira accepts at most 50 reconcileIssues
	// maxGetJQL: longer queries (many parent keys) go in a POST body, which
	// has no URL length limit.
	maxGetJQL = 1500
)

// search runs one JQL query to the last page. Cloud uses /search/jql with
// nextPageToken (the old /search answers 410 there); Data Center keeps the
// old /search with startAt.
func (c *Client) search(ctx context.Context, op, jql string, fields []string, expand string) ([]gojira.Issue, error) {
	cloud, err := c.isCloud(ctx)
	if err != nil {
		return nil, err
	}
	var out []gojira.Issue
	if len(jql) > maxGetJQL {
		return c.searchPost(ctx, op, jql, fields, expand, cloud)
	}
	if cloud {
		opts := &gojira.SearchOptionsV2{MaxResults: pageSize, Fields: fields, Expand: expand, ReconcileIssues: c.reconcileIDs()}
		for page := 0; ; page++ {
			if page == maxPages {
				return nil, fmt.Errorf("jira: %s: more than %d pages", op, maxPages)
			}
			issues, resp, err := c.jc.Issue.SearchV2JQLWithContext(ctx, jql, opts)
			if err != nil {
				return nil, c.finish(op, resp, err, nil)
			}
			out = append(out, issues...)
			if resp == nil || resp.IsLast || resp.NextPageToken == "" || resp.NextPageToken == opts.NextPageToken {
				return out, nil
			}
			opts.NextPageToken = resp.NextPageToken
		}
	}
	opts := &gojira.SearchOptions{MaxResults: pageSize, Fields: fields, Expand: expand}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("jira: %s: more than %d pages", op, maxPages)
		}
		issues, resp, err := c.jc.Issue.SearchWithContext(ctx, jql, opts)
		if err != nil {
			return nil, c.finish(op, resp, err, nil)
		}
		out = append(out, issues...)
		if len(issues) == 0 || resp == nil || opts.StartAt+len(issues) >= resp.Total {
			return out, nil
		}
		opts.StartAt += len(issues)
	}
}

// reconcileIDs lists issues risksync created recently: /search/jql may not
// show them yet, reconcileIssues makes it.
func (c *Client) reconcileIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	horizon := c.now().Add(-time.Hour) // search has long caught up by then
	var ids []int
	for rk, ci := range c.created {
		if !ci.At.After(horizon) {
			delete(c.created, rk)
			continue
		}
		if ci.ID > 0 {
			ids = append(ids, ci.ID)
		}
	}
	if len(ids) > maxReconcile {
		// keep the newest ids; order by id, which grows with creation
		sortInts(ids)
		ids = ids[len(ids)-maxReconcile:]
	}
	sortInts(ids)
	return ids
}

func sortInts(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// quote makes a JQL string literal.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// jqlSince renders the lower bound of an "updated >=" window. JQL reads
// "yyyy-MM-dd HH:mm" in the searching user's time zone and to the minute, so
// the bound is moved back by the overlap and floored to the minute there.
func jqlSince(t time.Time, me *account) string {
	loc := time.UTC
	overlap := searchOverlap
	if me != nil && me.TZ != nil {
		loc = me.TZ
	}
	if me == nil || me.TZ == nil || me.TZ == time.UTC && !me.tzKnown {
		overlap += 26 * time.Hour // zone unknown: cover every offset
	}
	return quote(t.Add(-overlap).In(loc).Truncate(time.Minute).Format("2006-01-02 15:04"))
}

// searchPost is search with the query in a POST body (go-jira only GETs).
// A search changes nothing, so it may be repeated like a GET.
func (c *Client) searchPost(ctx context.Context, op, jql string, fields []string, expand string, cloud bool) ([]gojira.Issue, error) {
	ctx = trackerhttp.WithSafeRetry(ctx)
	var out []gojira.Issue
	if cloud {
		body := map[string]any{"jql": jql, "maxResults": pageSize, "fields": fields}
		if expand != "" {
			body["expand"] = expand
		}
		if ids := c.reconcileIDs(); len(ids) > 0 {
			body["reconcileIssues"] = ids
		}
		for page := 0; page < maxPages; page++ {
			var res struct {
				Issues        []gojira.Issue `json:"issues"`
				NextPageToken string         `json:"nextPageToken"`
				IsLast        bool           `json:"isLast"`
			}
			if err := c.doJSON(ctx, op, http.MethodPost, "rest/api/2/search/jql", body, &res); err != nil {
				return nil, err
			}
			out = append(out, res.Issues...)
			if res.IsLast || res.NextPageToken == "" || res.NextPageToken == body["nextPageToken"] {
				return out, nil
			}
			body["nextPageToken"] = res.NextPageToken
		}
		return nil, fmt.Errorf("jira: %s: more than %d pages", op, maxPages)
	}
	body := map[string]any{"jql": jql, "maxResults": pageSize, "fields": fields, "startAt": 0}
	if expand != "" {
		body["expand"] = []string{expand}
	}
	for page := 0; page < maxPages; page++ {
		var res struct {
			Issues []gojira.Issue `json:"issues"`
			Total  int            `json:"total"`
		}
		if err := c.doJSON(ctx, op, http.MethodPost, "rest/api/2/search", body, &res); err != nil {
			return nil, err
		}
		out = append(out, res.Issues...)
		next := body["startAt"].(int) + len(res.Issues)
		if len(res.Issues) == 0 || next >= res.Total {
			return out, nil
		}
		body["startAt"] = next
	}
	return nil, fmt.Errorf("jira: %s: more than %d pages", op, maxPages)
}
