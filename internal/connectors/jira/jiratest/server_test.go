package jiratest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, s *Server, path string, q url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path+"?"+q.Encode(), nil)
	req.SetBasicAuth(Email, APIToken)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, resp.Header, m
}

func TestFakeSharpEdges(t *testing.T) {
	s := NewServer(t)
	s.AddProject(Project{Key: "PAY"})
	for i := 0; i < 5; i++ {
		s.CreateIssue(NewIssue{Project: "PAY", Type: "Epic", Summary: "e", Labels: []string{"risk"}})
		s.Advance(30 * time.Second)
	}
	if code, _, _ := get(t, s, "/rest/api/2/search", url.Values{"jql": {"project = PAY"}}); code != http.StatusGone {
		t.Errorf("old search on Cloud: %d", code)
	}
	if code, _, _ := get(t, s, "/rest/api/2/search/jql", url.Values{"jql": {"order by created"}}); code != 400 {
		t.Errorf("unbounded query: %d", code)
	}
	if code, _, _ := get(t, s, "/rest/api/2/search/jql", url.Values{"jql": {`updated >= "2026-11-20 19:30:15"`}}); code != 400 {
		t.Errorf("seconds in a JQL date: %d", code)
	}
	// Pagination by token.
	var keys []string
	token := ""
	for pages := 0; ; pages++ {
		q := url.Values{"jql": {"project = PAY"}, "maxResults": {"2"}, "fields": {"summary"}}
		if token != "" {
			q.Set("nextPageToken", token)
		}
		code, _, m := get(t, s, "/rest/api/2/search/jql", q)
		if code != 200 {
			t.Fatalf("search: %d %v", code, m)
		}
		for _, is := range m["issues"].([]any) {
			keys = append(keys, is.(map[string]any)["key"].(string))
		}
		tok, _ := m["nextPageToken"].(string)
		if tok == "" {
			if m["isLast"] != true {
				t.Error("last page not marked")
			}
			break
		}
		token = tok
	}
	if len(keys) != 5 {
		t.Fatalf("paged keys %v", keys)
	}
	// Dates are read in the user's zone (Adelaide, +10:30 in November), to the minute.
	third := s.Issue("PAY-3").Updated // 09:01:00Z
	local := third.In(s.TimeZone()).Format("2006-01-02 15:04")
	_, _, m := get(t, s, "/rest/api/2/search/jql", url.Values{"jql": {`project = PAY AND updated >= "` + local + `"`}, "fields": {"updated"}})
	if n := len(m["issues"].([]any)); n != 3 {
		t.Errorf("updated >= %s (local): %d issues, want 3", local, n)
	}
	utc := third.UTC().Format("2006-01-02 15:04")
	_, _, m = get(t, s, "/rest/api/2/search/jql", url.Values{"jql": {`project = PAY AND updated >= "` + utc + `"`}, "fields": {"updated"}})
	if n := len(m["issues"].([]any)); n != 5 {
		t.Errorf("a UTC wall time read as local: %d issues, want 5", n)
	}
	// Search lag and reconcileIssues.
	s.Advance(2 * time.Minute)
	s.SetSearchLag(time.Minute)
	key := s.CreateIssue(NewIssue{Project: "PAY", Type: "Epic", Summary: "fresh"})
	id := s.Issue(key).ID
	_, _, m = get(t, s, "/rest/api/2/search/jql", url.Values{"jql": {"project = PAY"}})
	if n := len(m["issues"].([]any)); n != 5 {
		t.Errorf("under lag: %d issues, want 5", n)
	}
	_, _, m = get(t, s, "/rest/api/2/search/jql", url.Values{"jql": {"project = PAY"}, "reconcileIssues": {itoa(id)}})
	if n := len(m["issues"].([]any)); n != 6 {
		t.Errorf("reconciled: %d issues, want 6", n)
	}
	// Rate limit headers.
	s.RateLimit(1, 90*time.Second)
	code, h, _ := get(t, s, "/rest/api/2/myself", nil)
	reset, err := time.Parse("2006-01-02T15:04Z07:00", h.Get("X-RateLimit-Reset"))
	if code != 429 || h.Get("Retry-After") != "90" || err != nil || !reset.Equal(s.Now().Add(90*time.Second).Truncate(time.Minute)) {
		t.Errorf("429: %d %v (%v)", code, h, err)
	}
	// Wrong credentials.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/rest/api/2/myself", nil)
	req.SetBasicAuth(Email, "nope")
	resp, err := s.Client().Do(req)
	if err != nil || resp.StatusCode != 401 {
		t.Errorf("bad credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	// A dropped answer after a committed create.
	s.DropAfterCommit(http.MethodPost, "/rest/api/2/issue", 1)
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/rest/api/2/issue", strings.NewReader(`{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Task"},"summary":"x"}}`))
	req.SetBasicAuth(Email, APIToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Error("dropped answer arrived")
	}
	if len(s.Issues()) != 7 {
		t.Errorf("create not committed: %d issues", len(s.Issues()))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
