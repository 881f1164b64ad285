package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/service"
)

// Opt is a merge-patch member: absent leaves the value alone, null clears
// it, anything else sets it (RFC 7396). It maps onto service.Field.
type Opt[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON is called for null too, which is how a clear is told from
// an absent member.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set, o.Value = true, nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// Schema documents the member as its type or null.
func (Opt[T]) Schema(r huma.Registry) *huma.Schema {
	s := huma.SchemaFromType(r, reflect.TypeFor[T]())
	s.Nullable = true
	return s
}

func (o Opt[T]) field() service.Field[T] { return service.Field[T]{Set: o.Set, Value: o.Value} }

// RiskFields are the writable fields of a risk other than the title.
type RiskFields struct {
	Description   Opt[string]  `json:"description" required:"false" doc:"Free text, at most 64 KiB; null clears it"`
	Impact        Opt[int]     `json:"impact" required:"false" doc:"A rating from 1 to 5; null leaves the risk unscored"`
	Scope         Opt[int]     `json:"scope" required:"false" doc:"A rating from 1 to 5; null leaves the risk unscored"`
	Likelihood    Opt[int]     `json:"likelihood" required:"false" doc:"A rating from 1 to 5; null leaves the risk unscored"`
	ETTDMinutes   Opt[float64] `json:"ettd_minutes" required:"false" doc:"Estimated time to detect, minutes (zero or more)"`
	ETTRMinutes   Opt[float64] `json:"ettr_minutes" required:"false" doc:"Estimated time to repair, minutes (zero or more)"`
	ImpactPercent Opt[float64] `json:"impact_percent" required:"false" doc:"Share of users affected, more than 0 and at most 100"`
	ETTFDays      Opt[float64] `json:"ettf_days" required:"false" doc:"Estimated time between failures, days (more than 0)"`
	Owner         Opt[string]  `json:"owner" required:"false" doc:"A configured team's name or alias; null leaves the risk unowned"`
	Status        Opt[string]  `json:"status" required:"false" doc:"active, accepted or retired (mitigating and mitigated come from the tracker)"`
	StatusReason  Opt[string]  `json:"status_reason" required:"false" doc:"Why the risk is accepted or retired; required with those statuses"`
	AcceptedUntil Opt[string]  `json:"accepted_until" required:"false" format:"date" doc:"When an acceptance ends (YYYY-MM-DD, in the future); null for no end"`
}

// CreateRisk is the body of POST /api/v1/risks.
type CreateRisk struct {
	Title string `json:"title" minLength:"1" doc:"One line naming the failure mode, at most 300 bytes"`
	RiskFields
}

// PatchRisk is the body of PATCH /api/v1/risks/{key}: a JSON merge patch
// of the writable fields.
type PatchRisk struct {
	Title Opt[string] `json:"title" required:"false" doc:"One line naming the failure mode, at most 300 bytes"`
	RiskFields
}

// ReviewBody is the body of POST /api/v1/risks/{key}/review.
type ReviewBody struct {
	Note string `json:"note" required:"false" doc:"What the review found; recorded in the history"`
}

// change maps the body onto the service's Change; a date that does not
// parse is reported where it was sent.
func (f RiskFields) change(title Opt[string]) (service.Change, error) {
	c := service.Change{Title: title.field(), Description: f.Description.field(), Impact: f.Impact.field(),
		Scope: f.Scope.field(), Likelihood: f.Likelihood.field(), ETTDMinutes: f.ETTDMinutes.field(),
		ETTRMinutes: f.ETTRMinutes.field(), ImpactPercent: f.ImpactPercent.field(), ETTFDays: f.ETTFDays.field(),
		Owner: f.Owner.field(), StatusReason: f.StatusReason.field()}
	if f.Status.Set {
		c.Status = service.Field[registry.Status]{Set: true}
		if v := f.Status.Value; v != nil {
			st := registry.Status(strings.ToLower(strings.TrimSpace(*v)))
			c.Status.Value = &st
		}
	}
	if f.AcceptedUntil.Set {
		c.AcceptedUntil = service.Field[time.Time]{Set: true}
		if v := f.AcceptedUntil.Value; v != nil {
			d, err := time.Parse(time.DateOnly, *v)
			if err != nil {
				return c, newProblem(422, "body.accepted_until: "+fmt.Sprintf("%q is not a date: use YYYY-MM-DD", *v),
					ProblemField{Location: "body.accepted_until", Message: fmt.Sprintf("%q is not a date: use YYYY-MM-DD", *v)})
			}
			c.AcceptedUntil.Value = &d
		}
	}
	return c, nil
}
