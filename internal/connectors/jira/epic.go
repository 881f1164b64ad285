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

	"github.com/risksync/risksync/internal/connectors/trackerhttp"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// The engine reaches the connector through registry.Tracker only.
var _ registry.Tracker = (*Client)(nil)

// PropertyKey is the issue property naming the risk an epic mirrors.
const PropertyKey = "risksync"

type desiredEpic struct {
	Summary     string
	Description string
	Priority    *idName  // nil: leave as it is
	Labels      []string // labels the epic must carry
	Unwanted    []string // labels risksync manages that must go
}

// band is the configured band named name; nil when name is "" (unscored).
func (c *Client) band(name string) (*scoring.Band, error) {
	if name == "" {
		return nil, nil
	}
	for i := range c.bands {
		if strings.EqualFold(c.bands[i].Name, name) {
			return &c.bands[i], nil
		}
	}
	return nil, fmt.Errorf("band %q is not one of the client's bands (Options.Bands)", name)
}

func (c *Client) desired(spec registry.EpicSpec, band *scoring.Band, meta *projectMeta) (desiredEpic, error) {
	r := spec.Risk
	d := desiredEpic{Summary: summaryOf(r.Key, r.Title), Description: RenderDescription(spec)}
	managed := map[string]bool{"risk-unscored": true}
	for _, b := range c.bands {
		managed[bandLabel(b.Name)] = true
	}
	d.Labels = []string{"risk", "risksync-" + r.Key}
	if band != nil {
		d.Labels = append(d.Labels, bandLabel(band.Name))
		p, ok := meta.priorityFor(band.JiraPriority)
		if !ok {
			return d, &registry.TrackerError{Tracker: registry.TrackerJira, Op: "map band " + band.Name,
				Err: fmt.Errorf("jira_priority %q is not a priority of project %s", band.JiraPriority, spec.Target),
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

// EnsureEpic converges the risk's epic in project spec.Target: summary,
// description, priority and labels. An unchanged risk costs no write. With
// dryRun the writes are planned, not made.
//
// With spec.Linked it never creates: an epic the search does not show (yet)
// is read by key, and only Jira's 404 ends in EpicResult.Gone. Without it,
// an epic labelled risksync-RISK-<n> (else titled "[RISK-<n>] …" and
// confirmed by the risksync property) not in spec.Exclude is adopted; when
// there is none, it creates one if spec.MayCreate, else returns
// registry.ErrCreateWithheld.
func (c *Client) EnsureEpic(ctx context.Context, spec registry.EpicSpec, dryRun bool) (registry.EpicResult, error) {
	if spec.Risk == nil {
		return registry.EpicResult{}, errors.New("jira: ensure epic: no risk")
	}
	if _, err := registry.ParseKey(spec.Risk.Key); err != nil {
		return registry.EpicResult{}, fmt.Errorf("jira: ensure epic: %w", err)
	}
	rk, project := spec.Risk.Key, spec.Target
	if project == "" {
		return registry.EpicResult{}, fmt.Errorf("jira: ensure epic %s: no project", rk)
	}
	band, err := c.band(spec.Band)
	if err != nil {
		return registry.EpicResult{}, fmt.Errorf("jira: ensure epic %s: %w", rk, err)
	}
	c.op.Lock()
	defer c.op.Unlock()
	meta, err := c.projectMeta(ctx, project)
	if err != nil {
		return registry.EpicResult{}, err
	}
	d, err := c.desired(spec, band, meta)
	if err != nil {
		return registry.EpicResult{}, err
	}
	st, err := c.refresh(ctx, project)
	if err != nil {
		return registry.EpicResult{}, err
	}
	if spec.Linked != nil {
		e, err := c.linked(ctx, st, rk, spec.Linked.Key)
		if err != nil {
			return registry.EpicResult{}, err
		}
		if e == nil {
			c.log.Warn("jira: the linked epic is gone (404)", "risk", rk, "issue", spec.Linked.Key)
			return registry.EpicResult{Gone: spec.Linked.Key}, nil
		}
		return c.updateEpic(ctx, st, e, d, true, dryRun)
	}
	e := st.adoptable(rk, spec.Exclude)
	if e == nil {
		if e, err = c.adoptBySummary(ctx, st, rk, spec.Exclude); err != nil {
			return registry.EpicResult{}, err
		}
	}
	if e == nil {
		return c.createEpic(ctx, st, spec, meta, d, dryRun)
	}
	return c.updateEpic(ctx, st, e, d, false, dryRun)
}

// linked returns the epic the registry links to the risk. /search/jql is
// eventually consistent, so one the mirror lacks is read by key (strongly
// consistent) and absorbed; nil means Jira answered 404: it is gone.
func (c *Client) linked(ctx context.Context, st *projectState, rk, key string) (*epicSnap, error) {
	if e := st.epics[key]; e != nil {
		st.byRisk[rk] = key // the registry's link wins over a duplicate
		return e, nil
	}
	issue, resp, err := c.jc.Issue.GetWithContext(ctx, key, &gojira.GetQueryOptions{Fields: strings.Join(st.epicFields(), ","), Expand: "changelog"})
	if err != nil {
		err = c.finish("read linked epic "+key+" of "+rk, resp, err, nil)
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return st.absorbAs(issue, rk), nil
}

func isNotFound(err error) bool {
	var te *registry.TrackerError
	return errors.As(err, &te) && te.Status == http.StatusNotFound
}

// adoptable is the risk's labelled epic, the oldest one not excluded.
func (st *projectState) adoptable(rk string, exclude []string) *epicSnap {
	key, ok := st.byRisk[rk]
	if !ok {
		return nil
	}
	if !containsFold(exclude, key) {
		return st.epics[key]
	}
	var best *epicSnap
	for k, e := range st.epics {
		if e.RiskKey == rk && !containsFold(exclude, k) && (best == nil || idNum(k) < idNum(best.Key)) {
			best = e
		}
	}
	return best
}

// adoptBySummary checks issues titled "[RISK-n] …" that lost our label: the
// risksync property decides whether they are ours.
func (c *Client) adoptBySummary(ctx context.Context, st *projectState, rk string, exclude []string) (*epicSnap, error) {
	for _, key := range st.bySummary[rk] {
		if containsFold(exclude, key) {
			continue
		}
		var prop struct {
			Value struct {
				Key string `json:"key"`
			} `json:"value"`
		}
		err := c.doJSON(ctx, "read property of "+key, http.MethodGet, "rest/api/2/issue/"+url.PathEscape(key)+"/properties/"+PropertyKey, nil, &prop)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(prop.Value.Key, rk) {
			continue
		}
		issue, resp, gerr := c.jc.Issue.GetWithContext(ctx, key, &gojira.GetQueryOptions{Fields: strings.Join(st.epicFields(), ","), Expand: "changelog"})
		if gerr != nil {
			return nil, c.finish("read "+key, resp, gerr, nil)
		}
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		e := st.absorbAs(issue, rk)
		e.PropOK = true
		return e, nil
	}
	return nil, nil
}

func (c *Client) createEpic(ctx context.Context, st *projectState, spec registry.EpicSpec, meta *projectMeta, d desiredEpic, dryRun bool) (registry.EpicResult, error) {
	rk, project := spec.Risk.Key, spec.Target
	op := fmt.Sprintf("create epic %s %s", project, rk)
	if !spec.MayCreate {
		return registry.EpicResult{}, fmt.Errorf("jira: %s: %w", op, registry.ErrCreateWithheld)
	}
	if len(meta.Missing) > 0 {
		return registry.EpicResult{}, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op,
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
	w := registry.Write{Kind: registry.WriteCreate, Risk: rk, Tracker: registry.TrackerJira, Target: project, Fields: map[string][2]string{
		"summary": {"", d.Summary}, "description": {"", short(d.Description)}, "labels": {"", strings.Join(d.Labels, ",")},
		PropertyKey: {"", `{"key":"` + rk + `"}`}}}
	if d.Priority != nil {
		fields["priority"] = map[string]string{"id": d.Priority.ID}
		w.Fields["priority"] = [2]string{"", d.Priority.Name}
	}
	if dryRun {
		return registry.EpicResult{Link: registry.Link{Tracker: registry.TrackerJira, State: registry.LinkOpen, Current: true},
			Writes: []registry.Write{w}, Created: true}, nil
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
		var held *trackerhttp.DeferredError // never sent: the outcome is known
		if errors.As(err, &te) && !errors.As(err, &held) && (te.Status == 0 || (te.Status >= 500 && te.Status != http.StatusServiceUnavailable)) {
			c.log.Warn("jira: create outcome unknown; the epic may exist", "risk", rk, "project", project)
		}
		return registry.EpicResult{}, err
	}
	id, _ := strconv.Atoi(created.ID)
	c.mu.Lock()
	c.created[rk] = createdIssue{ID: id, Key: created.Key, At: now}
	c.mu.Unlock()
	// The snapshot stands in until a search shows the issue; its zero
	// Updated lets that search's version replace it.
	e := &epicSnap{ID: created.ID, Key: created.Key, Project: project, RiskKey: rk, Summary: d.Summary, Description: d.Description,
		Labels: d.Labels, StatusCat: "new", Created: now, PropOK: true}
	if d.Priority != nil {
		e.Priority = *d.Priority
	}
	st.epics[created.Key] = e
	st.byRisk[rk] = created.Key
	c.log.Info("jira: created epic", "risk", rk, "issue", created.Key)
	return registry.EpicResult{Link: c.stateOf(st, e).Link, Writes: []registry.Write{w}, Created: true}, nil
}

// updateEpic converges an existing epic. A 404 drops it from the mirror;
// for the registry's linked epic it is reported as Gone.
func (c *Client) updateEpic(ctx context.Context, st *projectState, e *epicSnap, d desiredEpic, linked, dryRun bool) (registry.EpicResult, error) {
	res, err := c.converge(ctx, st, e, d, dryRun)
	if isNotFound(err) {
		delete(st.epics, e.Key)
		if st.byRisk[e.RiskKey] == e.Key {
			delete(st.byRisk, e.RiskKey)
		}
		if linked {
			c.log.Warn("jira: the linked epic is gone (404)", "risk", e.RiskKey, "issue", e.Key)
			return registry.EpicResult{Gone: e.Key}, nil
		}
	}
	return res, err
}

func (c *Client) converge(ctx context.Context, st *projectState, e *epicSnap, d desiredEpic, dryRun bool) (registry.EpicResult, error) {
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
	res := registry.EpicResult{Link: c.stateOf(st, e).Link}
	if len(diff) == 0 {
		return res, nil
	}
	res.Drift = c.drift(e, diff)
	w := registry.Write{Kind: registry.WriteUpdate, Risk: e.RiskKey, Tracker: registry.TrackerJira, Target: e.Key, Fields: diff}
	res.Writes = []registry.Write{w}
	// An epic found by its label may predate the property (made by hand, or
	// by an older risksync). Checking costs a read, so it rides on a pass
	// that writes anyway, once per epic.
	propWrite, err := c.checkProperty(ctx, e)
	if err != nil {
		return registry.EpicResult{}, err
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
			return registry.EpicResult{}, err
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
		return registry.EpicResult{}, err
	}
	// The pass goes on from what it wrote; Updated stays, so the next
	// search's version (with the real changelog) replaces this one.
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
func (c *Client) checkProperty(ctx context.Context, e *epicSnap) (*registry.Write, error) {
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
	return &registry.Write{Kind: registry.WriteProperty, Risk: e.RiskKey, Tracker: registry.TrackerJira, Target: e.Key, Fields: map[string][2]string{PropertyKey: {prop.Value.Key, `{"key":"` + e.RiskKey + `"}`}}}, nil
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

// bandLabel is risk-<band>; Jira labels cannot hold spaces.
func bandLabel(name string) string {
	return "risk-" + strings.Join(strings.Fields(strings.ToLower(name)), "-")
}
