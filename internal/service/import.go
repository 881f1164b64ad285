package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/riskfile"
)

// ImportResult is what an import did (design: "Import and export"). In a
// dry run no key exists yet for a new risk, so Created holds its title.
type ImportResult struct {
	Created   []string      `json:"created"`
	Updated   []string      `json:"updated"`
	Unchanged int           `json:"unchanged"`
	Errors    []ImportError `json:"errors"`
}

// ImportError is one bad row: Line is the row's line (a JSON file's item
// number), Column the column at fault ("" for the whole row).
type ImportError struct {
	Line    int    `json:"line"`
	Column  string `json:"column"`
	Message string `json:"message"`
}

// ImportErrorsOf lists the problems of a riskfile.Parse error as rows'
// errors, so a file that cannot be read reports like one whose rows fail.
func ImportErrorsOf(err error) []ImportError {
	var e *registry.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return []ImportError{{Message: err.Error()}}
	}
	out := make([]ImportError, len(e.Fields))
	for i, f := range e.Fields {
		n, col := riskfile.Location(f.Location)
		out[i] = ImportError{Line: n, Column: col, Message: f.Message}
	}
	return out
}

// Export returns every risk, ranked, for riskfile.Write.
func (s *Service) Export(ctx context.Context, who registry.Principal) ([]*registry.Risk, error) {
	if err := s.canRead(who); err != nil {
		return nil, err
	}
	return s.store.ListRisks(ctx, registry.RiskFilter{})
}

// importRow is a row matched to its risk and checked.
type importRow struct {
	row     *riskfile.Row
	change  Change
	target  *registry.Risk // nil: the row creates a risk
	after   *registry.Risk // target (or a new risk) with the row applied
	changes bool
}

// Import applies rows all or nothing. A row with a key updates that risk;
// otherwise a risk whose title matches (as intake compares titles) is
// updated; otherwise one is created. Every row is checked first, including
// whether who may change it; if any fails, nothing is written and the
// result lists every failure (the error is then EINVALID, or EFORBIDDEN
// when all of them are refusals). The writes then run in one transaction.
// A row that changes nothing needs no permission, so a team can import a
// whole export after editing only its own rows.
func (s *Service) Import(ctx context.Context, who registry.Principal, rows []riskfile.Row, dryRun bool) (ImportResult, error) {
	res := ImportResult{Created: []string{}, Updated: []string{}, Errors: []ImportError{}}
	if err := s.canRead(who); err != nil {
		return res, err
	}
	if who.Role == registry.RoleReader {
		return res, s.canEdit(who, "")
	}
	run := func(st registry.Store) error {
		plan, err := s.planImport(ctx, st, who, rows, &res)
		if err != nil {
			return err
		}
		if dryRun {
			for _, p := range plan {
				switch {
				case p.target == nil:
					res.Created = append(res.Created, p.after.Title) // no key before it is written
				case p.changes:
					res.Updated = append(res.Updated, p.target.Key)
				default:
					res.Unchanged++
				}
			}
			return nil
		}
		return s.applyImport(ctx, st, who, plan, &res)
	}
	var err error
	if dryRun {
		err = run(s.store) // reads only
	} else {
		err = s.store.Batch(ctx, run)
	}
	if err != nil {
		res.Created, res.Updated, res.Unchanged = []string{}, []string{}, 0 // nothing was written
	}
	return res, err
}

// planImport matches each row to its risk and applies it to a copy,
// collecting every row's errors into res.
func (s *Service) planImport(ctx context.Context, st registry.Store, who registry.Principal, rows []riskfile.Row, res *ImportResult) ([]importRow, error) {
	risks, err := st.ListRisks(ctx, registry.RiskFilter{})
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*registry.Risk, len(risks))
	byTitle := make(map[string][]*registry.Risk, len(risks))
	for _, r := range risks {
		byKey[r.Key] = r
		t := registry.NormalizeTitle(r.Title)
		byTitle[t] = append(byTitle[t], r)
	}
	claimed := map[string]int{} // risk key, or "new " + title → the line that claimed it
	refusals := 0
	fail := func(row *riskfile.Row, column, msg string) {
		res.Errors = append(res.Errors, ImportError{Line: row.Line, Column: column, Message: msg})
	}
	plan := make([]importRow, 0, len(rows))
	for i := range rows {
		row := &rows[i]
		p := importRow{row: row}
		var claim string
		switch {
		case row.Key != "":
			if p.target = byKey[row.Key]; p.target == nil {
				fail(row, "key", fmt.Sprintf("%s not found: leave key empty to create a risk", row.Key))
				continue
			}
			claim = row.Key
		case row.Title.Value == nil || strings.TrimSpace(*row.Title.Value) == "":
			fail(row, "title", "required: one line naming the failure mode")
			continue
		default:
			t := registry.NormalizeTitle(*row.Title.Value)
			switch m := byTitle[t]; len(m) {
			case 0:
				claim = "new " + t
			case 1:
				p.target = m[0]
				claim = p.target.Key
			default:
				fail(row, "title", fmt.Sprintf("matches %s and %s: add a key column to say which risk", m[0].Key, m[1].Key))
				continue
			}
		}
		if prev, dup := claimed[claim]; dup {
			switch {
			case row.Key != "":
				fail(row, "key", fmt.Sprintf("%s is also on line %d: a file changes each risk once", p.target.Key, prev))
			case p.target != nil:
				fail(row, "title", fmt.Sprintf("matches %s, which is also on line %d: a file changes each risk once", p.target.Key, prev))
			default:
				fail(row, "title", fmt.Sprintf("a new risk with this title is also on line %d", prev))
			}
			continue
		}
		claimed[claim] = row.Line
		p.change = s.importChange(row, p.target)
		if p.target == nil {
			p.after = &registry.Risk{Status: registry.StatusActive}
		} else {
			p.after = p.target.Clone()
		}
		errs, refused := s.applyRow(who, p, p.after)
		for _, e := range errs {
			fail(row, e.Location, e.Message)
		}
		if refused {
			refusals++
		}
		p.changes = p.target == nil || changed(p.target, p.after)
		plan = append(plan, p)
	}
	if len(res.Errors) == 0 {
		return plan, nil
	}
	code := registry.EINVALID
	if refusals == len(res.Errors) {
		code = registry.EFORBIDDEN
	}
	return nil, &registry.Error{Code: code, Message: BadRows(res.Errors) + ", nothing written"}
}

// applyRow applies the row's change to r (p.target, or a new risk) and
// checks who may make it: the risk's owner before and after must both be
// within who's teams. A row that changes an existing risk in nothing needs
// no permission.
func (s *Service) applyRow(who registry.Principal, p importRow, r *registry.Risk) (errs []registry.FieldError, refused bool) {
	before := r.Clone()
	if err := s.apply(r, p.change); err != nil {
		return fieldsOf(err), false
	}
	if d := p.row.LastReviewed; d.Value != nil {
		if d.Value.After(s.now()) {
			return []registry.FieldError{{Location: "last_reviewed", Message: fmt.Sprintf("%s is in the future", d.Value.Format(time.DateOnly))}}, false
		}
		if !sameDay(r.LastReviewedAt, *d.Value) {
			r.LastReviewedAt = clone(d.Value)
		}
	}
	owners := []string{r.Owner}
	if p.target != nil {
		if !changed(before, r) {
			return nil, false
		}
		owners = append(owners, before.Owner)
	}
	for _, owner := range owners {
		if err := s.canEdit(who, owner); err != nil {
			return []registry.FieldError{{Location: "owner", Message: err.Error()}}, true
		}
	}
	return nil, false
}

// importChange is the row as a Change. Cells equal to what the risk holds
// are left out: they change nothing, and a file exported from the registry
// must import cleanly even where it holds values people may not set (a
// mitigating status, an acceptance end date that has passed).
func (s *Service) importChange(row *riskfile.Row, target *registry.Risk) Change {
	c := Change{Title: row.Title, Description: row.Description, Impact: row.Impact, Scope: row.Scope,
		Likelihood: row.Likelihood, ETTDMinutes: row.ETTDMinutes, ETTRMinutes: row.ETTRMinutes,
		ImpactPercent: row.ImpactPercent, ETTFDays: row.ETTFDays, Owner: row.Owner, Status: row.Status,
		StatusReason: row.StatusReason, AcceptedUntil: row.AcceptedUntil}
	if target == nil {
		return c
	}
	if row.Key == "" { // matched by title: keep the registry's spelling
		c.Title = Field[string]{}
	}
	if v := c.Description.Value; v != nil && crlf.Replace(*v) == crlf.Replace(target.Description) {
		c.Description = Field[string]{} // CSV readers turn CRLF into LF
	}
	if v := c.Status.Value; v != nil && *v == target.Status {
		c.Status = Field[registry.Status]{}
	}
	if v := c.StatusReason.Value; v != nil && *v == target.StatusReason {
		c.StatusReason = Field[string]{}
	}
	if v := c.AcceptedUntil.Value; v != nil && sameDay(target.AcceptedUntil, *v) {
		c.AcceptedUntil = Field[time.Time]{}
	}
	return c
}

var crlf = strings.NewReplacer("\r\n", "\n")

func sameDay(t *time.Time, d time.Time) bool {
	return t != nil && t.UTC().Format(time.DateOnly) == d.UTC().Format(time.DateOnly)
}

// changed reports whether people's fields differ (derived ones follow them).
func changed(before, after *registry.Risk) bool {
	for _, c := range registry.Diff(before, after) {
		switch c.Field {
		case "score", "band":
		default:
			return true
		}
	}
	return false
}

// applyImport writes the plan in st (the batch's transaction). Each update
// is applied again under the risk's row lock, with the same checks, so a
// change made meanwhile by someone else is neither lost nor bypassed.
func (s *Service) applyImport(ctx context.Context, st registry.Store, who registry.Principal, plan []importRow, res *ImportResult) error {
	for _, p := range plan {
		if p.target == nil {
			r, err := st.CreateRisk(ctx, p.after, who.Actor)
			if err != nil {
				return s.rowFailed(res, p.row, err)
			}
			res.Created = append(res.Created, r.Key)
			continue
		}
		if !p.changes {
			res.Unchanged++
			continue
		}
		_, err := st.UpdateRisk(ctx, p.target.Key, who.Actor, func(r *registry.Risk) error {
			if errs, _ := s.applyRow(who, importRow{row: p.row, change: s.importChange(p.row, r), target: r}, r); len(errs) > 0 {
				return invalidAll(errs)
			}
			return nil
		})
		if err != nil {
			return s.rowFailed(res, p.row, err)
		}
		res.Updated = append(res.Updated, p.target.Key)
	}
	return nil
}

// rowFailed records a write that failed after the checks passed (a
// concurrent change, the database) and aborts the batch.
func (s *Service) rowFailed(res *ImportResult, row *riskfile.Row, err error) error {
	var e *registry.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		for _, f := range e.Fields {
			res.Errors = append(res.Errors, ImportError{Line: row.Line, Column: f.Location, Message: f.Message})
		}
	} else {
		res.Errors = append(res.Errors, ImportError{Line: row.Line, Message: err.Error()})
	}
	if e != nil && e.Code != registry.EINTERNAL {
		return &registry.Error{Code: e.Code, Message: fmt.Sprintf("line %d: %s; nothing written", row.Line, e.Message)}
	}
	return fmt.Errorf("import line %d: %w; nothing written", row.Line, err)
}

// BadRows says how many rows errs name: "3 bad rows"; "the file cannot be read"
// when no error names a row.
func BadRows(errs []ImportError) string {
	lines := map[int]bool{}
	for _, e := range errs {
		if e.Line > 0 {
			lines[e.Line] = true
		}
	}
	switch len(lines) {
	case 0:
		return "the file cannot be read"
	case 1:
		return "1 bad row"
	}
	return fmt.Sprintf("%d bad rows", len(lines))
}
