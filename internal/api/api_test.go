package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/api"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/service"
)

// seed stores a risk directly, as the daemon or the CLI would.
func (e *env) seed(t *testing.T, title string, i, s, l int, owner string) *registry.Risk {
	t.Helper()
	r := registrytest.NewRisk(title, i, s, l)
	r.Owner = owner
	out, err := e.store.CreateRisk(e.ctx, r, "seed")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot is what must not move when a request is refused.
type snapshot struct {
	risks   int
	version int64
	history int
}

func (e *env) snap(t *testing.T, key string) snapshot {
	t.Helper()
	all, err := e.store.ListRisks(e.ctx, registry.RiskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{risks: len(all)}
	if key != "" {
		r, err := e.store.FindRisk(e.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		h, err := e.store.History(e.ctx, key, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.version, s.history = r.Version, len(h)
	}
	return s
}

func (e *env) unchanged(t *testing.T, key string, before snapshot, why string) {
	t.Helper()
	if after := e.snap(t, key); after != before {
		t.Errorf("%s wrote something: before %+v, after %+v", why, before, after)
	}
}

// wantProblem checks a refusal: its status, and when location is given,
// an entry there whose message contains msg.
func wantProblem(t *testing.T, res response, status int, location, msg string) api.Problem {
	t.Helper()
	var p api.Problem
	res.json(t, &p)
	if res.StatusCode != status || p.Status != status {
		t.Fatalf("%s %s: got %d (%+v), want %d", res.Request.Method, res.Request.URL, res.StatusCode, p, status)
	}
	if p.Type == "" || p.Title == "" || p.Detail == "" || p.Errors == nil {
		t.Errorf("incomplete problem: %s", res.body)
	}
	if location == "" {
		return p
	}
	for _, f := range p.Errors {
		if f.Location == location && strings.Contains(f.Message, msg) {
			return p
		}
	}
	t.Fatalf("%s %s: no error at %s containing %q in %s", res.Request.Method, res.Request.URL, location, msg, res.body)
	return p
}

func risk(t *testing.T, res response, status int) service.RiskView {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("%s %s: got %d %s, want %d", res.Request.Method, res.Request.URL, res.StatusCode, res.body, status)
	}
	var v service.RiskView
	res.json(t, &v)
	if got, want := res.Header.Get("ETag"), fmt.Sprintf("%q", fmt.Sprint(v.Version)); got != want {
		t.Errorf("ETag %s, want %s", got, want)
	}
	return v
}

func TestEveryEndpointByRole(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		type req struct {
			method, path string
			body         any
		}
		// Each case acts on its own fresh risk owned by owner.
		cases := []struct {
			name  string
			owner string
			req   func(key string) req
			want  map[string]int // by token
		}{
			{"list", "payments", func(string) req { return req{"GET", "/api/v1/risks", nil} },
				map[string]int{reader: 200, editor: 200, teamed: 200, admin: 200}},
			{"get", "storage-sre", func(k string) req { return req{"GET", "/api/v1/risks/" + k, nil} },
				map[string]int{reader: 200, editor: 200, teamed: 200, admin: 200}},
			{"report", "", func(string) req { return req{"GET", "/api/v1/report", nil} },
				map[string]int{reader: 200, editor: 200, teamed: 200, admin: 200}},
			{"teams", "", func(string) req { return req{"GET", "/api/v1/teams", nil} },
				map[string]int{reader: 200, editor: 200, teamed: 200, admin: 200}},
			{"create for own team", "", func(string) req {
				return req{"POST", "/api/v1/risks", map[string]any{"title": "new payments risk", "owner": "payments"}}
			},
				map[string]int{reader: 403, editor: 201, teamed: 201, admin: 201}},
			{"create for another team", "", func(string) req {
				return req{"POST", "/api/v1/risks", map[string]any{"title": "new storage risk", "owner": "storage-sre"}}
			},
				map[string]int{reader: 403, editor: 201, teamed: 403, admin: 201}},
			{"create unowned", "", func(string) req { return req{"POST", "/api/v1/risks", map[string]any{"title": "new unowned risk"}} },
				map[string]int{reader: 403, editor: 201, teamed: 403, admin: 201}},
			{"patch own team's", "payments", func(k string) req { return req{"PATCH", "/api/v1/risks/" + k, map[string]any{"impact": 5}} },
				map[string]int{reader: 403, editor: 200, teamed: 200, admin: 200}},
			{"patch another team's", "storage-sre", func(k string) req { return req{"PATCH", "/api/v1/risks/" + k, map[string]any{"impact": 5}} },
				map[string]int{reader: 403, editor: 200, teamed: 403, admin: 200}},
			{"move to another team", "payments", func(k string) req { return req{"PATCH", "/api/v1/risks/" + k, map[string]any{"owner": "storage-sre"}} },
				map[string]int{reader: 403, editor: 200, teamed: 403, admin: 200}},
			{"review own team's", "payments", func(k string) req {
				return req{"POST", "/api/v1/risks/" + k + "/review", map[string]any{"note": "still there"}}
			},
				map[string]int{reader: 403, editor: 200, teamed: 200, admin: 200}},
			{"review another team's", "web", func(k string) req { return req{"POST", "/api/v1/risks/" + k + "/review", nil} },
				map[string]int{reader: 403, editor: 200, teamed: 403, admin: 200}},
		}
		for _, c := range cases {
			for _, token := range []string{reader, editor, teamed, admin} {
				t.Run(c.name+"/"+principals[token].Actor, func(t *testing.T) {
					r := e.seed(t, "target of "+c.name, 3, 3, 3, c.owner)
					q := c.req(r.Key)
					before := e.snap(t, r.Key)
					res := e.call(t, token, q.method, q.path, q.body)
					want := c.want[token]
					if want >= 400 {
						p := wantProblem(t, res, want, "", "")
						if !strings.Contains(p.Detail, principals[token].Actor) {
							t.Errorf("403 detail %q does not name %s", p.Detail, principals[token].Actor)
						}
						e.unchanged(t, r.Key, before, "a refused request")
						return
					}
					if res.StatusCode != want {
						t.Fatalf("got %d %s, want %d", res.StatusCode, res.body, want)
					}
					switch q.method {
					case "POST", "PATCH":
						v := risk(t, res, want)
						if want == 201 {
							if loc := res.Header.Get("Location"); loc != "/api/v1/risks/"+v.Key {
								t.Errorf("Location %q for %s", loc, v.Key)
							}
						}
						if h, _ := e.store.History(e.ctx, v.Key, 1); len(h) == 0 || h[0].Actor != principals[token].Actor {
							t.Errorf("history records %+v, want actor %s", h, principals[token].Actor)
						}
					}
				})
			}
		}
		// A dry-run import writes nothing, whoever asks; a reader may not import.
		for _, token := range []string{reader, editor, teamed, admin} {
			before := e.snap(t, "")
			res := e.call(t, token, "POST", "/api/v1/import?dry_run=true", "key,title,owner\n,imported,payments\n", "Content-Type", "text/csv")
			if token == reader {
				wantProblem(t, res, http.StatusForbidden, "", "")
			} else if res.StatusCode != http.StatusOK {
				t.Fatalf("dry-run import as %s: %d %s", token, res.StatusCode, res.body)
			}
			e.unchanged(t, "", before, "import")
		}
	})
}

func TestAuthenticationComesFirst(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		r := e.seed(t, "guarded", 3, 3, 3, "payments")
		huge := map[string]any{"title": "x", "description": strings.Repeat("a", api.MaxBody+10)}
		routes := []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/risks", nil}, {"GET", "/api/v1/risks/" + r.Key, nil}, {"GET", "/api/v1/risks/RISK-999", nil},
			{"POST", "/api/v1/risks", map[string]any{"title": "sneaky"}}, {"POST", "/api/v1/risks", huge},
			{"POST", "/api/v1/risks", map[string]any{"colour": "red"}},
			{"PATCH", "/api/v1/risks/" + r.Key, map[string]any{"impact": 1}}, {"POST", "/api/v1/risks/" + r.Key + "/review", nil},
			{"GET", "/api/v1/report", nil}, {"GET", "/api/v1/teams", nil}, {"POST", "/api/v1/import", "title\nx\n"},
			{"GET", "/api/v1/nowhere", nil}, {"DELETE", "/api/v1/risks/" + r.Key, nil},
		}
		for _, rt := range routes {
			for _, auth := range []string{"", "Bearer rsk_unknown", "Basic " + reader, "Bearer"} {
				before := e.snap(t, r.Key)
				res := e.call(t, "", rt.method, rt.path, rt.body, "Authorization", auth)
				wantProblem(t, res, http.StatusUnauthorized, "", "")
				if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="risksync"` {
					t.Errorf("%s %s: WWW-Authenticate %q", rt.method, rt.path, got)
				}
				e.unchanged(t, r.Key, before, rt.method+" "+rt.path+" without a valid token")
			}
		}
	})
}

func TestMergePatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		r := e.seed(t, "checkout latency", 3, 3, 3, "payments")
		path := "/api/v1/risks/" + r.Key
		patch := func(body string, header ...string) response {
			return e.call(t, editor, "PATCH", path, body, append([]string{"Content-Type", "application/merge-patch+json"}, header...)...)
		}
		v := risk(t, patch(`{"description":"p99 over 2 s at peak"}`), 200)
		if v.Description != "p99 over 2 s at peak" || *v.Impact != 3 || v.Score == nil {
			t.Fatalf("absent members must stay: %+v", v)
		}
		v = risk(t, patch(`{"impact":null}`), 200)
		if v.Impact != nil || v.Score != nil || v.Band != nil || v.Priority != nil || *v.Scope != 3 {
			t.Fatalf("null clears impact and leaves the risk unscored: %+v", v)
		}
		// Plain JSON is taken as a merge patch too.
		v = risk(t, e.call(t, editor, "PATCH", path, map[string]any{"impact": 4}), 200)
		if *v.Impact != 4 || v.Score == nil || *v.Score != 36 {
			t.Fatalf("impact 4: %+v", v)
		}
		current := fmt.Sprintf(`"%d"`, v.Version)
		v = risk(t, patch(`{"likelihood":5}`, "If-Match", current), 200)
		stale := current
		before := e.snap(t, r.Key)
		for _, tag := range []string{stale, `W/"` + fmt.Sprint(v.Version) + `"`, `"abc"`, `"0"`} {
			p := wantProblem(t, patch(`{"likelihood":1}`, "If-Match", tag), http.StatusPreconditionFailed, "", "")
			if tag == stale && !strings.Contains(p.Detail, "changed since version") {
				t.Errorf("412 detail: %q", p.Detail)
			}
		}
		e.unchanged(t, r.Key, before, "a stale If-Match")
		wantProblem(t, e.call(t, editor, "PATCH", path, `{"impact":1}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "", "")
		e.unchanged(t, r.Key, before, "an unsupported Content-Type")

		// Decisions: a reason, an end date; reactivating clears both.
		v = risk(t, patch(`{"status":"accepted","status_reason":"cheaper to absorb","accepted_until":"2026-06-01"}`), 200)
		if v.Status != registry.StatusAccepted || *v.StatusReason != "cheaper to absorb" || *v.AcceptedUntil != "2026-06-01" {
			t.Fatalf("accepted: %+v", v)
		}
		v = risk(t, patch(`{"accepted_until":null}`), 200)
		if v.AcceptedUntil != nil || v.StatusReason == nil {
			t.Fatalf("null ends the end date only: %+v", v)
		}
		v = risk(t, patch(`{"status":"active"}`), 200)
		if v.Status != registry.StatusActive || v.StatusReason != nil || v.AcceptedUntil != nil {
			t.Fatalf("active again: %+v", v)
		}
		// GET shows the history, oldest first, with who did it.
		g := risk(t, e.call(t, reader, "GET", path, nil), 200)
		if g.Version != v.Version || len(g.History) == 0 || g.History[len(g.History)-1].Actor != "token:editor" ||
			!slices.IsSortedFunc(g.History, func(a, b service.HistoryView) int { return a.At.Compare(b.At) }) {
			t.Fatalf("history: %+v", g.History)
		}
		// An empty patch changes nothing.
		if n := risk(t, patch(`{}`), 200); n.Version != g.Version {
			t.Fatalf("empty patch moved the version %d → %d", g.Version, n.Version)
		}
	})
}

func TestRefusedInputWritesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		r := e.seed(t, "disk fills", 3, 3, 3, "storage-sre")
		path := "/api/v1/risks/" + r.Key
		big := `{"title":"big","description":"` + strings.Repeat("a", api.MaxBody) + `"}`
		cases := []struct {
			name, method, path, body string
			status                   int
			location, msg            string
		}{
			{"create over 1 MiB", "POST", "/api/v1/risks", big, 413, "", ""},
			{"patch over 1 MiB", "PATCH", path, big, 413, "", ""},
			{"unknown field", "POST", "/api/v1/risks", `{"title":"x","colour":"red"}`, 422, "body.colour", `unknown field "colour"`},
			{"unknown field in a patch", "PATCH", path, `{"key":"RISK-7"}`, 422, "body.key", `unknown field "key"`},
			{"rating 0", "POST", "/api/v1/risks", `{"title":"x","impact":0}`, 422, "body.impact", `"0" is not a rating: use a whole number from 1 to 5`},
			{"rating 6", "PATCH", path, `{"scope":6}`, 422, "body.scope", `"6" is not a rating`},
			{"rating x", "PATCH", path, `{"likelihood":"x"}`, 422, "body.likelihood", `"x" is not a rating`},
			{"rating 2.5", "PATCH", path, `{"impact":2.5}`, 422, "body.impact", `2.5 is not a rating`},
			{"unknown owner", "PATCH", path, `{"owner":"nobody"}`, 422, "body.owner", `unknown team "nobody": teams are`},
			{"accepted without a reason", "PATCH", path, `{"status":"accepted"}`, 422, "body.status_reason", "required when the status is accepted"},
			{"retired without a reason", "PATCH", path, `{"status":"retired"}`, 422, "body.status_reason", "required when the status is retired"},
			{"status from the tracker", "PATCH", path, `{"status":"mitigating"}`, 422, "body.status", "set by the sync engine"},
			{"not a date", "PATCH", path, `{"status":"accepted","status_reason":"r","accepted_until":"soon"}`, 422, "body.accepted_until", `"soon" is not a date: use YYYY-MM-DD`},
			{"a past date", "PATCH", path, `{"status":"accepted","status_reason":"r","accepted_until":"2026-01-01"}`, 422, "body.accepted_until", "not in the future"},
			{"empty title", "PATCH", path, `{"title":"  "}`, 422, "body.title", "required"},
			{"several at once", "POST", "/api/v1/risks", `{"title":"x","impact":9,"owner":"nobody"}`, 422, "body.owner", "unknown team"},
			{"malformed JSON", "PATCH", path, `{"impact":`, 400, "body", ""},
			{"no body", "POST", "/api/v1/risks", ``, 400, "", ""},
			{"a risk that does not exist", "PATCH", "/api/v1/risks/RISK-999", `{"impact":1}`, 404, "path.key", "RISK-999 not found"},
			{"not a key", "GET", "/api/v1/risks/bogus", ``, 422, "path.key", "keys look like RISK-12"},
			{"review of nothing", "POST", "/api/v1/risks/RISK-999/review", `{"note":"x"}`, 404, "path.key", "not found"},
			{"review with an unknown field", "POST", path + "/review", `{"notes":"x"}`, 422, "body.notes", "unknown field"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.snap(t, r.Key)
				var body any
				if c.body != "" {
					body = c.body
				}
				wantProblem(t, e.call(t, admin, c.method, c.path, body), c.status, c.location, c.msg)
				e.unchanged(t, r.Key, before, c.name)
			})
		}
	})
}

func TestPagination(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		owners := []string{"payments", "storage-sre", "", "web"}
		for i := range 37 {
			rating := 1 + i%5
			if i%9 == 0 {
				rating = 0 // unscored ones rank last
			}
			e.seed(t, fmt.Sprintf("risk %d", i), rating, 1+i%3, 2, owners[i%len(owners)])
		}
		for _, query := range []string{"", "&owner=payments", "&status=active,accepted"} {
			all := e.list(t, "?limit=0"+query)
			if all.NextCursor != nil {
				t.Fatalf("limit=0 is every risk, yet next_cursor %q", *all.NextCursor)
			}
			var walked []string
			pages := 0
			for cursor := ""; ; pages++ {
				page := e.list(t, "?limit=5"+query+cursor)
				for _, v := range page.Risks {
					walked = append(walked, v.Key)
				}
				if page.NextCursor == nil {
					break
				}
				if len(page.Risks) != 5 {
					t.Fatalf("a page before the last has %d risks", len(page.Risks))
				}
				cursor = "&cursor=" + *page.NextCursor
			}
			if want := keysOf(all.Risks); !slices.Equal(walked, want) {
				t.Fatalf("%s: walked %v\nwant      %v", query, walked, want)
			}
			want, _, err := e.svc.List(e.ctx, principals[reader], service.Query{Owner: strings.TrimPrefix(query, "&owner="), Limit: 0})
			if query == "" && (err != nil || !slices.Equal(walked, keysOfRisks(want))) {
				t.Fatalf("API order %v differs from the service's %v (%v)", walked, keysOfRisks(want), err)
			}
		}
		if d := e.list(t, ""); len(d.Risks) != 37 || d.NextCursor != nil {
			t.Fatalf("default page: %d risks", len(d.Risks))
		}
	})
}

func (e *env) list(t *testing.T, query string) api.RiskList {
	t.Helper()
	res := e.call(t, reader, "GET", "/api/v1/risks"+query, nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", query, res.StatusCode, res.body)
	}
	var l api.RiskList
	res.json(t, &l)
	return l
}

func keysOf(vs []service.RiskView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Key
	}
	return out
}

func keysOfRisks(rs []*registry.Risk) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key
	}
	return out
}

func TestFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		old := e.seed(t, "old checkout outage", 5, 5, 5, "payments")
		oldAccepted := e.seed(t, "old accepted", 4, 4, 4, "payments")
		if _, err := e.store.UpdateRisk(e.ctx, oldAccepted.Key, "seed", func(r *registry.Risk) error {
			r.Status, r.StatusReason = registry.StatusAccepted, "known"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(20 * 24 * time.Hour)
		fresh := e.seed(t, "fresh storage risk", 2, 2, 2, "storage-sre")
		unowned := e.seed(t, "Checkout retries", 1, 1, 1, "")
		unscored := e.seed(t, "unscored", 0, 0, 0, "web")
		cases := []struct {
			query string
			want  []string
		}{
			{"owner=payments", []string{old.Key, oldAccepted.Key}},
			{"owner=Service%20Lifecycle%20SRE", []string{fresh.Key}},
			{"owner=unowned", []string{unowned.Key}},
			{"status=accepted", []string{oldAccepted.Key}},
			{"status=active,accepted", []string{old.Key, oldAccepted.Key, fresh.Key, unowned.Key, unscored.Key}},
			{"band=critical", []string{old.Key, oldAccepted.Key}},
			{"band=unscored", []string{unscored.Key}},
			{"q=checkout", []string{old.Key, unowned.Key}},
			{"q=checkout&owner=payments", []string{old.Key}},
			{"stagnant=true", []string{old.Key}},
			{"review_due=true", []string{old.Key, oldAccepted.Key}},
		}
		for _, c := range cases {
			if got := keysOf(e.list(t, "?"+c.query).Risks); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.query, got, c.want)
			}
		}
		bad := []struct{ query, location, msg string }{
			{"status=bogus", "query.status", `unknown status "bogus"`},
			{"band=huge", "query.band", "bands are critical, high, medium, low"},
			{"owner=nobody", "query.owner", "unknown team"},
			{"limit=501", "query.limit", "out of range"},
			{"limit=-1", "query.limit", "out of range"},
			{"cursor=!!", "query.cursor", "not a cursor this server gave out"},
			{"stagnant=maybe", "query.stagnant", ""},
			{"limit=ten", "query.limit", ""},
		}
		for _, b := range bad {
			wantProblem(t, e.call(t, reader, "GET", "/api/v1/risks?"+b.query, nil), 422, b.location, b.msg)
		}
	})
}

func TestConcurrentPatchesWithOneIfMatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		r := e.seed(t, "contended", 3, 3, 3, "payments")
		path := "/api/v1/risks/" + r.Key
		for round := range 10 {
			cur := risk(t, e.call(t, reader, "GET", path, nil), 200)
			tag := fmt.Sprintf(`"%d"`, cur.Version)
			var wg sync.WaitGroup
			codes := make([]int, 2)
			for i, who := range []string{editor, teamed} {
				wg.Go(func() {
					body := fmt.Sprintf(`{"description":"round %d by %s"}`, round, who)
					codes[i] = e.call(t, who, "PATCH", path, body, "If-Match", tag).StatusCode
				})
			}
			wg.Wait()
			slices.Sort(codes)
			if codes[0] != 200 || codes[1] != 412 {
				t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, codes)
			}
			after := risk(t, e.call(t, reader, "GET", path, nil), 200)
			if after.Version != cur.Version+1 || !strings.HasPrefix(after.Description, fmt.Sprintf("round %d by ", round)) {
				t.Fatalf("round %d: version %d → %d, description %q", round, cur.Version, after.Version, after.Description)
			}
			last := after.History[len(after.History)-1]
			if last.Field != "description" || last.New == nil || *last.New != after.Description {
				t.Fatalf("round %d: last history entry %+v", round, last)
			}
			if want := map[string]string{"token:editor": editor, "token:payments": teamed}[last.Actor]; !strings.HasSuffix(after.Description, want) {
				t.Fatalf("round %d: the description %q is not the winner's (%s): a lost update", round, after.Description, last.Actor)
			}
		}
	})
}

func TestReportAndTeams(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seed(t, "payments risk", 5, 4, 4, "payments")
		e.seed(t, "storage risk", 2, 2, 2, "storage-sre")
		e.seed(t, "nobody's", 0, 0, 0, "")
		for _, c := range []struct {
			query string
			opts  report.Options
		}{{"", report.Options{}}, {"?owner=payments", report.Options{Owner: "payments"}}, {"?owner=unowned", report.Options{Unowned: true}}} {
			res := e.call(t, reader, "GET", "/api/v1/report"+c.query, nil)
			if res.StatusCode != 200 {
				t.Fatalf("report%s: %d %s", c.query, res.StatusCode, res.body)
			}
			want, err := report.Generate(e.ctx, e.deps, e.clock.Now(), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got, exp any
			res.json(t, &got)
			b, _ := json.Marshal(want)
			_ = json.Unmarshal(b, &exp)
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("report%s differs from risksync report --format json:\n got %s\nwant %s", c.query, res.body, b)
			}
		}
		wantProblem(t, e.call(t, reader, "GET", "/api/v1/report?owner=nobody", nil), 422, "query.owner", "unknown team")

		var teams []api.Team
		e.call(t, reader, "GET", "/api/v1/teams", nil).json(t, &teams)
		want := []api.Team{
			{Name: "storage-sre", Aliases: []string{"Service Lifecycle SRE"}, Tracker: "github", Target: "acme/storage"},
			{Name: "payments", Aliases: []string{}, Tracker: "jira", Target: "PAY"},
			{Name: "web", Aliases: []string{}, Tracker: "github", Target: "acme/web"},
		}
		if !reflect.DeepEqual(teams, want) {
			t.Errorf("teams %+v, want %+v", teams, want)
		}
	})
}

func TestUnknownRoutesAreProblems(t *testing.T) {
	e := newEnv(t, registrytest.Backends()["sqlite"])
	wantProblem(t, e.call(t, reader, "GET", "/api/v1/nowhere", nil), 404, "", "")
	res := e.call(t, reader, "DELETE", "/api/v1/risks/RISK-1", nil)
	wantProblem(t, res, 405, "", "")
	if got := res.Header.Get("Allow"); got != "GET, PATCH" {
		t.Errorf("Allow %q", got)
	}
	wantProblem(t, e.call(t, reader, "PUT", "/api/v1/teams", nil), 405, "", "")
}

// TestRiskSchemaIsRiskView keeps the document's Risk the stable JSON shape:
// the same members, required unless omitted when empty.
func TestRiskSchemaIsRiskView(t *testing.T) {
	e := newEnv(t, registrytest.Backends()["sqlite"])
	s := e.oapi.Components.Schemas["Risk"].Value
	rt := reflect.TypeFor[service.RiskView]()
	var names, required []string
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
		if s.Properties[name] == nil {
			t.Errorf("Risk schema lacks %s", name)
		}
	}
	if len(s.Properties) != len(names) {
		t.Errorf("Risk schema has %d properties, RiskView %d", len(s.Properties), len(names))
	}
	slices.Sort(required)
	got := slices.Clone(s.Required)
	slices.Sort(got)
	if !slices.Equal(got, required) {
		t.Errorf("required %v, want %v", got, required)
	}
	for name, types := range map[string][]string{"impact": {"integer", "null"}, "score": {"number", "null"},
		"band": {"string", "null"}, "priority": {"object", "null"}, "accepted_until": {"string", "null"}, "version": {"integer"}} {
		if got := s.Properties[name].Value.Type.Slice(); !slices.Equal(got, types) {
			t.Errorf("%s: type %v, want %v", name, got, types)
		}
	}
}
