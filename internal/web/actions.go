package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/service"
)

// An action turns a form into a service call and names what it did.
type action func(u *UI, r *http.Request, who registry.Principal, key string, version int64) (string, error)

// actions are the editors' forms on a risk page, by path.
var actions = map[string]action{
	"review": func(u *UI, r *http.Request, who registry.Principal, key string, _ int64) (string, error) {
		_, err := u.svc.Review(r.Context(), who, key, strings.TrimSpace(r.PostFormValue("note")))
		return "Review recorded", err
	},
	"rate": func(u *UI, r *http.Request, who registry.Principal, key string, version int64) (string, error) {
		var c service.Change
		var bad []registry.FieldError
		for _, f := range []struct {
			name string
			dst  *service.Field[int]
		}{{"impact", &c.Impact}, {"scope", &c.Scope}, {"likelihood", &c.Likelihood}} {
			if s := r.PostFormValue(f.name); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil {
					bad = append(bad, registry.FieldError{Location: f.name, Message: fmt.Sprintf("%q is not a rating: use a whole number from 1 to 5", s)})
					continue
				}
				*f.dst = service.Some(n)
			}
		}
		if len(bad) > 0 {
			return "", &registry.Error{Code: registry.EINVALID, Message: bad[0].Location + ": " + bad[0].Message, Fields: bad}
		}
		return u.update(r, who, key, c, version, "Ratings saved")
	},
	"owner": func(u *UI, r *http.Request, who registry.Principal, key string, version int64) (string, error) {
		return u.update(r, who, key, service.Change{Owner: service.Some(r.PostFormValue("owner"))}, version, "Owner changed")
	},
	"accept": func(u *UI, r *http.Request, who registry.Principal, key string, version int64) (string, error) {
		c := service.Change{Status: service.Some(registry.StatusAccepted), StatusReason: service.Some(r.PostFormValue("reason"))}
		if s := r.PostFormValue("until"); s != "" {
			d, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return "", &registry.Error{Code: registry.EINVALID, Message: "accepted_until: not a date",
					Fields: []registry.FieldError{{Location: "accepted_until", Message: fmt.Sprintf("%q is not a date (YYYY-MM-DD)", s)}}}
			}
			c.AcceptedUntil = service.Some(d)
		}
		return u.update(r, who, key, c, version, "Risk accepted")
	},
	"retire": func(u *UI, r *http.Request, who registry.Principal, key string, version int64) (string, error) {
		c := service.Change{Status: service.Some(registry.StatusRetired), StatusReason: service.Some(r.PostFormValue("reason"))}
		return u.update(r, who, key, c, version, "Risk retired")
	},
	"reactivate": func(u *UI, r *http.Request, who registry.Principal, key string, version int64) (string, error) {
		return u.update(r, who, key, service.Change{Status: service.Some(registry.StatusActive)}, version, "Risk reactivated")
	},
}

func (u *UI) update(r *http.Request, who registry.Principal, key string, c service.Change, version int64, done string) (string, error) {
	risk, err := u.svc.Update(r.Context(), who, key, c, version)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: %s is now %s, score %s.", done, risk.Key, risk.Status, scoreText(risk.Score)), nil
}

// act runs an action and redirects back to the risk with a flash message
// (post/redirect/get); a refusal or bad input renders the error instead.
func (u *UI) act(fn action) func(http.ResponseWriter, *http.Request, *view) {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		key := r.PathValue("key")
		// The version the form was rendered with: a change meanwhile is
		// refused rather than overwritten.
		version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
		msg, err := fn(u, r, v.Who, key, version)
		if err != nil {
			if c := registry.ErrorCode(err); c == registry.EINVALID || c == registry.EPRECONDITION {
				v.Error = err.Error()
				v.Fields = fieldsOf(err)
				u.showRisk(w, r, v, map[bool]int{true: http.StatusUnprocessableEntity, false: http.StatusConflict}[c == registry.EINVALID])
				return
			}
			u.fail(w, r, v, err)
			return
		}
		setFlash(w, r, u.authn, msg)
		http.Redirect(w, r, "/risks/"+key, http.StatusSeeOther)
	}
}

func fieldsOf(err error) []registry.FieldError {
	if e, ok := err.(*registry.Error); ok {
		return e.Fields
	}
	return nil
}

func scoreText(s *float64) string {
	if s == nil {
		return "none (unscored)"
	}
	return strconv.FormatFloat(*s, 'f', -1, 64)
}
