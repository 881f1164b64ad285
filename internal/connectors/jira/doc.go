// Package jira is everything risksync knows about Jira: it mirrors risks to
// epics, reads work state back, reads postmortems and receives webhooks. It
// runs on github.com/andygrunwald/go-jira v1.17.0 (API v2, so descriptions
// are wiki markup) over a hashicorp/go-retryablehttp transport, against Jira
// Cloud (email + API token, basic auth) or Data Center (personal access
// token, bearer).
//
// The API, parallel to the GitHub connector:
//
//	New(Options) (*Client, error)
//	(*Client).StartPass()
//	(*Client).EnsureEpic(ctx, Epic, dryRun) (Result, error)
//	(*Client).CloseEpic(ctx, key, comment, dryRun) ([]Write, error)
//	(*Client).ReopenEpic(ctx, key, comment, dryRun) ([]Write, error)
//	(*Client).PullBack(ctx, project) ([]EpicState, error)
//	(*Client).Postmortems(ctx, since) ([]registry.Postmortem, error)
//	(*Client).Comment(ctx, issueKey, body) error
//	(*Client).AccountID(ctx) (string, error)
//	(*Client).EpicLinkField() string
//	NewWebhookHandler(secret, logger, notify, ...WebhookOption) (http.Handler, error)
//
// Additions to the first sketch, and why:
//   - StartPass marks a sync pass. Per pass, each project costs createmeta
//     (two requests: the epic type, then its fields with the allowed
//     priorities and required fields) and one search; EnsureEpic and PullBack
//     share that search. A mirror older than 10 minutes is refreshed even
//     without StartPass.
//   - Options.FullRefresh (default 6h): how often a project is listed in full
//     rather than by "updated >=" (only a full listing notices deleted issues).
//     Options.SearchSettle (default 2m): how long after a create with a lost
//     answer an empty search is not trusted (the create is deferred with a
//     retryable error instead of repeated).
//   - AccountID: the authenticated account, to drop webhook notifications
//     whose Sender is risksync itself.
//   - WithPostmortemLabel: the webhook handler cannot know the configured
//     postmortem label otherwise.
//   - RenderDescription, DescriptionText, WikiToText, ADFToText, CheckSignature
//     and Route are exported for the sync engine's tests, fuzzing and metrics.
//
// Finding epics: the label risksync-RISK-<n>; an issue titled "[RISK-<n>] …"
// that lost the label is adopted only if its issue property risksync says
// {"key":"RISK-<n>"}. Issues risksync created in the last hour are passed as
// reconcileIssues, since /search/jql is eventually consistent.
//
// Link states: status category done with a resolution such as Won't Do,
// Declined or Duplicate → not_planned (this includes risksync's own close
// of an accepted or retired risk, as on GitHub); other done → done;
// indeterminate, or any child started → in_progress; else open.
//
// Errors are *registry.TrackerError (Retryable with RetryAt for 429/503 and
// lost answers; Fix for configuration and permission problems), except
// context cancellation and programming errors. Credentials never appear in
// errors or logs.
package jira
