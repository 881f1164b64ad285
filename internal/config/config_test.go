package config_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
)

// Each file under testdata/invalid states on its first line the error it must produce.
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 20 {
		t.Fatalf("only %d invalid configs", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := firstLineWant(t, f)
			_, err := config.Load(f, func(string) string { return "" })
			if err == nil {
				t.Fatalf("accepted; want error %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q\ndoes not contain %q", err, want)
			}
			if !strings.HasPrefix(err.Error(), "config "+f+": ") {
				t.Fatalf("error %q does not name the file", err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error leaks a password or spans lines: %q", err)
			}
		})
	}
}

func firstLineWant(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan()
	want, ok := strings.CutPrefix(s.Text(), "# want: ")
	if !ok {
		t.Fatalf("%s: first line must be '# want: <error>'", path)
	}
	return want
}

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := config.Load("../../config.example.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Teams) != 2 || cfg.Teams[0].Aliases[1] != "Service Lifecycle SRE" || cfg.Jira.Project != "REL" {
		t.Fatalf("decoded %+v", cfg)
	}
	if tg, ok := cfg.Route("payments"); !ok || tg.String() != "jira PAY" {
		t.Fatalf("payments routes to %v", tg)
	}
	if tg, _ := cfg.Route(""); tg.String() != "github acme/reliability" {
		t.Fatalf("unowned routes to %v", tg)
	}
	if tg, _ := cfg.Route("storage-sre"); tg.String() != "github acme/storage-reliability" {
		t.Fatalf("storage-sre routes to %v", tg)
	}
	if team := cfg.MatchTeam("  service lifecycle sre "); team == nil || team.Name != "storage-sre" {
		t.Fatalf("alias match: %v", team)
	}
	if cfg.MatchTeam("Nobody") != nil {
		t.Fatal("matched an unknown team")
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != "sqlite://risksync.db" || cfg.Server.Listen != "127.0.0.1:8080" || cfg.Sync.Interval.Std() != 5*time.Minute ||
		cfg.Stagnation.After.Std() != 14*24*time.Hour || len(cfg.Scoring.Bands) != 4 || cfg.DefaultTracker != "" || cfg.Source != "built-in defaults" {
		t.Fatalf("defaults %+v", cfg)
	}
	sc := cfg.ScoringConfig()
	if sc.BandFor(60).Name != "critical" || sc.BandFor(59).Name != "high" || sc.BandFor(0).Name != "low" {
		t.Fatal("default bands")
	}
}

func TestDatabaseURLFromEnvironment(t *testing.T) {
	env := map[string]string{"RISKSYNC_DATABASE_URL": "postgres://risk:s3cret@db.internal:5432/risks"}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := config.ParseDatabaseURL(cfg.Database.URL)
	if err != nil || tgt.Kind != config.Postgres {
		t.Fatalf("%v %v", tgt, err)
	}
	env["RISKSYNC_DATABASE_URL"] = "mysql://risk:s3cret@db/x"
	_, err = config.Load("", func(k string) string { return env[k] })
	if err == nil || !strings.HasPrefix(err.Error(), "RISKSYNC_DATABASE_URL: ") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %v", err)
	}
	for raw, want := range map[string]string{"sqlite://risksync.db": "risksync.db", "sqlite:///var/lib/risksync/r.db": "/var/lib/risksync/r.db"} {
		if tgt, err := config.ParseDatabaseURL(raw); err != nil || tgt.Path != want {
			t.Errorf("%s → %q %v, want %q", raw, tgt.Path, err, want)
		}
	}
}

func TestExpectedMinutesBudgetBands(t *testing.T) {
	cfg, err := config.Parse([]byte("scoring:\n  model: expected_minutes\n  slo: 0.9995\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.ScoringConfig()
	budget := 0.0005 * 525960 // 262.98 minutes
	if got := sc.Bands[0].MinScore; got < budget-1e-9 || got > budget+1e-9 || sc.Bands[1].MinScore != sc.Bands[0].MinScore/2 {
		t.Fatalf("budget bands %+v", sc.Bands)
	}
}

func TestSecrets(t *testing.T) {
	cfg, err := config.Parse([]byte("github: {repo: acme/rel, webhook_secret_file: /nonexistent/secret}\njira: {base_url: 'https://jira.example.com', project: REL, pat_env: JIRA_PAT}\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_TOKEN": "ghp_sentinel"}
	errs := cfg.CheckSecrets(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	got := strings.Join(msgs, "\n")
	want := "github.webhook_secret_file: cannot read /nonexistent/secret: no such file or directory\njira.pat_env: environment variable JIRA_PAT is not set"
	if got != want {
		t.Fatalf("secret errors:\n%s\nwant:\n%s", got, want)
	}
	tok, err := cfg.GitHub.Token().Resolve(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || tok.Reveal() != "ghp_sentinel" {
		t.Fatal(err)
	}
	for _, s := range []string{tok.String(), strings.TrimSpace(func() string { b, _ := tok.MarshalJSON(); return string(b) }())} {
		if strings.Contains(s, "sentinel") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	path := filepath.Join(t.TempDir(), "token")
	os.WriteFile(path, []byte("from-file\n"), 0o600)
	got2, err := config.SecretRef{Name: "github.token", File: path}.Resolve(nil)
	if err != nil || got2.Reveal() != "from-file" {
		t.Fatalf("file secret %v", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	files = append(files, "../../config.example.yaml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Fatal("empty error")
		}
	})
}

func TestTrustedProxy(t *testing.T) {
	cfg, err := config.Parse([]byte(`
server:
  auth:
    trusted_proxy: {header: X-Forwarded-Email, cidrs: [10.0.0.0/8, "fd00::/8", 192.168.1.7, "::ffff:172.16.0.0/108"], role: editor}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Server.Auth.TrustedProxy
	pfs, err := p.Prefixes()
	if err != nil || p.Header != "X-Forwarded-Email" || p.Role != "editor" {
		t.Fatalf("%+v %v", p, err)
	}
	var got []string
	for _, pf := range pfs {
		got = append(got, pf.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 fd00::/8 192.168.1.7/32 172.16.0.0/12" {
		t.Fatalf("prefixes %v", got)
	}
	if none, _ := config.Parse(nil); none.Server.Auth.TrustedProxy != nil {
		t.Fatal("trusted proxy on by default")
	}
}
