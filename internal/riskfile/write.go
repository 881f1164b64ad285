package riskfile

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Write writes risks, in the order given (the registry's ranking), in
// Parse's columns as csv or json: importing the output changes nothing.
// CSV cells a spreadsheet would run as formulas are escaped (see the
// package documentation).
func Write(w io.Writer, format string, risks []*registry.Risk) error {
	switch strings.ToLower(format) {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(Columns); err != nil {
			return err
		}
		rec := make([]string, len(Columns))
		for _, r := range risks {
			for i, v := range cells(r) {
				rec[i] = escapeCell(v)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case JSON:
		items := make([]item, len(risks))
		for i, r := range risks {
			items[i] = itemOf(r)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	return registry.Errorf(registry.EINVALID, "unknown export format %q: use csv or json", format)
}

// cells renders r in Columns' order; "" for what is not set.
func cells(r *registry.Risk) []string {
	return []string{r.Key, r.Title, r.Description, intText(r.Impact), intText(r.Scope), intText(r.Likelihood), r.Owner,
		string(r.Status), r.StatusReason, dateText(r.AcceptedUntil), dateText(r.LastReviewedAt),
		floatText(r.ETTDMinutes), floatText(r.ETTRMinutes), floatText(r.ImpactPercent), floatText(r.ETTFDays)}
}

// item is a risk in JSON, in Columns' names and order; null where unset.
type item struct {
	Key           string   `json:"key"`
	Title         string   `json:"title"`
	Description   string   `json:"description"`
	Impact        *int     `json:"impact"`
	Scope         *int     `json:"scope"`
	Likelihood    *int     `json:"likelihood"`
	Owner         *string  `json:"owner"`
	Status        string   `json:"status"`
	StatusReason  *string  `json:"status_reason"`
	AcceptedUntil *string  `json:"accepted_until"`
	LastReviewed  *string  `json:"last_reviewed"`
	ETTDMinutes   *float64 `json:"ettd_minutes"`
	ETTRMinutes   *float64 `json:"ettr_minutes"`
	ImpactPercent *float64 `json:"impact_percent"`
	ETTFDays      *float64 `json:"ettf_days"`
}

func itemOf(r *registry.Risk) item {
	return item{Key: r.Key, Title: r.Title, Description: r.Description, Impact: r.Impact, Scope: r.Scope,
		Likelihood: r.Likelihood, Owner: optional(r.Owner), Status: string(r.Status), StatusReason: optional(r.StatusReason),
		AcceptedUntil: optional(dateText(r.AcceptedUntil)), LastReviewed: optional(dateText(r.LastReviewedAt)),
		ETTDMinutes: r.ETTDMinutes, ETTRMinutes: r.ETTRMinutes, ImpactPercent: r.ImpactPercent, ETTFDays: r.ETTFDays}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intText(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func floatText(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func dateText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}
