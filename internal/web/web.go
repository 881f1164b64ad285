// Package web is the server-rendered UI of the registry: the ranked
// registry, a risk's page, the weekly review agenda, the report, and the
// editors' actions. Pages are html/template, readable without JavaScript;
// htmx (vendored, served from /static) only enhances them. Every rule lives
// in the service layer; handlers parse forms, call it, and render.
package web

import (
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// PageSize is how many risks a registry page shows.
const PageSize = 50

// CSP allows the UI's own script and style only: no inline script, no
// inline handler, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

const flashCookie = "risksync_flash"

// Options wire the UI.
type Options struct {
	Service *service.Service
	Auth    *auth.Authenticator
	Logger  *slog.Logger
}

// UI serves the pages; mount it at "/".
type UI struct {
	svc   *service.Service
	authn *auth.Authenticator
	log   *slog.Logger
	pages map[string]*template.Template
	h     http.Handler
}

// New returns the UI handler.
func New(o Options) (*UI, error) {
	u := &UI{svc: o.Service, authn: o.Auth, log: o.Logger, pages: map[string]*template.Template{}}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range []string{"login", "registry", "risk", "agenda", "error", "reportnav"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		u.pages[name] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /login", u.loginForm)
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("POST /logout", u.logout)
	mux.Handle("GET /{$}", u.page(u.registry))
	mux.Handle("GET /risks/{key}", u.page(u.risk))
	mux.Handle("GET /agenda", u.page(u.agenda))
	mux.Handle("GET /report", u.page(u.weeklyReport))
	for action, fn := range actions {
		mux.Handle("POST /risks/{key}/"+action, u.page(u.act(fn)))
	}
	mux.Handle("/", u.page(func(w http.ResponseWriter, r *http.Request, v *view) {
		u.fail(w, r, v, registry.Errorf(registry.ENOTFOUND, "no page at %s", r.URL.Path))
	}))
	// Cross-origin POSTs (Sec-Fetch-Site, Origin) are refused before any
	// handler runs; SameSite=Lax cookies are the second line.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, http.StatusForbidden, "error", &view{Title: "Refused", Error: "This form was sent from another site, so it was refused. Open the page here and send it again."})
	}))
	u.h = securityHeaders(cop.Handler(mux))
	return u, nil
}

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.h.ServeHTTP(w, r) }

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// view is what every page template gets; Data is the page's own.
type view struct {
	Title   string
	Who     registry.Principal
	Session bool // signed in with a cookie: offer sign-out
	Flash   string
	Error   string
	Fields  []registry.FieldError
	Data    any
}

// page authenticates a request: a bearer token, the session cookie or the
// trusted proxy. Browsers (Accept: text/html) without credentials go to
// /login; scripts get the API's 401, as /report always answered.
func (u *UI) page(fn func(http.ResponseWriter, *http.Request, *view)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := u.authn.AuthenticatePage(r)
		if err != nil {
			if registry.ErrorCode(err) != registry.EUNAUTHORIZED {
				u.log.Error("authenticate a page request", "path", r.URL.Path, "err", err)
				u.render(w, r, http.StatusServiceUnavailable, "error", &view{Title: "Unavailable", Error: "Sign-in cannot be checked right now; try again."})
				return
			}
			if r.Method == http.MethodGet && len(r.Header.Values("Authorization")) == 0 && strings.Contains(r.Header.Get("Accept"), "text/html") {
				clearCookie(w, r, u.authn, auth.SessionCookie)
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", auth.Challenge)
			auth.WriteProblem(w, http.StatusUnauthorized, err.Error())
			return
		}
		_, cerr := r.Cookie(auth.SessionCookie)
		v := &view{Who: p, Session: cerr == nil, Flash: takeFlash(w, r, u.authn)}
		fn(w, r.WithContext(auth.WithPrincipal(r.Context(), p)), v)
	})
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var buf strings.Builder
	if err := u.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		u.log.Error("render a page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// fail renders a service error as a page with the matching status.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	status := http.StatusInternalServerError
	v.Title, v.Error = "Error", err.Error()
	switch registry.ErrorCode(err) {
	case registry.ENOTFOUND:
		status, v.Title = http.StatusNotFound, "Not found"
	case registry.EFORBIDDEN:
		status, v.Title = http.StatusForbidden, "Not allowed"
	case registry.EINVALID:
		status, v.Title = http.StatusUnprocessableEntity, "Check the input"
		var re *registry.Error
		if errors.As(err, &re) {
			v.Fields = re.Fields
		}
	case registry.EPRECONDITION, registry.ECONFLICT:
		status, v.Title = http.StatusConflict, "Changed meanwhile"
	default:
		u.log.Error("web page", "path", r.URL.Path, "err", err)
		v.Error = "Something failed on the server; try again. (" + registry.ErrorCode(err) + ")"
	}
	u.render(w, r, status, "error", v)
}

func secure(r *http.Request, a *auth.Authenticator) bool { return r.TLS != nil || a.TrustedProxyTLS(r) }

func setCookie(w http.ResponseWriter, r *http.Request, a *auth.Authenticator, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: secure(r, a),
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds())})
}

func clearCookie(w http.ResponseWriter, r *http.Request, a *auth.Authenticator, name string) {
	if _, err := r.Cookie(name); err == nil {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: secure(r, a), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	}
}

// The flash message survives one redirect (PRG) in a short-lived cookie.
func setFlash(w http.ResponseWriter, r *http.Request, a *auth.Authenticator, msg string) {
	setCookie(w, r, a, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(msg)), time.Minute)
}

func takeFlash(w http.ResponseWriter, r *http.Request, a *auth.Authenticator) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	clearCookie(w, r, a, flashCookie)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return ""
	}
	return string(b)
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "login", &view{Title: "Sign in", Flash: takeFlash(w, r, u.authn)})
}

// login exchanges the pasted token for a session cookie and goes to /.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	id, _, err := u.authn.Login(r.Context(), strings.TrimSpace(r.PostFormValue("token")))
	if err != nil {
		status := http.StatusUnauthorized
		msg := "That token was not accepted: " + strings.TrimPrefix(err.Error(), "authentication: ")
		if registry.ErrorCode(err) != registry.EUNAUTHORIZED {
			u.log.Error("web sign-in", "err", err)
			status, msg = http.StatusServiceUnavailable, "Sign-in is unavailable right now; try again."
		}
		u.render(w, r, status, "login", &view{Title: "Sign in", Error: msg})
		return
	}
	setCookie(w, r, u.authn, auth.SessionCookie, id, auth.DefaultSessionMax)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		if err := u.authn.Logout(r.Context(), c.Value); err != nil {
			u.log.Warn("end a web session", "err", err)
		}
	}
	clearCookie(w, r, u.authn, auth.SessionCookie)
	setFlash(w, r, u.authn, "Signed out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// query rebuilds a URL's query with one change, for links that keep the
// other filters (shareable URLs).
func query(v url.Values, kv ...string) string {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	if len(out) == 0 {
		return "/"
	}
	return "/?" + out.Encode()
}
