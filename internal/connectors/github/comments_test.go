package github

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
)

// Comments reads a repository's comments only when a listing showed an
// issue moved: a quiet pass costs no request.
func TestCommentsOnlyWhereIssuesMoved(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.ensure(epicFor(1, "Primary fails over slowly", 4, 4, 4, ""))
	_, n, _ := parseIssueKey(res.Link.Key)
	e.pull()
	since := e.clock.Now()
	e.clock.Advance(time.Minute)
	unrelated := e.srv.CreateIssue(repoName, githubtest.NewIssue{Title: "not an epic"})
	e.srv.AddComment(repoName, unrelated, "alice", "/risk RISK-1 review")
	id := e.srv.AddComment(repoName, n, "alice", "/risk review fine")
	e.clock.Advance(time.Minute)
	e.pull()
	got, next, err := e.c.Comments(ctx, repoName, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != strconv.FormatInt(id, 10) || got[0].Author != "alice" || got[0].Own || got[0].IssueKey != res.Link.Key || !next.After(since) {
		t.Fatalf("comments %+v next %v", got, next)
	}
	e.clock.Advance(time.Minute)
	e.pull()
	before := e.srv.Count(http.MethodGet, githubtest.RouteRepoComments)
	if again, _, err := e.c.Comments(ctx, repoName, next); err != nil || len(again) != 0 || e.srv.Count(http.MethodGet, githubtest.RouteRepoComments) != before {
		t.Fatalf("quiet repository: %v %v", again, err)
	}
	if before != 1 {
		t.Fatalf("%d comment listings, want 1", before)
	}

	for perm, want := range map[string]bool{"": false, "read": false, "triage": false, "write": true, "maintain": true, "admin": true} {
		login := "user-" + perm
		if perm != "" {
			e.srv.SetPermission(repoName, login, perm)
		}
		if ok, err := e.c.CanEdit(ctx, res.Link.Key, login); err != nil || ok != want {
			t.Errorf("%q: CanEdit = %v, %v", perm, ok, err)
		}
	}
}
