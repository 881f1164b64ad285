package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/risksync/risksync/internal/registry"
)

type transition struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	To   struct {
		Name           string `json:"name"`
		StatusCategory struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	} `json:"to"`
	Fields map[string]struct {
		Required      bool     `json:"required"`
		AllowedValues []idName `json:"allowedValues"`
	} `json:"fields"`
}

// Resolutions preferred when risksync closes an epic for an accepted or
// retired risk, in order.
var closeResolutions = []string{"Won't Do", "Won't Fix", "Declined", "Obsolete"}

// CloseEpic moves an epic into a status of category done, with resolution
// "Won't Do" where the transition offers one, and comments in the same
// request. An epic already done is left alone: when the pass's mirror shows
// it done (a person closed it), without a request.
func (c *Client) CloseEpic(ctx context.Context, key, comment string, dryRun bool) ([]registry.Write, error) {
	return c.moveTo(ctx, key, "done", registry.WriteClose, comment, dryRun)
}

// ReopenEpic moves an epic back into a status of category new, with a
// comment. An epic already there is left alone, as CloseEpic does.
func (c *Client) ReopenEpic(ctx context.Context, key, comment string, dryRun bool) ([]registry.Write, error) {
	return c.moveTo(ctx, key, "new", registry.WriteReopen, comment, dryRun)
}

func (c *Client) moveTo(ctx context.Context, key, category string, kind registry.WriteKind, comment string, dryRun bool) ([]registry.Write, error) {
	c.op.Lock()
	defer c.op.Unlock()
	op := fmt.Sprintf("move %s to category %s", key, category)
	st, e, fresh := c.mirrored(key)
	if e != nil && fresh && e.StatusCat == category {
		return nil, nil
	}
	opts := &gojira.GetQueryOptions{Fields: "status,resolution"}
	if e != nil {
		// Read what the mirror keeps, so the snapshot can be replaced.
		opts = &gojira.GetQueryOptions{Fields: strings.Join(searchFields, ","), Expand: "changelog"}
	}
	issue, resp, err := c.jc.Issue.GetWithContext(ctx, key, opts)
	if err != nil {
		return nil, c.finish("read "+key, resp, err, nil)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	rk := ""
	if e != nil {
		rk = e.RiskKey
		if issue.Fields != nil && issue.Key == e.Key {
			e = snapOf(issue, rk)
			st.put(e)
		}
	}
	cur := ""
	if issue.Fields != nil && issue.Fields.Status != nil {
		cur = issue.Fields.Status.StatusCategory.Key
	}
	if cur == category {
		return nil, nil
	}
	var ts struct {
		Transitions []transition `json:"transitions"`
	}
	path := "rest/api/2/issue/" + url.PathEscape(key) + "/transitions?expand=transitions.fields"
	if err := c.doJSON(ctx, "list transitions of "+key, http.MethodGet, path, nil, &ts); err != nil {
		return nil, err
	}
	var pick *transition
	var resolution string
	for i := range ts.Transitions {
		t := &ts.Transitions[i]
		if t.To.StatusCategory.Key != category {
			continue
		}
		res := ""
		if f, ok := t.Fields["resolution"]; ok && category == "done" {
			res = pickResolution(f.AllowedValues)
			if res == "" && f.Required && len(f.AllowedValues) > 0 {
				res = f.AllowedValues[0].Name // the screen insists; the comment says why
			}
		}
		// Prefer a transition that can record "Won't Do".
		if pick == nil || (resolution == "" && res != "") {
			pick, resolution = t, res
		}
	}
	if pick == nil {
		var names []string
		for _, t := range ts.Transitions {
			names = append(names, fmt.Sprintf("%s → %s (%s)", t.Name, t.To.Name, t.To.StatusCategory.Key))
		}
		return nil, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op,
			Err: fmt.Errorf("no transition from the current status leads to a status of category %s (offered: %s)", category, strings.Join(names, "; ")),
			Fix: "add such a transition to the epic workflow, or move the epic by hand"}
	}
	w := registry.Write{Kind: kind, Risk: rk, Tracker: registry.TrackerJira, Target: key,
		Fields: map[string][2]string{"status": {issueStatus(issue), pick.To.Name}}}
	if resolution != "" {
		w.Fields["resolution"] = [2]string{"", resolution}
	}
	if comment != "" {
		w.Fields["comment"] = [2]string{"", short(comment)}
	}
	if dryRun {
		return []registry.Write{w}, nil
	}
	payload := map[string]any{"transition": map[string]string{"id": pick.ID}}
	if resolution != "" {
		payload["fields"] = map[string]any{"resolution": map[string]string{"name": resolution}}
	}
	if comment != "" {
		payload["update"] = map[string]any{"comment": []map[string]any{{"add": map[string]string{"body": comment}}}}
	}
	resp, err = c.jc.Issue.DoTransitionWithPayloadWithContext(ctx, key, payload)
	if err := c.finish(op, resp, err, nil); err != nil {
		return nil, err
	}
	if e != nil {
		c.recordMove(e, pick, resolution)
	}
	c.log.Info("jira: transitioned epic", "issue", key, "to", pick.To.Name, "resolution", resolution)
	return []registry.Write{w}, nil
}

// recordMove applies risksync's own transition to the mirror, so the rest of
// the pass (PullBack above all) does not read the state from before it. The
// changelog entry is risksync's, as Jira will record it: activity and the
// closer stay right. Updated is left alone, so the next search's version of
// the epic replaces this one.
func (c *Client) recordMove(e *epicSnap, t *transition, resolution string) {
	at := c.now()
	for _, h := range e.History {
		if ht, err := parseJiraTime(h.Created); err == nil && ht.After(at) {
			at = ht // keep it the newest whatever the clocks say
		}
	}
	items := []gojira.ChangelogItems{{Field: "status", FieldType: "jira", FromString: e.StatusName, ToString: t.To.Name}}
	if resolution != e.Resolution {
		items = append(items, gojira.ChangelogItems{Field: "resolution", FieldType: "jira", FromString: e.Resolution, ToString: resolution})
	}
	var author gojira.User
	if me := c.account(); me != nil {
		author = gojira.User{AccountID: me.ID, Name: me.Name, Key: me.Key}
	}
	h := gojira.ChangelogHistory{Author: author, Created: at.Format(jiraTimeLayout), Items: items}
	e.History = append(e.History[:len(e.History):len(e.History)], h)
	e.StatusName, e.StatusCat, e.Resolution = t.To.Name, t.To.StatusCategory.Key, resolution
}

func pickResolution(allowed []idName) string {
	for _, want := range closeResolutions {
		for _, a := range allowed {
			if strings.EqualFold(a.Name, want) {
				return a.Name
			}
		}
	}
	return ""
}

func issueStatus(is *gojira.Issue) string {
	if is.Fields != nil && is.Fields.Status != nil {
		return is.Fields.Status.Name
	}
	return ""
}

// Comment adds a plain-text comment to an issue.
func (c *Client) Comment(ctx context.Context, issueKey, body string) error {
	if strings.TrimSpace(body) == "" {
		return errors.New("jira: comment on " + issueKey + ": empty body")
	}
	// Own body: go-jira's Comment would send read-only fields (author).
	return c.doJSON(ctx, "comment on "+issueKey, http.MethodPost, "rest/api/2/issue/"+url.PathEscape(issueKey)+"/comment", map[string]string{"body": body}, nil)
}
