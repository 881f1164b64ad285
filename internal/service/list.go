package service

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
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
	Limit     int    // 0: all
	Cursor    string // from the previous page's next cursor
}

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
	if q.Cursor != "" {
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
	if q.Stagnant {
		// Stagnation is computed per risk; read the candidates, then page.
		f.Status = keep(f.Status, registry.StatusActive, registry.StatusMitigating)
		risks, err := s.store.ListRisks(ctx, f)
		if err != nil {
			return nil, "", err
		}
		now := s.now()
		out := risks[:0]
		for _, r := range risks {
			if report.CheckStagnation(r, s.stagnantAfter, now).Stagnant {
				out = append(out, r)
			}
		}
		return page(out, q.Limit)
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
