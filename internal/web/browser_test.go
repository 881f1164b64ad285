package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/risksync/risksync/internal/registry/registrytest"
)

const chromium = "/usr/bin/chromium"

// needChromium skips without a browser on a developer's machine; in CI
// (CI set), which installs it, a missing browser fails.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing and CI is set: install it with apt-get install -y chromium", chromium)
		}
		t.Skipf("%s is missing (apt-get install -y chromium)", chromium)
	}
}

// artifacts is where screenshots go: $RISKSYNC_ARTIFACTS, else a temp dir.
func artifacts(t *testing.T) string {
	if d := os.Getenv("RISKSYNC_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// console collects the page's console errors, uncaught exceptions and
// browser log errors (CSP violations land there).
type console struct {
	mu     sync.Mutex
	errors []string
	// allowed are substrings of messages a step provokes on purpose.
	allowed []string
}

func (c *console) add(m chromedp.ConsoleMessage) {
	if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && m.Type != chromedp.ConsoleException {
		return
	}
	msg := fmt.Sprintf("%s: %s %s", m.Type, m.Text, m.URL)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.allowed {
		if strings.Contains(msg, a) {
			return
		}
	}
	c.errors = append(c.errors, msg)
}

func (c *console) allow(s ...string) { c.mu.Lock(); c.allowed = append(c.allowed, s...); c.mu.Unlock() }

func (c *console) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.errors
	c.errors = nil
	return out
}

// a11yScript checks accessibility basics on the current page and returns
// the problems found: unlabelled controls, skipped heading levels, click
// handlers on non-interactive elements, band colours without band names.
const a11yScript = `(() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) bad.push('unlabelled ' + el.outerHTML.slice(0, 80));
  }
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const level = +h.tagName[1];
    if (last === 0 && level !== 1) bad.push('first heading is ' + h.tagName);
    if (level > last + 1 && last !== 0) bad.push('heading skips from h' + last + ' to ' + h.tagName + ': ' + h.textContent.trim());
    last = level;
  }
  if (document.querySelectorAll('h1').length !== 1) bad.push(document.querySelectorAll('h1').length + ' h1 elements');
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.getAttributeNames()) if (a.startsWith('on')) bad.push('inline handler ' + a + ' on ' + el.tagName);
  }
  for (const el of document.querySelectorAll('[hx-post], [hx-get], [hx-put], [hx-delete]')) {
    if (!['A', 'BUTTON', 'FORM', 'INPUT', 'SELECT'].includes(el.tagName)) bad.push('htmx action on a ' + el.tagName);
  }
  for (const b of document.querySelectorAll('.band')) {
    const name = b.querySelector('.band-name');
    if (!name || !name.textContent.trim()) bad.push('band colour without its name: ' + b.outerHTML.slice(0, 80));
  }
  for (const f of document.querySelectorAll('form')) {
    if (!f.querySelector('button[type=submit], input[type=submit]')) bad.push('form without a submit button: ' + f.action);
  }
  return bad;
})()`

func TestBrowser(t *testing.T) {
	needChromium(t)
	s := newSite(t, registrytest.Backends()["sqlite"])
	s.seed(t)
	srv := s.server(t)
	base := srv.URL // http://127.0.0.1:PORT
	// Another site: localhost is a different site from 127.0.0.1 to the browser.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>evil</title><form method="post" action="%s/risks/RISK-3/rate"><input type="hidden" name="likelihood" value="1"><button id="go" type="submit">win a prize</button></form>`, base)
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	dir := artifacts(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900), chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelT()
	con := &console{}
	msgs := chromedp.Console(ctx) // subscribes now; read as the steps run
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			con.add(m)
		}
	}()
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		time.Sleep(100 * time.Millisecond) // let the page's messages arrive
		if errs := con.take(); len(errs) > 0 {
			t.Errorf("%s: console errors:\n%s", step, strings.Join(errs, "\n"))
		}
	}
	get := func(step string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v
	}
	text := func(sel string) string { return get("read "+sel, chromedp.Text(chromedp.CSS(sel))) }
	location := func() string { return get("location", chromedp.Location()) }
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			p := filepath.Join(dir, name+".png")
			t.Logf("screenshot %s", p)
			return os.WriteFile(p, png, 0o644)
		})
	}
	a11y := func(page string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			bad, err := chromedp.Evaluate[[]string](a11yScript)(ctx, tg)
			if err != nil {
				return err
			}
			if len(bad) > 0 {
				t.Errorf("%s: accessibility:\n%s", page, strings.Join(bad, "\n"))
			}
			return nil
		})
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
			return err
		})
	}
	eval := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](expr)(ctx, tg)
			return err
		})
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Unauthenticated: redirected to the sign-in form.
	run("open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`#token`)), a11y("login"), shot("login"))
	if loc := location(); !strings.HasSuffix(loc, "/login") {
		t.Fatalf("not redirected to /login: %s", loc)
	}

	// Sign in with the editor's token.
	run("sign in", chromedp.SendKeys(css(`#token`), s.editor), chromedp.Submit(css(`#token`)),
		chromedp.WaitVisible(css(`table.risks`)), a11y("registry"), shot("registry"))
	if loc := location(); loc != base+"/" {
		t.Fatalf("after sign-in at %s", loc)
	}
	if who := text(".who"); !strings.Contains(who, "token:alice") {
		t.Fatalf("header says %q", who)
	}

	// Filter by team: htmx swaps the table and pushes a shareable URL.
	run("filter", chromedp.SetValue(css(`#f-team`), "payments"),
		eval(`document.querySelector('#f-team').dispatchEvent(new Event('change', {bubbles: true}))`),
		poll(`location.search.includes('team=payments')`),
		poll(`document.querySelectorAll('table.risks tbody tr').length === 2`))
	owners, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.risks tbody tr td:nth-child(4)')].map(td => td.textContent)`))
	if err != nil || len(owners) != 2 || owners[0] != "payments" || owners[1] != "payments" {
		t.Fatalf("filtered owners %v %v", owners, err)
	}
	// A shared URL renders the same without JavaScript's help.
	run("shared url", chromedp.Navigate(base+"/?team=payments&needs_decision=on"), chromedp.WaitVisible(css(`table.risks`)))
	if rows := text("table.risks tbody"); !strings.Contains(rows, "RISK-5") || strings.Contains(rows, "RISK-2") || !strings.Contains(rows, "needs decision") {
		t.Fatalf("needs-decision filter: %q", rows)
	}
	// Sorting by title through the column header.
	run("sort", chromedp.Navigate(base+"/"), chromedp.Click(css(`th a[href*="sort=title"]`)),
		poll(`location.search.includes('sort=title')`), chromedp.WaitVisible(css(`th[aria-sort="ascending"]`)))
	if first := text("table.risks tbody tr td:nth-child(3)"); !strings.HasPrefix(first, "Cache stampede") {
		t.Fatalf("first by title: %q", first)
	}

	// Open a risk and re-rate it.
	run("open risk", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`table.risks`)),
		chromedp.Click(css(`a[href="/risks/RISK-1"]`)), chromedp.WaitVisible(css(`#h-history`)), a11y("risk"), shot("risk"))
	if score := text(".summary .band"); !strings.HasPrefix(score, "48") {
		t.Fatalf("RISK-1 score before: %q", score)
	}
	run("re-rate", chromedp.SetValue(css(`#a-likelihood`), "5"), chromedp.Click(css(`form[action$="/rate"] button`)),
		chromedp.WaitVisible(css(`.flash`)))
	if flash := text(".flash"); !strings.Contains(flash, "Ratings saved") || !strings.Contains(flash, "score 80") {
		t.Fatalf("flash %q", flash)
	}
	if score := text(".summary .band"); !strings.HasPrefix(score, "80") {
		t.Fatalf("RISK-1 score after: %q", score)
	}
	if tl := text(".timeline"); !strings.Contains(tl, "token:alice likelihood: 3 → 5") {
		t.Fatalf("history %q", tl)
	}
	run("re-rated page", shot("risk-rerated"))

	// Review agenda and the report, inside the UI.
	run("agenda", chromedp.Navigate(base+"/agenda"), chromedp.WaitVisible(css(`#h-due`)), a11y("agenda"), shot("agenda"))
	if d := text("#h-decision"); !strings.Contains(d, "(1)") {
		t.Fatalf("agenda needs-decision heading %q", d)
	}
	run("agenda per team", chromedp.SetValue(css(`#g-team`), "payments"), chromedp.Submit(css(`#g-team`)),
		chromedp.Sleep(500*time.Millisecond), chromedp.WaitVisible(css(`#h-due`)))
	if h := text("h1"); !strings.HasSuffix(h, "payments") || !strings.Contains(location(), "team=payments") {
		t.Fatalf("per-team agenda: %q at %s", h, location())
	}
	run("report", chromedp.Navigate(base+"/report"), chromedp.WaitVisible(css(`svg`)), shot("report"))

	// A cross-site form post is refused, and nothing changes.
	con.allow("status of 403")
	run("cross-site", chromedp.Navigate(evilURL), chromedp.Click(css(`#go`)), chromedp.WaitVisible(css(`.error`)))
	if e := text(".error"); !strings.Contains(e, "another site") {
		t.Fatalf("cross-site POST answered %q", e)
	}

	// Sign out; the session is over.
	run("sign out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`.who button`)), chromedp.Click(css(`.who button`)),
		chromedp.WaitVisible(css(`#token`)))
	if f := text(".flash"); !strings.Contains(f, "Signed out") {
		t.Fatalf("after sign-out: %q", f)
	}
	run("after sign-out", chromedp.Navigate(base+"/risks/RISK-1"), chromedp.WaitVisible(css(`#token`)))

	// A reader: no action buttons, and a forged POST gets 403.
	run("reader", chromedp.SendKeys(css(`#token`), s.reader), chromedp.Submit(css(`#token`)),
		chromedp.WaitVisible(css(`table.risks`)), chromedp.Navigate(base+"/risks/RISK-3"), chromedp.WaitVisible(css(`#h-history`)))
	forms, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('main form[method=post], main button').length`))
	if err != nil || forms != 0 {
		t.Fatalf("a reader sees %d action forms and buttons (%v)", forms, err)
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/risks/RISK-3/rate', {method: 'POST', body: new URLSearchParams({likelihood: '1'})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Fatalf("reader's forged POST: %d %v", status, err)
	}
	time.Sleep(100 * time.Millisecond)
	if errs := con.take(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	// The detector can fail: a console error made on purpose is seen.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`console.error("control")`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if errs := con.take(); len(errs) != 1 || !strings.Contains(errs[0], "control") {
		t.Errorf("console detector saw %q", errs)
	}
	r3, _, _ := s.svc.Get(context.Background(), admin, "RISK-3", 0)
	if *r3.Likelihood != 2 {
		t.Fatalf("RISK-3 likelihood changed to %d", *r3.Likelihood)
	}
}
