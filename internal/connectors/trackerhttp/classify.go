package trackerhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// DeferredError is returned instead of sending a request while a known rate
// limit lasts longer than MaxWait (Config.HoldWhileLimited).
// Classify makes it a retryable TrackerError with RetryAt Until.
type DeferredError struct{ Until time.Time }

func (e *DeferredError) Error() string {
	return "rate limited until " + e.Until.UTC().Format(time.RFC3339) + "; deferred"
}

// FixFunc says what a person must change after a terminal answer (401,
// 403, 404, 410, 422 …); "" when nothing useful can be said.
type FixFunc func(status int, resp *http.Response) string

// Classify turns a failed exchange into a *registry.TrackerError. resp is
// the last answer, nil when none arrived; err is what the tracker library
// returned, or the connector's rendering of the answer's error body, and
// becomes TrackerError.Err. A cancelled context is returned wrapped, not as
// a TrackerError: stopping was the caller's decision. An error that is
// already classified is returned as it is.
func (c *Client) Classify(op string, resp *http.Response, err error, fix FixFunc) error {
	if err == nil && resp == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %s: %w", c.cfg.Tracker, op, err)
	}
	var re *registry.Error
	var already *registry.TrackerError
	if errors.As(err, &re) || errors.As(err, &already) {
		return err
	}
	te := &registry.TrackerError{Tracker: c.cfg.Tracker, Op: op, Err: err}
	var de *DeferredError
	switch {
	case errors.As(err, &de):
		te.Retryable, te.RetryAt, te.Err = true, de.Until, de // without the URL around it
		return te
	case resp == nil:
		// No answer (network failure, timeout): the request may or may not
		// have been applied; a later attempt may succeed.
		te.Retryable = true
		te.Err = fmt.Errorf("no response: %w", stripURL(err))
		return te
	}
	if te.Err == nil {
		te.Err = errors.New(http.StatusText(resp.StatusCode))
	}
	te.Status = resp.StatusCode
	if until, limited := limitOf(resp); limited {
		if b := c.BlockedUntil(); b.After(until) {
			until = b // never before a limit another request saw ends
		}
		te.Retryable, te.RetryAt = true, until
		return te
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		te.Retryable = true
		if d, ok := RetryAfter(resp.Header, c.cfg.Now()); ok {
			te.RetryAt = c.cfg.Now().Add(d)
		}
	case s >= 500:
		te.Retryable = true
	case fix != nil:
		te.Fix = fix(s, resp)
	}
	return te
}

// UnknownOutcome reports whether a failed write may have been applied: no
// answer, or a 5xx that is not a rate limit. resp is the last answer.
func UnknownOutcome(resp *http.Response, err error) bool {
	var de *DeferredError
	if errors.As(err, &de) || errors.Is(err, context.Canceled) {
		return false
	}
	if resp == nil {
		return err != nil
	}
	if _, limited := limitOf(resp); limited {
		return false
	}
	return resp.StatusCode >= 500
}

// stripURL keeps the cause of a transport error without the request URL,
// which may carry a query with secrets.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
