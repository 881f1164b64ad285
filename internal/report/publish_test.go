package report_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/report"
)

// fakeIssues is a GitHub repository of issues, as much as publishing uses.
type fakeIssues struct {
	mu      sync.Mutex
	issues  []*fakeIssue
	creates int
	updates int
}

type fakeIssue struct {
	report.IssueRef
	body, closeComment string
	labels             []string
	open               bool
}

func (f *fakeIssues) add(title string, open bool) *fakeIssue {
	n := 40 + len(f.issues)
	is := &fakeIssue{IssueRef: report.IssueRef{Key: fmt.Sprintf("acme/reliability#%d", n), URL: fmt.Sprintf("https://github.com/acme/reliability/issues/%d", n), Title: title},
		labels: []string{report.IssueLabel}, open: open}
	f.issues = append(f.issues, is)
	return is
}

func (f *fakeIssues) find(key string) *fakeIssue {
	for _, is := range f.issues {
		if is.Key == key {
			return is
		}
	}
	return nil
}

func (f *fakeIssues) FindIssue(_ context.Context, repo, label, title string) (report.IssueRef, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, is := range f.issues {
		if is.Title == title && is.labels[0] == label && strings.HasPrefix(is.Key, repo+"#") {
			return is.IssueRef, true, nil
		}
	}
	return report.IssueRef{}, false, nil
}

func (f *fakeIssues) CreateIssue(_ context.Context, repo, title, body string, labels []string) (report.IssueRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	is := f.add(title, true)
	is.body, is.labels = body, labels
	return is.IssueRef, nil
}

func (f *fakeIssues) UpdateIssue(_ context.Context, key, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	is := f.find(key)
	if is == nil {
		return fmt.Errorf("github: update %s: 404", key)
	}
	f.updates++
	is.body = body
	return nil
}

func (f *fakeIssues) CloseIssue(_ context.Context, key, comment string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	is := f.find(key)
	is.open, is.closeComment = false, comment
	return nil
}

func (f *fakeIssues) ListOpenIssues(_ context.Context, repo, label string) ([]report.IssueRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []report.IssueRef
	for _, is := range f.issues {
		if is.open && is.labels[0] == label {
			out = append(out, is.IssueRef)
		}
	}
	return out, nil
}

func smallReport(t *testing.T, s report.Store, at time.Time) *report.Report {
	t.Helper()
	rep, err := report.Generate(context.Background(), deps(t, s), at, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestWeeklyIssueCreatedOnceThenUpdated(t *testing.T) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, registrytest.DefaultOptions(registrytest.NewClock()))
			s.CreateRisk(ctx, registrytest.NewRisk("Orphaned snapshots slow backups", 4, 5, 3), "alice")
			gh := &fakeIssues{}
			last := gh.add("Risk registry report — 2026-W21", true)
			unrelated := gh.add("Quarterly planning", true)
			p := &report.Publisher{Store: s, Issues: gh, Repo: "acme/reliability"}

			out, err := p.Publish(ctx, smallReport(t, s, now))
			if err != nil || len(out) != 1 || out[0].Action != "created" {
				t.Fatalf("first publish: %+v %v", out, err)
			}
			week := gh.find(out[0].Ref)
			if week.Title != "Risk registry report — 2026-W22" || week.labels[0] != "risk-report" || !strings.Contains(week.body, "## Stagnant risks") {
				t.Fatalf("issue %+v", week)
			}
			if last.open || !strings.Contains(last.closeComment, week.URL) || !unrelated.open {
				t.Fatalf("last week's issue open=%v comment %q; unrelated open=%v", last.open, last.closeComment, unrelated.open)
			}

			out, err = p.Publish(ctx, smallReport(t, s, now.Add(26*time.Hour)))
			if err != nil || out[0].Action != "updated" || out[0].Ref != week.Key || gh.creates != 1 || gh.updates != 1 {
				t.Fatalf("second publish in the week: %+v %v; %d creates, %d updates", out, err, gh.creates, gh.updates)
			}
			rec, _ := s.Publication(ctx, "2026-W22", report.ChannelGitHubIssue)
			if rec == nil || !rec.Delivered || rec.Ref != week.Key || rec.Attempts != 2 {
				t.Fatalf("record %+v", rec)
			}

			// The next week gets its own issue and closes this one.
			out, err = p.Publish(ctx, smallReport(t, s, now.AddDate(0, 0, 7)))
			if err != nil || out[0].Action != "created" || gh.creates != 2 || week.open {
				t.Fatalf("next week: %+v %v; creates %d, W22 open %v", out, err, gh.creates, week.open)
			}
		})
	}
}

// A crash after the issue was created but before it was recorded: the retry
// finds the week's issue by its title and updates it.
func TestWeeklyIssueRetryAfterLostRecord(t *testing.T) {
	ctx := context.Background()
	s := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(registrytest.NewClock())).Store
	gh := &fakeIssues{}
	gh.add("Risk registry report — 2026-W22", true)
	p := &report.Publisher{Store: s, Issues: gh, Repo: "acme/reliability"}
	out, err := p.Publish(ctx, smallReport(t, s, now))
	if err != nil || out[0].Action != "updated" || gh.creates != 0 {
		t.Fatalf("%+v %v, %d creates", out, err, gh.creates)
	}
}

// receiver is a Slack-compatible webhook that refuses the first fail POSTs.
type receiver struct {
	mu       sync.Mutex
	fail     int
	status   int
	posts    int
	accepted []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	rc.posts++
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(body), `{"text":`) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if rc.posts <= rc.fail {
		status := rc.status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, "try later", status)
		return
	}
	rc.accepted = append(rc.accepted, string(body))
	io.WriteString(w, "ok")
}

func (rc *receiver) counts() (posts, accepted int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.posts, len(rc.accepted)
}

func TestWebhookOnceAWeekUnderFailures(t *testing.T) {
	for name, open := range registrytest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, registrytest.DefaultOptions(registrytest.NewClock()))
			s.CreateRisk(ctx, registrytest.NewRisk("Orphaned snapshots slow backups", 4, 5, 3), "alice")
			rc := &receiver{fail: 3}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			var slept []time.Duration
			p := &report.Publisher{Store: s, WebhookURL: srv.URL + "/services/T000/B000/SECRET", Attempts: 2, Backoff: time.Second,
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}

			// Pass 1: both attempts refused; the week stays undelivered.
			out, err := p.Publish(ctx, smallReport(t, s, now))
			if err == nil || out[0].Action != "failed" || !strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("pass 1: %+v %v", out, err)
			}
			st, err := report.Status(ctx, s, "2026-W22")
			if err != nil || len(st) != 1 || st[0].Channel != report.ChannelWebhook || st[0].Delivered || st[0].Attempts != 2 || !strings.Contains(st[0].LastError, "503") {
				t.Fatalf("status after pass 1: %+v %v", st, err)
			}
			// Pass 2 (the daemon's next pass): refused once more, then accepted.
			if out, err := p.Publish(ctx, smallReport(t, s, now.Add(time.Hour))); err != nil || out[0].Action != "delivered" {
				t.Fatalf("pass 2: %+v %v", out, err)
			}
			// Later passes in the same week post nothing.
			for i := 0; i < 3; i++ {
				if out, err := p.Publish(ctx, smallReport(t, s, now.Add(time.Duration(30+i)*time.Hour))); err != nil || out[0].Action != "already delivered" {
					t.Fatalf("pass %d: %+v %v", 3+i, out, err)
				}
			}
			if posts, accepted := rc.counts(); posts != 4 || accepted != 1 {
				t.Fatalf("%d POSTs, %d accepted; want 4 and exactly one accepted in the week", posts, accepted)
			}
			if fmt.Sprint(slept) != "[1s 1s]" {
				t.Fatalf("backoff %v", slept)
			}
			rec, _ := s.Publication(ctx, "2026-W22", report.ChannelWebhook)
			if !rec.Delivered || rec.Attempts != 4 || rec.LastError != "" {
				t.Fatalf("record %+v", rec)
			}
			if !strings.Contains(rc.accepted[0], "Risk registry report — 2026-W22") {
				t.Fatalf("payload %s", rc.accepted[0])
			}
			// The next week is delivered once more.
			if _, err := p.Publish(ctx, smallReport(t, s, now.AddDate(0, 0, 7))); err != nil {
				t.Fatal(err)
			}
			if _, accepted := rc.counts(); accepted != 2 {
				t.Fatalf("%d accepted after the next week, want 2", accepted)
			}
		})
	}
}

func TestWebhookRefusals(t *testing.T) {
	ctx := context.Background()
	s := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(registrytest.NewClock())).Store
	rc := &receiver{fail: 1, status: http.StatusNotFound}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p := &report.Publisher{Store: s, WebhookURL: srv.URL + "/SECRET", Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err := p.Publish(ctx, smallReport(t, s, now))
	if posts, _ := rc.counts(); err == nil || posts != 1 || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a 404 is not retried within the pass: %d POSTs, %v", posts, err)
	}

	// 429 with Retry-After: the wait honours it, within the cap.
	rl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "rate limited", http.StatusTooManyRequests)
	}))
	defer rl.Close()
	var slept []time.Duration
	p = &report.Publisher{Store: s, WebhookURL: rl.URL, Attempts: 2, Backoff: time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	if _, err := p.Publish(ctx, smallReport(t, s, now)); err == nil || fmt.Sprint(slept) != "[7s]" {
		t.Fatalf("429: slept %v, err %v", slept, err)
	}

	// An unreachable receiver: the error never quotes the URL (its token).
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/services/SECRET"
	dead.Close()
	p = &report.Publisher{Store: s, WebhookURL: deadURL, Attempts: 1}
	if _, err := p.Publish(ctx, smallReport(t, s, now)); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("unreachable: %v", err)
	}
}

// flakyStore fails SavePublication on demand.
type flakyStore struct {
	report.Store
	fail func(registry.Publication) bool
}

func (f *flakyStore) SavePublication(ctx context.Context, p registry.Publication) error {
	if f.fail(p) {
		return errors.New("sqlite: save publication: database is locked")
	}
	return f.Store.SavePublication(ctx, p)
}

// The at-least-once window, stated as a test: a delivery that was accepted
// but could not be recorded is posted again by the next pass. And a store
// that cannot record the attempt gets no POST at all.
func TestWebhookAtLeastOnceWindow(t *testing.T) {
	ctx := context.Background()
	base := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(registrytest.NewClock())).Store
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	down := &flakyStore{Store: base, fail: func(registry.Publication) bool { return true }}
	p := &report.Publisher{Store: down, WebhookURL: srv.URL}
	if _, err := p.Publish(ctx, smallReport(t, base, now)); err == nil || !strings.Contains(err.Error(), "record attempt") {
		t.Fatalf("unrecordable attempt: %v", err)
	}
	if posts, _ := rc.counts(); posts != 0 {
		t.Fatalf("%d POSTs although the attempt could not be recorded", posts)
	}

	lost := &flakyStore{Store: base, fail: func(p registry.Publication) bool { return p.Delivered }}
	p.Store = lost
	if _, err := p.Publish(ctx, smallReport(t, base, now)); err == nil || !strings.Contains(err.Error(), "delivered, but not recorded") {
		t.Fatalf("lost record: %v", err)
	}
	p.Store = base
	if _, err := p.Publish(ctx, smallReport(t, base, now)); err != nil {
		t.Fatal(err)
	}
	if _, accepted := rc.counts(); accepted != 2 {
		t.Fatalf("%d accepted; the documented window posts the week twice", accepted)
	}
}

func TestPublishRefusesATeamView(t *testing.T) {
	s := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(registrytest.NewClock())).Store
	rep, err := report.Generate(context.Background(), deps(t, s), now, report.Options{Owner: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	p := &report.Publisher{Store: s, WebhookURL: "http://127.0.0.1:1/"}
	if _, err := p.Publish(context.Background(), rep); err == nil || !strings.Contains(err.Error(), "per-team") {
		t.Fatalf("err %v", err)
	}
}

func TestIssueBodyFitsGitHub(t *testing.T) {
	long := strings.Repeat("| RISK-1 | a row of the report |\n", 5000)
	got := report.IssueBody(long)
	if len(got) > 65536 || !strings.HasSuffix(got, "run risksync report for all of it.\n") {
		t.Fatalf("body of %d bytes ends %q", len(got), got[len(got)-60:])
	}
}
