package jira

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Postmortems returns the issues carrying the postmortem label in the
// configured projects whose `updated` is at or after since (precisely: the
// JQL window is wider, see jqlSince). Body is the description as text with
// tables as "| a | b |" lines.
func (c *Client) Postmortems(ctx context.Context, since time.Time) ([]registry.Postmortem, error) {
	projects := c.cfg.Postmortem.Projects
	if len(projects) == 0 {
		return nil, nil
	}
	label := c.cfg.Postmortem.Label
	if label == "" {
		label = "postmortem"
	}
	me, err := c.myself(ctx)
	if err != nil {
		return nil, err
	}
	jql := fmt.Sprintf("project in (%s) AND labels = %s", quoteAll(projects), quote(label))
	if !since.IsZero() {
		jql += " AND updated >= " + jqlSince(since, me)
	}
	jql += " ORDER BY updated ASC"
	issues, err := c.search(ctx, "search postmortems", jql, []string{"summary", "description", "status", "updated", "labels"}, "")
	if err != nil {
		return nil, err
	}
	var out []registry.Postmortem
	for _, is := range issues {
		f := is.Fields
		if f == nil {
			continue
		}
		up := time.Time(f.Updated)
		if !since.IsZero() && up.Before(since) {
			continue // inside the overlap: seen before
		}
		out = append(out, registry.Postmortem{
			Tracker: registry.TrackerJira, Key: is.Key, URL: c.issueURL(is.Key), Title: f.Summary,
			Body: DescriptionText(f.Description), UpdatedAt: up.UTC(),
			Closed: f.Status != nil && f.Status.StatusCategory.Key == "done",
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UpdatedAt.Before(out[j].UpdatedAt) })
	c.notePostmortems(out)
	return out, nil
}
