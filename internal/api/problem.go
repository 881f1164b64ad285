package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/risksync/risksync/internal/registry"
)

// ProblemContentType is the media type of every error (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is the body of every error response: one shape whether the
// service, huma's validation or the authentication refused the request.
type Problem struct {
	Type   string         `json:"type" doc:"Always about:blank: the status says what kind of problem it is"`
	Title  string         `json:"title" doc:"The HTTP status text"`
	Status int            `json:"status" doc:"The HTTP status code"`
	Detail string         `json:"detail" doc:"What went wrong, worded for people"`
	Errors []ProblemField `json:"errors" nullable:"false" doc:"Each bad input, when the request named some"`

	header http.Header // sent with the problem (WWW-Authenticate)
}

// ProblemField is one bad input.
type ProblemField struct {
	Location string `json:"location" doc:"Where: body.impact, query.status, path.key, header.If-Match, or line N: column for an import"`
	Message  string `json:"message" doc:"What is wrong, as the CLI says it"`
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(string) string { return ProblemContentType }

// GetHeaders lets huma send the problem's headers (huma.HeadersError).
func (p *Problem) GetHeaders() http.Header { return p.header }

func newProblem(status int, detail string, fields ...ProblemField) *Problem {
	if fields == nil {
		fields = []ProblemField{}
	}
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
}

func init() {
	// huma's own errors (validation, body too large, malformed JSON) take
	// the same shape as the service's.
	huma.NewError = humaError
	// Every list in the API is an array, never null (RiskView's links and
	// sources, the report's lists); huma documents arrays as nullable
	// unless told.
	huma.DefaultArrayNullable = false
}

// writableFields lists what a create or a patch may carry, for the message
// about an unknown field.
const writableFields = "title, description, impact, scope, likelihood, ettd_minutes, ettr_minutes, impact_percent, ettf_days, owner, status, status_reason, accepted_until"

func humaError(status int, msg string, errs ...error) huma.StatusError {
	var fields []ProblemField
	for _, err := range errs {
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			ed := d.ErrorDetail()
			fields = append(fields, ProblemField{Location: ed.Location, Message: reword(ed)})
			continue
		}
		if err != nil {
			fields = append(fields, ProblemField{Message: err.Error()})
		}
	}
	detail := msg
	switch {
	case status == http.StatusRequestEntityTooLarge:
		detail = fmt.Sprintf("the request body is over %d bytes (1 MiB): send less", MaxBody)
	case status == http.StatusUnsupportedMediaType:
		detail = "unsupported Content-Type: send application/json (or application/merge-patch+json for PATCH)"
	case status == http.StatusBadRequest && len(fields) == 1 && fields[0].Location == "body":
		detail = "the body is not valid JSON: " + fields[0].Message
	case len(fields) > 0:
		parts := make([]string, len(fields))
		for i, f := range fields {
			// Worded as the service words its errors: "impact: …".
			parts[i] = strings.TrimPrefix(strings.TrimPrefix(f.Location+": ", ": "), "body.") + f.Message
		}
		detail = strings.Join(parts, "; ")
	}
	return newProblem(status, detail, fields...)
}

// reword says huma's most common validation messages the way the CLI
// does, naming what is accepted.
func reword(ed *huma.ErrorDetail) string {
	field := ed.Location[strings.LastIndexByte(ed.Location, '.')+1:]
	switch {
	case ed.Message == "unexpected property":
		return fmt.Sprintf("unknown field %q: writable fields are %s", field, writableFields)
	case ed.Message == "expected integer" && (field == "impact" || field == "scope" || field == "likelihood"):
		return fmt.Sprintf("%s is not a rating: use a whole number from 1 to 5, or null", jsonText(ed.Value))
	case ed.Message == "invalid boolean":
		return fmt.Sprintf("%s is not a boolean: use true or false", jsonText(ed.Value))
	case ed.Message == "invalid integer":
		return fmt.Sprintf("%s is not a whole number", jsonText(ed.Value))
	case ed.Message == "expected string to be RFC 3339 date":
		return fmt.Sprintf("%s is not a date: use YYYY-MM-DD", jsonText(ed.Value))
	}
	return ed.Message
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// statusOf maps a registry error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case registry.EINVALID:
		return http.StatusUnprocessableEntity
	case registry.ENOTFOUND:
		return http.StatusNotFound
	case registry.ECONFLICT:
		return http.StatusConflict
	case registry.EPRECONDITION:
		return http.StatusPreconditionFailed
	case registry.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case registry.EFORBIDDEN:
		return http.StatusForbidden
	case registry.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
