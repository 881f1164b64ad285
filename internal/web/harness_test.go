package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlstore"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/service"
	"github.com/risksync/risksync/internal/web"
)

const testConfig = `
teams:
  - {name: storage-sre, tracker: github, github_repo: acme/storage}
  - {name: payments, tracker: jira, jira_project: PAY}
github: {repo: acme/rel}
jira: {base_url: "https://acme.atlassian.net", project: REL}
`

// site is a UI over a real store with an editor and a reader token.
type site struct {
	store          *sqlstore.Store
	svc            *service.Service
	ui             *web.UI
	clock          *registrytest.Clock
	editor, reader string // token secrets
}

func newSite(tb testing.TB, open registrytest.Opener) *site {
	tb.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		tb.Fatal(err)
	}
	clock := registrytest.NewClock()
	opts := registrytest.DefaultOptions(clock)
	opts.Derive = cfg.ScoringConfig().Derive
	st := open(tb, opts)
	deps := report.Deps{Store: st, Scoring: cfg.ScoringConfig(), StagnationAfter: cfg.Stagnation.After.Std()}
	svc := service.New(service.Options{Store: st, Routing: cfg.Routing(), Scoring: cfg.ScoringConfig(), Now: clock.Now,
		Reports: func(ctx context.Context, o report.Options) (*report.Report, error) {
			return report.Generate(ctx, deps, clock.Now(), o)
		}})
	authn, err := auth.New(auth.Options{Tokens: st, Sessions: st, Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	s := &site{store: st, svc: svc, clock: clock, editor: auth.NewToken(), reader: auth.NewToken()}
	ctx := context.Background()
	for name, tok := range map[string]registry.Token{
		"alice": {Name: "alice", Role: registry.RoleEditor, Hash: auth.Hash(s.editor)},
		"dash":  {Name: "dash", Role: registry.RoleReader, Hash: auth.Hash(s.reader)},
	} {
		tok.CreatedAt = clock.Now()
		if err := st.CreateToken(ctx, tok); err != nil {
			tb.Fatal(name, err)
		}
	}
	s.ui, err = web.New(web.Options{Service: svc, Auth: authn})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var admin = registry.Principal{Actor: "token:admin", Role: registry.RoleAdmin}

// seed adds a small registry: owned, unowned, mirrored, one whose epic was
// closed as not planned, and some history.
func (s *site) seed(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	for i, r := range []struct {
		title       string
		i, sc, l    int
		owner, epic string
		state       registry.LinkState
	}{
		{"Orphaned snapshots accumulate and slow backups", 4, 4, 3, "storage-sre", "acme/storage#12", registry.LinkOpen},
		{"Daily checkout degradation under peak load", 2, 4, 3, "payments", "PAY-7", registry.LinkInProgress},
		{"Certificate expiry takes down the edge", 5, 5, 2, "storage-sre", "", ""},
		{"DNS resolver saturation during failover", 3, 4, 3, "", "", ""},
		{"Legacy batch job misses its window", 2, 2, 2, "payments", "PAY-9", registry.LinkNotPlanned},
		{"Cache stampede on deploy", 3, 3, 4, "storage-sre", "", ""},
	} {
		c := service.Change{Title: service.Some(r.title), Impact: service.Some(r.i), Scope: service.Some(r.sc), Likelihood: service.Some(r.l), Owner: service.Some(r.owner)}
		risk, err := s.svc.Create(ctx, admin, c)
		if err != nil {
			tb.Fatal(err)
		}
		if r.epic != "" {
			last := s.clock.Now().Add(-time.Duration(i) * 24 * time.Hour)
			if _, err := s.store.UpdateRisk(ctx, risk.Key, registry.ActorSync, func(x *registry.Risk) error {
				if i == 0 { // two postmortems: an occurrence and a recurrence
					x.Sources = append(x.Sources, registry.Source{Tracker: "github", Key: "acme/incidents#3", URL: "https://github.com/acme/incidents/issues/3"},
						registry.Source{Tracker: "github", Key: "acme/incidents#8", URL: "https://github.com/acme/incidents/issues/8", Recurrence: true})
				}
				x.Links = append(x.Links, registry.Link{Tracker: "github", Key: r.epic, URL: "https://github.com/" + r.epic, State: r.state,
					ChildrenTotal: 4, ChildrenDone: i % 4, LastActivityAt: &last, Current: true})
				return nil
			}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	s.clock.Advance(3 * 24 * time.Hour)
	if _, err := s.svc.Update(ctx, registry.Principal{Actor: "github:carol", Role: registry.RoleEditor}, "RISK-2", service.Change{Likelihood: service.Some(5)}, 0); err != nil {
		tb.Fatal(err)
	}
	s.clock.Advance(20 * 24 * time.Hour) // reviews fall due, work goes stale
}

// seedMany adds n scored risks across the teams, in one go, for benchmarks.
func (s *site) seedMany(tb testing.TB, n int) {
	tb.Helper()
	registrytest.SeedRisks(tb, s.store, n)
}

func (s *site) server(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(s.ui)
	tb.Cleanup(srv.Close)
	return srv
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}

func httptestTLS(tb testing.TB, s *site) *httptest.Server {
	srv := httptest.NewTLSServer(s.ui)
	tb.Cleanup(srv.Close)
	return srv
}

func doWith(t *testing.T, srv *httptest.Server, method, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
