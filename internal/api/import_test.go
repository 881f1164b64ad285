package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/api"
)

// POST /api/v1/import: CSV or a JSON array, all or nothing, a dry run
// writing nothing, bad rows named by line and column, team scope enforced.
func TestImport(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		csv := "title,impact,scope,likelihood,owner\n" +
			"Orphaned snapshots accumulate,high,4,3,payments\n" +
			"Checkout latency degrades daily,2,4,5 — daily,payments\n"
		res := e.call(t, admin, "POST", "/api/v1/import?dry_run=true", csv, "Content-Type", "text/csv")
		var dry api.ImportResult
		res.json(t, &dry)
		if res.StatusCode != http.StatusOK || len(dry.Created) != 2 || e.snap(t, "").risks != 0 {
			t.Fatalf("dry run: %d %s", res.StatusCode, res.body)
		}
		res = e.call(t, teamed, "POST", "/api/v1/import", csv, "Content-Type", "text/csv")
		var done api.ImportResult
		res.json(t, &done)
		if res.StatusCode != http.StatusOK || len(done.Created) != 2 || done.Errors == nil {
			t.Fatalf("import: %d %s", res.StatusCode, res.body)
		}
		// The same file again changes nothing; as JSON too.
		res = e.call(t, teamed, "POST", "/api/v1/import", csv, "Content-Type", "text/csv")
		res.json(t, &done)
		if done.Unchanged != 2 || len(done.Created)+len(done.Updated) != 0 {
			t.Fatalf("re-import: %s", res.body)
		}
		res = e.call(t, teamed, "POST", "/api/v1/import", `[{"risk":"Orphaned snapshots accumulate","likelihood":4}]`, "Content-Type", "application/json")
		res.json(t, &done)
		if res.StatusCode != http.StatusOK || len(done.Updated) != 1 {
			t.Fatalf("json import: %d %s", res.StatusCode, res.body)
		}
		// A bad row among 1,000 writes nothing and is named by line and column.
		var big strings.Builder
		big.WriteString("title,impact,owner\n")
		for i := 2; i <= 1001; i++ {
			impact := "3"
			if i == 500 {
				impact = "9"
			}
			fmt.Fprintf(&big, "bulk %d,%s,payments\n", i, impact)
		}
		before := e.snap(t, "")
		res = e.call(t, admin, "POST", "/api/v1/import", big.String(), "Content-Type", "text/csv")
		wantProblem(t, res, http.StatusUnprocessableEntity, "line 500: impact", "")
		e.unchanged(t, "", before, "bad row")
		// A team editor may not import another team's risk; unknown columns fail.
		res = e.call(t, teamed, "POST", "/api/v1/import", "title,owner\nnot ours,storage-sre\n", "Content-Type", "text/csv")
		wantProblem(t, res, http.StatusForbidden, "", "")
		res = e.call(t, admin, "POST", "/api/v1/import", "title,colour\nx,red\n", "Content-Type", "text/csv")
		wantProblem(t, res, http.StatusUnprocessableEntity, "", "")
		res = e.call(t, admin, "POST", "/api/v1/import", "<xml/>", "Content-Type", "application/xml")
		if res.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("xml: %d %s", res.StatusCode, res.body)
		}
		e.unchanged(t, "", before, "refused imports")
	})
}
