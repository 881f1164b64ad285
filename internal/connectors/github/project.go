package github

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/ranking"
	"github.com/risksync/risksync/internal/registry"
)

// GitHub Projects (v2): every epic is an item of its project, the
// single-select priority field holds the band's project_priority, the
// number score field the score, and with order: by_score the risk items sit
// in score order among themselves. REST reads the project, its fields and
// its items (100 a page) and writes items and values; only the position
// needs GraphQL (updateProjectV2ItemPosition). Everything is read again
// each pass, so a pass cut short is finished by the next one.

var _ registry.Backlog = (*Client)(nil)

// projectCache holds what costs a request to learn and rarely changes.
type projectCache struct {
	mu sync.Mutex
	// refs caches "owner#number" → whether an organisation owns it and its
	// node id; lost, the project is looked up again (one or two GETs).
	refs map[string]projectRef
	// left caches the order of risk items (item ids) risksync last left a
	// project in, only to tell a person's reorder apart when the project
	// has no score field; lost, such a reorder is restored without comment.
	left map[string][]int64
	// unfinished caches projects whose last reorder stopped half-way: their
	// disorder is risksync's, not a person's. Lost, a restored item may get
	// the one-time comment it did not need.
	unfinished map[string]bool
}

type projectRef struct {
	org    bool
	nodeID string
}

// projectItem is one item as this pass read it.
type projectItem struct {
	id     int64
	nodeID string
	key    string // issue key "owner/repo#n"; "" for drafts
	option string // option id of the priority field, "" when empty
	score  *float64
	new    bool // added by this pass
}

// projectFields are the project's configured fields, resolved by name.
type projectFields struct {
	priority *gh.ProjectV2Field
	options  map[string]string // band name → option id
	names    map[string]string // option id → name
	score    *gh.ProjectV2Field
}

// OrderBacklog puts every epic in its project, sets the priority and score
// fields, and (order: by_score) moves the fewest risk items to put them in
// the given order. Each project is handled on its own: one failing leaves
// the others done. A move that restores a person's reorder is marked
// Drift, so the engine explains it once.
func (c *Client) OrderBacklog(ctx context.Context, items []registry.BacklogItem, dryRun bool) ([]registry.Write, error) {
	if c.projectsFor == nil {
		return nil, nil
	}
	var order []string
	groups := map[string][]registry.BacklogItem{}
	projects := map[string]*config.GitHubProject{}
	for _, it := range items {
		if it.Risk == nil || it.Epic.Key == "" {
			continue
		}
		p := c.projectsFor(it.Risk.Owner)
		if p == nil {
			continue
		}
		k := projectKey(p)
		if projects[k] == nil {
			projects[k] = p
			order = append(order, k)
		}
		groups[k] = append(groups[k], it)
	}
	var writes []registry.Write
	var errs []error
	for _, k := range order {
		w, err := c.orderProject(ctx, projects[k], groups[k], dryRun)
		writes = append(writes, w...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return writes, errors.Join(errs...)
}

func projectKey(p *config.GitHubProject) string {
	return strings.ToLower(p.Owner) + "#" + strconv.Itoa(p.Number)
}

func (c *Client) orderProject(ctx context.Context, p *config.GitHubProject, want []registry.BacklogItem, dryRun bool) ([]registry.Write, error) {
	key := projectKey(p)
	ref, err := c.projectRef(ctx, p)
	if err != nil {
		return nil, err
	}
	fields, err := c.projectFields(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	all, err := c.projectItems(ctx, p, ref, fields)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*projectItem{}
	for _, it := range all {
		if it.key != "" {
			byKey[it.key] = it
		}
	}
	var writes []registry.Write
	// Every epic is an item; GitHub adds new items at the bottom.
	for _, w := range want {
		if byKey[w.Epic.Key] != nil {
			continue
		}
		it, err := c.addProjectItem(ctx, p, ref, w.Epic.Key, dryRun)
		if err != nil {
			return writes, err
		}
		writes = append(writes, registry.Write{Kind: registry.WriteUpdate, Risk: w.Risk.Key, Target: w.Epic.Key,
			Fields: map[string][2]string{"project": {"", p.String()}}})
		byKey[w.Epic.Key] = it
		all = append(all, it)
	}
	for _, w := range want {
		wr, err := c.setProjectValues(ctx, p, ref, fields, byKey[w.Epic.Key], w, dryRun)
		if err != nil {
			return writes, err
		}
		if wr != nil {
			writes = append(writes, *wr)
		}
	}
	if !p.ByScore() {
		return writes, nil
	}
	mw, err := c.reorder(ctx, p, ref, fields, all, byKey, want, dryRun)
	writes = append(writes, mw...)
	if !dryRun {
		c.proj.mu.Lock()
		if c.proj.unfinished == nil {
			c.proj.unfinished = map[string]bool{}
		}
		c.proj.unfinished[key] = err != nil
		c.proj.mu.Unlock()
	}
	return writes, err
}

// projectRef finds whether an organisation or a user owns the project
// (cached), and its node id for GraphQL.
func (c *Client) projectRef(ctx context.Context, p *config.GitHubProject) (projectRef, error) {
	key := projectKey(p)
	c.proj.mu.Lock()
	ref, ok := c.proj.refs[key]
	c.proj.mu.Unlock()
	if ok {
		return ref, nil
	}
	op := "read project " + p.String()
	pr, _, err := c.gh.Projects.GetOrganizationProject(ctx, p.Owner, p.Number)
	ref.org = true
	if errStatus(err) == http.StatusNotFound {
		pr, _, err = c.gh.Projects.GetUserProject(ctx, p.Owner, p.Number)
		ref.org = false
	}
	if errStatus(err) == http.StatusNotFound {
		return ref, c.configError(op, http.StatusNotFound,
			fmt.Sprintf("%s: %s has no project number %d (neither an organisation's nor a user's), or the token cannot see it", p.Where, p.Owner, p.Number),
			"check "+p.Where+" owner and number (the 7 of github.com/orgs/acme/projects/7); a classic token needs the project scope, a fine-grained one Projects read and write")
	}
	if err != nil {
		return ref, c.failProject(op, p, err)
	}
	ref.nodeID = pr.GetNodeID()
	c.proj.mu.Lock()
	if c.proj.refs == nil {
		c.proj.refs = map[string]projectRef{}
	}
	c.proj.refs[key] = ref
	c.proj.mu.Unlock()
	return ref, nil
}

// forgetProject drops the cached ids after GitHub said the project is gone.
func (c *Client) forgetProject(p *config.GitHubProject, err error) {
	if errStatus(err) == http.StatusNotFound {
		c.proj.mu.Lock()
		delete(c.proj.refs, projectKey(p))
		c.proj.mu.Unlock()
	}
}

// configError is a terminal error that names the configuration to change.
func (c *Client) configError(op string, status int, msg, fix string) error {
	return &registry.TrackerError{Tracker: registry.TrackerGitHub, Op: op, Status: status, Err: errors.New(msg), Fix: fix}
}

// failProject classifies err like fail, with the project's permissions in Fix.
func (c *Client) failProject(op string, p *config.GitHubProject, err error) error {
	if err == nil {
		return nil
	}
	c.forgetProject(p, err)
	var er *gh.ErrorResponse
	errors.As(err, &er)
	return c.http.Classify(op, responseOf(err), err, func(status int, resp *http.Response) string {
		switch status {
		case http.StatusUnauthorized:
			return "the token is invalid, expired or revoked: issue a new one and set it through github.token_env or github.token_file"
		case http.StatusForbidden:
			return "the token cannot write project " + p.String() + ": a classic token needs the project scope, a fine-grained one Projects read and write (organisation permission for an organisation's project)"
		case http.StatusNotFound:
			return "project " + p.String() + " or its item is gone, or the token cannot see it: check " + p.Where
		case http.StatusUnprocessableEntity:
			if er != nil {
				return "GitHub rejected the request: " + describe422(er)
			}
		}
		return ""
	})
}

// projectFields resolves the configured fields and the bands' options by
// name, once per pass. A missing field or option is a configuration error
// naming what the project has.
func (c *Client) projectFields(ctx context.Context, p *config.GitHubProject, ref projectRef) (*projectFields, error) {
	op := "read fields of project " + p.String()
	var all []*gh.ProjectV2Field
	opts := &gh.ListProjectsOptions{ListProjectsPaginationOptions: gh.ListProjectsPaginationOptions{PerPage: 100}}
	for {
		var page []*gh.ProjectV2Field
		var resp *gh.Response
		var err error
		if ref.org {
			page, resp, err = c.gh.Projects.ListOrganizationProjectFields(ctx, p.Owner, p.Number, opts)
		} else {
			page, resp, err = c.gh.Projects.ListUserProjectFields(ctx, p.Owner, p.Number, opts)
		}
		if err != nil {
			return nil, c.failProject(op, p, err)
		}
		all = append(all, page...)
		if resp.After == "" {
			break
		}
		opts.After = resp.After
	}
	find := func(name string) *gh.ProjectV2Field {
		for _, f := range all {
			if f.GetName() == name {
				return f
			}
		}
		for _, f := range all {
			if strings.EqualFold(f.GetName(), name) {
				return f
			}
		}
		return nil
	}
	names := func() string {
		var out []string
		for _, f := range all {
			out = append(out, f.GetName())
		}
		return strings.Join(out, ", ")
	}
	pf := &projectFields{options: map[string]string{}, names: map[string]string{}}
	if n := p.PriorityField; n != "" {
		f := find(n)
		switch {
		case f == nil:
			return nil, c.configError(op, 0, fmt.Sprintf("%s.priority_field %q: project %s has no such field: fields are %s", p.Where, n, p, names()),
				"create the single-select field in the project, or name an existing one in "+p.Where+".priority_field")
		case f.GetDataType() != "single_select":
			return nil, c.configError(op, 0, fmt.Sprintf("%s.priority_field %q is a %s field, not a single select", p.Where, n, strings.ReplaceAll(f.GetDataType(), "_", " ")),
				"name a single-select field in "+p.Where+".priority_field")
		}
		pf.priority = f
		var optNames []string
		byName := map[string]string{}
		for _, o := range f.Options {
			name := o.GetName().GetRaw()
			if name == "" {
				name = o.GetName().GetHTML()
			}
			optNames = append(optNames, name)
			byName[strings.ToLower(name)] = o.GetID()
			pf.names[o.GetID()] = name
		}
		for i, b := range c.bands {
			if b.ProjectPriority == "" {
				continue
			}
			id, ok := byName[strings.ToLower(b.ProjectPriority)]
			if !ok {
				return nil, c.configError(op, 0, fmt.Sprintf("%s.priority_field %q has no option %q: options are %s", p.Where, f.GetName(), b.ProjectPriority, strings.Join(optNames, ", ")),
					fmt.Sprintf("add the option to the field, or change scoring.bands[%d] (%s) project_priority", i, b.Name))
			}
			pf.options[b.Name] = id
		}
	}
	if n := p.ScoreField; n != "" {
		f := find(n)
		switch {
		case f == nil:
			return nil, c.configError(op, 0, fmt.Sprintf("%s.score_field %q: project %s has no such field: fields are %s", p.Where, n, p, names()),
				"create the number field in the project, or name an existing one in "+p.Where+".score_field")
		case f.GetDataType() != "number":
			return nil, c.configError(op, 0, fmt.Sprintf("%s.score_field %q is a %s field, not a number", p.Where, n, strings.ReplaceAll(f.GetDataType(), "_", " ")),
				"name a number field in "+p.Where+".score_field")
		}
		pf.score = f
	}
	return pf, nil
}

// projectItems reads every item in position order, 100 a page, with the
// values of the configured fields only.
func (c *Client) projectItems(ctx context.Context, p *config.GitHubProject, ref projectRef, pf *projectFields) ([]*projectItem, error) {
	op := "list items of project " + p.String()
	opts := &gh.ListProjectItemsOptions{ListProjectsOptions: gh.ListProjectsOptions{
		ListProjectsPaginationOptions: gh.ListProjectsPaginationOptions{PerPage: 100}}}
	for _, f := range []*gh.ProjectV2Field{pf.priority, pf.score} {
		if f != nil {
			opts.Fields = append(opts.Fields, f.GetID())
		}
	}
	var out []*projectItem
	for {
		var page []*gh.ProjectV2Item
		var resp *gh.Response
		var err error
		if ref.org {
			page, resp, err = c.gh.Projects.ListOrganizationProjectItems(ctx, p.Owner, p.Number, opts)
		} else {
			page, resp, err = c.gh.Projects.ListUserProjectItems(ctx, p.Owner, p.Number, opts)
		}
		if err != nil {
			return nil, c.failProject(op, p, err)
		}
		for _, it := range page {
			out = append(out, readItem(it, pf))
		}
		if resp.After == "" || len(page) == 0 {
			break
		}
		opts.After = resp.After
	}
	return out, nil
}

func readItem(it *gh.ProjectV2Item, pf *projectFields) *projectItem {
	pi := &projectItem{id: it.GetID(), nodeID: it.GetNodeID()}
	if it.ContentType != nil && *it.ContentType == gh.ProjectV2ItemContentTypeIssue && it.Content != nil && it.Content.Issue != nil {
		if repo, n, ok := parseIssueURL(it.Content.Issue.GetURL()); ok {
			pi.key = registry.GitHubIssueKey(repo, n)
		}
	}
	for _, v := range it.Fields {
		switch {
		case pf.priority != nil && v.GetID() == pf.priority.GetID():
			if m, ok := v.Value.(map[string]any); ok {
				pi.option, _ = m["id"].(string)
			}
		case pf.score != nil && v.GetID() == pf.score.GetID():
			if f, ok := v.Value.(float64); ok {
				pi.score = &f
			}
		}
	}
	return pi
}

func (c *Client) addProjectItem(ctx context.Context, p *config.GitHubProject, ref projectRef, epic string, dryRun bool) (*projectItem, error) {
	repo, n, err := parseIssueKey(epic)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return &projectItem{key: epic, new: true, nodeID: "planned:" + epic}, nil
	}
	owner, name, _ := splitRepo(repo)
	req := gh.AddProjectItemRequest{Type: gh.ProjectV2ItemContentTypeIssue, Owner: &owner, Repo: &name, Number: &n}
	var it *gh.ProjectV2Item
	if ref.org {
		it, _, err = c.gh.Projects.AddOrganizationProjectItem(ctx, p.Owner, p.Number, req)
	} else {
		it, _, err = c.gh.Projects.AddUserProjectItem(ctx, p.Owner, p.Number, req)
	}
	if err != nil {
		return nil, c.failProject(fmt.Sprintf("add %s to project %s", epic, p), p, err)
	}
	// Adding an issue already there answers with its item: nothing is lost.
	return &projectItem{id: it.GetID(), nodeID: it.GetNodeID(), key: epic, new: true}, nil
}

// setProjectValues writes the priority option and the score where they
// differ, in one request.
func (c *Client) setProjectValues(ctx context.Context, p *config.GitHubProject, ref projectRef, pf *projectFields, it *projectItem, w registry.BacklogItem, dryRun bool) (*registry.Write, error) {
	var req gh.UpdateProjectItemRequest
	fields := map[string][2]string{}
	if pf.priority != nil {
		want := ""
		if w.Risk.Score != nil {
			want = pf.options[w.Risk.Band]
		}
		if want != it.option {
			var v any // nil clears: unscored risks have no priority
			if want != "" {
				v = want
			}
			req.Fields = append(req.Fields, &gh.UpdateProjectV2Field{ID: pf.priority.GetID(), Value: v})
			fields[pf.priority.GetName()] = [2]string{pf.names[it.option], pf.names[want]}
		}
	}
	if pf.score != nil && !sameScore(it.score, w.Risk.Score) {
		var v any
		if w.Risk.Score != nil {
			v = *w.Risk.Score
		}
		req.Fields = append(req.Fields, &gh.UpdateProjectV2Field{ID: pf.score.GetID(), Value: v})
		fields[pf.score.GetName()] = [2]string{formatScore(it.score), formatScore(w.Risk.Score)}
	}
	if len(req.Fields) == 0 {
		return nil, nil
	}
	wr := &registry.Write{Kind: registry.WriteUpdate, Risk: w.Risk.Key, Target: w.Epic.Key, Fields: fields}
	if dryRun {
		return wr, nil
	}
	var err error
	if ref.org {
		_, _, err = c.gh.Projects.UpdateOrganizationProjectItem(ctx, p.Owner, p.Number, it.id, req)
	} else {
		_, _, err = c.gh.Projects.UpdateUserProjectItem(ctx, p.Owner, p.Number, it.id, req)
	}
	if err != nil {
		return nil, c.failProject(fmt.Sprintf("set fields of %s in project %s", w.Epic.Key, p), p, err)
	}
	return wr, nil
}

func sameScore(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) < 1e-9
}

func formatScore(s *float64) string {
	if s == nil {
		return ""
	}
	return strconv.FormatFloat(*s, 'f', -1, 64)
}

// reorder moves the fewest risk items (ranking.Moves) so they follow want's
// order; other items keep their relative places. Each move is one GraphQL
// mutation placing the item after its new predecessor.
func (c *Client) reorder(ctx context.Context, p *config.GitHubProject, ref projectRef, pf *projectFields, all []*projectItem,
	byKey map[string]*projectItem, want []registry.BacklogItem, dryRun bool) ([]registry.Write, error) {
	riskOf := map[string]registry.BacklogItem{} // node id → risk
	var desired []string
	for _, w := range want {
		it := byKey[w.Epic.Key]
		riskOf[it.nodeID] = w
		desired = append(desired, it.nodeID)
	}
	full := make([]string, 0, len(all)) // every item's node id, in position order
	var current []string
	for _, it := range all {
		full = append(full, it.nodeID)
		if _, ok := riskOf[it.nodeID]; ok {
			current = append(current, it.nodeID)
		}
	}
	moves := ranking.Moves(current, desired)
	manual := c.movedByPeople(p, pf, all, riskOf)
	var writes []registry.Write
	for _, m := range moves {
		full = slices.DeleteFunc(full, func(id string) bool { return id == m.Item })
		after, where := m.After, ""
		if after == "" {
			// First among the risk items: right before the first of them.
			where = "first"
			for i, id := range full {
				if _, ok := riskOf[id]; ok {
					if i > 0 {
						after = full[i-1]
					}
					break
				}
			}
		} else {
			where = "after " + riskOf[after].Risk.Key
		}
		at := 0
		if after != "" {
			at = slices.Index(full, after) + 1
		}
		full = slices.Insert(full, at, m.Item)
		w := riskOf[m.Item]
		wr := registry.Write{Kind: registry.WriteMove, Risk: w.Risk.Key, Target: w.Epic.Key,
			Fields: map[string][2]string{"position": {"", where}}}
		wr.Drift = manual[m.Item]
		if !dryRun {
			if err := c.moveItem(ctx, p, ref, m.Item, after); err != nil {
				return writes, err
			}
		}
		writes = append(writes, wr)
	}
	if !dryRun {
		ids := make([]int64, 0, len(desired))
		for _, w := range want {
			ids = append(ids, byKey[w.Epic.Key].id)
		}
		c.proj.mu.Lock()
		if c.proj.left == nil {
			c.proj.left = map[string][]int64{}
		}
		c.proj.left[projectKey(p)] = ids
		c.proj.mu.Unlock()
	}
	return writes, nil
}

// movedByPeople returns the risk items (node ids) a person moved out of the
// order risksync left: the fewest items whose moves explain the difference
// between that order and the current one. The order risksync left is the
// score order of the values it wrote in the score field (so it survives a
// restart); without a score field, the order remembered from the last pass.
// Items added this pass, and a project whose last reorder stopped half-way,
// count as no one's.
func (c *Client) movedByPeople(p *config.GitHubProject, pf *projectFields, all []*projectItem, riskOf map[string]registry.BacklogItem) map[string]bool {
	key := projectKey(p)
	c.proj.mu.Lock()
	unfinished, left := c.proj.unfinished[key], c.proj.left[key]
	c.proj.mu.Unlock()
	if unfinished {
		return nil
	}
	var current, before []string
	if pf.score != nil {
		var placed []*projectItem
		for _, it := range all {
			if _, ok := riskOf[it.nodeID]; ok && !it.new && it.score != nil {
				placed = append(placed, it)
				current = append(current, it.nodeID)
			}
		}
		sort.SliceStable(placed, func(i, j int) bool {
			a, b := placed[i], placed[j]
			if *a.score != *b.score {
				return *a.score > *b.score
			}
			return riskOf[a.nodeID].Risk.ID < riskOf[b.nodeID].Risk.ID
		})
		for _, it := range placed {
			before = append(before, it.nodeID)
		}
	} else {
		if left == nil {
			return nil
		}
		present := map[int64]string{}
		for _, it := range all {
			if _, ok := riskOf[it.nodeID]; ok && !it.new {
				present[it.id] = it.nodeID
				current = append(current, it.nodeID)
			}
		}
		for _, id := range left {
			if n, ok := present[id]; ok {
				before = append(before, n)
			}
		}
	}
	out := map[string]bool{}
	for _, m := range ranking.Moves(current, before) {
		out[m.Item] = true
	}
	return out
}

const positionMutation = `mutation($input: UpdateProjectV2ItemPositionInput!) { updateProjectV2ItemPosition(input: $input) { clientMutationId } }`

type graphqlError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// moveItem places item right after after ("" for the top) with the
// updateProjectV2ItemPosition mutation: REST has no position.
func (c *Client) moveItem(ctx context.Context, p *config.GitHubProject, ref projectRef, item, after string) error {
	op := "move an item of project " + p.String()
	input := map[string]any{"projectId": ref.nodeID, "itemId": item}
	if after != "" {
		input["afterId"] = after
	}
	body := map[string]any{"query": positionMutation, "variables": map[string]any{"input": input}}
	req, err := c.gh.NewRequest(ctx, http.MethodPost, c.graphqlURL, body)
	if err != nil {
		return c.failProject(op, p, err)
	}
	var out struct {
		Errors []graphqlError `json:"errors"`
	}
	if _, err := c.gh.Do(req, &out); err != nil {
		return c.failProject(op, p, err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		// NOT_FOUND: the item left the project since it was listed; the next
		// pass reads the project again. Anything else is a bug of ours.
		retry := e.Type == "NOT_FOUND"
		return &registry.TrackerError{Tracker: registry.TrackerGitHub, Op: op, Status: http.StatusOK, Retryable: retry,
			Err: fmt.Errorf("GraphQL updateProjectV2ItemPosition: %s", e.Message)}
	}
	return nil
}
