package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/risksync/risksync/internal/api"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

// BenchmarkListRisks is GET /api/v1/risks?limit=50 over 100,000 risks,
// through a real HTTP server: the first page, and a page deep in the
// ranking (keyset cursor). Target: under 10 ms a request.
func BenchmarkListRisks(b *testing.B) {
	for name, open := range registrytest.Backends() {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, open)
			registrytest.SeedRisks(b, e.store, 100_000)
			first := getList(b, e, "?limit=50")
			deep := "?limit=50&cursor=" + *first.NextCursor
			for range 200 { // a cursor about 10,000 risks in
				deep = "?limit=50&cursor=" + *getList(b, e, deep).NextCursor
			}
			for _, q := range []struct{ name, query string }{{"first page", "?limit=50"}, {"page 200", deep},
				{"owner first page", "?limit=50&owner=payments"}} {
				b.Run(q.name, func(b *testing.B) {
					before := e.store.Statements()
					b.ResetTimer()
					for b.Loop() {
						if l := getList(b, e, q.query); len(l.Risks) != 50 {
							b.Fatalf("%d risks", len(l.Risks))
						}
					}
					b.ReportMetric(float64(e.store.Statements()-before)/float64(b.N), "stmts/op")
				})
			}
		})
	}
}

func getList(b *testing.B, e *env, query string) api.RiskList {
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/risks"+query, nil)
	req.Header.Set("Authorization", "Bearer "+reader)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var l api.RiskList
	if res.StatusCode != 200 {
		body, _ := io.ReadAll(res.Body)
		b.Fatalf("%d %s", res.StatusCode, body)
	}
	if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkAuthentication measures what the API adds around the
// Authenticator (in process, no network): a refused request (401 problem)
// and the cheapest authenticated one (GET /api/v1/teams, no database).
func BenchmarkAuthentication(b *testing.B) {
	e := newEnv(b, registrytest.Backends()["sqlite"])
	for _, c := range []struct {
		name, token string
		want        int
	}{{"refused", "", 401}, {"unknown token", "rsk_unknown", 401}, {"teams", reader, 200}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/v1/teams", nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			for b.Loop() {
				w := httptest.NewRecorder()
				e.api.ServeHTTP(w, req)
				if w.Code != c.want {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
