package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// timeLayout is fixed-width and UTC, so SQLite TEXT columns sort and compare
// as times; PostgreSQL casts it into timestamptz.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// dbTime reads a nullable time from either database and writes the fixed layout.
type dbTime struct {
	Time  time.Time
	Valid bool
}

func someTime(t time.Time) dbTime { return dbTime{Time: registry.Truncate(t), Valid: true} }

func optTime(p *time.Time) dbTime {
	if p == nil {
		return dbTime{}
	}
	return someTime(*p)
}

func (t dbTime) ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = dbTime{}
		return nil
	case time.Time:
		*t = someTime(v)
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	}
	return fmt.Errorf("cannot read %T as a time", src)
}

func (t *dbTime) parse(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("cannot read %q as a time: %w", s, err)
	}
	*t = someTime(v)
	return nil
}

func (t dbTime) Value() (driver.Value, error) {
	if !t.Valid {
		return nil, nil
	}
	return t.Time.UTC().Format(timeLayout), nil
}

type riskRow struct {
	ID             int64           `db:"id"`
	Title          string          `db:"title"`
	Description    string          `db:"description"`
	Impact         sql.NullInt64   `db:"impact"`
	Scope          sql.NullInt64   `db:"scope"`
	Likelihood     sql.NullInt64   `db:"likelihood"`
	ETTDMinutes    sql.NullFloat64 `db:"ettd_minutes"`
	ETTRMinutes    sql.NullFloat64 `db:"ettr_minutes"`
	ImpactPercent  sql.NullFloat64 `db:"impact_percent"`
	ETTFDays       sql.NullFloat64 `db:"ettf_days"`
	Score          sql.NullFloat64 `db:"score"`
	Band           sql.NullString  `db:"band"`
	ReviewDueAt    dbTime          `db:"review_due_at"`
	Owner          sql.NullString  `db:"owner"`
	Status         string          `db:"status"`
	LastReviewedAt dbTime          `db:"last_reviewed_at"`
	CreatedAt      dbTime          `db:"created_at"`
	UpdatedAt      dbTime          `db:"updated_at"`
	Version        int64           `db:"version"`
	StatusReason   string          `db:"status_reason"`
	AcceptedUntil  dbTime          `db:"accepted_until"`
}

const riskColumns = `id, title, description, impact, scope, likelihood, ettd_minutes, ettr_minutes,
	impact_percent, ettf_days, score, band, review_due_at, owner, status, last_reviewed_at,
	created_at, updated_at, version, status_reason, accepted_until`

func (r *riskRow) risk() *registry.Risk {
	return &registry.Risk{
		ID: r.ID, Key: registry.FormatKey(r.ID), Title: r.Title, Description: r.Description,
		Impact: nullInt(r.Impact), Scope: nullInt(r.Scope), Likelihood: nullInt(r.Likelihood),
		ETTDMinutes: nullFloat(r.ETTDMinutes), ETTRMinutes: nullFloat(r.ETTRMinutes),
		ImpactPercent: nullFloat(r.ImpactPercent), ETTFDays: nullFloat(r.ETTFDays),
		Score: nullFloat(r.Score), Band: r.Band.String, ReviewDueAt: r.ReviewDueAt.ptr(),
		Owner: r.Owner.String, Status: registry.Status(r.Status), LastReviewedAt: r.LastReviewedAt.ptr(),
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time, Version: r.Version,
		StatusReason: r.StatusReason, AcceptedUntil: r.AcceptedUntil.ptr(),
		Links: []registry.Link{}, Sources: []registry.Source{},
	}
}

// values returns the writable columns of a risk in riskColumns order, without id.
func riskValues(r *registry.Risk) []any {
	return []any{r.Title, r.Description, intArg(r.Impact), intArg(r.Scope), intArg(r.Likelihood),
		floatArg(r.ETTDMinutes), floatArg(r.ETTRMinutes), floatArg(r.ImpactPercent), floatArg(r.ETTFDays),
		floatArg(r.Score), strArg(r.Band), optTime(r.ReviewDueAt), strArg(r.Owner), string(r.Status),
		optTime(r.LastReviewedAt), someTime(r.CreatedAt), someTime(r.UpdatedAt), r.Version, r.StatusReason, optTime(r.AcceptedUntil)}
}

type linkRow struct {
	RiskID         int64  `db:"risk_id"`
	Tracker        string `db:"tracker"`
	Key            string `db:"key"`
	URL            string `db:"url"`
	State          string `db:"state"`
	ChildrenTotal  int    `db:"children_total"`
	ChildrenDone   int    `db:"children_done"`
	LastActivityAt dbTime `db:"last_activity_at"`
	Current        bool   `db:"current"`
	CreatedAt      dbTime `db:"created_at"`
	UpdatedAt      dbTime `db:"updated_at"`
}

const linkColumns = `risk_id, tracker, key, url, state, children_total, children_done, last_activity_at, current, created_at, updated_at`

func (l *linkRow) link() registry.Link {
	return registry.Link{Tracker: l.Tracker, Key: l.Key, URL: l.URL, State: registry.LinkState(l.State),
		ChildrenTotal: l.ChildrenTotal, ChildrenDone: l.ChildrenDone, LastActivityAt: l.LastActivityAt.ptr(),
		Current: l.Current, CreatedAt: l.CreatedAt.Time, UpdatedAt: l.UpdatedAt.Time}
}

type sourceRow struct {
	RiskID     int64  `db:"risk_id"`
	Tracker    string `db:"tracker"`
	Key        string `db:"key"`
	URL        string `db:"url"`
	Position   int    `db:"position"`
	Recurrence bool   `db:"recurrence"`
	CreatedAt  dbTime `db:"created_at"`
}

const sourceColumns = `risk_id, tracker, key, url, position, recurrence, created_at`

func (s *sourceRow) source() registry.Source {
	return registry.Source{Tracker: s.Tracker, Key: s.Key, URL: s.URL, Position: s.Position,
		Recurrence: s.Recurrence, CreatedAt: s.CreatedAt.Time}
}

type historyRow struct {
	ID       int64          `db:"id"`
	RiskID   int64          `db:"risk_id"`
	At       dbTime         `db:"at"`
	Actor    string         `db:"actor"`
	Field    string         `db:"field"`
	OldValue sql.NullString `db:"old_value"`
	NewValue sql.NullString `db:"new_value"`
}

func nullInt(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

func nullFloat(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	v := n.Float64
	return &v
}

func nullStr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	v := n.String
	return &v
}

func intArg(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func floatArg(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func strArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func ptrArg(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
