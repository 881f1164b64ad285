package jira_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
)

// readCommands posts a person's comment on epic, reads it back through the
// pass's search, and asks who may edit (part of runEverything, so the
// OpenAPI checks see these requests too).
func readCommands(t *testing.T, e *env, epic string) {
	t.Helper()
	person := jiratest.PersonAccountID
	if !e.o.PAT.IsZero() {
		person = jiratest.PersonName
	}
	since := e.srv.Now()
	e.srv.Advance(time.Second)
	id := e.srv.AddComment(epic, person, "/risk review looks right")
	e.srv.Advance(5 * time.Second)
	e.pass()
	if _, err := e.c.PullBack(e.ctx, "PAY"); err != nil {
		t.Fatal(err)
	}
	got, next, err := e.c.Comments(e.ctx, "PAY", since)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range got {
		if c.ID == id {
			found = c.Author == person && !c.Own && strings.HasPrefix(c.Body, "/risk review") && c.IssueKey == epic
		}
	}
	if !found || !next.After(since) {
		t.Fatalf("comments %+v next %v", got, next)
	}
	// Nothing moved: no request.
	e.pass()
	if _, err := e.c.PullBack(e.ctx, "PAY"); err != nil {
		t.Fatal(err)
	}
	before := e.srv.Count(http.MethodGet, jiratest.CommentsRoute)
	if again, _, err := e.c.Comments(e.ctx, "PAY", next); err != nil || len(again) != 0 || e.srv.Count(http.MethodGet, jiratest.CommentsRoute) != before {
		t.Fatalf("quiet project: %v %v, %d reads", again, err, e.srv.Count(http.MethodGet, jiratest.CommentsRoute)-before)
	}
	if ok, err := e.c.CanEdit(e.ctx, epic, person); err != nil || ok {
		t.Fatalf("CanEdit before the grant: %v %v", ok, err)
	}
	e.srv.GrantEdit(person, "PAY")
	if ok, err := e.c.CanEdit(e.ctx, epic, person); err != nil || !ok {
		t.Fatalf("CanEdit after the grant: %v %v", ok, err)
	}
}

func TestCommentsCloudAndDataCenter(t *testing.T) {
	runEverything(t, newEnv(t))
}
