package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/auth"
)

func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

func TestTokenLifecycle(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		c := newCLI(t)
		c.writeConfig(teamsConfig)
		if u := dbURL(t); u != "" {
			c.env["RISKSYNC_DATABASE_URL"] = u
		}
		if out := c.ok("token", "list"); !strings.Contains(out, "risksync token create --name admin --role admin") {
			t.Fatalf("empty list: %q", out)
		}
		if out := c.ok("token", "list", "--json"); strings.TrimSpace(out) != "[]" {
			t.Fatalf("empty JSON list: %q", out)
		}

		admin := decode[map[string]any](t, c.ok("token", "create", "--name", "admin", "--role", "admin", "--json"))
		if keysOf(admin) != "created_at,expires_at,name,role,teams,token" {
			t.Fatalf("create JSON keys %s", keysOf(admin))
		}
		secret, _ := admin["token"].(string)
		if admin["name"] != "admin" || admin["role"] != "admin" || len(admin["teams"].([]any)) != 0 || admin["expires_at"] != nil || !strings.HasPrefix(secret, "rsk_") || len(secret) != 4+43 {
			t.Fatalf("created %v", admin)
		}
		if _, err := time.Parse(time.RFC3339, admin["created_at"].(string)); err != nil || !strings.HasSuffix(admin["created_at"].(string), "Z") {
			t.Fatalf("created_at %v: %v", admin["created_at"], err)
		}

		out := c.ok("token", "create", "--name", "storage-bot", "--role", "Editor", "--team", "service lifecycle sre", "--team", "payments", "--team", "storage-sre", "--expires", "90d")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "rsk_") || strings.Contains(lines[0], " ") ||
			!strings.Contains(lines[1], `token "storage-bot" created (editor for payments, storage-sre, expires `) || !strings.Contains(lines[1], "shown only this once") {
			t.Fatalf("human create:\n%s", out)
		}
		if lines[0] == secret {
			t.Fatal("two tokens with the same secret")
		}

		list := decode[[]map[string]any](t, c.ok("token", "list", "--json"))
		if len(list) != 2 || list[0]["name"] != "admin" || list[1]["name"] != "storage-bot" {
			t.Fatalf("list %v", list)
		}
		for _, tk := range list {
			if keysOf(tk) != "created_at,expires_at,last_used_at,name,role,teams" || tk["last_used_at"] != nil {
				t.Fatalf("list JSON %v", tk)
			}
		}
		bot := list[1]
		botCreated, err1 := time.Parse(time.RFC3339, bot["created_at"].(string))
		exp, err2 := time.Parse(time.RFC3339, bot["expires_at"].(string))
		if err1 != nil || err2 != nil || bot["role"] != "editor" || !exp.Equal(botCreated.Add(90*24*time.Hour)) {
			t.Fatalf("bot %v", bot)
		}
		if teams := bot["teams"].([]any); len(teams) != 2 || teams[0] != "payments" || teams[1] != "storage-sre" {
			t.Fatalf("teams %v", teams)
		}
		table := c.ok("token", "list")
		for _, want := range []string{"NAME", "LAST USED", "admin", "all", "storage-bot", "payments,storage-sre", "never"} {
			if !strings.Contains(table, want) {
				t.Fatalf("table lacks %q:\n%s", want, table)
			}
		}

		c.fail(1, `token create: a token named "admin" exists; revoke it first or pick another name`, "token", "create", "--name", "admin", "--role", "reader")
		if out := c.ok("token", "revoke", "admin"); !strings.Contains(out, `token "admin" revoked`) {
			t.Fatalf("revoke: %q", out)
		}
		c.fail(1, `token "admin" not found`, "token", "revoke", "admin")
		if list := decode[[]map[string]any](t, c.ok("token", "list", "--json")); len(list) != 1 || list[0]["name"] != "storage-bot" {
			t.Fatalf("after revoke %v", list)
		}
		// The name is free again.
		c.ok("token", "create", "--name", "admin", "--role", "admin")
	})
}

func TestTokenBadInput(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(teamsConfig)
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"--name is required", []string{"--role", "admin"}},
		{`--name "two words": use up to 64 letters`, []string{"--name", "two words", "--role", "admin"}},
		{"--role is required: reader, editor or admin", []string{"--name", "ci"}},
		{`--role: unknown role "owner": use reader, editor or admin`, []string{"--name", "ci", "--role", "owner"}},
		{`--team: unknown team "bob": teams are storage-sre, payments`, []string{"--name", "ci", "--role", "editor", "--team", "payments", "--team", "bob"}},
		{"--team limits editors only: a reader is not limited by team", []string{"--name", "ci", "--role", "reader", "--team", "payments"}},
		{`--expires: invalid duration "ninety days"`, []string{"--name", "ci", "--role", "reader", "--expires", "ninety days"}},
		{`--expires "0d": give a lifetime longer than zero`, []string{"--name", "ci", "--role", "reader", "--expires", "0d"}},
		{"unknown flag: --teams", []string{"--name", "ci", "--role", "editor", "--teams", "payments"}},
		{`unknown command "ci"`, []string{"ci", "--role", "editor"}},
	} {
		c.fail(2, tc.want, append([]string{"token", "create"}, tc.args...)...)
	}
	c.fail(2, "give one token name", "token", "revoke")
	c.fail(2, "give one token name", "token", "revoke", "a", "b")
	// Nothing was written: the database was never even opened.
	if _, err := os.Stat(filepath.Join(c.dir, "risksync.db")); !os.IsNotExist(err) {
		t.Fatalf("bad input created the database: %v", err)
	}
	c.fail(1, `token "ci" not found: risksync token list shows the live ones`, "token", "revoke", "ci")

	none := newCLI(t) // no teams configured
	none.fail(2, `--team: unknown team "payments": no teams are configured`, "token", "create", "--name", "ci", "--role", "editor", "--team", "payments")
}

// lockedBuffer is written by serve's goroutines while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// serve starts `risksync serve` in-process without trackers and returns
// its address and its log (stderr).
func (c *cli) serve(t *testing.T) (addr string, logs *lockedBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &lockedBuffer{}
	addrCh, done := make(chan string, 1), make(chan int, 1)
	go func() {
		m := c.newMain(io.Discard, logs)
		m.OnListen = func(a string) { addrCh <- a }
		done <- m.Run(ctx, []string{"serve"})
	}()
	select {
	case addr = <-addrCh:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d: %s", code, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return addr, logs, func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("serve exited %d: %s", code, logs)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop within 15 s")
		}
	}
}

func get(t *testing.T, url, authorization string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// serveConfig has no tracker: serve then needs no secrets and calls no one.
const serveConfig = `server: {listen: "127.0.0.1:0"}
sync: {interval: 1h}
`

func TestServeReportNeedsToken(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(serveConfig)
	c.ok("risk", "add", "--title", "Orphaned snapshots accumulate", "--impact", "4", "--scope", "5", "--likelihood", "3")

	addr, logs, stop := c.serve(t)
	base := "http://" + addr
	if code, hdr, body := get(t, base+"/report", ""); code != 401 || hdr.Get("WWW-Authenticate") != `Bearer realm="risksync"` ||
		hdr.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, `"title":"Unauthorized"`) {
		t.Fatalf("/report without a token: %d %v %s", code, hdr, body)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _, _ := get(t, base+p, ""); code != 200 {
			t.Fatalf("%s without a token: %d", p, code)
		}
	}
	if code, _, body := get(t, base+"/webhooks/github", ""); code != 404 || !strings.Contains(body, "webhooks for github are off") {
		t.Fatalf("webhooks keep their own rules: %d %s", code, body)
	}
	stop()
	if n := strings.Count(logs.String(), "risksync token create --name admin --role admin"); n != 1 {
		t.Fatalf("%d hints to create the first token in:\n%s", n, logs)
	}

	secret := decode[map[string]any](t, c.ok("token", "create", "--name", "weekly-review", "--role", "reader", "--json"))["token"].(string)
	addr, logs, stop = c.serve(t)
	defer stop()
	base = "http://" + addr
	if code, _, body := get(t, base+"/report", "Bearer "+secret); code != 200 || !strings.Contains(body, "<svg") || !strings.Contains(body, "RISK-1") {
		t.Fatalf("/report with a token: %d %.200s", code, body)
	}
	if code, _, _ := get(t, base+"/report?owner=unowned", "Bearer "+secret); code != 200 {
		t.Fatalf("/report?owner with a token: %d", code)
	}
	if code, _, _ := get(t, base+"/report", ""); code != 401 {
		t.Fatalf("/report without a token once one exists: %d", code)
	}
	if strings.Contains(logs.String(), "token create") {
		t.Fatalf("hint logged although a token exists:\n%s", logs)
	}
	if list := decode[[]map[string]any](t, c.ok("token", "list", "--json")); list[0]["last_used_at"] == nil {
		t.Fatal("use not recorded")
	}
}

// The secret is printed once, at creation, and nowhere else: not in logs,
// metrics, error answers, CLI errors or listings; the hash neither.
func TestTokenSecretNeverLeaks(t *testing.T) {
	c := newCLI(t)
	c.writeConfig(serveConfig)
	created := c.ok("token", "create", "--name", "sentinel", "--role", "editor", "--expires", "30d", "--json")
	secret := decode[map[string]any](t, created)["token"].(string)
	random, hash := strings.TrimPrefix(secret, auth.TokenPrefix), auth.Hash(secret)

	var seen []string // everything a person or a log collector could read after creation
	addr, logs, stop := c.serve(t)
	base := "http://" + addr
	if code, _, _ := get(t, base+"/report", "Bearer "+secret); code != 200 {
		t.Fatalf("the token does not work: %d", code)
	}
	for _, bad := range []string{"Bearer " + secret + "x", "Bearer " + secret[:len(secret)-1], "Bearer " + hash, "Bearer " + random,
		"Basic " + secret, "Bearer " + secret + " " + secret, "bearer\t" + secret} {
		code, hdr, body := get(t, base+"/report", bad)
		if code != 401 {
			t.Fatalf("%q accepted: %d", bad, code)
		}
		seen = append(seen, body, hdr.Get("WWW-Authenticate"))
	}
	out, errOut, _ := c.run("token", "create", "--name", "sentinel", "--role", "reader") // a duplicate: an error
	seen = append(seen, out, errOut)
	for _, args := range [][]string{{"token", "list"}, {"token", "list", "--json"}} {
		out, errOut, _ = c.run(args...)
		seen = append(seen, out, errOut)
	}
	out, errOut, _ = c.run("token", "revoke", "sentinel")
	seen = append(seen, out, errOut)
	code, _, body := get(t, base+"/report", "Bearer "+secret)
	if code != 401 {
		t.Fatalf("a revoked token works: %d", code)
	}
	seen = append(seen, body)
	_, _, metrics := get(t, base+"/metrics", "")
	if !strings.Contains(metrics, `risksync_api_auth_failures_total{reason="invalid"} 8`) {
		t.Fatalf("failures not counted:\n%s", grepLines(metrics, "auth_failures"))
	}
	seen = append(seen, metrics)
	stop()
	seen = append(seen, logs.String())
	for i, s := range seen {
		if strings.Contains(s, random) || strings.Contains(s, hash) || strings.Contains(strings.ToUpper(s), strings.ToUpper(hash)) {
			t.Fatalf("output %d shows the token or its hash:\n%s", i, s)
		}
	}
	// The database keeps the hash only.
	files, _ := filepath.Glob(filepath.Join(c.dir, "risksync.db*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(random)) {
			t.Fatalf("%s holds the secret", f)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Through serve: the proxy header counts from the trusted peer only.
func TestServeTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		cidrs string
		code  int
	}{{`[127.0.0.0/8, "::1"]`, 200}, {`[10.0.0.0/8]`, 401}} {
		c := newCLI(t)
		c.writeConfig("sync: {interval: 1h}\nserver: {listen: \"127.0.0.1:0\", auth: {trusted_proxy: {header: X-Forwarded-Email, cidrs: " + tc.cidrs + ", role: reader}}}\n")
		addr, logs, stop := c.serve(t)
		req, _ := http.NewRequest("GET", "http://"+addr+"/report", nil)
		req.Header.Set("X-Forwarded-Email", "alice@example.com")
		req.Header.Set("X-Forwarded-For", "127.0.0.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		stop()
		if resp.StatusCode != tc.code {
			t.Fatalf("cidrs %s: %d, want %d", tc.cidrs, resp.StatusCode, tc.code)
		}
		if !strings.Contains(logs.String(), "only people signed in through the trusted proxy get in") {
			t.Fatalf("hint does not mention the proxy:\n%s", logs)
		}
	}
}
