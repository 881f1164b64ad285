package githubtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
)

func TestFakeProjectsLikeGitHub(t *testing.T) {
	srv := githubtest.NewServer(t)
	srv.AddRepo("acme/rel")
	srv.AddProject("acme", true, 7, "Reliability")
	srv.AddProject("octocat", false, 2, "Mine")
	for range 250 {
		srv.AddProjectDraft("acme", 7, "d")
	}
	c := client(t, srv, srv.Token())
	ctx := context.Background()

	// An organisation's path never finds a user's project.
	if _, resp, err := c.Projects.GetOrganizationProject(ctx, "octocat", 2); err == nil || resp.StatusCode != 404 {
		t.Fatalf("org path to a user project: %v", err)
	}
	p, _, err := c.Projects.GetUserProject(ctx, "octocat", 2)
	if err != nil || !strings.HasPrefix(p.GetNodeID(), "PVT_") {
		t.Fatalf("user project %v %v", p, err)
	}
	// per_page is capped at 100; after cursors walk the items once.
	opts := &gh.ListProjectItemsOptions{ListProjectsOptions: gh.ListProjectsOptions{ListProjectsPaginationOptions: gh.ListProjectsPaginationOptions{PerPage: 500}}}
	seen, pages := map[int64]bool{}, 0
	for {
		items, resp, err := c.Projects.ListOrganizationProjectItems(ctx, "acme", 7, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range items {
			seen[it.GetID()] = true
		}
		if resp.After == "" {
			break
		}
		opts.After = resp.After
	}
	if len(seen) != 250 || pages != 3 {
		t.Fatalf("%d items in %d pages", len(seen), pages)
	}
}

func TestFakeGraphQLChecksTheSchema(t *testing.T) {
	srv := githubtest.NewServer(t)
	srv.AddProject("acme", true, 7, "Reliability")
	a := srv.AddProjectDraft("acme", 7, "a")
	srv.AddProjectDraft("acme", 7, "b")
	items := srv.ProjectItems("acme", 7)
	p, _, _ := client(t, srv, srv.Token()).Projects.GetOrganizationProject(context.Background(), "acme", 7)
	post := func(query string, input map[string]any) map[string]any {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"input": input}})
		req, _ := http.NewRequest("POST", strings.TrimSuffix(srv.URL(), "v3/")+"graphql", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		resp, err := srv.HTTPClient().Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("graphql: %v %v", resp, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	const q = `mutation($input: UpdateProjectV2ItemPositionInput!) { updateProjectV2ItemPosition(input: $input) { clientMutationId } }`
	msg := func(out map[string]any) string {
		errs, _ := out["errors"].([]any)
		if len(errs) == 0 {
			return ""
		}
		return errs[0].(map[string]any)["message"].(string)
	}
	if m := msg(post(q, map[string]any{"projectId": p.GetNodeID(), "itemId": items[0].NodeID, "after": items[1].NodeID})); !strings.Contains(m, "invalid value for after (Field is not defined on UpdateProjectV2ItemPositionInput)") {
		t.Fatalf("unknown argument: %q", m)
	}
	if m := msg(post(q, map[string]any{"projectId": p.GetNodeID(), "itemId": "PVTI_nope"})); !strings.Contains(m, "Could not resolve to a node with the global id of 'PVTI_nope'") {
		t.Fatalf("unknown item: %q", m)
	}
	if m := msg(post(strings.Replace(q, "updateProjectV2ItemPosition", "moveProjectV2Item", 1), map[string]any{})); !strings.Contains(m, "Field 'moveProjectV2Item' doesn't exist on type 'Mutation'") {
		t.Fatalf("unknown mutation: %q", m)
	}
	if out := post(q, map[string]any{"projectId": p.GetNodeID(), "itemId": items[0].NodeID, "afterId": items[1].NodeID}); msg(out) != "" {
		t.Fatalf("move: %v", out)
	}
	if got := srv.ProjectItems("acme", 7); got[1].ID != a {
		t.Fatalf("a did not move after b: %+v", got)
	}
}
