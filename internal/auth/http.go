package auth

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/risksync/risksync/internal/registry"
)

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p registry.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal Require put in ctx.
func PrincipalFrom(ctx context.Context) (registry.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(registry.Principal)
	return p, ok
}

// Challenge is the WWW-Authenticate value of every 401.
const Challenge = `Bearer realm="risksync"`

// Require lets authenticated requests through to next, with their principal
// in the context; others get 401 (or 503 when the token store fails) as
// application/problem+json, and next never runs.
func (a *Authenticator) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if registry.ErrorCode(err) == registry.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", Challenge)
		WriteProblem(w, http.StatusUnauthorized, err.Error())
		return
	}
	a.logger.Error("authenticate a request", "path", r.URL.Path, "err", err)
	WriteProblem(w, http.StatusServiceUnavailable, "authentication: the token store cannot be read right now; try again")
}

// WriteProblem answers with an RFC 9457 problem: type about:blank, the
// status's own title, and detail.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, detail})
}
