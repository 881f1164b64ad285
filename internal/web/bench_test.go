package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/service"
)

// signedIn returns a session cookie for the editor.
func signedIn(b *testing.B, s *site) string {
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {s.editor}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.ui.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == auth.SessionCookie {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("sign-in failed: %d", rec.Code)
	return ""
}

func page(b *testing.B, s *site, cookie, path string) {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Cookie", cookie)
	rec := httptest.NewRecorder()
	s.ui.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %.300s", path, rec.Code, rec.Body.String())
	}
}

// BenchmarkRegistryPage renders the first page (50 rows) of a 10,000-risk
// registry, ranked and with a filter, server-side including sign-in.
func BenchmarkRegistryPage(b *testing.B) {
	s := newSite(b, registrytest.Backends()["sqlite"])
	s.seedMany(b, 10_000)
	cookie := signedIn(b, s)
	for _, path := range []string{"/", "/?band=high", "/?q=failure+mode+99", "/?sort=title"} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			for b.Loop() {
				page(b, s, cookie, path)
			}
		})
	}
}

// BenchmarkRiskPage renders a risk with 1,000 history entries.
func BenchmarkRiskPage(b *testing.B) {
	s := newSite(b, registrytest.Backends()["sqlite"])
	ctx := context.Background()
	r := must(s.svc.Create(ctx, admin, service.Change{Title: service.Some("busy risk"), Impact: service.Some(3), Scope: service.Some(3), Likelihood: service.Some(3)}))
	for i := range 500 { // each re-rate writes likelihood and score entries
		if _, err := s.svc.Update(ctx, admin, r.Key, service.Change{Likelihood: service.Some(1 + i%5)}, 0); err != nil {
			b.Fatal(err)
		}
		s.clock.Advance(3600e9)
	}
	_, hist, _ := s.svc.Get(ctx, admin, r.Key, 0)
	if len(hist) < 1000 {
		b.Fatalf("%d history entries", len(hist))
	}
	cookie := signedIn(b, s)
	b.Run(fmt.Sprintf("history=%d", len(hist)), func(b *testing.B) {
		for b.Loop() {
			page(b, s, cookie, "/risks/"+r.Key)
		}
	})
}
