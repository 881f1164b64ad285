package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitHub Projects (v2): organisation and user projects, their fields
// (single select with options, number, text, and the built-in Title and
// Status), items (issues, pull requests, draft issues) in position order,
// the REST items and fields endpoints with cursor pagination (per_page
// default 30, at most 100; Link headers carry after/before cursors), and
// the one GraphQL mutation GitHub offers no REST twin for:
// updateProjectV2ItemPosition, its input checked against GitHub's schema.

// Routes of the projects endpoints, as GitHub's REST description names them.
const (
	RouteOrgProject      = "/orgs/{org}/projectsV2/{project_number}"
	RouteOrgFields       = "/orgs/{org}/projectsV2/{project_number}/fields"
	RouteOrgItems        = "/orgs/{org}/projectsV2/{project_number}/items"
	RouteOrgItem         = "/orgs/{org}/projectsV2/{project_number}/items/{item_id}"
	RouteUserProject     = "/users/{username}/projectsV2/{project_number}"
	RouteUserFields      = "/users/{username}/projectsV2/{project_number}/fields"
	RouteUserItems       = "/users/{username}/projectsV2/{project_number}/items"
	RouteUserItem        = "/users/{username}/projectsV2/{project_number}/items/{item_id}"
	RouteGraphQL         = "/graphql" // served at /api/graphql, as GHES does
	ProjectOwnerOrg      = "Organization"
	ProjectOwnerUser     = "User"
	FieldSingleSelect    = "single_select"
	FieldNumber          = "number"
	FieldText            = "text"
	fieldTitle           = "title"
	ContentIssue         = "Issue"
	ContentPullRequest   = "PullRequest"
	ContentDraftIssue    = "DraftIssue"
	graphqlPositionInput = "UpdateProjectV2ItemPositionInput"
)

// Project is the fake's record of a project (v2).
type Project struct {
	ID        int64
	NodeID    string
	Owner     string
	OwnerType string // Organization | User
	Number    int
	Title     string
	Fields    []*ProjectField
	Items     []*ProjectItem // in position order
}

// ProjectField is a project field.
type ProjectField struct {
	ID       int64
	NodeID   string
	Name     string
	DataType string // single_select | number | text | title
	Options  []ProjectOption
}

// ProjectOption is an option of a single-select field.
type ProjectOption struct{ ID, Name string }

// ProjectItem is an item of a project.
type ProjectItem struct {
	ID          int64
	NodeID      string
	ContentType string // Issue | PullRequest | DraftIssue
	Issue       *Ref   // Issue and PullRequest
	DraftTitle  string
	// Values by field name: a single select holds the option's name, a
	// number a float64, text a string.
	Values    map[string]any
	values    map[int64]any // by field id (option id for single selects)
	CreatedAt time.Time
	UpdatedAt time.Time
	UpdatedBy string
}

func projectKey(owner string, number int) string {
	return strings.ToLower(owner) + "#" + strconv.Itoa(number)
}

// AddProject creates a project owned by an organisation (org) or a user,
// with the built-in Title field and a Status single select.
func (s *Server) AddProject(owner string, org bool, number int, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projects == nil {
		s.projects = map[string]*Project{}
	}
	typ := ProjectOwnerUser
	if org {
		typ = ProjectOwnerOrg
	}
	id := s.id()
	p := &Project{ID: id, NodeID: fmt.Sprintf("PVT_kw%d", id), Owner: owner, OwnerType: typ, Number: number, Title: title}
	s.projects[projectKey(owner, number)] = p
	s.addField(p, "Title", fieldTitle)
	s.addField(p, "Status", FieldSingleSelect, "Todo", "In Progress", "Done")
}

// AddProjectField adds a field (options for single selects) and returns its id.
func (s *Server) AddProjectField(owner string, number int, name, dataType string, options ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addField(s.mustProject(owner, number), name, dataType, options...).ID
}

func (s *Server) addField(p *Project, name, dataType string, options ...string) *ProjectField {
	id := s.id()
	f := &ProjectField{ID: id, NodeID: fmt.Sprintf("PVTF_%d", id), Name: name, DataType: dataType}
	for _, o := range options {
		f.Options = append(f.Options, ProjectOption{ID: fmt.Sprintf("%08x", s.id()), Name: o})
	}
	p.Fields = append(p.Fields, f)
	return f
}

func (s *Server) mustProject(owner string, number int) *Project {
	p := s.projects[projectKey(owner, number)]
	if p == nil {
		panic(fmt.Sprintf("githubtest: no project %s#%d", owner, number))
	}
	return p
}

func (s *Server) newItem(p *Project, contentType string, ref *Ref, draft, actor string) *ProjectItem {
	now := s.clock()
	id := s.id()
	it := &ProjectItem{ID: id, NodeID: fmt.Sprintf("PVTI_lA%d", id), ContentType: contentType, Issue: ref, DraftTitle: draft,
		values: map[int64]any{}, CreatedAt: now, UpdatedAt: now, UpdatedBy: actor}
	p.Items = append(p.Items, it) // new items go to the bottom, as on GitHub
	return it
}

// AddProjectIssue adds an issue (or pull request) to a project as a person
// and returns the item's id.
func (s *Server) AddProjectIssue(owner string, number int, repoName string, issue int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.mustIssue(repoName, issue)
	typ := ContentIssue
	if is.PullRequest {
		typ = ContentPullRequest
	}
	return s.newItem(s.mustProject(owner, number), typ, &Ref{Repo: repoName, Number: issue}, "", DefaultPerson).ID
}

// AddProjectDraft adds a draft issue as a person and returns the item's id.
func (s *Server) AddProjectDraft(owner string, number int, title string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newItem(s.mustProject(owner, number), ContentDraftIssue, nil, title, DefaultPerson).ID
}

// MoveProjectItem moves an item right after another (0: to the top), as a
// person dragging it in the table view.
func (s *Server) MoveProjectItem(owner string, number int, itemID, afterID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(owner, number)
	if !s.moveItem(p, s.findItem(p, itemID), s.findItem(p, afterID), DefaultPerson) {
		panic("githubtest: no such item")
	}
}

// SetProjectValue sets an item's field as a person (nil clears; a single
// select takes the option's name).
func (s *Server) SetProjectValue(owner string, number int, itemID int64, field string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(owner, number)
	it := s.findItem(p, itemID)
	f := fieldNamed(p, field)
	if it == nil || f == nil {
		panic("githubtest: no such item or field")
	}
	if name, ok := v.(string); ok && f.DataType == FieldSingleSelect {
		v = nil
		for _, o := range f.Options {
			if o.Name == name {
				v = o.ID
			}
		}
	}
	if v == nil {
		delete(it.values, f.ID)
	} else {
		it.values[f.ID] = v
	}
	it.UpdatedAt, it.UpdatedBy = s.clock(), DefaultPerson
}

func fieldNamed(p *Project, name string) *ProjectField {
	for _, f := range p.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func (s *Server) findItem(p *Project, id int64) *ProjectItem {
	for _, it := range p.Items {
		if it.ID == id {
			return it
		}
	}
	return nil
}

// moveItem puts it right after after (nil: top).
func (s *Server) moveItem(p *Project, it, after *ProjectItem, actor string) bool {
	i := slices.Index(p.Items, it)
	if i < 0 {
		return false
	}
	p.Items = slices.Delete(p.Items, i, i+1)
	at := 0
	if after != nil {
		j := slices.Index(p.Items, after)
		if j < 0 {
			p.Items = slices.Insert(p.Items, i, it)
			return false
		}
		at = j + 1
	}
	p.Items = slices.Insert(p.Items, at, it)
	it.UpdatedAt, it.UpdatedBy = s.clock(), actor
	return true
}

// ProjectItems returns copies of a project's items in position order, with
// Values by field name.
func (s *Server) ProjectItems(owner string, number int) []ProjectItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(owner, number)
	out := make([]ProjectItem, 0, len(p.Items))
	for _, it := range p.Items {
		c := *it
		c.values, c.Values = nil, map[string]any{}
		for _, f := range p.Fields {
			v, ok := it.values[f.ID]
			if !ok {
				continue
			}
			if f.DataType == FieldSingleSelect {
				for _, o := range f.Options {
					if o.ID == v {
						v = o.Name
					}
				}
			}
			c.Values[f.Name] = v
		}
		if it.Issue != nil {
			r := *it.Issue
			c.Issue = &r
		}
		out = append(out, c)
	}
	return out
}

// Key names an item: "owner/repo#n" for issues and pull requests,
// "draft:<title>" for drafts.
func (it ProjectItem) Key() string {
	if it.Issue != nil {
		return fmt.Sprintf("%s#%d", it.Issue.Repo, it.Issue.Number)
	}
	return "draft:" + it.DraftTitle
}

// --- HTTP ---

func (s *Server) projectRoutes(h func(string, routeFunc)) {
	for _, r := range []struct{ project, fields, items, item string }{
		{RouteOrgProject, RouteOrgFields, RouteOrgItems, RouteOrgItem},
		{RouteUserProject, RouteUserFields, RouteUserItems, RouteUserItem},
	} {
		h("GET "+r.project, s.getProject)
		h("GET "+r.fields, s.listProjectFields)
		h("GET "+r.items, s.listProjectItems)
		h("POST "+r.items, s.postProjectItem)
		h("PATCH "+r.item, s.patchProjectItem)
	}
	s.mux.HandleFunc("POST /api/graphql", s.graphql)
}

// project resolves {org} or {username} and {project_number}: an
// organisation's path never finds a user's project, nor the reverse.
func (s *Server) project(r *http.Request) *Project {
	owner, typ := r.PathValue("org"), ProjectOwnerOrg
	if owner == "" {
		owner, typ = r.PathValue("username"), ProjectOwnerUser
	}
	n, err := strconv.Atoi(r.PathValue("project_number"))
	if err != nil {
		return nil
	}
	p := s.projects[projectKey(owner, n)]
	if p == nil || p.OwnerType != typ {
		return nil
	}
	return p
}

func (s *Server) projectJSON(r *http.Request, p *Project) map[string]any {
	owner := user(p.Owner)
	owner["type"] = p.OwnerType
	path := "orgs"
	if p.OwnerType == ProjectOwnerUser {
		path = "users"
	}
	return map[string]any{"id": p.ID, "node_id": p.NodeID, "owner": owner, "creator": user(DefaultPerson), "title": p.Title,
		"number": p.Number, "public": false, "closed_at": nil, "state": "open", "is_template": false,
		"html_url": fmt.Sprintf("http://%s/%s/%s/projects/%d", r.Host, path, p.Owner, p.Number)}
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(r)
	if p == nil {
		return notFound()
	}
	return http.StatusOK, s.projectJSON(r, p)
}

func textContent(v string) map[string]any { return map[string]any{"raw": v, "html": v} }

func fieldJSON(f *ProjectField) map[string]any {
	m := map[string]any{"id": f.ID, "node_id": f.NodeID, "name": f.Name, "data_type": f.DataType}
	if f.DataType == FieldSingleSelect {
		opts := []map[string]any{}
		for _, o := range f.Options {
			opts = append(opts, map[string]any{"id": o.ID, "name": textContent(o.Name), "color": "GRAY", "description": textContent("")})
		}
		m["options"] = opts
	}
	return m
}

func (s *Server) listProjectFields(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(r)
	if p == nil {
		return notFound()
	}
	page, code := cursorPage(w, r, p.Fields, func(f *ProjectField) int64 { return f.ID })
	if code != 0 {
		return code, apiError{msg: "Invalid cursor"}
	}
	out := []map[string]any{}
	for _, f := range page {
		out = append(out, fieldJSON(f))
	}
	return http.StatusOK, out
}

// cursorPage applies per_page (default 30, at most 100) and the opaque
// after/before cursors of the projects endpoints, and sets Link.
func cursorPage[T any](w http.ResponseWriter, r *http.Request, items []T, id func(T) int64) ([]T, int) {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	start, end := 0, len(items)
	find := func(cur string) (int, bool) {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimPrefix(string(b), "cursor:"), 10, 64)
		if err != nil {
			return 0, false
		}
		for i, it := range items {
			if id(it) == v {
				return i, true
			}
		}
		return 0, false
	}
	switch {
	case q.Get("after") != "":
		i, ok := find(q.Get("after"))
		if !ok {
			return nil, http.StatusUnprocessableEntity
		}
		start = i + 1
		end = min(start+per, len(items))
	case q.Get("before") != "":
		i, ok := find(q.Get("before"))
		if !ok {
			return nil, http.StatusUnprocessableEntity
		}
		end = i
		start = max(end-per, 0)
	default:
		end = min(per, len(items))
	}
	cursor := func(it T) string {
		return base64.RawURLEncoding.EncodeToString([]byte("cursor:" + strconv.FormatInt(id(it), 10)))
	}
	link := func(key, cur, rel string) string {
		u := *r.URL
		v := u.Query()
		v.Del("after")
		v.Del("before")
		v.Del("page")
		v.Set(key, cur)
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		return fmt.Sprintf(`<http://%s%s>; rel="%s"`, r.Host, u.RequestURI(), rel)
	}
	var links []string
	if end < len(items) && end > 0 {
		links = append(links, link("after", cursor(items[end-1]), "next"))
	}
	if start > 0 && start < len(items) {
		links = append(links, link("before", cursor(items[start]), "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return items[start:end], 0
}

// itemJSON renders an item with the values of the fields asked for
// (fields=1,2 or fields[]=1&fields[]=2); without, only Title, as GitHub does.
func (s *Server) itemJSON(r *http.Request, p *Project, it *ProjectItem, fieldIDs []int64) map[string]any {
	base := s.base(r)
	path := "orgs/" + p.Owner
	if p.OwnerType == ProjectOwnerUser {
		path = "users/" + p.Owner
	}
	m := map[string]any{"id": it.ID, "node_id": it.NodeID, "content_type": it.ContentType, "creator": user(DefaultPerson),
		"created_at": it.CreatedAt, "updated_at": it.UpdatedAt, "archived_at": nil,
		"project_url": fmt.Sprintf("%s/%s/projectsV2/%d", base, path, p.Number),
		"item_url":    fmt.Sprintf("%s/%s/projectsV2/%d/items/%d", base, path, p.Number, it.ID)}
	title := it.DraftTitle
	switch {
	case it.Issue != nil:
		is := s.repos[it.Issue.Repo].issues[it.Issue.Number-1]
		m["content"] = s.issueJSON(r, is)
		title = is.Title
	default:
		m["content"] = map[string]any{"id": it.ID + 1, "node_id": fmt.Sprintf("DI_%d", it.ID), "title": it.DraftTitle, "body": "",
			"user": user(DefaultPerson), "created_at": it.CreatedAt, "updated_at": it.UpdatedAt}
	}
	fields := []map[string]any{}
	for _, f := range p.Fields {
		if f.DataType == fieldTitle {
			if len(fieldIDs) == 0 || slices.Contains(fieldIDs, f.ID) {
				fields = append(fields, map[string]any{"id": f.ID, "name": f.Name, "data_type": f.DataType, "value": map[string]any{"raw": title, "html": title}})
			}
			continue
		}
		if !slices.Contains(fieldIDs, f.ID) {
			continue
		}
		var v any = it.values[f.ID]
		if f.DataType == FieldSingleSelect && v != nil {
			for _, o := range f.Options {
				if o.ID == v {
					v = map[string]any{"id": o.ID, "name": textContent(o.Name), "color": "GRAY", "description": textContent("")}
				}
			}
		}
		fields = append(fields, map[string]any{"id": f.ID, "name": f.Name, "data_type": f.DataType, "value": v})
	}
	m["fields"] = fields
	return m
}

func fieldIDsOf(r *http.Request) ([]int64, bool) {
	q := r.URL.Query()
	var raw []string
	for _, v := range append(q["fields"], q["fields[]"]...) {
		raw = append(raw, strings.Split(v, ",")...)
	}
	var out []int64
	for _, v := range raw {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, id)
	}
	return out, true
}

func (s *Server) listProjectItems(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(r)
	if p == nil {
		return notFound()
	}
	ids, ok := fieldIDsOf(r)
	if !ok {
		return invalid("ProjectV2Item", "fields", "invalid")
	}
	page, code := cursorPage(w, r, p.Items, func(it *ProjectItem) int64 { return it.ID })
	if code != 0 {
		return code, apiError{msg: "Invalid cursor"}
	}
	out := []map[string]any{}
	for _, it := range page {
		out = append(out, s.itemJSON(r, p, it, ids))
	}
	return http.StatusOK, out
}

func (s *Server) postProjectItem(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(r)
	if p == nil {
		return notFound()
	}
	var in struct {
		Type   string `json:"type"`
		ID     *int64 `json:"id"`
		Owner  string `json:"owner"`
		Repo   string `json:"repo"`
		Number int    `json:"number"`
	}
	if !decode(r, &in) || (in.Type != ContentIssue && in.Type != ContentPullRequest) {
		return invalid("ProjectV2Item", "type", "invalid")
	}
	var is *Issue
	switch {
	case in.ID != nil:
		is = s.findByID(*in.ID)
	case in.Owner != "" && in.Repo != "" && in.Number > 0:
		if rp := s.repos[in.Owner+"/"+in.Repo]; rp != nil && in.Number <= len(rp.issues) {
			is = rp.issues[in.Number-1]
		}
	default:
		return invalid("ProjectV2Item", "id", "missing_field")
	}
	if is == nil || is.PullRequest != (in.Type == ContentPullRequest) {
		return invalid("ProjectV2Item", "id", "invalid")
	}
	for _, it := range p.Items {
		if it.Issue != nil && it.Issue.Repo == is.Repo && it.Issue.Number == is.Number {
			return http.StatusCreated, s.itemJSON(r, p, it, nil) // adding twice returns the item
		}
	}
	it := s.newItem(p, in.Type, &Ref{Repo: is.Repo, Number: is.Number}, "", s.login)
	return http.StatusCreated, s.itemJSON(r, p, it, nil)
}

func (s *Server) patchProjectItem(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(r)
	if p == nil {
		return notFound()
	}
	id, _ := strconv.ParseInt(r.PathValue("item_id"), 10, 64)
	it := s.findItem(p, id)
	if it == nil {
		return notFound()
	}
	var in struct {
		Fields []struct {
			ID    int64           `json:"id"`
			Value json.RawMessage `json:"value"`
		} `json:"fields"`
	}
	if !decode(r, &in) || len(in.Fields) == 0 {
		return invalid("ProjectV2Item", "fields", "missing_field")
	}
	next := map[int64]any{}
	var ids []int64
	for _, fv := range in.Fields {
		var f *ProjectField
		for _, x := range p.Fields {
			if x.ID == fv.ID {
				f = x
			}
		}
		if f == nil || f.DataType == fieldTitle {
			return invalid("ProjectV2ItemFieldValue", "fields", "invalid")
		}
		ids = append(ids, f.ID)
		if len(fv.Value) == 0 || string(fv.Value) == "null" {
			next[f.ID] = nil
			continue
		}
		var v any
		if err := json.Unmarshal(fv.Value, &v); err != nil {
			return http.StatusBadRequest, apiError{msg: "Problems parsing JSON"}
		}
		switch f.DataType {
		case FieldSingleSelect:
			sv, ok := v.(string)
			if !ok || !slices.ContainsFunc(f.Options, func(o ProjectOption) bool { return o.ID == sv }) {
				return invalid("ProjectV2ItemFieldValue", "value", "invalid")
			}
		case FieldNumber:
			if _, ok := v.(float64); !ok {
				return invalid("ProjectV2ItemFieldValue", "value", "invalid")
			}
		case FieldText:
			if _, ok := v.(string); !ok {
				return invalid("ProjectV2ItemFieldValue", "value", "invalid")
			}
		}
		next[f.ID] = v
	}
	for id, v := range next {
		if v == nil {
			delete(it.values, id)
		} else {
			it.values[id] = v
		}
	}
	it.UpdatedAt, it.UpdatedBy = s.clock(), s.login
	return http.StatusOK, s.itemJSON(r, p, it, ids)
}

// --- GraphQL ---

var (
	gqlMutationRe = regexp.MustCompile(`^\s*mutation\b[^{]*\{\s*(\w+)\s*\(([^)]*)\)`)
	gqlVarDeclRe  = regexp.MustCompile(`\$(\w+)\s*:\s*([\w!\[\]]+)`)
	// updateProjectV2ItemPosition's input, as GitHub's schema defines it.
	gqlPositionFields = map[string]bool{"projectId": true, "itemId": true, "afterId": true, "clientMutationId": true}
)

type gqlError map[string]any

// graphql serves the mutation subset the connector uses. Like GitHub, it
// answers 200 with "errors" for bad queries and unknown node ids.
func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Query     string                     `json:"query"`
		Variables map[string]json.RawMessage `json:"variables"`
	}
	if !decode(r, &in) || strings.TrimSpace(in.Query) == "" {
		s.writeError(w, http.StatusBadRequest, "Problems parsing JSON", "https://docs.github.com/graphql", nil)
		return
	}
	data, errs := s.runGraphQL(in.Query, in.Variables)
	body := map[string]any{}
	if data != nil {
		body["data"] = data
	}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	b, _ := json.Marshal(body)
	s.rateHeaders(w, true)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) runGraphQL(query string, vars map[string]json.RawMessage) (map[string]any, []gqlError) {
	m := gqlMutationRe.FindStringSubmatch(query)
	if m == nil {
		return nil, []gqlError{{"message": "githubtest: only mutations are served", "extensions": map[string]any{"code": "undefinedField"}}}
	}
	field, args := m[1], strings.TrimSpace(m[2])
	if field != "updateProjectV2ItemPosition" {
		return nil, []gqlError{{"message": fmt.Sprintf("Field '%s' doesn't exist on type 'Mutation'", field),
			"extensions": map[string]any{"code": "undefinedField", "typeName": "Mutation", "fieldName": field}}}
	}
	name, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(args, "input:")), "$")
	if !strings.HasPrefix(args, "input:") || !ok {
		return nil, []gqlError{{"message": "githubtest: pass the input as a variable: updateProjectV2ItemPosition(input: $input)"}}
	}
	declared := ""
	for _, d := range gqlVarDeclRe.FindAllStringSubmatch(query[:strings.Index(query, "{")], -1) {
		if d[1] == name {
			declared = d[2]
		}
	}
	if declared != graphqlPositionInput+"!" {
		return nil, []gqlError{{"message": fmt.Sprintf("Variable $%s is declared by anonymous mutation as %q but %q is expected", name, declared, graphqlPositionInput+"!"),
			"extensions": map[string]any{"code": "variableMismatch"}}}
	}
	var input map[string]any
	if err := json.Unmarshal(vars[name], &input); err != nil || input == nil {
		return nil, []gqlError{invalidVariable(name, "input", "Expected value to not be null")}
	}
	for k := range input {
		if !gqlPositionFields[k] {
			return nil, []gqlError{invalidVariable(name, k, "Field is not defined on "+graphqlPositionInput)}
		}
	}
	for _, k := range []string{"projectId", "itemId"} {
		if v, _ := input[k].(string); v == "" {
			return nil, []gqlError{invalidVariable(name, k, "Expected value to not be null")}
		}
	}
	notFound := func(id string) (map[string]any, []gqlError) {
		return map[string]any{field: nil}, []gqlError{{"type": "NOT_FOUND", "path": []string{field},
			"locations": []map[string]int{{"line": 1, "column": 1}}, "message": fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id)}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *Project
	for _, x := range s.projects {
		if x.NodeID == input["projectId"] {
			p = x
		}
	}
	if p == nil {
		return notFound(input["projectId"].(string))
	}
	byNode := func(id string) *ProjectItem {
		for _, it := range p.Items {
			if it.NodeID == id {
				return it
			}
		}
		return nil
	}
	it := byNode(input["itemId"].(string))
	if it == nil {
		return notFound(input["itemId"].(string))
	}
	var after *ProjectItem
	if a, _ := input["afterId"].(string); a != "" {
		if after = byNode(a); after == nil {
			return notFound(a)
		}
	}
	s.moveItem(p, it, after, s.login)
	return map[string]any{field: map[string]any{"clientMutationId": input["clientMutationId"]}}, nil
}

func invalidVariable(name, key, why string) gqlError {
	return gqlError{"message": fmt.Sprintf("Variable $%s of type %s! was provided invalid value for %s (%s)", name, graphqlPositionInput, key, why),
		"locations":  []map[string]int{{"line": 1, "column": 10}},
		"extensions": map[string]any{"problems": []map[string]any{{"path": []string{key}, "explanation": why}}}}
}
