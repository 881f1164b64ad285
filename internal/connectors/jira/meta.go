package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/risksync/risksync/internal/registry"
)

// projectMeta is what createmeta says about the epic issue type of a project.
type projectMeta struct {
	EpicTypeID   string
	EpicTypeName string
	Priorities   map[string]idName // lower-cased name → priority
	Default      *idName           // the project's default priority
	Missing      []string          // required fields risksync cannot fill
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Fields risksync fills itself, or Jira fills by default.
var filledFields = map[string]bool{"summary": true, "issuetype": true, "project": true, "description": true,
	"labels": true, "priority": true, "reporter": true}

// projectMeta reads createmeta for the epic issue type once per pass and
// checks that every band's jira_priority exists in the project.
func (c *Client) projectMeta(ctx context.Context, project string) (*projectMeta, error) {
	c.mu.Lock()
	m := c.meta[project]
	c.mu.Unlock()
	if m != nil {
		return m, nil
	}
	op := "read createmeta of " + project
	var types struct {
		IssueTypes []idName `json:"issueTypes"`
		Values     []idName `json:"values"` // Data Center's name for the list
	}
	path := "rest/api/2/issue/createmeta/" + url.PathEscape(project) + "/issuetypes?maxResults=200"
	if err := c.doJSON(ctx, op, http.MethodGet, path, nil, &types); err != nil {
		var te *registry.TrackerError
		if errors.As(err, &te) && te.Status == http.StatusNotFound {
			te.Fix = fmt.Sprintf("check that Jira project %s exists and the risksync account may create issues in it (teams[].jira_project, jira.project)", project)
		}
		return nil, err
	}
	want := c.cfg.EpicIssueType
	if want == "" {
		want = "Epic"
	}
	m = &projectMeta{Priorities: map[string]idName{}}
	var names []string
	for _, t := range append(types.IssueTypes, types.Values...) {
		names = append(names, t.Name)
		if strings.EqualFold(t.Name, want) && m.EpicTypeID == "" {
			m.EpicTypeID, m.EpicTypeName = t.ID, t.Name
		}
	}
	if m.EpicTypeID == "" {
		return nil, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op,
			Err: fmt.Errorf("project %s has no issue type %q (it has: %s)", project, want, strings.Join(names, ", ")),
			Fix: "set jira.epic_issue_type to one of the project's issue types"}
	}

	type field struct {
		FieldID         string            `json:"fieldId"`
		Key             string            `json:"key"`
		Name            string            `json:"name"`
		Required        bool              `json:"required"`
		HasDefaultValue bool              `json:"hasDefaultValue"`
		DefaultValue    json.RawMessage   `json:"defaultValue"`
		AllowedValues   []json.RawMessage `json:"allowedValues"`
	}
	seenPriority := false
	for start := 0; start < 10_000; {
		var page struct {
			Fields     []field `json:"fields"`
			Results    []field `json:"results"`
			Values     []field `json:"values"`
			Total      int     `json:"total"`
			MaxResults int     `json:"maxResults"`
			IsLast     *bool   `json:"isLast"`
		}
		path := fmt.Sprintf("rest/api/2/issue/createmeta/%s/issuetypes/%s?startAt=%d&maxResults=100", url.PathEscape(project), url.PathEscape(m.EpicTypeID), start)
		if err := c.doJSON(ctx, op, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		fs := append(append(page.Fields, page.Results...), page.Values...)
		for _, f := range fs {
			id := f.FieldID
			if id == "" {
				id = f.Key
			}
			if id == "priority" {
				seenPriority = true
				for _, raw := range f.AllowedValues {
					var p idName
					if json.Unmarshal(raw, &p) == nil && p.Name != "" {
						m.Priorities[strings.ToLower(p.Name)] = p
					}
				}
				var d idName
				if len(f.DefaultValue) > 0 && json.Unmarshal(f.DefaultValue, &d) == nil && d.ID != "" {
					m.Default = &d
				}
				continue
			}
			if f.Required && !f.HasDefaultValue && !filledFields[id] {
				m.Missing = append(m.Missing, fmt.Sprintf("%s (%s)", f.Name, id))
			}
		}
		start += len(fs)
		if len(fs) == 0 || (page.IsLast != nil && *page.IsLast) || (page.Total > 0 && start >= page.Total) || (page.IsLast == nil && page.Total == 0) {
			break
		}
	}
	if !seenPriority && len(c.bands) > 0 {
		return nil, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op,
			Err: fmt.Errorf("the Priority field is not on the create screen of %s issues in project %s", m.EpicTypeName, project),
			Fix: "add Priority to the project's create and edit screens"}
	}
	var bad []string
	for _, b := range c.bands {
		if _, ok := m.Priorities[strings.ToLower(b.JiraPriority)]; !ok {
			bad = append(bad, fmt.Sprintf("band %s: jira_priority %q", b.Name, b.JiraPriority))
		}
	}
	if len(bad) > 0 {
		avail := make([]string, 0, len(m.Priorities))
		for _, k := range sortedKeys(m.Priorities) {
			avail = append(avail, m.Priorities[k].Name)
		}
		return nil, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op,
			Err: fmt.Errorf("%s not a priority of project %s (available: %s)", strings.Join(bad, "; "), project, strings.Join(avail, ", ")),
			Fix: "set scoring.bands[].jira_priority to one of the available priorities"}
	}
	c.mu.Lock()
	c.meta[project] = m
	c.mu.Unlock()
	return m, nil
}

// priorityFor returns the priority a band maps to in this project.
func (m *projectMeta) priorityFor(name string) (idName, bool) {
	p, ok := m.Priorities[strings.ToLower(name)]
	return p, ok
}
