package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Publication channels, as recorded in registry.Publication.Channel.
const (
	ChannelGitHubIssue = "github_issue"
	ChannelWebhook     = "webhook"
)

// IssueLabel marks the weekly report issues.
const IssueLabel = "risk-report"

// IssueRef is an issue as the tracker names it.
type IssueRef struct {
	Key   string // owner/repo#12
	URL   string
	Title string
}

// IssuePublisher is what publishing the weekly issue needs from GitHub. The
// GitHub connector provides it through an adapter.
type IssuePublisher interface {
	// FindIssue finds the issue with exactly this title and label, open or
	// closed. It must see an issue created a moment ago (list by label, not
	// the eventually consistent search), or a retry would create a second.
	FindIssue(ctx context.Context, repo, label, title string) (IssueRef, bool, error)
	CreateIssue(ctx context.Context, repo, title, body string, labels []string) (IssueRef, error)
	UpdateIssue(ctx context.Context, key, body string) error
	CloseIssue(ctx context.Context, key, comment string) error
	ListOpenIssues(ctx context.Context, repo, label string) ([]IssueRef, error)
}

// MaxIssueBody keeps the issue under GitHub's 65,536-character body limit.
const MaxIssueBody = 60000

// Publisher delivers the weekly report to the configured channels.
type Publisher struct {
	Store registry.ReportStore
	// Issues and Repo enable the GitHub issue channel (report.github_issue,
	// github.repo); nil Issues disables it.
	Issues IssuePublisher
	Repo   string
	// WebhookURL enables the Slack-compatible webhook (report.webhook_url_env).
	// It is a secret: it never appears in errors or logs.
	WebhookURL string
	HTTP       *http.Client // nil: a client with a 30 s timeout
	// Attempts is how many POSTs one Publish makes at most (default 4),
	// waiting Backoff, 2×Backoff, 4×Backoff… (default 2 s, at most a minute)
	// in between, or what a 429's Retry-After asks within that bound.
	Attempts int
	Backoff  time.Duration
	Sleep    func(ctx context.Context, d time.Duration) error // nil: a timer that honours ctx
	Logger   *slog.Logger                                     // nil discards
}

// Outcome is what happened on one channel.
type Outcome struct {
	Channel string
	Action  string // created | updated | delivered | already delivered | failed
	Ref     string // the issue key
	URL     string
	Err     error
}

// Publish delivers rep on every configured channel, the issue first so the
// webhook post can link to it. It returns one outcome per channel and the
// channels' errors joined; a failed channel is retried by the next call
// (the daemon's next pass), never duplicated within the report's week.
func (p *Publisher) Publish(ctx context.Context, rep *Report) ([]Outcome, error) {
	if rep.OwnerFilter != nil {
		return nil, errors.New("report: publish: a per-team view is not the weekly report; publish the whole registry")
	}
	var out []Outcome
	var errs []error
	var issueURL string
	if p.Issues != nil {
		o := p.publishIssue(ctx, rep)
		issueURL = o.URL
		out = append(out, o)
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	if p.WebhookURL != "" {
		o := p.publishWebhook(ctx, rep, issueURL)
		out = append(out, o)
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	for _, o := range out {
		p.logger().Info("report published", "week", rep.Week, "channel", o.Channel, "action", o.Action, "ref", o.Ref, "error", o.Err)
	}
	return out, errors.Join(errs...)
}

func (p *Publisher) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// publishIssue creates the week's issue or updates it: the week's title is
// the identity, found before any create, so a retry after a crash between
// the create and the record updates instead of creating a second issue.
// Older report issues still open are closed with a pointer to this one.
func (p *Publisher) publishIssue(ctx context.Context, rep *Report) Outcome {
	o := Outcome{Channel: ChannelGitHubIssue, Action: "failed"}
	fail := func(err error) Outcome {
		o.Err = fmt.Errorf("report: publish github issue %s in %s: %w", rep.Week, p.Repo, err)
		return o
	}
	prev, err := p.Store.Publication(ctx, rep.Week, ChannelGitHubIssue)
	if err != nil {
		return fail(err)
	}
	rec := registry.Publication{Week: rep.Week, Channel: ChannelGitHubIssue}
	if prev != nil {
		rec = *prev
	}
	rec.Attempts++
	var body strings.Builder
	if err := RenderMarkdown(&body, rep); err != nil {
		return fail(err)
	}
	text := IssueBody(body.String())
	title := Title(rep.Week)

	issue, found, err := p.Issues.FindIssue(ctx, p.Repo, IssueLabel, title)
	switch {
	case err != nil:
	case found:
		err = p.Issues.UpdateIssue(ctx, issue.Key, text)
		o.Action = "updated"
	case rec.Ref != "": // recorded, but renamed by a person: still this week's
		issue = IssueRef{Key: rec.Ref, Title: title}
		err = p.Issues.UpdateIssue(ctx, issue.Key, text)
		o.Action = "updated"
	default:
		issue, err = p.Issues.CreateIssue(ctx, p.Repo, title, text, []string{IssueLabel})
		o.Action = "created"
	}
	if err != nil {
		o.Action = "failed"
		rec.LastError = err.Error()
		p.save(ctx, rec)
		return fail(err)
	}
	o.Ref, o.URL = issue.Key, issue.URL
	rec.Ref, rec.Delivered, rec.LastError = issue.Key, true, ""
	if err := p.closeOlder(ctx, issue, title); err != nil {
		// Published; the next pass closes what is left.
		rec.LastError = err.Error()
		o.Err = fmt.Errorf("report: publish github issue %s in %s: %w", rep.Week, p.Repo, err)
	}
	if err := p.Store.SavePublication(ctx, rec); err != nil && o.Err == nil {
		o.Err = fmt.Errorf("report: publish github issue %s: record: %w", rep.Week, err)
	}
	return o
}

func (p *Publisher) closeOlder(ctx context.Context, current IssueRef, title string) error {
	open, err := p.Issues.ListOpenIssues(ctx, p.Repo, IssueLabel)
	if err != nil {
		return fmt.Errorf("list open report issues: %w", err)
	}
	var errs []error
	for _, is := range open {
		if is.Key == current.Key || is.Title == title || !strings.HasPrefix(is.Title, Title("")) {
			continue
		}
		comment := "Superseded by this week's report: " + title
		if current.URL != "" {
			comment += " " + current.URL
		}
		if err := p.Issues.CloseIssue(ctx, is.Key, comment+"."); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", is.Key, err))
		}
	}
	return errors.Join(errs...)
}

// Status returns the records of the week's channels that exist, for the
// daemon's /readyz detail and metrics: a failed publish shows there with
// its LastError until a later pass delivers it.
func Status(ctx context.Context, store registry.ReportStore, week string) ([]registry.Publication, error) {
	var out []registry.Publication
	for _, ch := range []string{ChannelGitHubIssue, ChannelWebhook} {
		p, err := store.Publication(ctx, week, ch)
		if err != nil {
			return nil, fmt.Errorf("report: status %s: %w", week, err)
		}
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

// IssueBody cuts a body that would exceed GitHub's limit at a line boundary.
func IssueBody(s string) string {
	if len(s) <= MaxIssueBody {
		return s
	}
	cut := strings.LastIndexByte(s[:MaxIssueBody], '\n')
	return s[:cut+1] + "\n… the report is longer than an issue holds; run risksync report for all of it.\n"
}

// publishWebhook posts the summary at most once per accepted delivery a
// week. The record is written before the first POST and after the outcome:
//
//   - a week already marked delivered is never posted again;
//   - a failed pass (every attempt refused) is retried by the next pass;
//   - the window that stays open is at-least-once: the receiver accepted a
//     POST but its answer was lost (timeout, connection reset), or the
//     process stopped or the database failed between the 2xx and the
//     "delivered" record. The next pass then posts the week again. Slack's
//     webhooks take no idempotency key, so no sender can close it.
func (p *Publisher) publishWebhook(ctx context.Context, rep *Report, issueURL string) Outcome {
	o := Outcome{Channel: ChannelWebhook, Action: "failed"}
	fail := func(err error) Outcome {
		o.Err = fmt.Errorf("report: publish webhook %s: %w", rep.Week, err)
		return o
	}
	prev, err := p.Store.Publication(ctx, rep.Week, ChannelWebhook)
	if err != nil {
		return fail(err)
	}
	if prev != nil && prev.Delivered {
		o.Action = "already delivered"
		return o
	}
	rec := registry.Publication{Week: rep.Week, Channel: ChannelWebhook}
	if prev != nil {
		rec = *prev
	}
	// Before: a database that cannot record the attempt gets no POST, since
	// it could not record the delivery either.
	rec.LastError = "delivery in progress" // stays if the process stops mid-delivery; updated_at says when
	if err := p.Store.SavePublication(ctx, rec); err != nil {
		return fail(fmt.Errorf("record attempt: %w", err))
	}
	n, err := p.post(ctx, Summary(rep, issueURL))
	rec.Attempts += n
	if err != nil {
		rec.LastError = err.Error()
		p.save(ctx, rec)
		return fail(err)
	}
	rec.Delivered, rec.LastError = true, ""
	if err := p.Store.SavePublication(ctx, rec); err != nil {
		o.Action = "delivered"
		return fail(fmt.Errorf("delivered, but not recorded (the next pass will post again): %w", err))
	}
	o.Action = "delivered"
	return o
}

// save records a failure; a failure to record it is logged, the original
// error is what the caller reports.
func (p *Publisher) save(ctx context.Context, rec registry.Publication) {
	if err := p.Store.SavePublication(ctx, rec); err != nil {
		p.logger().Warn("report: record publication", "week", rec.Week, "channel", rec.Channel, "error", err)
	}
}

// post sends {"text": text} with retries; it returns how many POSTs it made.
func (p *Publisher) post(ctx context.Context, text string) (int, error) {
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return 0, err
	}
	attempts, backoff := p.Attempts, p.Backoff
	if attempts <= 0 {
		attempts = 4
	}
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	client := p.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	sleep := p.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	var lastErr error
	wait := backoff
	for i := 1; i <= attempts; i++ {
		retryAfter, err := p.postOnce(ctx, client, body)
		if err == nil {
			return i, nil
		}
		lastErr = err
		var perm permanent
		if errors.As(err, &perm) || i == attempts {
			return i, fmt.Errorf("POST: %w (attempt %d of %d)", err, i, attempts)
		}
		d := min(max(wait, retryAfter), time.Minute)
		p.logger().Warn("report webhook: retrying", "attempt", i, "in", d, "error", err)
		if err := sleep(ctx, d); err != nil {
			return i, fmt.Errorf("POST: %w; then %w", lastErr, err)
		}
		wait *= 2
	}
	return attempts, lastErr
}

// permanent marks a refusal that retrying cannot fix (a 4xx other than 408
// and 429: a revoked or mistyped webhook URL, a rejected payload).
type permanent struct{ error }

func (p *Publisher) postOnce(ctx context.Context, client *http.Client, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, permanent{errors.New("invalid webhook URL (report.webhook_url)")}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, which carries the webhook's token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	err = fmt.Errorf("webhook answered %s", resp.Status)
	if s := strings.TrimSpace(string(msg)); s != "" {
		err = fmt.Errorf("%w: %s", err, s)
	}
	var after time.Duration
	if secs, convErr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); convErr == nil && secs > 0 {
		after = time.Duration(secs) * time.Second
	}
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return 0, permanent{err}
	}
	return after, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
