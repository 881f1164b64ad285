package registry

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Role is what a principal may do through the API, the UI or the CLI over
// the API.
type Role string

const (
	RoleReader Role = "reader" // reads everything
	RoleEditor Role = "editor" // also changes risks (of its teams, when it has teams)
	RoleAdmin  Role = "admin"  // also manages tokens
)

// ParseRole reads reader, editor or admin.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleReader, RoleEditor, RoleAdmin:
		return r, nil
	}
	return "", Errorf(EINVALID, "unknown role %q: use reader, editor or admin", s)
}

// Principal is who asks. Every entry point builds one after authenticating
// and before touching anything; the service layer authorises with it and
// records Actor in the history.
type Principal struct {
	// Actor is recorded in history: token:<name>, proxy:<email>,
	// github:<login>, jira:<account>, or the local user in direct mode.
	Actor string
	Role  Role
	// Teams limits an editor to risks owned by these teams (and new risks
	// for them); empty means every team.
	Teams []string
}

// CanRead reports whether p may read the registry.
func (p Principal) CanRead() bool {
	return p.Role == RoleReader || p.Role == RoleEditor || p.Role == RoleAdmin
}

// CanEdit reports whether p may change a risk owned by owner ("" for unowned).
func (p Principal) CanEdit(owner string) bool {
	switch p.Role {
	case RoleAdmin:
		return true
	case RoleEditor:
		return len(p.Teams) == 0 || (owner != "" && slices.Contains(p.Teams, owner))
	}
	return false
}

// CanAdmin reports whether p may manage tokens.
func (p Principal) CanAdmin() bool { return p.Role == RoleAdmin }

// Token is an API token as stored: only a hash of its secret is kept.
type Token struct {
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	Teams      []string   `json:"teams"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"-"`
	Hash       string     `json:"-"` // hex SHA-256 of the secret
}

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores a new token; ECONFLICT when an unrevoked token has the name.
	CreateToken(ctx context.Context, t Token) error
	// Tokens lists unrevoked tokens by name.
	Tokens(ctx context.Context) ([]Token, error)
	// TokenByHash finds an unrevoked token by the hash of its secret, or ENOTFOUND.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// RevokeToken revokes the named token; ENOTFOUND when there is none.
	RevokeToken(ctx context.Context, name string, at time.Time) error
	// TouchToken records a use of the token.
	TouchToken(ctx context.Context, name string, at time.Time) error
}

// Session is a web UI sign-in: a token exchanged once for a cookie. Only a
// hash of the session id is stored; the session carries its token's name,
// role and teams, and lives no longer than the token.
type Session struct {
	Hash       string    // hex SHA-256 of the session id
	TokenHash  string    // the token it was made from: revoking that ends it
	TokenName  string    //
	Role       Role      //
	Teams      []string  //
	CreatedAt  time.Time // the absolute expiry counts from here
	LastSeenAt time.Time // the idle expiry counts from here
	// TokenExpiresAt is the token's own end, read with the session.
	TokenExpiresAt *time.Time
}

// SessionStore keeps web UI sessions.
type SessionStore interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash finds a session whose token is not revoked, or ENOTFOUND.
	SessionByHash(ctx context.Context, hash string) (*Session, error)
	// TouchSession records a use of the session.
	TouchSession(ctx context.Context, hash string, at time.Time) error
	// DeleteSession ends a session; ending an unknown one is no error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteSessionsBefore removes sessions idle since idleBefore or
	// created before createdBefore, and returns how many.
	DeleteSessionsBefore(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
}
