package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// SessionCookie names the web UI's session cookie.
const SessionCookie = "risksync_session"

// Session lifetimes: a working day unused, a week at most.
const (
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 7 * 24 * time.Hour
)

// Login exchanges a token's secret for a new session and returns the
// session id (the cookie's value, never stored) and who signed in. Expired
// sessions are pruned on the way, so the table stays small without a job.
func (a *Authenticator) Login(ctx context.Context, secret string) (string, registry.Principal, error) {
	if a.sessions == nil {
		return "", registry.Principal{}, registry.Errorf(registry.EUNAVAILABLE, "web sessions are not configured")
	}
	p, t, err := a.verify(ctx, secret)
	if err != nil {
		return "", p, err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	now := a.now()
	if _, err := a.sessions.DeleteSessionsBefore(ctx, now.Add(-a.sessionIdle), now.Add(-a.sessionMax)); err != nil {
		a.logger.Warn("prune expired web sessions", "err", err)
	}
	err = a.sessions.CreateSession(ctx, registry.Session{Hash: Hash(id), TokenHash: t.Hash, TokenName: t.Name, Role: p.Role,
		Teams: slices.Clone(p.Teams), CreatedAt: now, LastSeenAt: now})
	if err != nil {
		return "", registry.Principal{}, fmt.Errorf("authentication: store the session: %w", err)
	}
	return id, p, nil
}

// Logout ends the session with this id, if any.
func (a *Authenticator) Logout(ctx context.Context, id string) error {
	if a.sessions == nil || id == "" {
		return nil
	}
	return a.sessions.DeleteSession(ctx, Hash(id))
}

// AuthenticatePage returns who sent a web UI request: a bearer token when
// the request carries one (scripts, /report for token holders), else the
// session cookie, else the trusted proxy's header.
func (a *Authenticator) AuthenticatePage(r *http.Request) (registry.Principal, error) {
	if len(r.Header.Values("Authorization")) > 0 {
		return a.Authenticate(r)
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && a.sessions != nil {
		p, err := a.session(r.Context(), c.Value)
		if err == nil || registry.ErrorCode(err) != registry.EUNAUTHORIZED {
			return p, err
		}
		// A stale cookie behind the proxy still lets the proxy's person in.
		if pp, ok, perr := a.fromProxy(r); ok {
			return pp, perr
		}
		return p, err
	}
	return a.Authenticate(r)
}

func (a *Authenticator) session(ctx context.Context, id string) (registry.Principal, error) {
	hash := Hash(id)
	s, err := a.sessions.SessionByHash(ctx, hash)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return a.fail(ReasonInvalid, "unknown or ended session: sign in again")
	}
	if err != nil {
		return registry.Principal{}, fmt.Errorf("authentication: look up the session: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(s.Hash), []byte(hash)) != 1 {
		return a.fail(ReasonInvalid, "unknown or ended session: sign in again")
	}
	now := a.now()
	switch {
	case s.TokenExpiresAt != nil && !now.Before(*s.TokenExpiresAt):
		return a.fail(ReasonExpired, "token %q expired: ask an admin for a new one", s.TokenName)
	case now.Sub(s.LastSeenAt) >= a.sessionIdle, now.Sub(s.CreatedAt) >= a.sessionMax:
		_ = a.sessions.DeleteSession(ctx, hash)
		return a.fail(ReasonExpired, "the session expired: sign in again")
	}
	role, err := registry.ParseRole(string(s.Role))
	if err != nil {
		return a.fail(ReasonInvalid, "session of token %q has no usable role", s.TokenName)
	}
	if now.Sub(s.LastSeenAt) >= TouchInterval { // the idle clock needs minutes, not every request
		if err := a.sessions.TouchSession(ctx, hash, now); err != nil {
			a.logger.Warn("record a web session's use", "err", err)
		}
	}
	return registry.Principal{Actor: "token:" + s.TokenName, Role: role, Teams: slices.Clone(s.Teams)}, nil
}

// TrustedProxyTLS reports whether the request reached the proxy over
// HTTPS: X-Forwarded-Proto counts only from a trusted peer.
func (a *Authenticator) TrustedProxyTLS(r *http.Request) bool {
	return a.proxy != nil && r.Header.Get("X-Forwarded-Proto") == "https" && a.trustedPeer(r.RemoteAddr)
}
