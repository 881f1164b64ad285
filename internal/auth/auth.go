// Package auth turns an HTTP request into a registry.Principal: an API
// token (Authorization: Bearer rsk_…), or the email a trusted single-sign-on
// proxy puts in a header. Only hashes of tokens are stored, compared in
// constant time; failures are counted, never logged with the secret.
package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/risksync/risksync/internal/registry"
)

// TokenPrefix starts every token, so a leaked one is recognisable (secret
// scanners) and a wrong credential is told apart from an unknown token.
const TokenPrefix = "rsk_"

// TouchInterval is how often a token's last use is written at most.
const TouchInterval = time.Minute

// Failure reasons, the label values of risksync_api_auth_failures_total.
const (
	ReasonMissing = "missing" // no credentials at all
	ReasonInvalid = "invalid" // malformed, unknown or revoked
	ReasonExpired = "expired"
)

// NewToken returns a new secret: TokenPrefix and 32 random bytes, base64url.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash is what the store keeps of a secret: hex SHA-256. The secret is 256
// random bits, so a fast unsalted hash is enough.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Proxy is a single-sign-on proxy whose Header is believed only on
// requests whose direct peer is within Trusted.
type Proxy struct {
	Header  string
	Trusted []netip.Prefix
	Role    registry.Role
}

// Options configure an Authenticator.
type Options struct {
	Tokens registry.TokenStore
	Proxy  *Proxy // nil: tokens only
	Now    func() time.Time
	// Registerer receives risksync_api_auth_failures_total; nil leaves it unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Sessions keeps web UI sign-ins; nil turns them off (Login fails).
	Sessions registry.SessionStore
	// SessionIdle and SessionMax end a session after that long unused, or
	// after that long at all (defaults 12h and 7 days).
	SessionIdle, SessionMax time.Duration
}

// Authenticator authenticates requests; safe for concurrent use.
type Authenticator struct {
	tokens   registry.TokenStore
	proxy    *Proxy
	now      func() time.Time
	logger   *slog.Logger
	failures *prometheus.CounterVec

	sessions                registry.SessionStore
	sessionIdle, sessionMax time.Duration

	mu sync.Mutex
	// touched is when each token's use was last written. It only spares
	// writes: losing it (a restart, another replica) costs one extra write,
	// and last_used_at is a minute-grained hint, not a record.
	touched map[string]time.Time
}

// New returns an Authenticator; it fails only when the counter cannot be
// registered (registered twice).
func New(o Options) (*Authenticator, error) {
	a := &Authenticator{tokens: o.Tokens, proxy: o.Proxy, now: o.Now, logger: o.Logger, touched: map[string]time.Time{},
		sessions: o.Sessions, sessionIdle: cmp.Or(o.SessionIdle, DefaultSessionIdle), sessionMax: cmp.Or(o.SessionMax, DefaultSessionMax),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "risksync_api_auth_failures_total",
			Help: "Requests refused for missing, invalid (malformed, unknown, revoked) or expired credentials."}, []string{"reason"})}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.tokens == nil {
		return nil, fmt.Errorf("auth: no token store")
	}
	for _, r := range []string{ReasonMissing, ReasonInvalid, ReasonExpired} {
		a.failures.WithLabelValues(r) // every reason shows, at 0, from the start
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(a.failures); err != nil {
			return nil, fmt.Errorf("auth: register metrics: %w", err)
		}
	}
	return a, nil
}

// Authenticate returns who sent r. A request with an Authorization header
// is judged by it alone; without one, the proxy header counts when the
// direct peer is trusted. Failures are EUNAUTHORIZED with a message that
// never repeats the credential; a store failure is returned as it is.
func (a *Authenticator) Authenticate(r *http.Request) (registry.Principal, error) {
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		return a.bearer(r.Context(), h)
	}
	if p, ok, err := a.fromProxy(r); ok {
		return p, err
	}
	return a.fail(ReasonMissing, "no credentials: send Authorization: Bearer <token> (risksync token create makes one)")
}

func (a *Authenticator) fail(reason, format string, args ...any) (registry.Principal, error) {
	a.failures.WithLabelValues(reason).Inc()
	return registry.Principal{}, registry.Errorf(registry.EUNAUTHORIZED, "authentication: "+format, args...)
}

func (a *Authenticator) bearer(ctx context.Context, header []string) (registry.Principal, error) {
	const malformed = `the Authorization header must be "Bearer <token>"`
	if len(header) != 1 {
		return a.fail(ReasonInvalid, "%s, given once", malformed)
	}
	scheme, secret, _ := strings.Cut(strings.TrimSpace(header[0]), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" || strings.ContainsFunc(secret, unicode.IsSpace) {
		return a.fail(ReasonInvalid, malformed)
	}
	p, _, err := a.verify(ctx, secret)
	return p, err
}

// verify checks a token's secret and returns its principal and stored row.
func (a *Authenticator) verify(ctx context.Context, secret string) (registry.Principal, *registry.Token, error) {
	fail := func(reason, format string, args ...any) (registry.Principal, *registry.Token, error) {
		p, err := a.fail(reason, format, args...)
		return p, nil, err
	}
	if !strings.HasPrefix(secret, TokenPrefix) {
		return fail(ReasonInvalid, "not a risksync token (they start with %s)", TokenPrefix)
	}
	hash := Hash(secret)
	t, err := a.tokens.TokenByHash(ctx, hash)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return fail(ReasonInvalid, "unknown or revoked token")
	}
	if err != nil {
		return registry.Principal{}, nil, fmt.Errorf("authentication: look up the token: %w", err)
	}
	// The store found the row by its indexed hash; comparing again in
	// constant time keeps the decision itself free of timing differences,
	// whatever the database's comparison does.
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 || t.RevokedAt != nil {
		return fail(ReasonInvalid, "unknown or revoked token")
	}
	now := a.now()
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return fail(ReasonExpired, "token %q expired at %s: ask an admin for a new one", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	role, err := registry.ParseRole(string(t.Role))
	if err != nil {
		return fail(ReasonInvalid, "token %q has no usable role", t.Name)
	}
	a.touch(ctx, t.Name, now)
	return registry.Principal{Actor: "token:" + t.Name, Role: role, Teams: slices.Clone(t.Teams)}, t, nil
}

// touch writes the token's use at most once per TouchInterval.
func (a *Authenticator) touch(ctx context.Context, name string, now time.Time) {
	a.mu.Lock()
	if last, ok := a.touched[name]; ok && now.Sub(last) < TouchInterval && !now.Before(last) {
		a.mu.Unlock()
		return
	}
	a.touched[name] = now
	a.mu.Unlock()
	// The request may end first; the write is short and worth finishing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.tokens.TouchToken(ctx, name, now); err != nil {
		a.logger.Warn("record an API token's use; retried at its next request", "token", name, "err", err)
		a.mu.Lock()
		if a.touched[name].Equal(now) {
			delete(a.touched, name)
		}
		a.mu.Unlock()
	}
}

// fromProxy reads the proxy header; ok is false when it does not apply
// (no proxy, no header, or an untrusted peer, whose header anyone could set).
func (a *Authenticator) fromProxy(r *http.Request) (p registry.Principal, ok bool, err error) {
	if a.proxy == nil {
		return p, false, nil
	}
	values := r.Header.Values(a.proxy.Header)
	if len(values) == 0 || !a.trustedPeer(r.RemoteAddr) {
		return p, false, nil
	}
	h := http.CanonicalHeaderKey(a.proxy.Header)
	if len(values) != 1 {
		p, err = a.fail(ReasonInvalid, "the proxy sent %s more than once", h)
		return p, true, err
	}
	email := strings.TrimSpace(values[0])
	if !plausibleEmail(email) {
		p, err = a.fail(ReasonInvalid, "the proxy's %s does not hold an email address", h)
		return p, true, err
	}
	return registry.Principal{Actor: "proxy:" + email, Role: a.proxy.Role}, true, nil
}

// trustedPeer reports whether the direct peer (never X-Forwarded-For, which
// the client writes) is within the proxy's prefixes.
func (a *Authenticator) trustedPeer(remoteAddr string) bool {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		addr = ap.Addr()
	} else if ad, err := netip.ParseAddr(remoteAddr); err == nil {
		addr = ad
	} else {
		return false
	}
	addr = addr.Unmap().WithZone("") // an IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d
	for _, pf := range a.proxy.Trusted {
		if pf.Contains(addr) {
			return true
		}
	}
	return false
}

// plausibleEmail accepts what a proxy puts in an email header and refuses
// what would garble the history: spaces, control characters, commas.
func plausibleEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && len(s) <= 254 &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' })
}
