package service

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// apply validates c and copies it onto r, resolving the owner and checking
// the decision rules: accepting or retiring needs a reason, an acceptance
// may end on a future date, and reactivating clears both.
func (s *Service) apply(r *registry.Risk, c Change) error {
	var errs []registry.FieldError
	bad := func(field, msg string) { errs = append(errs, registry.FieldError{Location: field, Message: msg}) }
	if c.Title.Set {
		t := ""
		if c.Title.Value != nil {
			t = strings.TrimSpace(*c.Title.Value)
		}
		switch {
		case t == "":
			bad("title", "required: one line naming the failure mode")
		case strings.ContainsAny(t, "\r\n"):
			bad("title", "must be one line")
		case len(t) > registry.MaxTitleLen:
			bad("title", fmt.Sprintf("%d bytes long; at most %d", len(t), registry.MaxTitleLen))
		default:
			r.Title = t
		}
	}
	if c.Description.Set {
		r.Description = ""
		if c.Description.Value != nil {
			r.Description = *c.Description.Value
		}
		if len(r.Description) > registry.MaxDescriptionLen {
			bad("description", fmt.Sprintf("%d bytes long; at most %d", len(r.Description), registry.MaxDescriptionLen))
		}
	}
	for _, f := range []struct {
		name string
		in   Field[int]
		dst  **int
	}{{"impact", c.Impact, &r.Impact}, {"scope", c.Scope, &r.Scope}, {"likelihood", c.Likelihood, &r.Likelihood}} {
		if !f.in.Set {
			continue
		}
		if v := f.in.Value; v != nil && (*v < 1 || *v > 5) {
			bad(f.name, fmt.Sprintf("%q is not a rating: use a whole number from 1 to 5", fmt.Sprint(*v)))
			continue
		}
		*f.dst = clone(f.in.Value)
	}
	for _, f := range []struct {
		name     string
		in       Field[float64]
		dst      **float64
		positive bool
	}{{"ettd_minutes", c.ETTDMinutes, &r.ETTDMinutes, false}, {"ettr_minutes", c.ETTRMinutes, &r.ETTRMinutes, false},
		{"impact_percent", c.ImpactPercent, &r.ImpactPercent, true}, {"ettf_days", c.ETTFDays, &r.ETTFDays, true}} {
		if !f.in.Set {
			continue
		}
		if v := f.in.Value; v != nil {
			bound := "zero or more"
			if f.positive {
				bound = "more than zero"
			}
			if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 || (f.positive && *v == 0) || *v > 1e9 || (f.name == "impact_percent" && *v > 100) {
				if f.name == "impact_percent" {
					bound = "more than zero and at most 100"
				}
				bad(f.name, fmt.Sprintf("%v is not a number %s", *v, bound))
				continue
			}
		}
		*f.dst = clone(f.in.Value)
	}
	if c.Owner.Set {
		name := ""
		if c.Owner.Value != nil {
			name = *c.Owner.Value
		}
		owner, err := s.ResolveOwner(name)
		if err != nil {
			errs = append(errs, fieldsOf(err)...)
		} else {
			r.Owner = owner
		}
	}
	s.applyDecision(r, c, bad)
	if len(errs) == 0 {
		return nil
	}
	return invalidAll(errs)
}

func (s *Service) applyDecision(r *registry.Risk, c Change, bad func(field, msg string)) {
	if c.Status.Set {
		if c.Status.Value == nil {
			bad("status", "cannot be empty: use active, accepted or retired")
			return
		}
		switch st := *c.Status.Value; st {
		case registry.StatusActive, registry.StatusAccepted, registry.StatusRetired:
			if st != r.Status {
				r.StatusReason, r.AcceptedUntil = "", nil // a new decision needs its own reason
			}
			r.Status = st
		case registry.StatusMitigating, registry.StatusMitigated:
			bad("status", fmt.Sprintf("status %q is set by the sync engine from the tracker; people may set active, accepted or retired", st))
			return
		default:
			bad("status", fmt.Sprintf("unknown status %q: use active, accepted or retired", st))
			return
		}
	}
	if c.StatusReason.Set {
		r.StatusReason = ""
		if c.StatusReason.Value != nil {
			r.StatusReason = strings.TrimSpace(*c.StatusReason.Value)
		}
	}
	if c.AcceptedUntil.Set {
		r.AcceptedUntil = nil
		if v := c.AcceptedUntil.Value; v != nil {
			d := time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC)
			today := s.now().UTC().Truncate(24 * time.Hour)
			if !d.After(today) {
				bad("accepted_until", fmt.Sprintf("%s is not in the future: an acceptance ends on a later date", d.Format(time.DateOnly)))
			}
			r.AcceptedUntil = &d
		}
	}
	if !c.Status.Set && !c.StatusReason.Set && !c.AcceptedUntil.Set {
		return // decisions made before reasons were required stand
	}
	switch r.Status {
	case registry.StatusAccepted, registry.StatusRetired:
		if r.StatusReason == "" {
			bad("status_reason", fmt.Sprintf("required when the status is %s: say why the risk is %s", r.Status, r.Status))
		}
		if r.Status == registry.StatusRetired && r.AcceptedUntil != nil {
			bad("accepted_until", "only an accepted risk has an end date")
		}
	default:
		if c.StatusReason.Set && r.StatusReason != "" {
			bad("status_reason", fmt.Sprintf("only an accepted or retired risk has a reason; %s is %s", r.Key, r.Status))
		}
		if r.AcceptedUntil != nil {
			bad("accepted_until", fmt.Sprintf("only an accepted risk has an end date; %s is %s", r.Key, r.Status))
		}
	}
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func fieldsOf(err error) []registry.FieldError {
	if e, ok := err.(*registry.Error); ok && len(e.Fields) > 0 {
		return e.Fields
	}
	return []registry.FieldError{{Location: "", Message: err.Error()}}
}
