package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Epic is what a risk's epic should look like.
type Epic struct {
	Project     string         // Jira project key the epic lives in
	Risk        *registry.Risk // key, title, description, ratings, owner, status
	Band        *scoring.Band  // nil when unscored
	Explanation string         // scoring.Result.Explain
}

// Result says where the epic is, what was (or, in a dry run, would be)
// written, and which registry-owned fields a person changed since our last write.
type Result struct {
	Link   registry.Link
	Writes []Write
	Drift  []string
}

// Write is one tracker write, planned or made.
type Write struct {
	Kind   string // create | update | comment | transition | property
	Target string // project key for a create, issue key otherwise
	Fields map[string][2]string
}

// Write kinds.
const (
	WriteCreate     = "create"
	WriteUpdate     = "update"
	WriteComment    = "comment"
	WriteTransition = "transition"
	WriteProperty   = "property"
)

// PropertyKey is the issue property naming the risk an epic mirrors.
const PropertyKey = "risksync"

type desiredEpic struct {
	Summary     string
	Description string
	Priority    *idName  // nil: leave as it is
	Labels      []string // labels the epic must carry
	Unwanted    []string // labels risksync manages that must go
}

func (c *Client) desired(want Epic, meta *projectMeta) (desiredEpic, error) {
	r := want.Risk
	d := desiredEpic{Summary: summaryOf(r.Key, r.Title), Description: RenderDescription(want)}
	managed := map[string]bool{"risk-unscored": true}
	for _, b := range c.bands {
		managed[bandLabel(b.Name)] = true
	}
	d.Labels = []string{"risk", "risksync-" + r.Key}
	if want.Band != nil {
		d.Labels = append(d.Labels, bandLabel(want.Band.Name))
		p, ok := meta.priorityFor(want.Band.JiraPriority)
		if !ok {
			return d, &registry.TrackerError{Tracker: registry.TrackerJira, Op: "map band " + want.Band.Name,
				Err: fmt.Errorf("jira_priority %q is not a priority of project %s", want.Band.JiraPriority, want.Project),
				Fix: "set scoring.bands[].jira_priority to a priority the project offers"}
		}
		d.Priority = &p
	} else {
		d.Labels = append(d.Labels, "risk-unscored")
		d.Priority = meta.Default
	}
	for l := range managed {
		if !contains(d.Labels, l) {
			d.Unwanted = append(d.Unwanted, l)
		}
	}
	sort.Strings(d.Unwanted)
	return d, nil
}

// EnsureEpic finds the risk's epic (label risksync-RISK-<n>, else a
// "[RISK-<n>]" summary confirmed by the risksync property) or creates it, then
// converges summary, description, priority and labels. An unchanged risk
// costs no write. With dryRun the writes are planned, not made.
func (c *Client) EnsureEpic(ctx context.Context, want Epic, dryRun bool) (Result, error) {
	if want.Risk == nil {
		return Result{}, errors.New("jira: ensure epic: no risk")
	}
	if _, err := registry.ParseKey(want.Risk.Key); err != nil {
		return Result{}, fmt.Errorf("jira: ensure epic: %w", err)
	}
	if want.Project == "" {
		return Result{}, fmt.Errorf("jira: ensure epic %s: no project", want.Risk.Key)
	}
	c.op.Lock()
	defer c.op.Unlock()
	rk, project := want.Risk.Key, want.Project
	meta, err := c.projectMeta(ctx, project)
	if err != nil {
		return Result{}, err
	}
	d, err := c.desired(want, meta)
	if err != nil {
		return Result{}, err
	}
	st, err := c.refresh(ctx, project)
	if err != nil {
		return Result{}, err
	}
	e := st.epics[st.byRisk[rk]]
	if e == nil {
		if e, err = c.adoptBySummary(ctx, st, rk); err != nil {
			return Result{}, err
		}
	}
	if e == nil {
		return c.createEpic(ctx, st, want, meta, d, dryRun)
	}
	c.mu.Lock()
	delete(c.pending, rk) // found: whatever the lost answer was, the epic exists
	c.mu.Unlock()
	return c.updateEpic(ctx, st, e, d, dryRun)
}

// adoptBySummary checks issues titled "[RISK-n] …" that lost our label: the
// risksync property decides whether they are ours.
func (c *Client) adoptBySummary(ctx context.Context, st *projectState, rk string) (*epicSnap, error) {
	for _, key := range st.bySummary[rk] {
		var prop struct {
			Value struct {
				Key string `json:"key"`
			} `json:"value"`
		}
		err := c.doJSON(ctx, "read property of "+key, http.MethodGet, "rest/api/2/issue/"+url.PathEscape(key)+"/properties/"+PropertyKey, nil, &prop)
		var te *registry.TrackerError
		if errors.As(err, &te) && te.Status == http.StatusNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(prop.Value.Key, rk) {
			continue
		}
		issue, resp, gerr := c.jc.Issue.GetWithContext(ctx, key, &gojira.GetQueryOptions{Fields: strings.Join(searchFields, ","), Expand: "changelog"})
		if gerr != nil {
			return nil, c.finish("read "+key, resp, gerr, nil)
		}
		st.absorbEpic(issue, c)
		e := st.epics[key]
		if e == nil { // absorbEpic only keeps labelled issues
			e = &epicSnap{ID: issue.ID, Key: key}
			st.epics[key] = e
			f := issue.Fields
			e.Project, e.Summary, e.Description, e.Labels = f.Project.Key, f.Summary, f.Description, f.Labels
			e.Created, e.Updated = timeOf(f.Created), timeOf(f.Updated)
			if f.Priority != nil {
				e.Priority = idName{ID: f.Priority.ID, Name: f.Priority.Name}
			}
			if f.Status != nil {
				e.StatusName, e.StatusCat = f.Status.Name, f.Status.StatusCategory.Key
			}
			if issue.Changelog != nil {
				e.History = issue.Changelog.Histories
			}
		}
		e.RiskKey, e.PropOK = rk, true
		st.byRisk[rk] = key
		return e, nil
	}
	return nil, nil
}

func (c *Client) createEpic(ctx context.Context, st *projectState, want Epic, meta *projectMeta, d desiredEpic, dryRun bool) (Result, error) {
	rk, project := want.Risk.Key, want.Project
	op := fmt.Sprintf("create epic %s %s", project, rk)
	c.mu.Lock()
	pendingAt, pending := c.pending[rk]
	c.mu.Unlock()
	if pending && c.now().Before(pendingAt.Add(c.settle)) {
		// One empty search proves nothing after a create whose answer was lost.
		return Result{}, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op, Retryable: true, RetryAt: pendingAt.Add(c.settle),
			Err: errors.New("an earlier create's outcome is unknown and search does not show it yet; not creating again before search settles")}
	}
	if len(meta.Missing) > 0 {
		return Result{}, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op,
			Err: fmt.Errorf("project %s requires fields risksync cannot fill on %s issues: %s", project, meta.EpicTypeName, strings.Join(meta.Missing, ", ")),
			Fix: "give those fields a default value in the project's field configuration, or make them optional"}
	}
	fields := map[string]any{
		"project":     map[string]string{"key": project},
		"issuetype":   map[string]string{"id": meta.EpicTypeID},
		"summary":     d.Summary,
		"description": d.Description,
		"labels":      d.Labels,
	}
	w := Write{Kind: WriteCreate, Target: project, Fields: map[string][2]string{
		"summary": {"", d.Summary}, "description": {"", short(d.Description)}, "labels": {"", strings.Join(d.Labels, ",")},
		PropertyKey: {"", `{"key":"` + rk + `"}`}}}
	if d.Priority != nil {
		fields["priority"] = map[string]string{"id": d.Priority.ID}
		w.Fields["priority"] = [2]string{"", d.Priority.Name}
	}
	if dryRun {
		return Result{Link: registry.Link{Tracker: registry.TrackerJira, State: registry.LinkOpen, Current: true}, Writes: []Write{w}}, nil
	}
	body := map[string]any{
		"fields":     fields,
		"properties": []map[string]any{{"key": PropertyKey, "value": map[string]string{"key": rk}}},
	}
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	now := c.now()
	if err := c.doJSON(ctx, op, http.MethodPost, "rest/api/2/issue", body, &created); err != nil {
		var te *registry.TrackerError
		if errors.As(err, &te) && (te.Status == 0 || (te.Status >= 500 && te.Status != http.StatusServiceUnavailable)) {
			c.mu.Lock()
			c.pending[rk] = now
			c.mu.Unlock()
			c.log.Warn("jira: create outcome unknown; will look for the epic before creating again", "risk", rk, "project", project)
		}
		return Result{}, err
	}
	id, _ := strconv.Atoi(created.ID)
	c.mu.Lock()
	delete(c.pending, rk)
	c.created[rk] = createdIssue{ID: id, Key: created.Key, At: now}
	c.mu.Unlock()
	e := &epicSnap{ID: created.ID, Key: created.Key, Project: project, RiskKey: rk, Summary: d.Summary, Description: d.Description,
		Labels: d.Labels, StatusCat: "new", Created: now, PropOK: true}
	if d.Priority != nil {
		e.Priority = *d.Priority
	}
	st.epics[created.Key] = e
	st.byRisk[rk] = created.Key
	c.log.Info("jira: created epic", "risk", rk, "issue", created.Key)
	return Result{Link: c.stateOf(st, e).Link, Writes: []Write{w}}, nil
}

func (c *Client) updateEpic(ctx context.Context, st *projectState, e *epicSnap, d desiredEpic, dryRun bool) (Result, error) {
	fields := map[string]any{}
	diff := map[string][2]string{}
	if e.Summary != d.Summary {
		fields["summary"] = d.Summary
		diff["summary"] = [2]string{e.Summary, d.Summary}
	}
	if normalizeText(e.Description) != normalizeText(d.Description) {
		fields["description"] = d.Description
		diff["description"] = [2]string{short(e.Description), short(d.Description)}
	}
	if d.Priority != nil && e.Priority.ID != d.Priority.ID {
		fields["priority"] = map[string]string{"id": d.Priority.ID}
		diff["priority"] = [2]string{e.Priority.Name, d.Priority.Name}
	}
	var ops []map[string]string
	newLabels := append([]string(nil), e.Labels...)
	for _, l := range d.Labels {
		if !contains(e.Labels, l) {
			ops = append(ops, map[string]string{"add": l})
			newLabels = append(newLabels, l)
		}
	}
	for _, l := range d.Unwanted {
		if contains(e.Labels, l) {
			ops = append(ops, map[string]string{"remove": l})
			newLabels = remove(newLabels, l)
		}
	}
	if len(ops) > 0 {
		diff["labels"] = [2]string{strings.Join(e.Labels, ","), strings.Join(newLabels, ",")}
	}
	res := Result{Link: c.stateOf(st, e).Link}
	if len(diff) == 0 {
		return res, nil
	}
	res.Drift = c.drift(e, diff)
	w := Write{Kind: WriteUpdate, Target: e.Key, Fields: diff}
	res.Writes = []Write{w}
	// An epic found by its label may predate the property (made by hand, or
	// by an older risksync). Checking costs a read, so it rides on a pass
	// that writes anyway, once per epic.
	propWrite, err := c.checkProperty(ctx, e)
	if err != nil {
		return Result{}, err
	}
	if propWrite != nil {
		res.Writes = append(res.Writes, *propWrite)
	}
	if dryRun {
		return res, nil
	}
	if propWrite != nil {
		op := "set property of " + e.Key
		if err := c.doJSON(ctx, op, http.MethodPut, "rest/api/2/issue/"+url.PathEscape(e.Key)+"/properties/"+PropertyKey, map[string]string{"key": e.RiskKey}, nil); err != nil {
			return Result{}, err
		}
		e.PropOK = true
	}
	body := map[string]any{}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	if len(ops) > 0 {
		// add/remove verbs keep labels people added meanwhile
		body["update"] = map[string]any{"labels": ops}
	}
	resp, err := c.jc.Issue.UpdateIssueWithContext(ctx, e.Key, body)
	if err := c.finish("update epic "+e.Key+" "+e.RiskKey, resp, err, nil); err != nil {
		return Result{}, err
	}
	e.Summary, e.Description, e.Labels = d.Summary, d.Description, newLabels
	if d.Priority != nil {
		e.Priority = *d.Priority
	}
	if len(res.Drift) > 0 {
		c.log.Info("jira: overwrote manual edits of registry-owned fields", "issue", e.Key, "risk", e.RiskKey, "fields", strings.Join(res.Drift, ","))
	}
	return res, nil
}

// checkProperty reads the risksync property of an epic not known to carry
// it, and returns the write that fixes it, if one is needed.
func (c *Client) checkProperty(ctx context.Context, e *epicSnap) (*Write, error) {
	if e.PropOK {
		return nil, nil
	}
	var prop struct {
		Value struct {
			Key string `json:"key"`
		} `json:"value"`
	}
	err := c.doJSON(ctx, "read property of "+e.Key, http.MethodGet, "rest/api/2/issue/"+url.PathEscape(e.Key)+"/properties/"+PropertyKey, nil, &prop)
	var te *registry.TrackerError
	switch {
	case errors.As(err, &te) && te.Status == http.StatusNotFound:
	case err != nil:
		return nil, err
	case prop.Value.Key == e.RiskKey:
		e.PropOK = true
		return nil, nil
	}
	return &Write{Kind: WriteProperty, Target: e.Key, Fields: map[string][2]string{PropertyKey: {prop.Value.Key, `{"key":"` + e.RiskKey + `"}`}}}, nil
}

// drift names differing fields whose last change was made by a person, not
// risksync. A field risksync set last differs because the registry changed.
func (c *Client) drift(e *epicSnap, diff map[string][2]string) []string {
	me := c.account()
	var out []string
	for _, field := range sortedKeys(diff) {
		var last *gojira.ChangelogHistory
		var lastAt time.Time
		for i := range e.History {
			h := &e.History[i]
			t, err := parseJiraTime(h.Created)
			if err != nil || !touches(*h, field) || t.Before(lastAt) {
				continue
			}
			last, lastAt = h, t
		}
		if last != nil && !me.is(&last.Author) {
			out = append(out, field)
		}
	}
	return out
}

func touches(h gojira.ChangelogHistory, field string) bool {
	for _, it := range h.Items {
		if strings.EqualFold(it.Field, field) {
			return true
		}
	}
	return false
}

func (c *Client) account() *account {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.me
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		return string(r[:79]) + "…"
	}
	return s
}

func remove(ss []string, s string) []string {
	out := ss[:0:0]
	for _, x := range ss {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func timeOf(t gojira.Time) time.Time { return time.Time(t) }

// bandLabel is risk-<band>; Jira labels cannot hold spaces.
func bandLabel(name string) string {
	return "risk-" + strings.Join(strings.Fields(strings.ToLower(name)), "-")
}
