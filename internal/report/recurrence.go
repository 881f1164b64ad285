package report

import (
	"fmt"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// recurrences fills the recurring risks and, in suggest mode, the
// likelihoods their recurrences call for. Risks come ranked, and so do
// both lists.
func (b *builder) recurrences(rep *Report, risks []*registry.Risk) {
	rc := b.d.Scoring.Recurrence
	rep.RecurrenceWindowDays = rc.Window.Hours() / 24
	rep.RecurrenceMode = rc.Mode
	if rep.RecurrenceMode == "" {
		rep.RecurrenceMode = scoring.RecurrenceOff
	}
	for _, r := range risks {
		occ := scoring.Occurrences(r)
		n := rc.InWindow(occ, b.now)
		if n >= 2 {
			last := occ[len(occ)-1]
			rep.Recurring = append(rep.Recurring, Recurring{
				Entry:       b.entry(r, fmt.Sprintf("%d occurrences in the last %s", n, days(int(rep.RecurrenceWindowDays)))),
				Occurrences: n, TotalOccurrences: len(occ), LastAt: last.At,
				LastSource: Source{Tracker: last.Source.Tracker, Key: last.Source.Key, URL: last.Source.URL}})
		}
		if rc.Mode != scoring.RecurrenceSuggest {
			continue
		}
		p, ok := rc.Propose(r, b.now)
		if !ok {
			continue
		}
		in := scoring.InputsOf(r)
		in.Likelihood = p.To
		res := b.d.Scoring.Evaluate(in)
		s := Suggestion{Entry: b.entry(r, fmt.Sprintf("likelihood %s → %d: %d occurrences in the last %s; apply with risksync risk update %s --likelihood %d",
			rating(p.From), *p.To, p.Occurrences, days(int(rep.RecurrenceWindowDays)), r.Key, *p.To)),
			Occurrences: p.Occurrences, LikelihoodFrom: p.From, LikelihoodTo: *p.To, ScoreTo: res.Score}
		if res.Band != nil {
			s.BandTo = &res.Band.Name
		}
		rep.LikelihoodSuggestions = append(rep.LikelihoodSuggestions, s)
	}
}

// expired lists the acceptances the sync engine ended in the window, from
// its history entries (actor expiry): the risk is active again.
func (b *builder) expired(history []registry.HistoryEntry) []Expired {
	out := []Expired{}
	at := map[string]int{}
	for _, h := range history {
		r := b.byKey[h.RiskKey]
		if r == nil || h.Actor != registry.ActorExpiry {
			continue
		}
		i, ok := at[h.RiskKey]
		if !ok {
			i = len(out)
			at[h.RiskKey] = i
			out = append(out, Expired{Entry: b.entry(r, ""), ExpiredAt: h.At.UTC()})
		}
		switch h.Field {
		case "accepted_until":
			out[i].AcceptedUntil = dateOnly(h.OldValue)
		case "status_reason":
			out[i].AcceptReason = h.OldValue
		}
	}
	for i := range out {
		e := &out[i]
		e.Reason = "accepted until " + orNone(e.AcceptedUntil) + ", now " + string(b.byKey[e.Key].Status) + ": decide again or plan the work"
	}
	sortByRank(b.rank, out, func(e Expired) string { return e.Key })
	return out
}

// dateOnly reads the date of an RFC 3339 history value.
func dateOnly(v *string) *string {
	if v == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return v
	}
	d := t.UTC().Format(time.DateOnly)
	return &d
}

func rating(p *int) string {
	if p == nil {
		return "unrated"
	}
	return fmt.Sprint(*p)
}
