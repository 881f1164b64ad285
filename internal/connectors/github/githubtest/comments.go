package githubtest

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Routes of comment commands: the repository's comment listing and a
// collaborator's permission, as GitHub documents them.
const (
	RouteRepoComments = "/repos/{owner}/{repo}/issues/comments"
	RoutePermission   = "/repos/{owner}/{repo}/collaborators/{username}/permission"
)

func (s *Server) commentRoutes(h func(string, routeFunc)) {
	h("GET "+RouteRepoComments, s.listRepoComments)
	h("GET "+RoutePermission, s.getPermission)
}

// AddComment posts a comment as author (a person), bumping the issue's
// updated_at as GitHub does; it returns the comment id.
func (s *Server) AddComment(repoName string, number int, author, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.mustIssue(repoName, number)
	now := s.clock()
	c := Comment{ID: s.id(), Author: author, Body: body, CreatedAt: now, UpdatedAt: now}
	is.Comments = append(is.Comments, c)
	is.UpdatedAt = now
	return c.ID
}

// EditComment changes a comment's body; like GitHub, the issue's
// updated_at does not move.
func (s *Server) EditComment(id int64, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rp := range s.repos {
		for _, is := range rp.issues {
			for i := range is.Comments {
				if is.Comments[i].ID == id {
					is.Comments[i].Body, is.Comments[i].UpdatedAt = body, s.clock()
					return
				}
			}
		}
	}
	panic(fmt.Sprintf("githubtest: no comment %d", id))
}

// SetPermission gives login a permission on the repository: admin,
// maintain, write, triage, read or none (the default for strangers).
func (s *Server) SetPermission(repoName, login, perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	if s.perms == nil {
		s.perms = map[string]string{}
	}
	s.perms[r.name+" "+login] = perm
}

// listRepoComments serves every comment of a repository, filtered by
// updated_at >= since, sorted by created (default) or updated.
func (s *Server) listRepoComments(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, _, ok := s.lookup(r)
	if !ok {
		return notFound()
	}
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return invalid("IssueComment", "since", "invalid")
		}
		since = t
	}
	type sel struct {
		c Comment
		n int
	}
	var all []sel
	for _, is := range rp.issues {
		for _, c := range is.Comments {
			if !c.updated().Before(since) {
				all = append(all, sel{c, is.Number})
			}
		}
	}
	key := func(x sel) time.Time { return x.c.CreatedAt }
	if q.Get("sort") == "updated" {
		key = func(x sel) time.Time { return x.c.updated() }
	}
	desc := q.Get("direction") == "desc"
	sort.SliceStable(all, func(i, j int) bool {
		a, b := key(all[i]), key(all[j])
		if desc {
			return a.After(b)
		}
		return a.Before(b)
	})
	out := []map[string]any{}
	for _, x := range paginate(w, r, all) {
		m := commentJSON(r, rp.name, x.n, x.c)
		m["issue_url"] = fmt.Sprintf("%s/repos/%s/issues/%d", s.base(r), rp.name, x.n)
		out = append(out, m)
	}
	return http.StatusOK, out
}

func (c Comment) updated() time.Time {
	if c.UpdatedAt.IsZero() {
		return c.CreatedAt
	}
	return c.UpdatedAt
}

// getPermission answers GitHub's legacy permission field (admin, write,
// read, none; maintain reads as write, triage as read) and role_name.
func (s *Server) getPermission(w http.ResponseWriter, r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, _, ok := s.lookup(r)
	if !ok {
		return notFound()
	}
	login := r.PathValue("username")
	role := s.perms[rp.name+" "+login]
	if login == s.login {
		role = "admin"
	}
	if role == "" {
		role = "none"
	}
	legacy := map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}[role]
	if legacy == "" {
		legacy = "none"
	}
	return http.StatusOK, map[string]any{"permission": legacy, "role_name": role, "user": user(login)}
}
