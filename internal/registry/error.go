package registry

import (
	"errors"
	"fmt"
)

// Error codes. They classify failures so the CLI, the HTTP layer and the sync
// engine can react (exit code, status code, retry) without parsing messages.
const (
	ECONFLICT    = "conflict"    // a concurrent change won, or a unique value exists
	EINTERNAL    = "internal"    // a bug or an unexpected storage failure
	EINVALID     = "invalid"     // the input is wrong; the message says what and where
	ENOTFOUND    = "not_found"   // the thing does not exist
	EUNAVAILABLE = "unavailable" // a dependency (database, tracker) cannot be reached
	// EUNAUTHORIZED: no valid credentials. EFORBIDDEN: valid, but this
	// principal may not do this. EPRECONDITION: the caller's version of the
	// risk is stale (If-Match); nothing was written.
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EPRECONDITION = "precondition_failed"
)

// Error is a domain error: a code for programs and a message for people.
type Error struct {
	Code    string
	Message string
	// Fields names each bad input when there are several (EINVALID).
	Fields []FieldError
}

// FieldError is one bad input: where (a field name such as "impact", or
// "line 12: impact" for an import) and what is wrong, worded for people.
type FieldError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
