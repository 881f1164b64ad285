package service

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/scoring"
)

// Query selects risks for List. Owner takes a team name or alias, or
// "unowned".
type Query struct {
	Owner     string
	Status    []registry.Status
	Band      string
	Stagnant  bool // only active or mitigating risks whose work stopped moving
	ReviewDue bool // only risks whose review is due
	Text      string
	// NeedsDecision keeps open risks whose current epic a person closed as
	// not planned: accept the risk or re-plan the work.
	NeedsDecision bool
	// Sort orders by a column other than the rank (see SortColumns);
	// "" ranks by score, highest first. Desc reverses a column's order.
	Sort   string
	Desc   bool
	Limit  int    // 0: all
	Cursor string // from the previous page's next cursor
}

// SortColumns are the columns List sorts by besides the rank; ties keep
// rank order.
var SortColumns = []string{"score", "key", "title", "owner", "status", "review_due", "idle"}

// MaxPage is the largest page List returns.
const MaxPage = 500

// List returns risks ranked by score, highest first, and the cursor of the
// next page ("" on the last page).
func (s *Service) List(ctx context.Context, who registry.Principal, q Query) ([]*registry.Risk, string, error) {
	if err := s.canRead(who); err != nil {
		return nil, "", err
	}
	f := registry.RiskFilter{Status: q.Status, Text: q.Text}
	var errs []registry.FieldError
	for _, st := range q.Status {
		if !st.Valid() {
			errs = append(errs, registry.FieldError{Location: "status", Message: fmt.Sprintf("unknown status %q: use active, mitigating, mitigated, accepted or retired", st)})
		}
	}
	switch {
	case strings.EqualFold(q.Owner, "unowned") || strings.EqualFold(q.Owner, "none"):
		f.Unowned = true
	case q.Owner != "":
		owner, err := s.ResolveOwner(q.Owner)
		if err != nil {
			errs = append(errs, fieldsOf(err)...)
		}
		f.Owner = owner
	}
	if q.Band != "" {
		if q.Band != "unscored" && s.scoring.Band(q.Band) == nil {
			errs = append(errs, registry.FieldError{Location: "band", Message: fmt.Sprintf("unknown band %q: bands are %s, or unscored", q.Band, strings.Join(s.bandNames(), ", "))})
		}
		f.Band = q.Band
	}
	if q.Limit < 0 || q.Limit > MaxPage {
		errs = append(errs, registry.FieldError{Location: "limit", Message: fmt.Sprintf("%d is out of range: use 1 to %d, or 0 for all", q.Limit, MaxPage)})
	}
	sorted := q.Sort != "" && !(q.Sort == "score" && q.Desc)
	if q.Sort != "" && !slices.Contains(SortColumns, q.Sort) {
		errs = append(errs, registry.FieldError{Location: "sort", Message: fmt.Sprintf("unknown column %q: sort by %s", q.Sort, strings.Join(SortColumns, ", "))})
	}
	offset := 0
	if sorted && q.Cursor != "" {
		n, err := decodeOffset(q.Cursor)
		if err != nil {
			errs = append(errs, registry.FieldError{Location: "cursor", Message: "not a cursor this server gave out: start again without it"})
		}
		offset = n
	} else if q.Cursor != "" {
		pos, err := decodeCursor(q.Cursor)
		if err != nil {
			errs = append(errs, registry.FieldError{Location: "cursor", Message: "not a cursor this server gave out: start again without it"})
		}
		f.After = pos
	}
	if len(errs) > 0 {
		return nil, "", invalidAll(errs)
	}
	if q.ReviewDue {
		now := s.now()
		f.ReviewDueBy = &now
	}
	if q.Stagnant || q.NeedsDecision || sorted {
		// These are computed per risk; read the candidates, then page.
		if q.Stagnant {
			f.Status = keep(f.Status, registry.StatusActive, registry.StatusMitigating)
		}
		risks, err := s.store.ListRisks(ctx, f)
		if err != nil {
			return nil, "", err
		}
		now := s.now()
		out := risks[:0]
		for _, r := range risks {
			if q.Stagnant && !report.CheckStagnation(r, s.stagnantAfter, now).Stagnant {
				continue
			}
			if q.NeedsDecision && !NeedsDecision(r) {
				continue
			}
			out = append(out, r)
		}
		if !sorted {
			return page(out, q.Limit)
		}
		s.sortBy(out, q.Sort, q.Desc, now)
		return pageAt(out, offset, q.Limit)
	}
	if q.Limit > 0 {
		f.Limit = q.Limit + 1 // one more tells whether a next page exists
	}
	risks, err := s.store.ListRisks(ctx, f)
	if err != nil {
		return nil, "", err
	}
	return page(risks, q.Limit)
}

// NeedsDecision reports whether a person closed the risk's current epic as
// not planned while the risk is still open (the report's rule).
func NeedsDecision(r *registry.Risk) bool {
	l := r.CurrentLink()
	return l != nil && l.State == registry.LinkNotPlanned && !r.Status.Decided()
}

// Stagnation applies the stagnation rule to r now.
func (s *Service) Stagnation(r *registry.Risk) report.Stagnation {
	return report.CheckStagnation(r, s.stagnantAfter, s.now())
}

// Bands are the scoring bands, highest first.
func (s *Service) Bands() []scoring.Band { return s.scoring.Bands }

// sortBy orders risks by a column, stably, so ties keep rank order. Unset
// values (no score, no owner, no review date) sort last either way.
func (s *Service) sortBy(risks []*registry.Risk, col string, desc bool, now time.Time) {
	idle := map[int64]time.Duration{}
	if col == "idle" {
		for _, r := range risks {
			idle[r.ID] = report.CheckStagnation(r, s.stagnantAfter, now).Idle
		}
	}
	cmpOpt := func(aSet, bSet bool, c int) (int, bool) {
		switch {
		case aSet && bSet:
			return c, false
		case aSet:
			return -1, true
		case bSet:
			return 1, true
		}
		return 0, true
	}
	slices.SortStableFunc(risks, func(a, b *registry.Risk) int {
		var c int
		switch col {
		case "score":
			v, fixed := cmpOpt(a.Score != nil, b.Score != nil, func() int {
				if a.Score == nil || b.Score == nil {
					return 0
				}
				return cmp.Compare(*a.Score, *b.Score)
			}())
			if fixed {
				return v
			}
			c = v
		case "key":
			c = cmp.Compare(a.ID, b.ID)
		case "title":
			c = strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title))
		case "owner":
			v, fixed := cmpOpt(a.Owner != "", b.Owner != "", strings.Compare(a.Owner, b.Owner))
			if fixed {
				return v
			}
			c = v
		case "status":
			c = strings.Compare(string(a.Status), string(b.Status))
		case "review_due":
			v, fixed := cmpOpt(a.ReviewDueAt != nil, b.ReviewDueAt != nil, func() int {
				if a.ReviewDueAt == nil || b.ReviewDueAt == nil {
					return 0
				}
				return a.ReviewDueAt.Compare(*b.ReviewDueAt)
			}())
			if fixed {
				return v
			}
			c = v
		case "idle":
			c = cmp.Compare(idle[a.ID], idle[b.ID])
		}
		if desc {
			c = -c
		}
		return c
	})
}

// pageAt pages a list sorted in memory; its cursor is an offset.
func pageAt(risks []*registry.Risk, offset, limit int) ([]*registry.Risk, string, error) {
	if offset > len(risks) {
		offset = len(risks)
	}
	risks = risks[offset:]
	if limit <= 0 || len(risks) <= limit {
		return risks, "", nil
	}
	return risks[:limit], base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset+limit))), nil
}

func decodeOffset(c string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(b), "o:") {
		return 0, fmt.Errorf("cursor %q", c)
	}
	return n, nil
}

func page(risks []*registry.Risk, limit int) ([]*registry.Risk, string, error) {
	if limit <= 0 || len(risks) <= limit {
		return risks, "", nil
	}
	last := risks[limit-1]
	return risks[:limit], encodeCursor(registry.RankPosition{Score: last.Score, ID: last.ID}), nil
}

// keep narrows statuses to allowed ones (all allowed when none was asked).
func keep(asked []registry.Status, allowed ...registry.Status) []registry.Status {
	if len(asked) == 0 {
		return allowed
	}
	var out []registry.Status
	for _, a := range asked {
		for _, ok := range allowed {
			if a == ok {
				out = append(out, a)
			}
		}
	}
	if out == nil {
		out = []registry.Status{"none"} // nothing asked can be stagnant
	}
	return out
}

func (s *Service) bandNames() []string {
	names := make([]string, len(s.scoring.Bands))
	for i, b := range s.scoring.Bands {
		names[i] = b.Name
	}
	return names
}

// A cursor is the rank position of the last risk of a page.
func encodeCursor(p registry.RankPosition) string {
	v := "u:" + strconv.FormatInt(p.ID, 10)
	if p.Score != nil {
		v = strconv.FormatFloat(*p.Score, 'g', -1, 64) + ":" + strconv.FormatInt(p.ID, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(v))
}

func decodeCursor(c string) (*registry.RankPosition, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, err
	}
	score, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return nil, fmt.Errorf("cursor %q", c)
	}
	p := &registry.RankPosition{}
	if p.ID, err = strconv.ParseInt(id, 10, 64); err != nil || p.ID < 1 {
		return nil, fmt.Errorf("cursor %q", c)
	}
	if score != "u" {
		v, err := strconv.ParseFloat(score, 64)
		if err != nil {
			return nil, err
		}
		p.Score = &v
	}
	return p, nil
}

func invalidAll(errs []registry.FieldError) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Location + ": " + e.Message
	}
	return &registry.Error{Code: registry.EINVALID, Message: strings.Join(msgs, "; "), Fields: errs}
}

// Now is the service's clock, for pages that show what is due.
func (s *Service) Now() time.Time { return s.now() }
