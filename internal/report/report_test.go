package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlstore"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/scoring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var ptr = registrytest.Ptr[int]

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// now is the fixed moment of the golden report: Monday of 2026-W22, 09:00.
var now = at("2026-05-25T09:00:00Z")

func defaultScoring(t testing.TB) scoring.Config {
	cfg, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.ScoringConfig()
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *sqlstore.Store
	clock *registrytest.Clock
}

func (f *fixture) setClock(s string) { f.clock.Advance(at(s).Sub(f.clock.Now())) }

func (f *fixture) create(title string, impact, scope, likelihood int, owner string) *registry.Risk {
	f.t.Helper()
	r := registrytest.NewRisk(title, impact, scope, likelihood)
	r.Owner = owner
	out, err := f.store.CreateRisk(f.ctx, r, "alice")
	if err != nil {
		f.t.Fatalf("create %q: %v", title, err)
	}
	return out
}

func (f *fixture) update(key, actor string, fn func(r *registry.Risk)) {
	f.t.Helper()
	if _, err := f.store.UpdateRisk(f.ctx, key, actor, func(r *registry.Risk) error { fn(r); return nil }); err != nil {
		f.t.Fatalf("update %s: %v", key, err)
	}
}

func link(tracker, key string, state registry.LinkState, total, done int, activity string) registry.Link {
	l := registry.Link{Tracker: tracker, Key: key, State: state, ChildrenTotal: total, ChildrenDone: done, Current: true}
	if tracker == registry.TrackerGitHub {
		repo, num, _ := strings.Cut(key, "#")
		l.URL = "https://github.com/" + repo + "/issues/" + num
	} else {
		l.URL = "https://acme.atlassian.net/browse/" + key
	}
	if activity != "" {
		a := at(activity)
		l.LastActivityAt = &a
	}
	return l
}

// buildRegistry writes a small registry through the store, with a fixed
// clock, so every list of the report has something to show: one golden
// output for both databases.
func buildRegistry(t *testing.T, open registrytest.Opener) *sqlstore.Store {
	clock := registrytest.NewClock() // 2026-03-02 09:00, Monday of W10
	f := &fixture{t: t, ctx: context.Background(), store: open(t, registrytest.DefaultOptions(clock)), clock: clock}
	f.create("Orphaned snapshots accumulate and slow backups", 4, 4, 3, "storage-sre") // RISK-1, 48 → 60 in April
	f.create("Daily checkout degradation under peak load", 2, 4, 3, "payments")        // RISK-2, 24 → 40 this week
	f.create("Certificate expiry takes down the edge", 5, 5, 1, "storage-sre")         // RISK-3, 25
	f.create("DNS resolver saturation <during> failover | retries", 3, 4, 3, "")       // RISK-4, 36, unowned
	f.create("Legacy batch job misses its window", 2, 2, 2, "payments")                // RISK-5, accepted this week
	f.create("Old NFS mount hangs the build farm", 1, 2, 3, "storage-sre")             // RISK-6, retired this week
	f.create("Cache stampede on deploy", 3, 3, 4, "storage-sre")                       // RISK-7, mitigated this week

	f.setClock("2026-03-05T10:00:00Z")
	f.update("RISK-1", registry.ActorSync, func(r *registry.Risk) {
		r.Links = append(r.Links, link("github", "acme/storage-reliability#12", registry.LinkOpen, 3, 1, "2026-03-20T16:30:00Z"))
	})
	f.update("RISK-2", registry.ActorSync, func(r *registry.Risk) {
		r.Links = append(r.Links, link("jira", "PAY-7", registry.LinkInProgress, 4, 2, "2026-05-23T11:00:00Z"))
	})
	f.update("RISK-3", registry.ActorSync, func(r *registry.Risk) {
		r.Links = append(r.Links, link("github", "acme/storage-reliability#15", registry.LinkOpen, 0, 0, ""))
	})
	f.update("RISK-7", registry.ActorSync, func(r *registry.Risk) {
		r.Links = append(r.Links, link("github", "acme/storage-reliability#20", registry.LinkInProgress, 2, 1, "2026-03-25T09:00:00Z"))
		r.Status = registry.StatusMitigating
	})

	// Before the window: not movement of this report.
	f.setClock("2026-04-06T09:00:00Z")
	f.update("RISK-1", "bob", func(r *registry.Risk) { r.Scope = ptr(5) })
	f.update("RISK-6", "dave", func(r *registry.Risk) {
		until := at("2026-05-17T00:00:00Z")
		r.Status, r.StatusReason, r.AcceptedUntil = registry.StatusAccepted, "build farm moves off NFS in May", &until
	})
	// The sync engine ends that acceptance in this report's window; dave
	// then retires the risk.
	f.setClock("2026-05-18T00:05:00Z")
	f.update("RISK-6", registry.ActorExpiry, func(r *registry.Risk) {
		r.Status, r.StatusReason, r.AcceptedUntil = registry.StatusActive, "", nil
	})

	// The window starts Monday 2026-05-18 (the last report was delivered in W21).
	f.setClock("2026-05-19T10:00:00Z")
	f.update("RISK-2", "carol", func(r *registry.Risk) { r.Likelihood = ptr(4) })
	f.update("RISK-2", "carol", func(r *registry.Risk) { r.Likelihood = ptr(5) }) // two changes: 24 → 32 → 40
	if _, err := f.store.ReviewRisk(f.ctx, "RISK-2", "carol", "load test scheduled"); err != nil {
		t.Fatal(err)
	}
	f.update("RISK-4", registry.ActorIntake, func(r *registry.Risk) {
		r.Sources = append(r.Sources, registry.Source{Tracker: "github", Key: "acme/incidents#91", URL: "https://github.com/acme/incidents/issues/91", Recurrence: true})
	})
	f.update("RISK-5", "dave", func(r *registry.Risk) { r.Status = registry.StatusAccepted })
	f.update("RISK-6", "dave", func(r *registry.Risk) { r.Status, r.StatusReason = registry.StatusRetired, "NFS mount removed" })
	f.update("RISK-7", registry.ActorSync, func(r *registry.Risk) {
		r.Links[0].State, r.Links[0].ChildrenDone = registry.LinkDone, 2
		r.Status = registry.StatusMitigated
	})
	f.create("Queue backlog after regional failover", 3, 0, 0, "payments") // RISK-8, new, unscored
	f.create("Regional failover never exercised", 4, 4, 2, "storage-sre")  // RISK-9, new, 32
	f.update("RISK-9", registry.ActorSync, func(r *registry.Risk) {
		r.Links = append(r.Links, link("github", "acme/storage-reliability#31", registry.LinkOpen, 2, 0, "2026-05-22T15:00:00Z"))
	})
	f.setClock("2026-05-20T12:00:00Z")
	f.update("RISK-3", registry.ActorSync, func(r *registry.Risk) { // a person closed the epic as not planned
		r.Links[0].State = registry.LinkNotPlanned
		a := at("2026-05-20T12:00:00Z")
		r.Links[0].LastActivityAt = &a
	})

	// RISK-4 recurs again: two occurrences in 90 days, so it is recurring and
	// (mode suggest) its likelihood 3 → 4 is proposed.
	f.update("RISK-4", registry.ActorIntake, func(r *registry.Risk) {
		r.Sources = append(r.Sources, registry.Source{Tracker: "jira", Key: "INC-12", URL: "https://acme.atlassian.net/browse/INC-12", Recurrence: true})
	})

	// The daemon's daily snapshots: 30 weeks, with a three-week outage.
	for day := now.AddDate(0, 0, -7*30); day.Before(report.Day(now)); day = day.AddDate(0, 0, 1) {
		weeksAgo := int(report.WeekStart(now).Sub(report.WeekStart(day)).Hours() / 24 / 7)
		if weeksAgo >= 20 && weeksAgo <= 22 {
			continue
		}
		var top []string
		if weeksAgo <= 12 {
			top = append(top, "RISK-1") // W10..W21 stored, W22 live: 13 weeks
		}
		if weeksAgo <= 9 {
			top = append(top, "RISK-4") // 10 weeks: flagged
		}
		if weeksAgo <= 7 {
			top = append(top, "RISK-7") // exactly 8 weeks: not flagged
		}
		if weeksAgo <= 3 || (weeksAgo >= 5 && weeksAgo <= 20) {
			top = append(top, "RISK-3") // left the top in W18: 4 weeks
		}
		if weeksAgo <= 3 {
			top = append(top, "RISK-2")
		}
		snap := registry.Snapshot{Day: day, Exposure: float64(120 + 3*(210-weeksAgo*7)/7 + int(day.Weekday())), Risks: 7,
			ByBand: map[string]int{"critical": 1, "high": 3, "medium": 2, "low": 1, "unscored": 0}, Top: top}
		if err := f.store.SaveSnapshot(f.ctx, snap); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []registry.Publication{
		{Week: "2026-W20", Channel: report.ChannelWebhook, Delivered: true, Attempts: 1},
		{Week: "2026-W21", Channel: report.ChannelGitHubIssue, Ref: "acme/reliability#40", Delivered: true, Attempts: 1},
	} {
		if err := f.store.SavePublication(f.ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	return f.store
}

func deps(t testing.TB, s report.Store) report.Deps {
	return report.Deps{Store: s, Scoring: defaultScoring(t), StagnationAfter: 14 * 24 * time.Hour}
}

func TestGolden(t *testing.T) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) {
			s := buildRegistry(t, open)
			rep, err := report.Generate(context.Background(), deps(t, s), now, report.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range []struct {
				file   string
				render func(*bytes.Buffer, *report.Report) error
			}{
				{"report.golden.md", func(b *bytes.Buffer, r *report.Report) error { return report.RenderMarkdown(b, r) }},
				{"report.golden.json", func(b *bytes.Buffer, r *report.Report) error { return report.RenderJSON(b, r) }},
				{"report.golden.html", func(b *bytes.Buffer, r *report.Report) error { return report.RenderHTML(b, r) }},
				{"summary.golden.txt", func(b *bytes.Buffer, r *report.Report) error {
					b.WriteString(report.Summary(r, "https://github.com/acme/reliability/issues/41"))
					return nil
				}},
			} {
				var buf bytes.Buffer
				if err := g.render(&buf, rep); err != nil {
					t.Fatal(err)
				}
				golden(t, g.file, buf.Bytes())
			}

			team, err := report.Generate(context.Background(), deps(t, s), now, report.Options{Owner: "storage-sre"})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := report.RenderMarkdown(&buf, team); err != nil {
				t.Fatal(err)
			}
			golden(t, "team.golden.md", buf.Bytes())
		})
	}
}

// golden compares got with testdata/name; -update rewrites it. Every
// backend compares with the same file: the databases must agree.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(rerun with -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

// The golden files are the rendering; these are the facts they must hold,
// stated once so a careless -update cannot bless a wrong report.
func TestReportContent(t *testing.T) {
	s := buildRegistry(t, registrytest.Backends()["sqlite"])
	rep, err := report.Generate(context.Background(), deps(t, s), now, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := func(es []report.Entry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Key)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ name, got, want string }{
		{"stagnant", keys(rep.Stagnant), "RISK-1,RISK-4,RISK-3"},
		{"review_overdue", keys(rep.ReviewOverdue), "RISK-1,RISK-4,RISK-7,RISK-3"},
		{"needs_decision", keys(rep.NeedsDecision), "RISK-3"},
		{"unowned", keys(rep.Unowned), "RISK-4"},
		{"unscored", keys(rep.Unscored), "RISK-8"},
		{"new", keys(rep.Movement.New), "RISK-9,RISK-8"},
		{"mitigated", keys(rep.Movement.Mitigated), "RISK-7"},
		{"accepted", keys(rep.Movement.Accepted), "RISK-5"},
		{"retired", keys(rep.Movement.Retired), "RISK-6"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
	if !rep.Movement.Since.Equal(at("2026-05-18T00:00:00Z")) {
		t.Errorf("movement since %v, want the week start of the last delivered report (W21)", rep.Movement.Since)
	}
	if sc := rep.Movement.ScoreChanges; len(sc) != 1 || sc[0].Key != "RISK-2" || *sc[0].ScoreFrom != 24 || *sc[0].ScoreTo != 40 ||
		*sc[0].BandFrom != "medium" || *sc[0].BandTo != "high" {
		t.Errorf("score changes %+v, want RISK-2 24 (medium) → 40 (high) collapsed from two changes", sc)
	}
	if rc := rep.Movement.Recurrences; len(rc) != 2 || rc[0].Key != "RISK-4" || rc[0].Source.URL != "https://github.com/acme/incidents/issues/91" ||
		rc[1].Source.Key != "INC-12" {
		t.Errorf("recurrences %+v", rc)
	}
	// Two occurrences of RISK-4 in 90 days: recurring, and under the default
	// mode (suggest) a proposal with the score it would lead to.
	if rc := rep.Recurring; len(rc) != 1 || rc[0].Key != "RISK-4" || rc[0].Occurrences != 2 || rc[0].LastSource.Key != "INC-12" {
		t.Errorf("recurring %+v", rc)
	}
	if sg := rep.LikelihoodSuggestions; len(sg) != 1 || sg[0].Key != "RISK-4" || *sg[0].LikelihoodFrom != 3 || sg[0].LikelihoodTo != 4 ||
		*sg[0].ScoreTo != 48 || *sg[0].BandTo != "high" {
		t.Errorf("suggestions %+v", sg)
	}
	if ex := rep.AcceptanceExpired; len(ex) != 1 || ex[0].Key != "RISK-6" || *ex[0].AcceptedUntil != "2026-05-17" ||
		*ex[0].AcceptReason != "build farm moves off NFS in May" || ex[0].Status != registry.StatusRetired {
		t.Errorf("acceptance expired %+v", ex)
	}
	if sc := rep.StuckCritical; len(sc) != 1 || sc[0].Key != "RISK-1" {
		t.Errorf("stuck critical %+v (RISK-4 is stuck too, but high)", sc)
	}
	var top []string
	for _, tp := range rep.Top {
		top = append(top, tp.Key+":"+jsonString(tp.WeeksInTop)+":"+jsonString(tp.Stuck))
	}
	if got, want := strings.Join(top, " "), "RISK-1:13:true RISK-2:4:false RISK-4:10:true RISK-7:8:false RISK-9:1:false RISK-3:4:false"; got != want {
		t.Errorf("top %s\nwant %s", got, want)
	}
	if st := rep.Stagnant; st[0].IdleDays != 65 || st[2].Reason != "no child work after 80 days" {
		t.Errorf("stagnant %+v", st)
	}
	if rep.Totals.Risks != 7 || rep.Totals.Exposure != 60+40+25+36+36+32 {
		t.Errorf("totals %+v", rep.Totals)
	}
	if w := rep.Exposure.Weeks; len(w) != 26 || w[25].Week != "2026-W22" || *w[25].Exposure != 229 || w[4].Exposure != nil || w[7].Exposure == nil {
		t.Errorf("exposure weeks %s", jsonString(w))
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestPerTeamView(t *testing.T) {
	s := buildRegistry(t, registrytest.Backends()["sqlite"])
	for _, c := range []struct {
		opts report.Options
		want string
	}{
		{report.Options{Owner: "payments"}, "RISK-2,RISK-5,RISK-8"},
		{report.Options{Unowned: true}, "RISK-4"},
	} {
		rep, err := report.Generate(context.Background(), deps(t, s), now, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, list := range [][]report.Entry{rep.Stagnant, rep.ReviewOverdue, rep.NeedsDecision, rep.Unowned, rep.Unscored,
			rep.Movement.New, rep.Movement.Accepted, rep.Movement.Retired, rep.Movement.Mitigated} {
			for _, e := range list {
				seen[e.Key] = true
			}
		}
		for _, tp := range rep.Top {
			seen[tp.Key] = true
		}
		for k := range seen {
			if !strings.Contains(c.want+",", k+",") {
				t.Errorf("%+v: %s is another team's risk", c.opts, k)
			}
		}
		if rep.OwnerFilter == nil || len(rep.Totals.ByOwner) != 1 {
			t.Errorf("%+v: owner filter %v, by owner %+v", c.opts, rep.OwnerFilter, rep.Totals.ByOwner)
		}
	}
}

func TestStagnationRule(t *testing.T) {
	created := at("2026-01-01T00:00:00Z")
	after := 14 * 24 * time.Hour
	act := func(s string) *time.Time { a := at(s); return &a }
	for _, c := range []struct {
		name     string
		status   registry.Status
		link     *registry.Link
		now      string
		stagnant bool
		noChild  bool
		idle     int
	}{
		{"no epic, young", registry.StatusActive, nil, "2026-01-10T00:00:00Z", false, false, 9},
		{"no epic, old", registry.StatusActive, nil, "2026-01-20T00:00:00Z", true, true, 19},
		{"children moving", registry.StatusMitigating, &registry.Link{ChildrenTotal: 2, LastActivityAt: act("2026-03-01T00:00:00Z"), Current: true, CreatedAt: created}, "2026-03-10T00:00:00Z", false, false, 9},
		{"children idle", registry.StatusMitigating, &registry.Link{ChildrenTotal: 2, LastActivityAt: act("2026-03-01T00:00:00Z"), Current: true, CreatedAt: created}, "2026-03-15T00:00:01Z", true, false, 14},
		{"exactly the threshold is not older", registry.StatusActive, &registry.Link{ChildrenTotal: 2, LastActivityAt: act("2026-03-01T00:00:00Z"), Current: true, CreatedAt: created}, "2026-03-15T00:00:00Z", false, false, 14},
		{"epic without activity counts from its creation", registry.StatusActive, &registry.Link{ChildrenTotal: 1, Current: true, CreatedAt: at("2026-02-01T00:00:00Z")}, "2026-02-20T00:00:00Z", true, false, 19},
		{"recent epic activity but no child work", registry.StatusActive, &registry.Link{LastActivityAt: act("2026-02-18T00:00:00Z"), Current: true, CreatedAt: at("2026-02-01T00:00:00Z")}, "2026-02-20T00:00:00Z", true, true, 2},
		{"mitigated waits for review", registry.StatusMitigated, nil, "2026-06-01T00:00:00Z", false, false, 151},
		{"accepted is decided", registry.StatusAccepted, nil, "2026-06-01T00:00:00Z", false, false, 151},
		{"superseded epic is ignored", registry.StatusActive, &registry.Link{ChildrenTotal: 3, LastActivityAt: act("2026-05-31T00:00:00Z"), CreatedAt: created}, "2026-06-01T00:00:00Z", true, true, 151},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &registry.Risk{Key: "RISK-1", Status: c.status, CreatedAt: created}
			if c.link != nil {
				r.Links = []registry.Link{*c.link}
			}
			got := report.CheckStagnation(r, after, at(c.now))
			if got.Stagnant != c.stagnant || got.NoChildWork != c.noChild || got.IdleDays != c.idle {
				t.Fatalf("got stagnant %v noChild %v idle %d; want %v %v %d", got.Stagnant, got.NoChildWork, got.IdleDays, c.stagnant, c.noChild, c.idle)
			}
		})
	}
}

func TestTakeSnapshot(t *testing.T) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) {
			clock := registrytest.NewClock()
			s := open(t, registrytest.DefaultOptions(clock))
			ctx := context.Background()
			for i := 1; i <= 12; i++ {
				if _, err := s.CreateRisk(ctx, registrytest.NewRisk("r", 1+i%5, 5, 1), "alice"); err != nil {
					t.Fatal(err)
				}
			}
			s.CreateRisk(ctx, registrytest.NewRisk("unscored", 0, 0, 0), "alice")
			s.UpdateRisk(ctx, "RISK-4", "bob", func(r *registry.Risk) error { r.Status = registry.StatusRetired; return nil }) // 25: would be top
			if err := report.TakeSnapshot(ctx, s, defaultScoring(t), clock.Now()); err != nil {
				t.Fatal(err)
			}
			snaps, err := s.Snapshots(ctx, report.Day(clock.Now()))
			if err != nil || len(snaps) != 1 {
				t.Fatalf("%v %v", snaps, err)
			}
			sn := snaps[0]
			// scores: i%5 = 1,2,3,4,0 → 10,15,20,25,5 (×5 per impact); RISK-4 (25) retired.
			if sn.Risks != 12 || sn.ByBand["unscored"] != 1 || len(sn.Top) != 10 || sn.Top[0] != "RISK-9" || sn.Exposure != 150 {
				t.Fatalf("snapshot %+v", sn)
			}
			for _, k := range sn.Top {
				if k == "RISK-4" || k == "RISK-13" {
					t.Fatalf("top %v holds a retired or unscored risk", sn.Top)
				}
			}
		})
	}
}

func TestExpectedMinutesLabelsTheAxis(t *testing.T) {
	sc := scoring.Config{Model: scoring.ExpectedMinutes}
	if got := report.ExposureUnit(sc); got != "expected bad minutes per year" {
		t.Fatalf("unit %q", got)
	}
	v := 1234.5
	svg := report.ExposureChart(report.Exposure{Unit: report.ExposureUnit(sc), Weeks: []report.ExposurePoint{{Week: "2026-W01", Exposure: &v}, {Week: "2026-W02", Exposure: &v}}})
	if !strings.Contains(svg, "Exposure (expected bad minutes per year)") || !strings.Contains(svg, "<polyline") {
		t.Fatalf("chart %s", svg)
	}
}

func TestISOWeek(t *testing.T) {
	for in, want := range map[string]string{"2026-11-26T12:00:00Z": "2026-W48", "2027-01-01T00:00:00Z": "2026-W53", "2026-01-01T00:00:00Z": "2026-W01", "2024-12-30T00:00:00Z": "2025-W01"} {
		if got := report.ISOWeek(at(in)); got != want {
			t.Errorf("ISOWeek(%s) = %s, want %s", in, got, want)
		}
	}
	if got := report.WeekStart(at("2026-05-24T23:59:00Z")); !got.Equal(at("2026-05-18T00:00:00Z")) {
		t.Errorf("week start of a Sunday: %v", got)
	}
}
