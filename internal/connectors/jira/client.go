package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the searching user's time zone must load in minimal containers

	gojira "github.com/andygrunwald/go-jira"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/trackerhttp"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Options configure a Client. Secrets are resolved by the caller.
type Options struct {
	Config          *config.Jira
	Email, APIToken config.Secret // Jira Cloud: basic auth
	PAT             config.Secret // Jira Data Center: bearer token
	Bands           []scoring.Band
	Logger          *slog.Logger
	HTTPClient      *http.Client // base client; wrapped with go-retryablehttp
	Now             func() time.Time
	Sleep           func(ctx context.Context, d time.Duration) error
	// MaxWait is the longest rate-limit wait honoured in place; a longer one
	// returns a retryable TrackerError with RetryAt. Default 30s.
	MaxWait   time.Duration
	OnRequest func(method, route string, status int, d time.Duration)

	// FullRefresh is how often a project's epics are listed in full instead
	// of incrementally (deleted issues only disappear then). Default 6h.
	FullRefresh time.Duration
}

// Client talks to one Jira site. Its methods are safe for concurrent use;
// the ones touching the per-project mirror run one at a time.
type Client struct {
	cfg     *config.Jira
	bands   []scoring.Band
	log     *slog.Logger
	now     func() time.Time
	full    time.Duration
	http    *trackerhttp.Client
	jc      *gojira.Client
	baseURL string

	op sync.Mutex // serialises operations on the mirror below

	// mu guards the fields below. Besides pass they are caches: losing one
	// (a restart) costs requests, never a wrong decision; the facts that
	// decide are the engine's, stored, and arrive in EpicSpec.
	mu       sync.Mutex
	cloud    *bool                    // serverInfo's deployment type; asked again when lost
	epicLink *string                  // Data Center's Epic Link field id, "" if none; listed again when lost
	fields   *fieldIDs                // custom fields found in /field by schema; listed again when lost
	me       *account                 // the authenticated account; read again from /myself when lost
	pass     int                      // counts StartPass calls, to know when a mirror is from this pass
	meta     map[string]*projectMeta  // createmeta per project, this pass only; read again when lost
	projects map[string]*projectState // the epics mirror per project; a lost one is listed in full again
	// created caches issues this client created in the last hour, sent as
	// reconcileIssues so a lagging /search/jql shows them. Losing it is safe:
	// the engine then passes the epic as EpicSpec.Linked (read by key) or,
	// while its create intent is young, MayCreate=false (no create).
	created map[string]createdIssue
	// pms caches postmortems seen, for comment commands (see comments.go).
	pms pmSeen
}

type account struct {
	ID, Name, Key string
	TZ            *time.Location
	tzKnown       bool
}

func (a *account) is(u *gojira.User) bool {
	if a == nil || u == nil {
		return false
	}
	return (a.ID != "" && u.AccountID == a.ID) || (a.Key != "" && u.Key == a.Key) || (a.Name != "" && u.Name == a.Name)
}

type createdIssue struct {
	ID  int
	Key string
	At  time.Time
}

// New checks the options and builds a client. It makes no request.
func New(opts Options) (*Client, error) {
	if opts.Config == nil {
		return nil, errors.New("jira: no jira configuration")
	}
	base := strings.TrimSuffix(opts.Config.BaseURL, "/")
	if base == "" {
		return nil, errors.New("jira: base_url is empty")
	}
	mode := ""
	switch {
	case !opts.PAT.IsZero():
		mode = "bearer"
		if opts.Config.Deployment == config.JiraCloud {
			return nil, errors.New("jira: deployment cloud authenticates with email and API token, not a personal access token")
		}
	case !opts.Email.IsZero() && !opts.APIToken.IsZero():
		mode = "basic"
	default:
		return nil, errors.New("jira: no credentials: give email and API token (Cloud) or a personal access token (Data Center)")
	}
	for _, b := range opts.Bands {
		if strings.TrimSpace(b.JiraPriority) == "" {
			return nil, fmt.Errorf("jira: band %s has no jira_priority", b.Name)
		}
	}
	c := &Client{
		cfg: opts.Config, bands: opts.Bands, log: opts.Logger, now: opts.Now,
		full:    opts.FullRefresh,
		baseURL: base,
		meta:    map[string]*projectMeta{}, projects: map[string]*projectState{},
		created: map[string]createdIssue{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 30 * time.Second
	}
	if c.full <= 0 {
		c.full = 6 * time.Hour
	}
	switch opts.Config.Deployment {
	case config.JiraCloud:
		c.cloud = ptr(true)
	case config.JiraDataCenter:
		c.cloud = ptr(false)
	}

	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	inner := *hc // keep its timeout and jar; add credentials below the retries
	inner.Transport = &authTransport{next: transportOf(hc), mode: mode, email: opts.Email, token: opts.APIToken, pat: opts.PAT}
	// Like GitHub, nothing is sent while a known rate limit is in force.
	c.http = trackerhttp.New(trackerhttp.Config{Tracker: registry.TrackerJira, Base: &inner, Now: c.now, Sleep: opts.Sleep,
		MaxWait: opts.MaxWait, RateLimit: trackerhttp.JiraRateLimit, Route: Route, OnRequest: opts.OnRequest, HoldWhileLimited: true}, c.log)
	jc, err := gojira.NewClient(c.http.HTTPClient(), base)
	if err != nil {
		return nil, fmt.Errorf("jira: base_url %q: %w", base, err)
	}
	c.jc = jc
	return c, nil
}

func ptr[T any](v T) *T { return &v }

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// authTransport adds credentials to each attempt, below the retries.
type authTransport struct {
	next              http.RoundTripper
	mode              string
	email, token, pat config.Secret
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if t.mode == "bearer" {
		r.Header.Set("Authorization", "Bearer "+t.pat.Reveal())
	} else {
		r.SetBasicAuth(t.email.Reveal(), t.token.Reveal())
	}
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "risksync")
	return t.next.RoundTrip(r)
}

// doJSON sends a request built by go-jira and decodes a 2xx answer into out.
// Errors are classified TrackerErrors naming op.
func (c *Client) doJSON(ctx context.Context, op, method, path string, body, out any) error {
	req, err := c.jc.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("jira: %s: %w", op, err)
	}
	resp, err := c.jc.Do(req, nil)
	return c.finish(op, resp, err, out)
}

// finish classifies a go-jira answer. When the body was not read yet it is
// decoded into out (2xx) or parsed for Jira's error messages.
func (c *Client) finish(op string, resp *gojira.Response, err error, out any) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	if err == nil && hr != nil {
		defer hr.Body.Close()
		if out != nil {
			b, rerr := io.ReadAll(hr.Body)
			if rerr != nil {
				return c.classify(op, nil, rerr, nil)
			}
			if len(bytes.TrimSpace(b)) == 0 {
				return nil
			}
			if derr := json.Unmarshal(b, out); derr != nil {
				return fmt.Errorf("jira: %s: decode answer: %w", op, derr)
			}
		}
		return nil
	}
	var body []byte
	if hr != nil && hr.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(hr.Body, 1<<20))
		hr.Body.Close()
	}
	return c.classify(op, hr, err, body)
}

// classify turns a failed exchange into a registry.TrackerError: Jira's
// error body rendered, the retry verdict and Fix from trackerhttp. Request
// headers never reach it, so credentials cannot leak into messages.
func (c *Client) classify(op string, resp *http.Response, err error, body []byte) error {
	if resp != nil {
		err = describe(resp.StatusCode, jiraMessage(body, err))
	}
	return c.http.Classify(op, resp, err, jiraFix)
}

func describe(s int, msg string) error {
	switch {
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		return fmt.Errorf("rate limited (%d)%s", s, msg)
	case s >= 500:
		return fmt.Errorf("server error %d%s", s, msg)
	case s == http.StatusUnauthorized:
		return fmt.Errorf("unauthorized (401)%s", msg)
	case s == http.StatusForbidden:
		return fmt.Errorf("forbidden (403)%s", msg)
	case s == http.StatusNotFound:
		return fmt.Errorf("not found (404)%s", msg)
	case s == http.StatusGone:
		return fmt.Errorf("endpoint removed (410)%s", msg)
	}
	return fmt.Errorf("rejected (%d)%s", s, msg)
}

func jiraFix(status int, _ *http.Response) string {
	switch status {
	case http.StatusUnauthorized:
		return "check the Jira credentials: email + API token on Cloud, a personal access token on Data Center"
	case http.StatusForbidden:
		return "the risksync account needs Browse, Create, Edit, Transition and Comment permissions in the project"
	case http.StatusGone:
		return "set jira.deployment to match the site (cloud or datacenter)"
	}
	return ""
}

// jiraMessage renders Jira's {"errorMessages":[...],"errors":{field:msg}}
// as one line naming each field.
func jiraMessage(body []byte, err error) string {
	var je struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	var ge *gojira.Error
	if errors.As(err, &ge) {
		je.ErrorMessages, je.Errors = ge.ErrorMessages, ge.Errors
	} else if len(body) > 0 {
		_ = json.Unmarshal(body, &je)
	}
	var parts []string
	parts = append(parts, je.ErrorMessages...)
	for _, k := range sortedKeys(je.Errors) {
		parts = append(parts, fmt.Sprintf("field %s: %s", k, je.Errors[k]))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// deployment asks serverInfo once (deployment auto) whether this is Cloud.
func (c *Client) isCloud(ctx context.Context) (bool, error) {
	c.mu.Lock()
	v := c.cloud
	c.mu.Unlock()
	if v != nil {
		return *v, nil
	}
	var info struct {
		DeploymentType string `json:"deploymentType"`
		Version        string `json:"version"`
	}
	if err := c.doJSON(ctx, "server info", http.MethodGet, "rest/api/2/serverInfo", nil, &info); err != nil {
		return false, err
	}
	cloud := strings.EqualFold(info.DeploymentType, "Cloud")
	c.mu.Lock()
	c.cloud = &cloud
	c.mu.Unlock()
	c.log.Info("jira deployment detected", "deployment", info.DeploymentType, "version", info.Version)
	return cloud, nil
}

// myself reads the authenticated account once: its id tells risksync's own
// changelog entries apart, its time zone is how JQL dates are read.
func (c *Client) myself(ctx context.Context) (*account, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != nil {
		return me, nil
	}
	u, resp, err := c.jc.User.GetSelfWithContext(ctx)
	if err != nil {
		return nil, c.finish("read the authenticated account", resp, err, nil)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	a := &account{ID: u.AccountID, Name: u.Name, Key: u.Key, TZ: time.UTC}
	if u.TimeZone != "" {
		if loc, lerr := time.LoadLocation(u.TimeZone); lerr == nil {
			a.TZ, a.tzKnown = loc, true
		} else {
			c.log.Warn("jira: unknown account time zone, JQL dates read as UTC with a wider window", "tz", u.TimeZone)
		}
	}
	c.mu.Lock()
	c.me = a
	c.mu.Unlock()
	return a, nil
}

func (c *Client) issueURL(key string) string { return c.baseURL + "/browse/" + key }

// AccountID is the authenticated account (accountId on Cloud, user name on
// Data Center): webhook notifications whose Sender it is are risksync's own
// writes.
func (c *Client) AccountID(ctx context.Context) (string, error) {
	me, err := c.myself(ctx)
	if err != nil {
		return "", err
	}
	if me.ID != "" {
		return me.ID, nil
	}
	return me.Name, nil
}
