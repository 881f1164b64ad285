package api_test

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/risksync/risksync/internal/registry/registrytest"
)

var update = flag.Bool("update", false, "rewrite api/openapi.json from the handlers")

// committedDocument is the OpenAPI document kept in the repository.
var committedDocument = filepath.Join("..", "..", "api", "openapi.json")

// TestOpenAPIDocumentIsCommitted fails when the committed document differs
// from the generated one: run go generate ./internal/api (or this test with
// -update) and commit the result.
func TestOpenAPIDocumentIsCommitted(t *testing.T) {
	e := newEnv(t, registrytest.Backends()["sqlite"])
	got := e.api.Document()
	if *update {
		if err := os.MkdirAll(filepath.Dir(committedDocument), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(committedDocument, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(committedDocument)
	if err != nil {
		t.Fatalf("%v: run go generate ./internal/api", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the generated document: run go generate ./internal/api and commit it", committedDocument)
	}
	// Served as committed, without a token.
	res := e.call(t, "", http.MethodGet, "/api/v1/openapi.json", nil)
	if res.StatusCode != http.StatusOK || !bytes.Equal(res.body, want) {
		t.Fatalf("GET /api/v1/openapi.json: %d, %d bytes; want 200 and the committed document", res.StatusCode, len(res.body))
	}
}
