package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlstore"
	"github.com/risksync/risksync/internal/riskfile"
	"github.com/risksync/risksync/internal/service"
)

const teams = `
teams:
  - {name: storage-sre, tracker: github, github_repo: acme/storage-reliability, aliases: ["Service Lifecycle SRE"]}
  - {name: payments, tracker: jira, jira_project: PAY}
github: {repo: acme/reliability}
jira: {base_url: "https://acme.atlassian.net", project: REL}
`

var admin = registry.Principal{Actor: "alice", Role: registry.RoleAdmin}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	store *sqlstore.Store
	svc   *service.Service
	clock *registrytest.Clock
}

// newFixture opens a fresh store; wrap, when given, stands between the
// service and the store.
func newFixture(t testing.TB, open registrytest.Opener, wrap func(registry.Store) service.Store) *fixture {
	cfg, err := config.Parse([]byte(teams))
	if err != nil {
		t.Fatal(err)
	}
	clock := registrytest.NewClock()
	sc := cfg.ScoringConfig()
	store := open(t, registry.StoreOptions{Derive: sc.Derive, Now: clock.Now})
	var st service.Store = store
	if wrap != nil {
		st = wrap(store)
	}
	svc := service.New(service.Options{Store: st, Routing: cfg.Routing(), Scoring: sc, Now: clock.Now})
	return &fixture{t: t, ctx: context.Background(), store: store, svc: svc, clock: clock}
}

func (f *fixture) parse(format, in string) []riskfile.Row {
	f.t.Helper()
	rows, err := riskfile.Parse(strings.NewReader(in), format)
	if err != nil {
		f.t.Fatalf("parse: %v", err)
	}
	return rows
}

func (f *fixture) importAs(who registry.Principal, format, in string, dryRun bool) (service.ImportResult, error) {
	f.t.Helper()
	return f.svc.Import(f.ctx, who, f.parse(format, in), dryRun)
}

func (f *fixture) mustImport(format, in string) service.ImportResult {
	f.t.Helper()
	res, err := f.importAs(admin, format, in, false)
	if err != nil {
		f.t.Fatalf("import: %v %+v", err, res.Errors)
	}
	return res
}

func (f *fixture) export(format string) string {
	f.t.Helper()
	risks, err := f.svc.Export(f.ctx, admin)
	if err != nil {
		f.t.Fatal(err)
	}
	var b bytes.Buffer
	if err := riskfile.Write(&b, format, risks); err != nil {
		f.t.Fatal(err)
	}
	return b.String()
}

// state is every risk with its version and history length: equal states
// mean nothing was written.
func (f *fixture) state() string {
	f.t.Helper()
	risks, err := f.store.ListRisks(f.ctx, registry.RiskFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range risks {
		h, _ := f.store.History(f.ctx, r.Key, 0)
		fmt.Fprintf(&b, "%s v%d h%d %q %s\n", r.Key, r.Version, len(h), r.Title, r.Owner)
	}
	return b.String()
}

func wantResult(t testing.TB, got service.ImportResult, created, updated []string, unchanged int) {
	t.Helper()
	if strings.Join(got.Created, ",") != strings.Join(created, ",") || strings.Join(got.Updated, ",") != strings.Join(updated, ",") ||
		got.Unchanged != unchanged || len(got.Errors) != 0 {
		t.Fatalf("result %+v; want created %v, updated %v, unchanged %d", got, created, updated, unchanged)
	}
}

func wantErrors(t testing.TB, res service.ImportResult, err error, code string, want ...service.ImportError) {
	t.Helper()
	if registry.ErrorCode(err) != code {
		t.Fatalf("error %v: code %q, want %q", err, registry.ErrorCode(err), code)
	}
	if len(res.Created)+len(res.Updated)+res.Unchanged != 0 {
		t.Fatalf("a failed import reports writes: %+v", res)
	}
	if len(res.Errors) != len(want) {
		t.Fatalf("errors %+v, want %d", res.Errors, len(want))
	}
	for i, w := range want {
		g := res.Errors[i]
		if g.Line != w.Line || g.Column != w.Column || !strings.Contains(g.Message, w.Message) {
			t.Fatalf("error %d is %+v, want %+v", i+1, g, w)
		}
	}
}

// rowsCSV is a header and n rows on lines 2..n+1; bad(line) may replace a row.
func rowsCSV(n int, bad func(line int) string) string {
	var b strings.Builder
	b.WriteString("title,impact,scope,likelihood,owner\n")
	for line := 2; line <= n+1; line++ {
		if bad != nil {
			if s := bad(line); s != "" {
				b.WriteString(s + "\n")
				continue
			}
		}
		owner := []string{"storage-sre", "payments", "Service Lifecycle SRE"}[line%3]
		fmt.Fprintf(&b, "failure mode %d,%d,%d,%d,%s\n", line, 1+line%5, 1+(line/5)%5, 1+(line/25)%5, owner)
	}
	return b.String()
}

func forEachBackend(t *testing.T, fn func(t *testing.T, open registrytest.Opener)) {
	names := make([]string, 0, 2)
	backends := registrytest.Backends()
	for name := range backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) { fn(t, backends[name]) })
	}
}

func TestImportBadRowAtLine500WritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open registrytest.Opener) {
		f := newFixture(t, open, nil)
		in := rowsCSV(999, func(line int) string {
			if line == 500 {
				return "failure mode 500,3,3,3,nobody"
			}
			return ""
		})
		before := f.state()
		res, err := f.importAs(admin, riskfile.CSV, in, false)
		wantErrors(t, res, err, registry.EINVALID, service.ImportError{Line: 500, Column: "owner", Message: `unknown team "nobody": teams are storage-sre, payments`})
		if !strings.Contains(err.Error(), "1 bad row, nothing written") {
			t.Fatalf("error %v", err)
		}
		if f.state() != before {
			t.Fatal("a failed import wrote")
		}
		// Fixed, the same file imports every row.
		res = f.mustImport(riskfile.CSV, strings.Replace(in, ",nobody\n", ",payments\n", 1))
		if len(res.Created) != 999 || res.Created[498] != "RISK-499" {
			t.Fatalf("created %d, row 499 is %s", len(res.Created), res.Created[498])
		}
	})
}

// crashing fails the nth write inside a batch, as a crash or a lost
// connection would in the middle of an import.
type crashing struct {
	registry.Store
	n int
}

func (c *crashing) Batch(ctx context.Context, fn func(registry.Store) error) error {
	return c.Store.Batch(ctx, func(tx registry.Store) error { return fn(&crashingTx{Store: tx, left: c.n}) })
}

type crashingTx struct {
	registry.Store
	left int
}

var errCrash = errors.New("connection reset by peer")

func (c *crashingTx) CreateRisk(ctx context.Context, r *registry.Risk, actor string) (*registry.Risk, error) {
	if c.left--; c.left < 0 {
		return nil, errCrash
	}
	return c.Store.CreateRisk(ctx, r, actor)
}

func (c *crashingTx) UpdateRisk(ctx context.Context, key, actor string, fn func(*registry.Risk) error) (*registry.Risk, error) {
	if c.left--; c.left < 0 {
		return nil, errCrash
	}
	return c.Store.UpdateRisk(ctx, key, actor, fn)
}

func TestImportFailureMidWriteLeavesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open registrytest.Opener) {
		var wrapped *crashing
		f := newFixture(t, open, func(s registry.Store) service.Store { wrapped = &crashing{Store: s, n: 1 << 30}; return wrapped })
		f.mustImport(riskfile.CSV, rowsCSV(10, nil))
		before := f.state()
		// Ten updates (new likelihoods), then 989 creations; the 500th write fails.
		in := strings.NewReplacer(",1,storage", ",5,storage", ",1,payments", ",5,payments").Replace(rowsCSV(999, nil))
		wrapped.n = 499
		res, err := f.importAs(admin, riskfile.CSV, in, false)
		if !errors.Is(err, errCrash) || !strings.Contains(err.Error(), "import line ") || !strings.Contains(err.Error(), "nothing written") {
			t.Fatalf("error %v", err)
		}
		if len(res.Created)+len(res.Updated) != 0 || len(res.Errors) != 1 || res.Errors[0].Line == 0 {
			t.Fatalf("result %+v", res)
		}
		if got := f.state(); got != before {
			t.Fatalf("a crash mid-import left writes:\n%s\nwant\n%s", got, before)
		}
	})
}

func TestImportRowErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open registrytest.Opener) {
		f := newFixture(t, open, nil)
		f.mustImport(riskfile.CSV, "title,impact,scope,likelihood,owner\nTwin,1,1,1,payments\nOther twin,1,1,1,payments\nKept,2,2,2,storage-sre\n")
		if _, err := f.store.UpdateRisk(f.ctx, "RISK-2", "bob", func(r *registry.Risk) error { r.Title = "twin."; return nil }); err != nil {
			t.Fatal(err)
		}
		before := f.state()
		res, err := f.importAs(admin, riskfile.CSV, "key,title,impact,impact_percent,status,status_reason,owner,last_reviewed,accepted_until\n"+
			"RISK-9,Gone,,,,,,,\n"+ // line 2
			",TWIN,,,,,,,\n"+ // line 3: two risks have this title
			"RISK-3,Kept,,150,,,,,\n"+ // line 4
			",kept,,,,,,,\n"+ // line 5: RISK-3 again, by title
			",New one,,,accepted,,,,\n"+ // line 6
			",new one.,,,,,,,\n"+ // line 7: the same new risk twice
			",Third,,,mitigating,,,,\n"+ // line 8
			",Fourth,,,,,nobody,2030-01-01,\n"+ // line 9
			",Fifth,,,active,why,,,2026-01-01\n", false) // line 10
		wantErrors(t, res, err, registry.EINVALID,
			service.ImportError{Line: 2, Column: "key", Message: "RISK-9 not found: leave key empty to create a risk"},
			service.ImportError{Line: 3, Column: "title", Message: "matches RISK-1 and RISK-2: add a key column"},
			service.ImportError{Line: 4, Column: "impact_percent", Message: "150 is not a number more than zero and at most 100"},
			service.ImportError{Line: 5, Column: "title", Message: "matches RISK-3, which is also on line 4"},
			service.ImportError{Line: 6, Column: "status_reason", Message: "required when the status is accepted"},
			service.ImportError{Line: 7, Column: "title", Message: "a new risk with this title is also on line 6"},
			service.ImportError{Line: 8, Column: "status", Message: "is set by the sync engine"},
			service.ImportError{Line: 9, Column: "owner", Message: `unknown team "nobody"`},
			service.ImportError{Line: 10, Column: "accepted_until", Message: "2026-01-01 is not in the future"},
			service.ImportError{Line: 10, Column: "status_reason", Message: "only an accepted or retired risk has a reason"},
			service.ImportError{Line: 10, Column: "accepted_until", Message: "only an accepted risk has an end date"},
		)
		if !strings.Contains(err.Error(), "9 bad rows, nothing written") {
			t.Fatalf("error %v", err)
		}
		res, err = f.importAs(admin, riskfile.CSV, "title,last_reviewed\nFuture review,2030-01-01\n", false)
		wantErrors(t, res, err, registry.EINVALID, service.ImportError{Line: 2, Column: "last_reviewed", Message: "2030-01-01 is in the future"})
		if f.state() != before {
			t.Fatal("a failed import wrote")
		}
	})
}

func TestReimportAndExportImportChangeNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open registrytest.Opener) {
		f := newFixture(t, open, nil)
		in := "key,risk,description,impact,scope,likelihood,owner,status,status_reason,accepted_until,last_reviewed,ettd_minutes,ettr_minutes,impact_percent,ettf_days\n" +
			",Orphaned snapshots accumulate,\"Backups slow,\r\nthen miss the RTO\",4 — data protection,high,3 - compounds,Service Lifecycle SRE,active,,,2026-02-27,1440,480,20,60\n" +
			",\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",'- starts with a dash,1,1,1,payments,accepted,'=cheap,2026-09-30,,,,,\n" +
			",Unrated and unowned,,,,,,,,,,,,,\n" +
			",Retired one,,2,2,2,payments,retired,gone,,,,,,\n"
		res := f.mustImport(riskfile.CSV, in)
		wantResult(t, res, []string{"RISK-1", "RISK-2", "RISK-3", "RISK-4"}, nil, 0)
		r2, _ := f.store.FindRisk(f.ctx, "RISK-2")
		if r2.Title != `=HYPERLINK("http://evil","x")` || r2.Description != "- starts with a dash" || r2.StatusReason != "=cheap" {
			t.Fatalf("formula cells stored as %q %q %q", r2.Title, r2.Description, r2.StatusReason)
		}
		r1, _ := f.store.FindRisk(f.ctx, "RISK-1")
		if *r1.Score != 48 || r1.Owner != "storage-sre" || r1.LastReviewedAt.Format(time.DateOnly) != "2026-02-27" || *r1.ETTFDays != 60 {
			t.Fatalf("RISK-1 %+v", r1)
		}
		// The sync engine moves one risk to mitigating and a review stamps
		// another with a time of day: neither is a change on re-import.
		if _, err := f.store.UpdateRisk(f.ctx, "RISK-3", registry.ActorSync, func(r *registry.Risk) error { r.Status = registry.StatusMitigating; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.ReviewRisk(f.ctx, "RISK-1", "bob", ""); err != nil {
			t.Fatal(err)
		}
		before := f.state()
		csvOut := f.export(riskfile.CSV)
		if !strings.Contains(csvOut, `"'=HYPERLINK(""http://evil"",""x"")",'- starts with a dash`) || !strings.Contains(csvOut, ",'=cheap,") {
			t.Fatalf("formula cells not escaped:\n%s", csvOut)
		}
		if !strings.HasPrefix(csvOut, "key,title,") || strings.Index(csvOut, "RISK-1,") > strings.Index(csvOut, "RISK-3,") {
			t.Fatalf("export not ranked:\n%s", csvOut)
		}
		for _, tc := range []struct{ format, in string }{{riskfile.CSV, csvOut}, {riskfile.JSON, f.export(riskfile.JSON)}} {
			before := f.store.Statements()
			wantResult(t, f.mustImport(tc.format, tc.in), nil, nil, 4)
			// BEGIN, the ranked read (3 statements), COMMIT: no write.
			if n := f.store.Statements() - before; n != 5 {
				t.Fatalf("%s: an import changing nothing sent %d statements, want 5", tc.format, n)
			}
		}
		// Re-importing the original file (without keys) matches by title.
		f.clock.Advance(24 * time.Hour)
		wantResult(t, f.mustImport(riskfile.CSV, strings.Replace(in, ",active,,,2026-02-27,", ",,,,,", 1)), nil, nil, 4)
		if f.state() != before {
			t.Fatalf("re-import changed:\n%s\nwas\n%s", f.state(), before)
		}
	})
}

func TestImportUpdatesByKeyAndTitleAndFormats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open registrytest.Opener) {
		f := newFixture(t, open, nil)
		f.mustImport(riskfile.CSV, "title,impact,scope,likelihood,owner\nOrphaned snapshots accumulate,4,5,3,storage-sre\nCard pool exhausted,3,4,3,payments\n")
		res := f.mustImport(riskfile.JSON, `[
			{"key": "RISK-1", "title": "Orphaned snapshot resources accumulate", "likelihood": "critical — grows daily"},
			{"title": "  card POOL exhausted. ", "status": "accepted", "status_reason": "sale day only", "accepted_until": "2026-06-30"},
			{"title": "From JSON", "impact": 2, "scope": 2, "likelihood": 2, "ettd_minutes": 5.5}
		]`)
		wantResult(t, res, []string{"RISK-3"}, []string{"RISK-1", "RISK-2"}, 0)
		r1, _ := f.store.FindRisk(f.ctx, "RISK-1")
		r2, _ := f.store.FindRisk(f.ctx, "RISK-2")
		if r1.Title != "Orphaned snapshot resources accumulate" || *r1.Likelihood != 5 || *r1.Score != 100 {
			t.Fatalf("RISK-1 by key: %q likelihood %d", r1.Title, *r1.Likelihood)
		}
		if r2.Title != "Card pool exhausted" || r2.Status != registry.StatusAccepted || r2.AcceptedUntil.Format(time.DateOnly) != "2026-06-30" {
			t.Fatalf("RISK-2 by title keeps its spelling and takes the decision: %+v", r2)
		}
		h, _ := f.store.History(f.ctx, "RISK-1", 0)
		if last := h[len(h)-1]; last.Actor != "alice" {
			t.Fatalf("history actor %q", last.Actor)
		}
		res = f.mustImport(riskfile.YAML, `
- key: RISK-3
  title: From JSON
  description: |
    Now from YAML.
- title: From YAML
  impact: low
  scope: 2
  likelihood: 2
  owner: payments
`)
		wantResult(t, res, []string{"RISK-4"}, []string{"RISK-3"}, 0)
		if r, _ := f.store.FindRisk(f.ctx, "RISK-3"); r.Description != "Now from YAML.\n" || *r.ETTDMinutes != 5.5 {
			t.Fatalf("RISK-3 %+v", r)
		}
	})
}

func TestImportDryRunWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open registrytest.Opener) {
		f := newFixture(t, open, nil)
		f.mustImport(riskfile.CSV, "title,impact\nExisting,2\nSame,3\n")
		before, statements := f.state(), f.store.Statements()
		res, err := f.importAs(admin, riskfile.CSV, "title,impact\nExisting,4\nSame,3\nBrand new,1\n", true)
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, res, []string{"Brand new"}, []string{"RISK-1"}, 1)
		// The ranked read only: no transaction, no write.
		if n := f.store.Statements() - statements; n != 3 || f.state() != before {
			t.Fatalf("dry run sent %d statements; state changed: %v", n, f.state() != before)
		}
		res, err = f.importAs(admin, riskfile.CSV, "title,impact,owner\nExisting,4,nobody\n", true)
		wantErrors(t, res, err, registry.EINVALID, service.ImportError{Line: 2, Column: "owner", Message: "unknown team"})
		if f.state() != before {
			t.Fatal("dry run wrote")
		}
	})
}

func TestImportEditorScopedToTeam(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open registrytest.Opener) {
		f := newFixture(t, open, nil)
		f.mustImport(riskfile.CSV, "title,impact,owner\nStorage risk,2,storage-sre\nPayments risk,2,payments\nNobody's,2,\n")
		export := f.export(riskfile.CSV)
		editor := registry.Principal{Actor: "token:pay", Role: registry.RoleEditor, Teams: []string{"payments"}}
		before := f.state()

		// The whole export with only the team's own row edited imports.
		edited := strings.Replace(export, "Payments risk,,2,", "Payments risk,,3,", 1)
		res, err := f.importAs(editor, riskfile.CSV, edited, false)
		if err != nil {
			t.Fatal(err, res.Errors)
		}
		wantResult(t, res, nil, []string{"RISK-2"}, 2)

		res, err = f.importAs(editor, riskfile.CSV, "key,title,impact,owner\n"+
			"RISK-1,Storage risk,5,\n"+ // another team's risk
			"RISK-2,Payments risk,,storage-sre\n"+ // giving one away
			",New for storage,1,storage-sre\n"+ // creating for another team
			",New unowned,1,\n", false) // creating an unowned risk
		msg := "token:pay may change only risks of payments, not "
		wantErrors(t, res, err, registry.EFORBIDDEN,
			service.ImportError{Line: 2, Column: "owner", Message: msg + "risks owned by storage-sre"},
			service.ImportError{Line: 3, Column: "owner", Message: msg + "risks owned by storage-sre"},
			service.ImportError{Line: 4, Column: "owner", Message: msg + "risks owned by storage-sre"},
			service.ImportError{Line: 5, Column: "owner", Message: msg + "unowned risks"})
		res, err = f.importAs(registry.Principal{Actor: "token:ro", Role: registry.RoleReader}, riskfile.CSV, export, true)
		if registry.ErrorCode(err) != registry.EFORBIDDEN || !strings.Contains(err.Error(), "reader role") {
			t.Fatalf("reader: %v %+v", err, res)
		}
		if _, err := f.svc.Export(f.ctx, registry.Principal{}); registry.ErrorCode(err) != registry.EUNAUTHORIZED {
			t.Fatalf("export without a principal: %v", err)
		}
		if got := f.state(); got == before || !strings.Contains(got, "RISK-2 v2") || !strings.Contains(got, "RISK-1 v1") {
			t.Fatalf("state %s", got)
		}
	})
}

// SQL statements per row are bounded: a creation is an insert and its
// history, an update a locked read (3), the update and its history.
func TestImportStatementsPerRow(t *testing.T) {
	f := newFixture(t, registrytest.Backends()["sqlite"], nil)
	const n = 200
	count := func(in string) int64 {
		before := f.store.Statements()
		f.mustImport(riskfile.CSV, in)
		return f.store.Statements() - before
	}
	// BEGIN, the read of the (empty) registry, insert and history per row, COMMIT.
	if got := count(rowsCSV(n, nil)); got != 3+2*n {
		t.Fatalf("creating %d risks: %d statements, want %d", n, got, 3+2*n)
	}
	moved := int64(0)
	for line := 2; line <= n+1; line++ {
		if line%3 == 0 { // the storage-sre rows of rowsCSV
			moved++
		}
	}
	// BEGIN, the ranked read (3), per updated row 5, COMMIT.
	changed := strings.ReplaceAll(rowsCSV(n, nil), ",storage-sre\n", ",payments\n")
	if got := count(changed); got != 5+5*moved {
		t.Fatalf("updating %d risks: %d statements, want %d", moved, got, 5+5*moved)
	}
}

func BenchmarkImport(b *testing.B) {
	const n = 10_000
	for name, open := range registrytest.Backends() {
		b.Run(name, func(b *testing.B) {
			in := rowsCSV(n, nil)
			update := strings.NewReplacer(",storage-sre\n", ",payments\n", ",payments\n", ",storage-sre\n", ",Service Lifecycle SRE\n", ",payments\n").Replace(in)
			for _, step := range []struct {
				name string
				in   string
			}{{"create", in}, {"update", update}, {"unchanged", update}} {
				b.Run(fmt.Sprintf("%s-%d", step.name, n), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						f := newFixture(b, open, nil)
						if step.name != "create" {
							f.mustImport(riskfile.CSV, in)
						}
						if step.name == "unchanged" {
							f.mustImport(riskfile.CSV, update)
						}
						rows := f.parse(riskfile.CSV, step.in)
						before := f.store.Statements()
						b.StartTimer()
						res, err := f.svc.Import(f.ctx, admin, rows, false)
						if err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						b.ReportMetric(float64(f.store.Statements()-before)/n, "statements/row")
						if len(res.Created)+len(res.Updated)+res.Unchanged != n {
							b.Fatalf("result %d %d %d", len(res.Created), len(res.Updated), res.Unchanged)
						}
					}
				})
			}
		})
	}
}
