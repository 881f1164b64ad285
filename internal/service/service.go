// Package service is the one place where the registry's rules for people
// live: authorisation, validation, decisions with reasons, and the history
// actor. The CLI, the HTTP API, the web UI and tracker commands all call it;
// none of them holds a business rule.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/scoring"
)

// Store is the part of the registry the service uses.
type Store interface {
	registry.Store
}

// Options wire a Service.
type Options struct {
	Store   Store
	Routing registry.Routing
	Scoring scoring.Config
	// StagnantAfter is the stagnation threshold (config stagnation.after).
	StagnantAfter time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
	// Reports generates the weekly report (report.Generate over the store);
	// nil where no report is needed.
	Reports func(ctx context.Context, opts report.Options) (*report.Report, error)
}

// Service applies people's requests to the registry.
type Service struct {
	store         Store
	routing       registry.Routing
	scoring       scoring.Config
	stagnantAfter time.Duration
	now           func() time.Time
	log           *slog.Logger
	reports       func(ctx context.Context, opts report.Options) (*report.Report, error)
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StagnantAfter <= 0 {
		opts.StagnantAfter = 14 * 24 * time.Hour
	}
	return &Service{store: opts.Store, routing: opts.Routing, scoring: opts.Scoring, stagnantAfter: opts.StagnantAfter,
		now: opts.Now, log: opts.Logger, reports: opts.Reports}
}

// Field is an optional input: Set says it was given (a flag, a JSON key);
// a nil Value then clears it (JSON null, an empty flag). It is defined in
// registry so import files parse into it without importing the service.
type Field[T any] = registry.Field[T]

// Some returns a set field holding v.
func Some[T any](v T) Field[T] { return Field[T]{Set: true, Value: &v} }

// Null returns a set field that clears the value.
func Null[T any]() Field[T] { return Field[T]{Set: true} }

// Change is what a person asks to change on a risk (or to create one with).
type Change struct {
	Title, Description                                Field[string]
	Impact, Scope, Likelihood                         Field[int]
	ETTDMinutes, ETTRMinutes, ImpactPercent, ETTFDays Field[float64]
	Owner                                             Field[string] // a team name or alias
	Status                                            Field[registry.Status]
	StatusReason                                      Field[string]
	AcceptedUntil                                     Field[time.Time] // a date (UTC midnight)
}

// Empty reports whether nothing is asked.
func (c Change) Empty() bool {
	return !(c.Title.Set || c.Description.Set || c.Impact.Set || c.Scope.Set || c.Likelihood.Set || c.ETTDMinutes.Set ||
		c.ETTRMinutes.Set || c.ImpactPercent.Set || c.ETTFDays.Set || c.Owner.Set || c.Status.Set || c.StatusReason.Set || c.AcceptedUntil.Set)
}

func forbidden(format string, args ...any) error {
	return registry.Errorf(registry.EFORBIDDEN, format, args...)
}

func (s *Service) canRead(who registry.Principal) error {
	if !who.CanRead() {
		return registry.Errorf(registry.EUNAUTHORIZED, "%s may not read the registry", actorName(who))
	}
	return nil
}

func actorName(who registry.Principal) string {
	if who.Actor == "" {
		return "this caller"
	}
	return who.Actor
}

func (s *Service) canEdit(who registry.Principal, owner string) error {
	if who.CanEdit(owner) {
		return nil
	}
	if who.Role == registry.RoleReader || who.Role == "" {
		return forbidden("%s has the reader role: it may read the registry but not change it", actorName(who))
	}
	target := "unowned risks"
	if owner != "" {
		target = "risks owned by " + owner
	}
	return forbidden("%s may change only risks of %s, not %s", actorName(who), strings.Join(who.Teams, ", "), target)
}

// ResolveOwner maps a team name or alias to the team's name; "" stays unowned.
func (s *Service) ResolveOwner(name string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", nil
	}
	if t := s.routing.MatchTeam(name); t != nil {
		return t.Name, nil
	}
	if len(s.routing.Teams) == 0 {
		return "", invalid("owner", fmt.Sprintf("unknown team %q: no teams are configured (list them under teams: in the config file)", name))
	}
	return "", invalid("owner", fmt.Sprintf("unknown team %q: teams are %s", name, strings.Join(s.routing.TeamNames(), ", ")))
}

// invalid is an EINVALID error naming one field; its message is the
// field's, prefixed the way the CLI prints it.
func invalid(field, msg string) error {
	return &registry.Error{Code: registry.EINVALID, Message: field + ": " + msg, Fields: []registry.FieldError{{Location: field, Message: msg}}}
}

// Teams lists the configured teams and where their epics go.
func (s *Service) Teams(who registry.Principal) ([]registry.Team, error) {
	if err := s.canRead(who); err != nil {
		return nil, err
	}
	return s.routing.Teams, nil
}

// Get returns a risk and its history (the newest historyLimit entries; 0 for all).
func (s *Service) Get(ctx context.Context, who registry.Principal, key string, historyLimit int) (*registry.Risk, []registry.HistoryEntry, error) {
	if err := s.canRead(who); err != nil {
		return nil, nil, err
	}
	r, err := s.store.FindRisk(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	h, err := s.store.History(ctx, r.Key, historyLimit)
	if err != nil {
		return nil, nil, err
	}
	return r, h, nil
}

// Create adds a risk. An editor limited to teams may create risks only for them.
func (s *Service) Create(ctx context.Context, who registry.Principal, c Change) (*registry.Risk, error) {
	if !c.Title.Set || c.Title.Value == nil || strings.TrimSpace(*c.Title.Value) == "" {
		return nil, invalid("title", "required: one line naming the failure mode")
	}
	r := &registry.Risk{Status: registry.StatusActive}
	if err := s.apply(r, c); err != nil {
		return nil, err
	}
	if err := s.canEdit(who, r.Owner); err != nil {
		return nil, err
	}
	return s.store.CreateRisk(ctx, r, who.Actor)
}

// Update applies c to a risk. ifVersion > 0 is the version the caller saw
// (If-Match): a stale one fails with EPRECONDITION and writes nothing.
// Both the risk's current owner and a new one must be within the
// principal's teams.
func (s *Service) Update(ctx context.Context, who registry.Principal, key string, c Change, ifVersion int64) (*registry.Risk, error) {
	if !who.CanRead() {
		return nil, s.canRead(who)
	}
	if who.Role == registry.RoleReader {
		return nil, s.canEdit(who, "")
	}
	// An error inside the row lock rolls back: bad input writes nothing.
	return s.store.UpdateRisk(ctx, key, who.Actor, func(r *registry.Risk) error {
		if ifVersion > 0 && r.Version != ifVersion {
			return registry.Errorf(registry.EPRECONDITION, "%s changed since version %d (it is at version %d): read it again and retry", r.Key, ifVersion, r.Version)
		}
		if err := s.canEdit(who, r.Owner); err != nil {
			return err
		}
		if err := s.apply(r, c); err != nil {
			return err
		}
		return s.canEdit(who, r.Owner)
	})
}

// Review records a review of a risk, with an optional note.
func (s *Service) Review(ctx context.Context, who registry.Principal, key, note string) (*registry.Risk, error) {
	if err := s.canRead(who); err != nil {
		return nil, err
	}
	r, err := s.store.FindRisk(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := s.canEdit(who, r.Owner); err != nil {
		return nil, err
	}
	return s.store.ReviewRisk(ctx, key, who.Actor, note)
}
