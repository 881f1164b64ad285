package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

func TestNewTokenAndHash(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := auth.NewToken()
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, "rsk_"))
		if !strings.HasPrefix(s, "rsk_") || err != nil || len(raw) != 32 || seen[s] {
			t.Fatalf("token %q: %v, %d bytes, repeated %v", s, err, len(raw), seen[s])
		}
		seen[s] = true
	}
	if h := auth.Hash("abc"); h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("hash %s", h)
	}
}

// spyStore counts what the authenticator does to the real store and can
// answer lookups itself.
type spyStore struct {
	registry.TokenStore
	mu       sync.Mutex
	touches  []string
	byHash   func(hash string) (*registry.Token, error)
	touchErr error
}

func (s *spyStore) TokenByHash(ctx context.Context, hash string) (*registry.Token, error) {
	if s.byHash != nil {
		return s.byHash(hash)
	}
	return s.TokenStore.TokenByHash(ctx, hash)
}

func (s *spyStore) TouchToken(ctx context.Context, name string, at time.Time) error {
	s.mu.Lock()
	s.touches = append(s.touches, name)
	err := s.touchErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.TokenStore.TouchToken(ctx, name, at)
}

func (s *spyStore) touchCount() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.touches) }

type fixture struct {
	clock  *registrytest.Clock
	store  *spyStore
	reg    *prometheus.Registry
	authn  *auth.Authenticator
	tokens map[string]string // name → secret
}

var proxy = &auth.Proxy{Header: "X-Forwarded-Email", Role: registry.RoleEditor,
	Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}

func newFixture(t *testing.T, p *auth.Proxy) *fixture {
	clock := registrytest.NewClock()
	db := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(clock))
	f := &fixture{clock: clock, store: &spyStore{TokenStore: db.Store}, reg: prometheus.NewRegistry(), tokens: map[string]string{}}
	var err error
	f.authn, err = auth.New(auth.Options{Tokens: f.store, Proxy: p, Now: clock.Now, Registerer: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	day := clock.Now().Add(24 * time.Hour)
	for _, tk := range []registry.Token{
		{Name: "admin", Role: registry.RoleAdmin},
		{Name: "payments-bot", Role: registry.RoleEditor, Teams: []string{"payments"}, ExpiresAt: &day},
		{Name: "old", Role: registry.RoleReader},
	} {
		secret := auth.NewToken()
		tk.Hash, tk.CreatedAt = auth.Hash(secret), clock.Now()
		if err := db.CreateToken(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
		f.tokens[tk.Name] = secret
	}
	if err := db.RevokeToken(context.Background(), "old", clock.Now()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) failures(reason string) float64 { return failures(f.reg, reason) }

// failures reads risksync_api_auth_failures_total{reason}; -1 when absent.
func failures(reg *prometheus.Registry, reason string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "risksync_api_auth_failures_total" {
			continue
		}
		for _, m := range mf.Metric {
			if m.Label[0].GetValue() == reason {
				return m.Counter.GetValue()
			}
		}
	}
	return -1
}

type result struct {
	code      int
	header    http.Header
	body      string
	principal *registry.Principal
}

// do sends a request through Require to a handler that records the principal.
func (f *fixture) do(remote string, header map[string][]string) result {
	var got *registry.Principal
	h := f.authn.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFrom(r.Context())
		if !ok {
			panic("no principal in the context")
		}
		got = &p
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest("GET", "/report", nil)
	r.RemoteAddr = remote
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return result{code: w.Code, header: w.Header(), body: w.Body.String(), principal: got}
}

func bearer(s string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + s}}
}

func TestFailuresAre401(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name, reason, detail string
		header               map[string][]string
		before               func()
	}{
		{name: "missing", reason: auth.ReasonMissing, detail: "no credentials: send Authorization: Bearer <token>"},
		{name: "basic", reason: auth.ReasonInvalid, detail: `must be "Bearer <token>"`, header: map[string][]string{"Authorization": {"Basic YWRtaW46aHVudGVyMg=="}}},
		{name: "empty bearer", reason: auth.ReasonInvalid, detail: `must be "Bearer <token>"`, header: map[string][]string{"Authorization": {"Bearer   "}}},
		{name: "empty header", reason: auth.ReasonInvalid, detail: `must be "Bearer <token>"`, header: map[string][]string{"Authorization": {""}}},
		{name: "two headers", reason: auth.ReasonInvalid, detail: "given once", header: map[string][]string{"Authorization": {"Bearer " + f.tokens["admin"], "Bearer " + f.tokens["admin"]}}},
		{name: "space inside", reason: auth.ReasonInvalid, detail: `must be "Bearer <token>"`, header: bearer(f.tokens["admin"] + " x")},
		{name: "other kind of token", reason: auth.ReasonInvalid, detail: "not a risksync token", header: bearer("ghp_0123456789abcdef")},
		{name: "unknown", reason: auth.ReasonInvalid, detail: "unknown or revoked token", header: bearer(auth.NewToken())},
		{name: "revoked", reason: auth.ReasonInvalid, detail: "unknown or revoked token", header: bearer(f.tokens["old"])},
		{name: "truncated", reason: auth.ReasonInvalid, detail: "unknown or revoked token", header: bearer(f.tokens["admin"][:20])},
		{name: "expired", reason: auth.ReasonExpired, detail: `token "payments-bot" expired at 2026-03-03T09:00:00Z`, header: bearer(f.tokens["payments-bot"]),
			before: func() { f.clock.Advance(24 * time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			before := f.failures(tc.reason)
			res := f.do("203.0.113.9:4711", tc.header)
			if res.code != 401 || res.principal != nil {
				t.Fatalf("code %d, principal %v", res.code, res.principal)
			}
			if got := res.header.Get("WWW-Authenticate"); got != `Bearer realm="risksync"` {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			var p map[string]any
			if err := json.Unmarshal([]byte(res.body), &p); err != nil {
				t.Fatal(err)
			}
			if p["type"] != "about:blank" || p["title"] != "Unauthorized" || p["status"] != 401.0 || !strings.Contains(p["detail"].(string), tc.detail) || len(p) != 4 {
				t.Fatalf("problem %v; want detail with %q", p, tc.detail)
			}
			for _, secret := range f.tokens {
				if strings.Contains(res.body, secret[4:]) || strings.Contains(res.body, auth.Hash(secret)) {
					t.Fatalf("the answer repeats a credential: %s", res.body)
				}
			}
			if got := f.failures(tc.reason); got != before+1 {
				t.Fatalf("failures{reason=%s} %v → %v", tc.reason, before, got)
			}
			if n := f.store.touchCount(); n != 0 {
				t.Fatalf("%d touches after a refusal", n)
			}
		})
	}
	// Nothing was written: no token was marked used.
	ts, _ := f.store.Tokens(context.Background())
	for _, tk := range ts {
		if tk.LastUsedAt != nil {
			t.Fatalf("token %s touched", tk.Name)
		}
	}
}

func TestTokenPrincipalAndTouches(t *testing.T) {
	f := newFixture(t, nil)
	res := f.do("203.0.113.9:4711", map[string][]string{"Authorization": {"bearer " + f.tokens["payments-bot"]}}) // the scheme ignores case
	if res.code != 204 || res.principal == nil {
		t.Fatalf("code %d: %s", res.code, res.body)
	}
	if p := *res.principal; p.Actor != "token:payments-bot" || p.Role != registry.RoleEditor || strings.Join(p.Teams, ",") != "payments" {
		t.Fatalf("principal %+v", p)
	}
	for range 3 {
		f.clock.Advance(10 * time.Second)
		f.do("203.0.113.9:4711", bearer(f.tokens["payments-bot"]))
	}
	if n := f.store.touchCount(); n != 1 {
		t.Fatalf("%d touches within a minute, want 1", n)
	}
	f.clock.Advance(time.Minute)
	f.do("203.0.113.9:4711", bearer(f.tokens["payments-bot"]))
	f.do("203.0.113.9:4711", bearer(f.tokens["admin"]))
	if n := f.store.touchCount(); n != 3 {
		t.Fatalf("%d touches, want 3 (a minute later, and another token)", n)
	}
	tk, _ := f.store.TokenByHash(context.Background(), auth.Hash(f.tokens["payments-bot"]))
	if now := f.clock.Now(); tk.LastUsedAt == nil || !tk.LastUsedAt.Equal(now) {
		t.Fatalf("last used %v, want %v", tk.LastUsedAt, now)
	}
	// A failed write is tried again at the next request, and the request still passes.
	f.store.touchErr = errors.New("disk full")
	f.clock.Advance(2 * time.Minute)
	if res := f.do("203.0.113.9:4711", bearer(f.tokens["admin"])); res.code != 204 {
		t.Fatalf("code %d", res.code)
	}
	f.store.touchErr = nil
	f.do("203.0.113.9:4711", bearer(f.tokens["admin"]))
	if n := f.store.touchCount(); n != 5 {
		t.Fatalf("%d touches, want 5", n)
	}
}

// The decision compares hashes itself in constant time: a store that
// matched loosely (say, a case-insensitive collation) lets nothing through.
func TestHashComparedByTheAuthenticator(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.tokens["admin"]
	f.store.byHash = func(string) (*registry.Token, error) {
		return &registry.Token{Name: "admin", Role: registry.RoleAdmin, Hash: strings.ToUpper(auth.Hash(secret))}, nil
	}
	if res := f.do("203.0.113.9:4711", bearer(secret)); res.code != 401 || f.failures(auth.ReasonInvalid) != 1 {
		t.Fatalf("loose match accepted: %d", res.code)
	}
}

func TestStoreFailureIs503NotAnAuthFailure(t *testing.T) {
	f := newFixture(t, nil)
	f.store.byHash = func(string) (*registry.Token, error) {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "postgres: db.internal:5432 unreachable")
	}
	res := f.do("203.0.113.9:4711", bearer(f.tokens["admin"]))
	if res.code != 503 || res.header.Get("WWW-Authenticate") != "" || !strings.Contains(res.body, `"title":"Service Unavailable"`) {
		t.Fatalf("%d %v %s", res.code, res.header, res.body)
	}
	if f.failures(auth.ReasonInvalid)+f.failures(auth.ReasonMissing)+f.failures(auth.ReasonExpired) != 0 {
		t.Fatal("a store failure was counted as an authentication failure")
	}
}

func TestTrustedProxy(t *testing.T) {
	f := newFixture(t, proxy)
	email := map[string][]string{"X-Forwarded-Email": {"alice@example.com"}}
	for _, tc := range []struct {
		name, remote string
		header       map[string][]string
		code         int
		actor        string
		reason       string
	}{
		{"IPv4 inside", "10.20.30.40:5123", email, 204, "proxy:alice@example.com", ""},
		{"IPv6 inside", "[fd00::7]:443", email, 204, "proxy:alice@example.com", ""},
		{"IPv4-mapped IPv6 inside", "[::ffff:10.1.2.3]:80", email, 204, "proxy:alice@example.com", ""},
		{"IPv6 with a zone inside", "[fd00::7%eth0]:443", email, 204, "proxy:alice@example.com", ""},
		{"IPv4 outside", "192.168.1.5:5123", email, 401, "", auth.ReasonMissing},
		{"IPv6 outside", "[2001:db8::1]:443", email, 401, "", auth.ReasonMissing},
		{"IPv4 just outside", "11.0.0.1:1", email, 401, "", auth.ReasonMissing},
		{"spoofed X-Forwarded-For", "198.51.100.7:5123", map[string][]string{"X-Forwarded-Email": {"alice@example.com"},
			"X-Forwarded-For": {"10.0.0.1"}, "X-Real-Ip": {"10.0.0.1"}, "Forwarded": {"for=10.0.0.1"}}, 401, "", auth.ReasonMissing},
		{"unparseable peer", "somewhere", email, 401, "", auth.ReasonMissing},
		{"inside without the header", "10.0.0.1:1", nil, 401, "", auth.ReasonMissing},
		{"inside, not an email", "10.0.0.1:1", map[string][]string{"X-Forwarded-Email": {"alice example"}}, 401, "", auth.ReasonInvalid},
		{"inside, empty", "10.0.0.1:1", map[string][]string{"X-Forwarded-Email": {""}}, 401, "", auth.ReasonInvalid},
		{"inside, twice", "10.0.0.1:1", map[string][]string{"X-Forwarded-Email": {"a@x.io", "b@x.io"}}, 401, "", auth.ReasonInvalid},
		{"a token wins inside", "10.0.0.1:1", map[string][]string{"X-Forwarded-Email": {"alice@example.com"}, "Authorization": {"Bearer " + f.tokens["admin"]}}, 204, "token:admin", ""},
		{"a bad token is not rescued by the header", "10.0.0.1:1", map[string][]string{"X-Forwarded-Email": {"alice@example.com"}, "Authorization": {"Bearer rsk_nope"}}, 401, "", auth.ReasonInvalid},
		{"a token outside", "192.168.1.5:1", map[string][]string{"X-Forwarded-Email": {"alice@example.com"}, "Authorization": {"Bearer " + f.tokens["admin"]}}, 204, "token:admin", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before float64
			if tc.reason != "" {
				before = f.failures(tc.reason)
			}
			res := f.do(tc.remote, tc.header)
			if res.code != tc.code {
				t.Fatalf("code %d, want %d: %s", res.code, tc.code, res.body)
			}
			if tc.code == 204 {
				want := registry.RoleEditor
				if strings.HasPrefix(tc.actor, "token:") {
					want = registry.RoleAdmin
				}
				if res.principal.Actor != tc.actor || res.principal.Role != want || len(res.principal.Teams) != 0 {
					t.Fatalf("principal %+v", res.principal)
				}
				return
			}
			if res.header.Get("WWW-Authenticate") != auth.Challenge || f.failures(tc.reason) != before+1 {
				t.Fatalf("header %q, failures{%s} %v → %v", res.header.Get("WWW-Authenticate"), tc.reason, before, f.failures(tc.reason))
			}
		})
	}
}

func TestRegisteredOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(registrytest.NewClock()))
	if _, err := auth.New(auth.Options{Tokens: store, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{"missing", "invalid", "expired"} {
		if got := failures(reg, reason); got != 0 {
			t.Fatalf("reason %s: %v, want 0 from the start", reason, got)
		}
	}
	if _, err := auth.New(auth.Options{Tokens: store, Registerer: reg}); err == nil {
		t.Fatal("registered twice without an error")
	}
}
