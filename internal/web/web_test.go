package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

// client follows no redirects, so each answer is seen as sent.
func client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, method, u string, form url.Values, hdr ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func sessionOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == auth.SessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header)
	return nil
}

func TestSignInSessionsAndRefusals(t *testing.T) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) {
			s := newSite(t, open)
			s.seed(t)
			base := s.server(t).URL

			resp, _ := do(t, "GET", base+"/", nil, "Accept", "text/html")
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
				t.Fatalf("a browser without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			// Scripts keep the API's answer, as /report always gave.
			if resp, _ := do(t, "GET", base+"/report", nil); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("/report without a token: %d", resp.StatusCode)
			}
			if resp, body := do(t, "GET", base+"/report", nil, "Authorization", "Bearer "+s.reader); resp.StatusCode != 200 || !strings.Contains(body, "<svg") {
				t.Fatalf("/report with a token: %d", resp.StatusCode)
			}
			resp, body := do(t, "GET", base+"/login", nil)
			if resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) {
				t.Fatalf("login form %d", resp.StatusCode)
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("%s missing", h)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
			if resp, body := do(t, "POST", base+"/login", url.Values{"token": {"rsk_nope"}}); resp.StatusCode != 401 || !strings.Contains(body, "not accepted") {
				t.Fatalf("a bad token signs in: %d", resp.StatusCode)
			}
			resp, _ = do(t, "POST", base+"/login", url.Values{"token": {s.editor}})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			c := sessionOf(t, resp)
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Value == "" {
				t.Fatalf("cookie %+v", c)
			}
			// The database holds only the session id's hash.
			var n int
			if err := s.store.DB().Get(&n, s.store.DB().Rebind(`SELECT COUNT(*) FROM web_sessions WHERE hash = ?`), auth.Hash(c.Value)); err != nil || n != 1 {
				t.Fatalf("stored sessions by hash: %d %v", n, err)
			}
			cookie := auth.SessionCookie + "=" + c.Value
			if _, body := do(t, "GET", base+"/risks/RISK-1", nil, "Cookie", cookie); !strings.Contains(body, "2 occurrences") || !strings.Contains(body, "acme/incidents#8") {
				t.Fatal("the risk page does not list the occurrences")
			}
			if resp, body := do(t, "GET", base+"/risks/RISK-1", nil, "Cookie", cookie); resp.StatusCode != 200 || !strings.Contains(body, `action="/risks/RISK-1/rate"`) {
				t.Fatalf("editor's risk page %d", resp.StatusCode)
			}
			// A cross-site form post is refused before anything runs.
			resp, _ = do(t, "POST", base+"/risks/RISK-1/review", url.Values{"note": {"x"}}, "Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("cross-site POST: %d", resp.StatusCode)
			}
			resp, _ = do(t, "POST", base+"/risks/RISK-1/rate", url.Values{"likelihood": {"5"}}, "Cookie", cookie, "Sec-Fetch-Site", "same-origin")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("re-rate: %d", resp.StatusCode)
			}
			_, hist, _ := s.svc.Get(context.Background(), admin, "RISK-1", 0)
			if last := hist[len(hist)-1]; last.Actor != "token:alice" {
				t.Fatalf("history actor %+v", last)
			}
			// Bad input names the field and writes nothing.
			if resp, body := do(t, "POST", base+"/risks/RISK-1/accept", url.Values{"reason": {""}}, "Cookie", cookie); resp.StatusCode != 422 || !strings.Contains(body, "status_reason") {
				t.Fatalf("accept without a reason: %d", resp.StatusCode)
			}

			// A reader sees no actions, and its forged POST is refused.
			resp, _ = do(t, "POST", base+"/login", url.Values{"token": {s.reader}})
			rc := auth.SessionCookie + "=" + sessionOf(t, resp).Value
			if _, body := do(t, "GET", base+"/risks/RISK-1", nil, "Cookie", rc); strings.Contains(body, "<form method=\"post\" action=\"/risks/") {
				t.Fatal("a reader sees action forms")
			}
			if resp, body := do(t, "POST", base+"/risks/RISK-1/rate", url.Values{"likelihood": {"1"}}, "Cookie", rc); resp.StatusCode != 403 || !strings.Contains(body, "reader role") {
				t.Fatalf("reader's POST: %d", resp.StatusCode)
			}

			// Sign-out ends the session server-side; revoking the token ends the other.
			if resp, _ := do(t, "POST", base+"/logout", url.Values{}, "Cookie", rc); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout %d", resp.StatusCode)
			}
			if resp, _ := do(t, "GET", base+"/", nil, "Cookie", rc, "Accept", "text/html"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("after sign-out: %d", resp.StatusCode)
			}
			if err := s.store.RevokeToken(context.Background(), "alice", s.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if resp, _ := do(t, "GET", base+"/", nil, "Cookie", cookie, "Accept", "text/html"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("after revoking the token: %d", resp.StatusCode)
			}
		})
	}
}

func TestSessionExpires(t *testing.T) {
	s := newSite(t, registrytest.Backends()["sqlite"])
	base := s.server(t).URL
	resp, _ := do(t, "POST", base+"/login", url.Values{"token": {s.reader}})
	cookie := auth.SessionCookie + "=" + sessionOf(t, resp).Value
	s.clock.Advance(auth.DefaultSessionIdle - 1e9)
	if resp, _ := do(t, "GET", base+"/", nil, "Cookie", cookie, "Accept", "text/html"); resp.StatusCode != 200 {
		t.Fatalf("within the idle time: %d", resp.StatusCode)
	}
	s.clock.Advance(auth.DefaultSessionIdle)
	if resp, _ := do(t, "GET", base+"/", nil, "Cookie", cookie, "Accept", "text/html"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("idle past 12h: %d", resp.StatusCode)
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	s := newSite(t, registrytest.Backends()["sqlite"])
	srv := s.server(t)
	resp := must(http.DefaultClient.Do(must(http.NewRequest("GET", srv.URL+"/static/ui.css", nil))))
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("static: %d", resp.StatusCode)
	}
	tls := httptestTLS(t, s)
	resp, _ = doWith(t, tls, "POST", "/login", url.Values{"token": {s.reader}})
	if c := sessionOf(t, resp); !c.Secure {
		t.Fatalf("cookie over TLS is not Secure: %+v", c)
	}
}
