package auth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

// BenchmarkAuthenticate is the per-request cost of a bearer token against
// a real store: hash, one indexed lookup, constant-time compare (last-used
// writes are at most once a minute per token, so not per request).
func BenchmarkAuthenticate(b *testing.B) {
	for name, open := range registrytest.Backends() {
		b.Run(name, func(b *testing.B) {
			clock := registrytest.NewClock()
			s := open(b, registrytest.DefaultOptions(clock))
			secret := auth.NewToken()
			if err := s.CreateToken(b.Context(), registry.Token{Name: "bench", Role: registry.RoleReader, Hash: auth.Hash(secret), CreatedAt: clock.Now()}); err != nil {
				b.Fatal(err)
			}
			a, err := auth.New(auth.Options{Tokens: s, Now: clock.Now})
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/api/v1/risks", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			for b.Loop() {
				if _, err := a.Authenticate(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
