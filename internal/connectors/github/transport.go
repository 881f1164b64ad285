package github

import (
	"errors"
	"regexp"
	"strings"

	"github.com/risksync/risksync/internal/connectors/trackerhttp"
	"github.com/risksync/risksync/internal/registry"
)

// newHTTP is GitHub's shared HTTP layer with its guidance for integrators:
// one write in flight, MinWriteInterval between writes, no request while a
// known limit is in force. basePath is the API's path prefix (GHES: /api/v3).
func newHTTP(opts Options, basePath string) *trackerhttp.Client {
	basePath = strings.TrimSuffix(basePath, "/")
	limits := &trackerhttp.GitHubLimits{}
	return trackerhttp.New(trackerhttp.Config{
		Tracker: registry.TrackerGitHub, Base: opts.HTTPClient, Now: opts.Now, Sleep: opts.Sleep,
		MaxWait: opts.MaxWait, RateLimit: limits.Read,
		Route:     func(path string) string { return routeOf(strings.TrimPrefix(path, basePath)) },
		OnRequest: opts.OnRequest, HoldWhileLimited: true, SerialWrites: true, MinWriteInterval: opts.MinWriteInterval,
	}, opts.Logger)
}

var routePatterns = []struct {
	re    *regexp.Regexp
	route string
}{
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+/sub_issues$`), "/repos/{owner}/{repo}/issues/{issue_number}/sub_issues"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+/comments$`), "/repos/{owner}/{repo}/issues/{issue_number}/comments"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+/events$`), "/repos/{owner}/{repo}/issues/{issue_number}/events"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues/\d+$`), "/repos/{owner}/{repo}/issues/{issue_number}"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/issues$`), "/repos/{owner}/{repo}/issues"},
	{regexp.MustCompile(`^/repos/[^/]+/[^/]+/labels$`), "/repos/{owner}/{repo}/labels"},
	{regexp.MustCompile(`^/orgs/[^/]+/issue-types$`), "/orgs/{org}/issue-types"},
	{regexp.MustCompile(`^/user$`), "/user"},
	{regexp.MustCompile(`^/(orgs|users)/[^/]+/projectsV2/\d+/items/\d+$`), "/{owner_type}/{owner}/projectsV2/{project_number}/items/{item_id}"},
	{regexp.MustCompile(`^/(orgs|users)/[^/]+/projectsV2/\d+/items$`), "/{owner_type}/{owner}/projectsV2/{project_number}/items"},
	{regexp.MustCompile(`^/(orgs|users)/[^/]+/projectsV2/\d+/fields$`), "/{owner_type}/{owner}/projectsV2/{project_number}/fields"},
	{regexp.MustCompile(`^/(orgs|users)/[^/]+/projectsV2/\d+$`), "/{owner_type}/{owner}/projectsV2/{project_number}"},
	{regexp.MustCompile(`^(/api)?/graphql$`), "/graphql"},
}

// routeOf turns a request path into its operation template, for metrics
// with a bounded label set.
func routeOf(path string) string {
	for _, p := range routePatterns {
		if p.re.MatchString(path) {
			return p.route
		}
	}
	return "other"
}

var errNoToken = errors.New("github: token is empty: set github.token_env or github.token_file")
