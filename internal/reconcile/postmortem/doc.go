// Package postmortem reads the risk tables out of a postmortem issue body, in
// the form of the risk-registry essay:
//
//	| Risk | Orphaned snapshot resources accumulate in management clusters |
//	| Impact | 4 — backups miss recovery objectives under load |
//	| Scope | high — all clusters using shared backup infrastructure |
//	| Likelihood | 3 - grows over time without cleanup |
//	| Owner | Service Lifecycle SRE |
//
// It is pure: no I/O, no configuration. The sync engine turns each Table into
// a risk (source = the issue, position = Table.Position) and posts
// ProblemComment's text when any table has problems.
//
// # API
//
//	func Parse(body string) []Table
//	func ProblemComment(tables []Table, unknownOwners map[int]string, teamNames []string) string
//	func MatchOwner[T any](cell string, match func(string) *T) *T
//	const ProblemMarker = "<!-- risksync:intake-problems -->" // first line of the comment
//
// # Tables
//
// A table is a run of lines starting with "|" (after indentation); any other
// line, blank ones included, ends it. A header row and a "|---|---|" separator
// are optional. A row's first cell is the field, the rest is its value. Field
// names match ignoring case, surrounding space, Markdown emphasis
// ("**Impact**") and a trailing colon. Known fields are Risk (the title,
// required), Description, Impact, Scope, Likelihood and Owner; other rows
// (the essay's Score, Status, Last Reviewed, a "| Field | Value |" header) are
// ignored: Score and Status are derived by risksync. "\|" in a cell is a
// literal pipe.
//
// Which tables are risk tables:
//   - a table with a Risk row is one, except when the Risk row is the table's
//     header and no other known field appears: that is a column header
//     ("| Risk | Mitigation |") of a table about something else, ignored;
//   - a table without a Risk row but with at least two known fields is one,
//     reported as a Table with an empty Title and a Problem "table N has no
//     Risk row";
//   - any other table (a timeline "| 10:02 | paged |") is ignored silently.
//
// Every risk table, including one without a Risk row, takes the next
// Position, so deleting the Risk row of one table never shifts its
// neighbours onto each other's risks. Callers create no risk for a Table with
// an empty Title.
//
// Text inside fenced code blocks (``` or ~~~, unclosed fences run to the end)
// and inside HTML comments starting a line ("<!--" ... "-->", as issue
// templates use for instructions) is not read. Indented tables (in a list
// item) are read; tables in block quotes ("> | Risk | ... |") are not.
//
// # Ratings
//
// A rating cell starts with 1..5 or negligible, low, medium, high, critical
// (1..5, any case), optionally in Markdown emphasis and optionally followed
// by an explanation after "—", "–", "-", ":" or in parentheses:
// "4 — all clusters", "High: data protection", "2 (one region)". "4/5" reads
// as 4. A missing, empty or unreadable rating leaves that field nil (the risk
// is then unscored) and adds a Problem; "0", "6", "4.5" and ranges such as
// "3-4" are unreadable, and so is prose such as the essay's "Backup
// operations exceed recovery objectives under load". Explanations keeps the
// explanation of each readable rating and the whole cell of an unreadable
// one, so nothing the author wrote is lost.
//
// # Owner
//
// Owner is the raw cell; matching it to a team is the caller's job.
// MatchOwner helps: given config.Config.MatchTeam it also tries the cell
// without emphasis, without a trailing "(...)" or " - ..." note, and as a
// GitHub team mention ("@acme/storage-sre" → "storage-sre"). A missing or
// empty Owner row is a Problem (the risk is then unowned); an owner naming no
// team is the caller's to report through ProblemComment's unknownOwners.
//
// # Limits
//
// A hostile body cannot make Parse use much more memory than the body:
// at most MaxTables risk tables are read (the last one gets a Problem saying
// the rest were ignored), at most MaxProblems problems are kept per table,
// and cells are cut, with a Problem, at MaxTitleLen (title, also kept to one
// line), registry.MaxDescriptionLen (description), MaxOwnerLen and
// MaxExplanationLen. Problem.Cell is cut at MaxCellQuote. Invalid UTF-8 is
// replaced, and control characters in cells become spaces. CRLF line endings
// are accepted.
package postmortem
