package jiratest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Routes of comment commands.
const (
	CommentsRoute         = "/rest/api/2/issue/{issueIdOrKey}/comment"
	PermissionSearchRoute = "/rest/api/2/user/permission/search"
)

// AddComment posts a comment as author (an account id on Cloud, a user
// name on Data Center), bumping the issue's updated as Jira does; it
// returns the comment id.
func (s *Server) AddComment(key, author, body string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.byKey[key]
	if is == nil {
		panic("jiratest: no issue " + key)
	}
	return s.addComment(is, author, body).ID
}

// EditComment changes a comment's body; the issue's updated moves too.
func (s *Server) EditComment(id, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, is := range s.issues {
		for i := range is.Comments {
			if is.Comments[i].ID == id {
				is.Comments[i].Body, is.Comments[i].Updated = body, s.clock
				is.Updated = s.clock
				return
			}
		}
	}
	panic("jiratest: no comment " + id)
}

// GrantEdit gives a user (account id or name) Edit Issues in the projects.
// The risksync account holds it everywhere; others nowhere unless granted.
func (s *Server) GrantEdit(user string, projects ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.editors == nil {
		s.editors = map[string]map[string]bool{}
	}
	if s.editors[user] == nil {
		s.editors[user] = map[string]bool{}
	}
	for _, p := range projects {
		s.editors[user][p] = true
	}
}

// dispatchComments serves the comment listing and the permission search;
// false when the route is neither. The caller holds s.mu.
func (s *Server) dispatchComments(w http.ResponseWriter, route string, segs []string, q url.Values) bool {
	switch route {
	case "GET /issue/{issueIdOrKey}/comment":
		is := s.find(w, segs[4])
		if is == nil {
			return true
		}
		all := make([]map[string]any, 0, len(is.Comments))
		for _, c := range is.Comments {
			up := c.Updated
			if up.IsZero() {
				up = c.Created
			}
			all = append(all, map[string]any{"id": c.ID, "body": c.Body, "author": s.user(c.Author, false),
				"created": s.fmtTime(c.Created), "updated": s.fmtTime(up)})
		}
		if q.Get("orderBy") == "-created" {
			for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
				all[i], all[j] = all[j], all[i]
			}
		}
		start, _ := strconv.Atoi(q.Get("startAt"))
		max, _ := strconv.Atoi(q.Get("maxResults"))
		if max <= 0 || max > 100 {
			max = 100
		}
		start = min(max0(start), len(all))
		end := min(start+max, len(all))
		writeJSON(w, 200, map[string]any{"startAt": start, "maxResults": max, "total": len(all), "comments": all[start:end]})
		return true
	case "GET /user/permission/search":
		if !strings.Contains(q.Get("permissions"), "EDIT_ISSUES") {
			writeJSON(w, 400, errorBody("The permission key is not valid."))
			return true
		}
		key, project := q.Get("issueKey"), q.Get("projectKey")
		if key != "" {
			is := s.find(w, key)
			if is == nil {
				return true
			}
			project = is.project.Key
		}
		user := q.Get("accountId")
		if user == "" {
			user = q.Get("username")
		}
		out := []map[string]any{}
		if user != "" && (user == BotAccountID || s.editors[user][project]) {
			u := s.user(user, false)
			if s.deployment == DataCenter {
				u["name"] = user
			}
			out = append(out, u)
		}
		writeJSON(w, 200, out)
		return true
	}
	return false
}
