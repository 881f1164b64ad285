// Package github is risksync's GitHub tracker: it mirrors risks to epics
// (issues), reads work state back, lists postmortem issues and receives
// webhooks. It talks to github.com or GitHub Enterprise Server through
// go-github over a go-retryablehttp transport. *Client implements
// registry.Tracker:
//
//	c, err := github.New(github.Options{Config: cfg.GitHub, Token: tok, Bands: bands, ...})
//	err = c.StartPass(ctx)                         // each pass lists each repository once
//	res, err := c.EnsureEpic(ctx, registry.EpicSpec{Target: repo, Risk: r, Band: "high", Linked: l, MayCreate: ok}, dryRun)
//	writes, err := c.CloseEpic(ctx, key, comment, dryRun) // not_planned
//	writes, err = c.ReopenEpic(ctx, key, comment, dryRun)
//	states, err := c.PullBack(ctx, repo)           // once per repository per pass
//	pms, err := c.Postmortems(ctx, since)
//	err = c.Comment(ctx, issueKey, body)
//	h, err := github.NewWebhookHandler(secret, logger, notify, github.WithPostmortemLabel("postmortem"))
//
// How it keeps GitHub calm:
//   - Epics are found through one listing per repository per pass (label
//     `risk`, `since` the newest updated_at seen, ETag): an index of every
//     epic is kept in memory and refreshed incrementally. PullBack adds one
//     listing of the repository's issues changed since the last pass (child
//     work). A pass over unchanged risks costs two 304s per repository (free
//     against the rate limit), never a request per risk. Within a pass (and
//     for at most Options.ListingMaxAge, default 30s) the listing is reused;
//     a create whose outcome is unknown always lists again.
//   - The rendered body carries the marker `<!-- risksync:RISK-n -->` and a
//     line of hashes of what risksync last wrote; an unchanged risk sends
//     nothing, and a field whose hash no longer matches was edited by a
//     person (EpicResult.Drift).
//   - A POST is never retried blindly: after an unknown outcome the epic
//     listing is read again and an epic carrying the marker is adopted.
//   - One write in flight per client and MinWriteInterval between writes;
//     Retry-After, x-ratelimit-reset and secondary limits (403/429, a minute
//     doubling, capped) are waited out with Options.Sleep when shorter than
//     MaxWait, else the call fails at once with a retryable
//     registry.TrackerError whose RetryAt says when to come back, and no
//     request is sent before then.
//   - Errors are *registry.TrackerError: Retryable for rate limits, 5xx and
//     network failures; terminal 401/403/404/410/422 with Fix naming what to
//     change (for 403, the permission GitHub names in
//     X-Accepted-GitHub-Permissions).
//
// The client holds caches only (index, cursors, ETags, own-write
// timestamps): which epic a risk has comes in the EpicSpec, and who closed
// an epic is read from its events. A restarted daemon lists everything once.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/trackerhttp"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Options configure a Client.
type Options struct {
	Config *config.GitHub // base_url, repo, epic_issue_type, postmortem repos/label
	// Token is already resolved by the caller; it is never logged nor put in errors.
	Token config.Secret
	// Bands tell which priority labels risksync owns and how to colour them.
	Bands      []scoring.Band
	Logger     *slog.Logger
	HTTPClient *http.Client // base client; wrapped with go-retryablehttp
	Now        func() time.Time
	// Sleep waits d or until ctx ends (injectable so tests do not sleep).
	Sleep func(ctx context.Context, d time.Duration) error
	// MinWriteInterval is the pause between writes (default 1s, GitHub's
	// guidance for content creation).
	MinWriteInterval time.Duration
	// MaxWait is the longest rate-limit wait before deferring (default 2m).
	MaxWait time.Duration
	// ListingMaxAge bounds how long an epic listing is reused within a pass
	// (default 30s); StartPass ends the reuse sooner.
	ListingMaxAge time.Duration
	// OnRequest is an optional metrics hook, called once per HTTP attempt.
	OnRequest func(method, route string, status int, d time.Duration)
	// Projects names the GitHub project that shows the epic of a risk owned
	// by owner ("" unowned), nil for none: config.GitHubProjectFor. Nil
	// Projects makes OrderBacklog a no-op.
	Projects func(owner string) *config.GitHubProject
}

// Client is the GitHub connector. It is safe for concurrent use; calls on
// the same repository are serialised.
type Client struct {
	gh        *gh.Client
	cfg       *config.GitHub
	bands     []scoring.Band
	log       *slog.Logger
	now       func() time.Time
	http      *trackerhttp.Client
	maxAge    time.Duration
	epicType  string
	pmLabel   string
	ownLabels map[string]bool // lower-cased fixed labels risksync owns
	// projectsFor says which project shows an owner's epics (Options.Projects).
	projectsFor func(owner string) *config.GitHubProject
	graphqlURL  string

	mu sync.Mutex
	// login caches the token's user (GET /user once); lost, it is read again.
	login string
	// orgTypes caches org → enabled issue type names (nil: none); lost, they
	// are looked up again.
	orgTypes map[string][]string
	// repoLabels caches repo → lower-cased labels that exist; lost, they are
	// listed again (creating an existing label is a harmless 422).
	repoLabels map[string]map[string]bool
	// repos caches each repository's epic index and cursors (see repoState).
	repos map[string]*repoState
	// etags caches listing slot → last URL and its first page's ETag; lost,
	// the next listing is a full 200 instead of a 304.
	etags map[string]etagEntry
	// own caches issue key → updated_at of risksync's last write, only to
	// skip re-reading the children of an epic only we touched; lost, they
	// are read once more.
	own map[string]time.Time
	// pmCache caches the postmortems of each listing slot, answered again on
	// a 304; it is lost together with etags, so a restart lists anew.
	pmCache map[string][]registry.Postmortem
	// pending caches epics of other repositories whose child moved, until
	// that repository's PullBack re-reads them; lost, a restarted client
	// re-reads every epic's children on first sight anyway.
	pending map[string]bool
	// proj caches project ids and the order each project was left in (see project.go).
	proj projectCache
	// cmts caches what listings showed, for comment commands (see comments.go).
	cmts commentCache
}

// New builds a Client. It sends no request.
func New(opts Options) (*Client, error) {
	if opts.Config == nil {
		return nil, errors.New("github: no github configuration")
	}
	if opts.Token.IsZero() {
		return nil, errNoToken
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinWriteInterval == 0 {
		opts.MinWriteInterval = time.Second
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 2 * time.Minute
	}
	if opts.ListingMaxAge == 0 {
		opts.ListingMaxAge = 30 * time.Second
	}
	baseURL := opts.Config.BaseURL
	if baseURL == "" {
		baseURL = "https://api.github.com/"
	}
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("github: base_url %q is not a URL", opts.Config.BaseURL)
	}

	c := &Client{cfg: opts.Config, bands: opts.Bands, log: opts.Logger, now: opts.Now, maxAge: opts.ListingMaxAge,
		epicType: opts.Config.EpicIssueType, pmLabel: opts.Config.Postmortem.Label,
		orgTypes: map[string][]string{}, repoLabels: map[string]map[string]bool{}, repos: map[string]*repoState{},
		etags: map[string]etagEntry{}, own: map[string]time.Time{}, pmCache: map[string][]registry.Postmortem{},
		pending: map[string]bool{}, projectsFor: opts.Projects}
	if c.pmLabel == "" {
		c.pmLabel = "postmortem"
	}
	c.ownLabels = map[string]bool{labelRisk: true, labelUnscored: true}
	for _, b := range opts.Bands {
		if b.GitHubLabel != "" {
			c.ownLabels[strings.ToLower(b.GitHubLabel)] = true
		}
	}

	c.http = newHTTP(opts, u.Path)
	// GHES serves GraphQL at /api/graphql beside /api/v3; github.com at /graphql.
	c.graphqlURL = baseURL + "graphql"
	if strings.HasSuffix(baseURL, "/api/v3/") {
		c.graphqlURL = strings.TrimSuffix(baseURL, "v3/") + "graphql"
	}
	ghOpts := []gh.ClientOptionsFunc{gh.WithHTTPClient(c.http.HTTPClient()), gh.WithAuthToken(opts.Token.Reveal()),
		gh.WithDisableRateLimitCheck(), gh.WithUserAgent("risksync")}
	if !strings.EqualFold(u.Host, "api.github.com") {
		upload := strings.TrimSuffix(baseURL, "api/v3/") + "api/uploads/"
		ghOpts = append(ghOpts, gh.WithEnterpriseURLs(baseURL, upload))
	}
	c.gh, err = gh.NewClient(ghOpts...)
	if err != nil {
		return nil, fmt.Errorf("github: client: %w", err)
	}
	return c, nil
}

type etagEntry struct{ url, etag string }

// splitRepo checks "owner/name".
func splitRepo(repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", registry.Errorf(registry.EINVALID, "github: repository %q must look like owner/name", repo)
	}
	return owner, name, nil
}

// parseIssueKey splits "owner/repo#12".
func parseIssueKey(key string) (repo string, number int, err error) {
	repo, n, ok := strings.Cut(key, "#")
	if ok {
		number, err = strconv.Atoi(n)
	}
	if !ok || err != nil || number < 1 {
		return "", 0, registry.Errorf(registry.EINVALID, "github: issue key %q must look like owner/repo#12", key)
	}
	if _, _, err := splitRepo(repo); err != nil {
		return "", 0, err
	}
	return repo, number, nil
}

// self returns the token's login (GET /user once).
func (c *Client) self(ctx context.Context) (string, error) {
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	if login != "" {
		return login, nil
	}
	u, _, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		return "", c.fail("get authenticated user", err)
	}
	c.mu.Lock()
	c.login = u.GetLogin()
	c.mu.Unlock()
	return u.GetLogin(), nil
}

func (c *Client) markOwn(key string, at time.Time) {
	if at.IsZero() {
		return
	}
	c.mu.Lock()
	if at.After(c.own[key]) {
		c.own[key] = at
	}
	c.mu.Unlock()
}

func (c *Client) isOwn(key string, updated time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.own[key]
	return ok && t.Equal(updated)
}

// fail classifies err as a *registry.TrackerError; Fix names what to
// change for GitHub's terminal answers.
func (c *Client) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var er *gh.ErrorResponse
	errors.As(err, &er)
	return c.http.Classify(op, responseOf(err), err, func(status int, resp *http.Response) string {
		switch status {
		case http.StatusUnauthorized:
			return "the token is invalid, expired or revoked: issue a new one and set it through github.token_env or github.token_file"
		case http.StatusForbidden:
			if p := resp.Header.Get("X-Accepted-GitHub-Permissions"); p != "" {
				return "the token lacks a permission for this request: grant it " + p + " (fine-grained token: Issues read and write, Metadata read)"
			}
			return "the token lacks a permission for this request: it needs Issues read and write and Metadata read on the repository"
		case http.StatusNotFound:
			return "not found, or the token cannot see it: check the repository (github.repo or the team's github_repo) and that the token's repository access includes it"
		case http.StatusGone:
			return "the issue was deleted or transferred"
		case http.StatusUnprocessableEntity:
			if er != nil {
				return "GitHub rejected the request: " + describe422(er)
			}
		}
		return ""
	})
}

// responseOf is the answer go-github's error carries, nil when none arrived.
func responseOf(err error) *http.Response {
	var (
		rle *gh.RateLimitError
		are *gh.AbuseRateLimitError
		er  *gh.ErrorResponse
	)
	switch {
	case errors.As(err, &rle):
		return rle.Response
	case errors.As(err, &are):
		return are.Response
	case errors.As(err, &er):
		return er.Response
	}
	return nil
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

func describe422(er *gh.ErrorResponse) string {
	parts := []string{er.Message}
	for _, e := range er.Errors {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", e.Resource, e.Field, e.Code, e.Message)))
	}
	return strings.Join(parts, "; ")
}

// unknownOutcome reports whether a failed write may have been applied: no
// response, or a 5xx after the request was sent.
func unknownOutcome(err error) bool {
	return trackerhttp.UnknownOutcome(responseOf(err), err)
}

func notModified(err error) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && statusOf(er.Response) == http.StatusNotModified
}
