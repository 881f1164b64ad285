// Package jira is everything risksync knows about Jira: it mirrors risks to
// epics, reads work state back, reads postmortems and receives webhooks. It
// runs on github.com/andygrunwald/go-jira v1.17.0 (API v2, so descriptions
// are wiki markup) over a hashicorp/go-retryablehttp transport, against Jira
// Cloud (email + API token, basic auth) or Data Center (personal access
// token, bearer).
//
// *Client implements registry.Tracker, the engine's one contract with a
// tracker (StartPass, EnsureEpic, CloseEpic, ReopenEpic, PullBack,
// Postmortems, Comment); besides it:
//
//	New(Options) (*Client, error)
//	(*Client).AccountID(ctx) (string, error)
//	(*Client).EpicLinkField() string
//	NewWebhookHandler(secret, logger, notify, ...WebhookOption) (http.Handler, error)
//
// Notes, and why:
//   - Per pass, each project costs createmeta (two requests: the epic type,
//     then its fields with the allowed priorities and required fields) and
//     one search; EnsureEpic, CloseEpic, ReopenEpic and PullBack share that
//     search's mirror, and the pass's own creates, updates and transitions
//     are applied to it (a transition with a changelog entry by the risksync
//     account), so PullBack never reads the state from before them. A
//     mirror older than 10 minutes is refreshed even without StartPass.
//   - Options.FullRefresh (default 6h): how often a project is listed in full
//     rather than by "updated >=" (only a full listing notices deleted issues).
//   - *Client also implements registry.Backlog (rank.go): with jira.rank:
//     by_score, OrderBacklog ranks each project's risk epics by score with
//     the fewest moves, reading the order from the Rank field in the search
//     above (no extra request) and writing through the agile rank API.
//   - Bands are named in EpicSpec.Band and looked up in Options.Bands.
//   - AccountID: the authenticated account, to drop webhook notifications
//     whose Sender is risksync itself.
//   - WithPostmortemLabel: the webhook handler cannot know the configured
//     postmortem label otherwise.
//   - RenderDescription, DescriptionText, WikiToText, ADFToText, CheckSignature
//     and Route are exported for the engine's tests, fuzzing and metrics.
//
// The client holds caches only; losing them (a restart) costs requests. What
// prevents a duplicate is the engine's, passed in EpicSpec: /search/jql is
// eventually consistent, so the epic in EpicSpec.Linked is read by key when
// the search does not show it, and only Jira's 404 makes it Gone; without a
// link, a found epic is adopted and none is created unless MayCreate.
//
// Finding epics: the label risksync-RISK-<n>; an issue titled "[RISK-<n>] …"
// that lost the label is adopted only if its issue property risksync says
// {"key":"RISK-<n>"}; epics in EpicSpec.Exclude never. Issues this client
// created in the last hour are passed as reconcileIssues.
//
// Link states: status category done with a resolution such as Won't Do,
// Declined or Duplicate → not_planned (this includes risksync's own close
// of an accepted or retired risk, as on GitHub); other done → done;
// indeterminate, or any child started → in_progress; else open.
// EpicState.ClosedByRisksync: the newest changelog entry changing the status
// of a done epic was made by the risksync account. PullBack reports every
// epic carrying a risk's label under its own key, duplicates included.
//
// Errors are *registry.TrackerError (Retryable with RetryAt for 429/503 and
// lost answers; Fix for configuration and permission problems), except
// context cancellation and programming errors. Credentials never appear in
// errors or logs.
package jira
