// Package sqlstore implements registry.Store once on sqlx for both databases;
// registry/sqlite and registry/postgres open the connection, own the
// migrations and translate driver errors. Queries are written with "?" and
// rebound per driver.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/risksync/risksync/internal/registry"
)

// Dialect is what differs between the databases.
type Dialect struct {
	Name      string // "sqlite" or "postgres": prefixes every error
	RankOrder string // ORDER BY clause ranking risks by score, highest first, unscored last
	ForUpdate string // row-lock suffix for SELECT inside a write transaction ("" where the transaction itself locks)
	// MapError translates driver errors into registry errors where it can
	// (unique violation → ECONFLICT, unreachable → EUNAVAILABLE).
	MapError func(error) error
	// NotifyQuery, when set, is run after a fresh webhook delivery is queued,
	// so other replicas (the leader) wake up (PostgreSQL: pg_notify).
	NotifyQuery string
}

// Store implements registry.Store.
type Store struct {
	db      *sqlx.DB
	dialect Dialect
	derive  registry.Deriver
	now     func() time.Time

	// tx is set on the store a Batch hands out: every method then runs in
	// that transaction instead of its own.
	tx    *sqlx.Tx
	stmts map[string]*sqlx.Stmt // the batch's prepared statements, closed with tx

	statements *atomic.Int64 // shared with the batch stores
}

var _ registry.Store = (*Store)(nil)

// New wraps an open, migrated database.
func New(db *sqlx.DB, d Dialect, opts registry.StoreOptions) *Store {
	s := &Store{db: db, dialect: d, derive: opts.Derive, now: opts.Now, statements: new(atomic.Int64)}
	if s.derive == nil {
		s.derive = func(*registry.Risk) {}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.dialect.MapError == nil {
		s.dialect.MapError = func(err error) error { return err }
	}
	return s
}

// DB returns the underlying database, for packages that add their own tables.
func (s *Store) DB() *sqlx.DB { return s.db }

// Dialect returns the dialect the store was made with.
func (s *Store) Dialect() Dialect { return s.dialect }

// Statements returns how many SQL statements (including BEGIN and COMMIT)
// the store has sent: the cost benchmarks and tests count.
func (s *Store) Statements() int64 { return s.statements.Load() }

// Close closes the database.
func (s *Store) Close() error {
	if s.tx != nil {
		return registry.Errorf(registry.EINTERNAL, "%s: close inside a batch: close the store the batch came from", s.dialect.Name)
	}
	return s.db.Close()
}

// q is where queries go: the batch's transaction, or the pool.
func (s *Store) q() queryer {
	if s.tx != nil {
		return s.tx
	}
	return s.db
}

type queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) get(ctx context.Context, q queryer, dest any, query string, args ...any) error {
	s.statements.Add(1)
	q, query, err := s.prepared(ctx, q, s.db.Rebind(query))
	if err != nil {
		return err
	}
	return q.GetContext(ctx, dest, query, args...)
}

func (s *Store) selectAll(ctx context.Context, q queryer, dest any, query string, args ...any) error {
	s.statements.Add(1)
	q, query, err := s.prepared(ctx, q, s.db.Rebind(query))
	if err != nil {
		return err
	}
	return q.SelectContext(ctx, dest, query, args...)
}

func (s *Store) exec(ctx context.Context, q queryer, query string, args ...any) error {
	s.statements.Add(1)
	q, query, err := s.prepared(ctx, q, s.db.Rebind(query))
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, query, args...)
	return err
}

// prepared routes a query of a batch through a statement prepared once per
// batch: an import repeats a handful of statements thousands of times, and
// preparing each again costs a third of the time on SQLite and a round
// trip on PostgreSQL. Outside a batch, q and query are returned unchanged.
func (s *Store) prepared(ctx context.Context, q queryer, query string) (queryer, string, error) {
	if s.stmts == nil || q != queryer(s.tx) {
		return q, query, nil
	}
	st := s.stmts[query]
	if st == nil {
		var err error
		if st, err = s.tx.PreparexContext(ctx, query); err != nil {
			return nil, "", err
		}
		s.stmts[query] = st
	}
	return stmtQueryer{st}, query, nil
}

// stmtQueryer runs a prepared statement; the query text is already in it.
type stmtQueryer struct{ st *sqlx.Stmt }

func (p stmtQueryer) GetContext(ctx context.Context, dest any, _ string, args ...any) error {
	return p.st.GetContext(ctx, dest, args...)
}

func (p stmtQueryer) SelectContext(ctx context.Context, dest any, _ string, args ...any) error {
	return p.st.SelectContext(ctx, dest, args...)
}

func (p stmtQueryer) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.st.ExecContext(ctx, args...)
}

// inTx runs fn in a transaction, rolled back when fn fails. Inside a batch
// it runs fn in the batch's transaction, which commits or rolls back as one.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	s.statements.Add(1)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	s.statements.Add(1)
	return tx.Commit()
}

// Batch implements registry.Store.
func (s *Store) Batch(ctx context.Context, fn func(tx registry.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	var fnErr error
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		b := *s
		b.tx, b.stmts = tx, map[string]*sqlx.Stmt{}
		fnErr = fn(&b)
		return fnErr
	})
	if err != nil && err == fnErr {
		return err // already worded by the operation that failed
	}
	return s.wrap("batch", err)
}

// wrap names the operation on storage failures; domain errors pass unchanged
// so their messages reach the user as written.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *registry.Error
	if errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("%s: %s: %w", s.dialect.Name, op, s.dialect.MapError(err))
}

func notFound(key string) error {
	return registry.Errorf(registry.ENOTFOUND, "risk %s not found", key)
}

func (s *Store) nowUTC() time.Time { return registry.Truncate(s.now()) }

// CreateRisk implements registry.Store.
func (s *Store) CreateRisk(ctx context.Context, in *registry.Risk, actor string) (*registry.Risk, error) {
	r := in.Clone()
	r.Title = strings.TrimSpace(r.Title)
	if r.Status == "" {
		r.Status = registry.StatusActive
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := checkCurrentLinks(r.Links); err != nil {
		return nil, err
	}
	now := s.nowUTC()
	r.CreatedAt, r.UpdatedAt, r.Version = now, now, 1
	r.Owner = strings.TrimSpace(r.Owner)
	r.ReviewDueAt, r.Score, r.Band = nil, nil, ""
	s.derive(r)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		cols := strings.TrimPrefix(riskColumns, "id, ")
		if err := s.get(ctx, tx, &r.ID, `INSERT INTO risks (`+cols+`) VALUES (`+placeholders(20)+`) RETURNING id`, riskValues(r)...); err != nil {
			return err
		}
		r.Key = registry.FormatKey(r.ID)
		changes := registry.Diff(&registry.Risk{}, r)
		for i := range changes {
			changes[i].OldValue = nil // nothing was there before
		}
		changes = append([]registry.Change{{Field: "created", NewValue: &r.Key}}, changes...)
		for i := range r.Links {
			r.Links[i].CreatedAt, r.Links[i].UpdatedAt = now, now
			changes = append(changes, linkAdded(r.Links[i]))
		}
		for i := range r.Sources {
			r.Sources[i].CreatedAt = now
			changes = append(changes, sourceAdded(r.Sources[i]))
		}
		if err := s.insertLinks(ctx, tx, r.ID, r.Links); err != nil {
			return err
		}
		if err := s.insertSources(ctx, tx, r.ID, r.Sources); err != nil {
			return err
		}
		return s.insertHistory(ctx, tx, r.ID, actor, now, changes)
	})
	if err != nil {
		return nil, s.wrap("create risk", err)
	}
	if r.Links == nil {
		r.Links = []registry.Link{}
	}
	if r.Sources == nil {
		r.Sources = []registry.Source{}
	}
	return r, nil
}

// FindRisk implements registry.Store.
func (s *Store) FindRisk(ctx context.Context, key string) (*registry.Risk, error) {
	id, err := registry.ParseKey(key)
	if err != nil {
		return nil, err
	}
	r, err := s.loadRisk(ctx, s.q(), id, "")
	if err != nil {
		return nil, s.wrap("find risk "+registry.FormatKey(id), err)
	}
	return r, nil
}

// loadRisk reads one risk with its links and sources; lock is appended to
// the SELECT of the risk row.
func (s *Store) loadRisk(ctx context.Context, q queryer, id int64, lock string) (*registry.Risk, error) {
	var row riskRow
	err := s.get(ctx, q, &row, `SELECT `+riskColumns+` FROM risks WHERE id = ?`+lock, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(registry.FormatKey(id))
	}
	if err != nil {
		return nil, err
	}
	r := row.risk()
	risks := map[int64]*registry.Risk{id: r}
	if err := s.attach(ctx, q, risks, `SELECT CAST(? AS BIGINT) AS id`, []any{id}); err != nil {
		return nil, err
	}
	return r, nil
}

// attach loads the links and sources of the risks whose ids idQuery selects.
func (s *Store) attach(ctx context.Context, q queryer, risks map[int64]*registry.Risk, idQuery string, args []any) error {
	var links []linkRow
	if err := s.selectAll(ctx, q, &links, `SELECT `+linkColumns+` FROM risk_links WHERE risk_id IN (`+idQuery+`) ORDER BY risk_id, created_at, key`, args...); err != nil {
		return err
	}
	for i := range links {
		if r := risks[links[i].RiskID]; r != nil {
			r.Links = append(r.Links, links[i].link())
		}
	}
	var sources []sourceRow
	if err := s.selectAll(ctx, q, &sources, `SELECT `+sourceColumns+` FROM risk_sources WHERE risk_id IN (`+idQuery+`) ORDER BY risk_id, created_at, key, position`, args...); err != nil {
		return err
	}
	for i := range sources {
		if r := risks[sources[i].RiskID]; r != nil {
			r.Sources = append(r.Sources, sources[i].source())
		}
	}
	return nil
}

// ListRisks implements registry.Store with three statements whatever the
// number of risks: risks, their links, their sources.
func (s *Store) ListRisks(ctx context.Context, f registry.RiskFilter) ([]*registry.Risk, error) {
	var where []string
	var args []any
	if len(f.Status) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Status))+")")
		for _, st := range f.Status {
			args = append(args, string(st))
		}
	}
	switch {
	case f.Unowned:
		where = append(where, "owner IS NULL")
	case f.Owner != "":
		where = append(where, "owner = ?")
		args = append(args, f.Owner)
	}
	switch {
	case f.Band == "unscored":
		where = append(where, "score IS NULL")
	case f.Band != "":
		where = append(where, "band = ?")
		args = append(args, f.Band)
	}
	if f.ReviewDueBy != nil {
		where = append(where, "review_due_at <= ?")
		args = append(args, someTime(*f.ReviewDueBy))
	}
	if t := strings.ToLower(strings.TrimSpace(f.Text)); t != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(t) + "%"
		cond := `LOWER(title) LIKE ? ESCAPE '\' OR LOWER(description) LIKE ? ESCAPE '\'`
		args = append(args, like, like)
		if id, err := registry.ParseKey(t); err == nil {
			cond += " OR id = ?"
			args = append(args, id)
		}
		where = append(where, "("+cond+")")
	}
	if a := f.After; a != nil && a.Score == nil {
		// Keyset pagination among the unscored, which rank last by id.
		where = append(where, "(score IS NULL AND id > ?)")
		args = append(args, a.ID)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	limit := ""
	if f.Limit > 0 {
		limit = fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	query, queryArgs := `SELECT `+riskColumns+` FROM risks`+cond+` ORDER BY `+s.dialect.RankOrder+limit, args
	if a := f.After; a != nil && a.Score != nil {
		// After a scored risk: the rest of the scored ones (a range of the
		// rank index starting at the cursor), then the unscored ones. Two
		// index-friendly parts; one OR across them would scan from the top.
		and := " AND "
		if cond == "" {
			and = " WHERE "
		}
		query = `SELECT * FROM (SELECT ` + riskColumns + ` FROM risks` + cond + and + `score <= ? AND (score < ? OR id > ?) ORDER BY ` + s.dialect.RankOrder + limit + `) scored
			UNION ALL SELECT * FROM (SELECT ` + riskColumns + ` FROM risks` + cond + and + `score IS NULL ORDER BY id` + limit + `) unscored
			ORDER BY ` + s.dialect.RankOrder + limit
		queryArgs = append(append(append([]any{}, args...), *a.Score, *a.Score, a.ID), args...)
	}
	var rows []riskRow
	if err := s.selectAll(ctx, s.q(), &rows, query, queryArgs...); err != nil {
		return nil, s.wrap("list risks", err)
	}
	out := make([]*registry.Risk, len(rows))
	byID := make(map[int64]*registry.Risk, len(rows))
	for i := range rows {
		out[i] = rows[i].risk()
		byID[out[i].ID] = out[i]
	}
	if len(rows) == 0 {
		return out, nil
	}
	idQuery, idArgs := `SELECT id FROM risks`+cond, args
	if limit != "" {
		// A page: its own ids, so the page's condition is not run again.
		idQuery, idArgs = placeholders(len(rows)), make([]any, len(rows))
		for i := range rows {
			idArgs[i] = rows[i].ID
		}
	}
	if err := s.attach(ctx, s.q(), byID, idQuery, idArgs); err != nil {
		return nil, s.wrap("list risks", err)
	}
	return out, nil
}

// UpdateRisk implements registry.Store.
func (s *Store) UpdateRisk(ctx context.Context, key, actor string, fn func(*registry.Risk) error) (*registry.Risk, error) {
	return s.update(ctx, key, actor, fn, nil)
}

// ReviewRisk implements registry.Store.
func (s *Store) ReviewRisk(ctx context.Context, key, actor, note string) (*registry.Risk, error) {
	note = strings.TrimSpace(note)
	if len(note) > registry.MaxTitleLen*10 {
		return nil, registry.Errorf(registry.EINVALID, "review note is %d bytes long; at most %d", len(note), registry.MaxTitleLen*10)
	}
	now := s.nowUTC()
	extra := registry.Change{Field: "review"}
	if note != "" {
		extra.NewValue = &note
	}
	return s.update(ctx, key, actor, func(r *registry.Risk) error {
		r.LastReviewedAt = &now
		return nil
	}, []registry.Change{extra})
}

func (s *Store) update(ctx context.Context, key, actor string, fn func(*registry.Risk) error, extra []registry.Change) (*registry.Risk, error) {
	id, err := registry.ParseKey(key)
	if err != nil {
		return nil, err
	}
	key = registry.FormatKey(id)
	var out *registry.Risk
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.loadRisk(ctx, tx, id, s.dialect.ForUpdate)
		if err != nil {
			return err
		}
		before := r.Clone()
		if err := fn(r); err != nil {
			return err
		}
		// Identity and bookkeeping are not the caller's to change.
		r.ID, r.Key, r.CreatedAt, r.UpdatedAt, r.Version = before.ID, before.Key, before.CreatedAt, before.UpdatedAt, before.Version
		r.Title, r.Owner = strings.TrimSpace(r.Title), strings.TrimSpace(r.Owner)
		if err := r.Validate(); err != nil {
			return err
		}
		s.derive(r)
		now := s.nowUTC()
		changes := append(registry.Diff(before, r), extra...)
		linkChanges, err := s.saveLinks(ctx, tx, r, before.Links, now)
		if err != nil {
			return err
		}
		sourceChanges, err := s.saveSources(ctx, tx, r, before.Sources, now)
		if err != nil {
			return err
		}
		out = r
		if len(changes) > 0 {
			r.UpdatedAt, r.Version = now, before.Version+1
			vals := riskValues(r)
			vals = append(vals[:17:17], vals[18:]...) // all but version
			if err := s.exec(ctx, tx, `UPDATE risks SET title = ?, description = ?, impact = ?, scope = ?, likelihood = ?,
				ettd_minutes = ?, ettr_minutes = ?, impact_percent = ?, ettf_days = ?, score = ?, band = ?,
				review_due_at = ?, owner = ?, status = ?, last_reviewed_at = ?, created_at = ?, updated_at = ?,
				status_reason = ?, accepted_until = ?, version = version + 1 WHERE id = ?`, append(vals, id)...); err != nil {
				return err
			}
		}
		return s.insertHistory(ctx, tx, id, actor, now, append(append(changes, linkChanges...), sourceChanges...))
	})
	if err != nil {
		return nil, s.wrap("update risk "+key, err)
	}
	return out, nil
}

// saveLinks writes added and changed links and returns the history of what
// matters to people (an epic linked, its state moving); child counts and
// activity times change every pass and are not history.
func (s *Store) saveLinks(ctx context.Context, tx *sqlx.Tx, r *registry.Risk, before []registry.Link, now time.Time) ([]registry.Change, error) {
	if err := checkCurrentLinks(r.Links); err != nil {
		return nil, err
	}
	old := map[string]registry.Link{}
	for _, l := range before {
		old[l.Tracker+" "+l.Key] = l
	}
	seen := map[string]bool{}
	var added []registry.Link
	var changes []registry.Change
	// Updates first, and among them the links that stop being current: the
	// one-current-link constraint must be released before another link
	// becomes current (a move back to an earlier epic) or is inserted.
	order := make([]int, 0, len(r.Links))
	for i := range r.Links {
		if !r.Links[i].Current {
			order = append(order, i)
		}
	}
	for i := range r.Links {
		if r.Links[i].Current {
			order = append(order, i)
		}
	}
	for _, i := range order {
		l := &r.Links[i]
		id := l.Tracker + " " + l.Key
		if seen[id] {
			return nil, registry.Errorf(registry.EINVALID, "link %s %s is listed twice", l.Tracker, l.Key)
		}
		seen[id] = true
		o, exists := old[id]
		if !exists {
			l.CreatedAt, l.UpdatedAt = now, now
			added = append(added, *l)
			changes = append(changes, linkAdded(*l))
			continue
		}
		l.CreatedAt, l.UpdatedAt = o.CreatedAt, o.UpdatedAt
		if linkEqual(o, *l) {
			continue
		}
		l.UpdatedAt = now
		if err := s.exec(ctx, tx, `UPDATE risk_links SET url = ?, state = ?, children_total = ?, children_done = ?,
			last_activity_at = ?, current = ?, updated_at = ? WHERE tracker = ? AND key = ? AND risk_id = ?`,
			l.URL, string(l.State), l.ChildrenTotal, l.ChildrenDone, optTime(l.LastActivityAt), l.Current, someTime(now),
			l.Tracker, l.Key, r.ID); err != nil {
			return nil, err
		}
		if o.State != l.State {
			os, ns := string(o.State), string(l.State)
			changes = append(changes, registry.Change{Field: "link " + l.Key, OldValue: &os, NewValue: &ns})
		}
		if o.Current != l.Current && !l.Current {
			v := "superseded"
			changes = append(changes, registry.Change{Field: "link " + l.Key, NewValue: &v})
		}
	}
	for id := range old {
		if !seen[id] {
			return nil, registry.Errorf(registry.EINVALID, "link %s cannot be removed: links are kept for the record", id)
		}
	}
	if err := s.insertLinks(ctx, tx, r.ID, added); err != nil {
		return nil, err
	}
	return changes, nil
}

func checkCurrentLinks(links []registry.Link) error {
	n := 0
	for _, l := range links {
		if l.Current {
			n++
		}
	}
	if n > 1 {
		return registry.Errorf(registry.EINVALID, "a risk has at most one current epic, got %d", n)
	}
	return nil
}

func linkEqual(a, b registry.Link) bool {
	return a.URL == b.URL && a.State == b.State && a.ChildrenTotal == b.ChildrenTotal &&
		a.ChildrenDone == b.ChildrenDone && a.Current == b.Current && registry.SameTime(a.LastActivityAt, b.LastActivityAt)
}

func linkAdded(l registry.Link) registry.Change {
	v := fmt.Sprintf("%s %s (%s)", l.Tracker, l.Key, l.State)
	return registry.Change{Field: "link", NewValue: &v}
}

func sourceAdded(src registry.Source) registry.Change {
	field, v := "source", fmt.Sprintf("%s %s table %d", src.Tracker, src.Key, src.Position+1)
	if src.Recurrence {
		field = "recurrence"
	}
	return registry.Change{Field: field, NewValue: &v}
}

// saveSources inserts added sources; sources are never changed or removed.
func (s *Store) saveSources(ctx context.Context, tx *sqlx.Tx, r *registry.Risk, before []registry.Source, now time.Time) ([]registry.Change, error) {
	old := map[string]bool{}
	for _, src := range before {
		old[sourceID(src)] = true
	}
	var added []registry.Source
	var changes []registry.Change
	for i := range r.Sources {
		src := &r.Sources[i]
		if old[sourceID(*src)] {
			continue
		}
		src.CreatedAt = now
		added = append(added, *src)
		changes = append(changes, sourceAdded(*src))
	}
	if len(r.Sources)-len(added) < len(before) {
		return nil, registry.Errorf(registry.EINVALID, "sources cannot be removed: they are kept for the record")
	}
	return changes, s.insertSources(ctx, tx, r.ID, added)
}

func sourceID(s registry.Source) string { return fmt.Sprintf("%s %s %d", s.Tracker, s.Key, s.Position) }

func (s *Store) insertLinks(ctx context.Context, tx *sqlx.Tx, riskID int64, links []registry.Link) error {
	if len(links) == 0 {
		return nil
	}
	var args []any
	for _, l := range links {
		args = append(args, riskID, l.Tracker, l.Key, l.URL, string(l.State), l.ChildrenTotal, l.ChildrenDone,
			optTime(l.LastActivityAt), l.Current, someTime(l.CreatedAt), someTime(l.UpdatedAt))
	}
	return s.exec(ctx, tx, `INSERT INTO risk_links (`+linkColumns+`) VALUES `+rows(len(links), 11), args...)
}

func (s *Store) insertSources(ctx context.Context, tx *sqlx.Tx, riskID int64, sources []registry.Source) error {
	if len(sources) == 0 {
		return nil
	}
	var args []any
	for _, src := range sources {
		args = append(args, riskID, src.Tracker, src.Key, src.URL, src.Position, src.Recurrence, someTime(src.CreatedAt))
	}
	return s.exec(ctx, tx, `INSERT INTO risk_sources (`+sourceColumns+`) VALUES `+rows(len(sources), 7), args...)
}

func (s *Store) insertHistory(ctx context.Context, tx *sqlx.Tx, riskID int64, actor string, at time.Time, changes []registry.Change) error {
	if len(changes) == 0 {
		return nil
	}
	if strings.TrimSpace(actor) == "" {
		return registry.Errorf(registry.EINVALID, "a change needs an actor for the history")
	}
	var args []any
	for _, c := range changes {
		args = append(args, riskID, someTime(at), actor, c.Field, ptrArg(c.OldValue), ptrArg(c.NewValue))
	}
	return s.exec(ctx, tx, `INSERT INTO risk_history (risk_id, at, actor, field, old_value, new_value) VALUES `+rows(len(changes), 6), args...)
}

// History implements registry.Store.
func (s *Store) History(ctx context.Context, key string, limit int) ([]registry.HistoryEntry, error) {
	id, err := registry.ParseKey(key)
	if err != nil {
		return nil, err
	}
	key = registry.FormatKey(id)
	q := `SELECT id, risk_id, at, actor, field, old_value, new_value FROM risk_history WHERE risk_id = ? ORDER BY id`
	args := []any{id}
	if limit > 0 {
		q = `SELECT * FROM (SELECT id, risk_id, at, actor, field, old_value, new_value FROM risk_history
			WHERE risk_id = ? ORDER BY id DESC LIMIT ?) newest ORDER BY id`
		args = append(args, limit)
	}
	var rows []historyRow
	if err := s.selectAll(ctx, s.q(), &rows, q, args...); err != nil {
		return nil, s.wrap("history of "+key, err)
	}
	if len(rows) == 0 { // every risk has its creation in history
		return nil, notFound(key)
	}
	out := make([]registry.HistoryEntry, len(rows))
	for i, h := range rows {
		out[i] = registry.HistoryEntry{ID: h.ID, RiskKey: key, At: h.At.Time, Actor: h.Actor, Field: h.Field,
			OldValue: nullStr(h.OldValue), NewValue: nullStr(h.NewValue)}
	}
	return out, nil
}

const scoringFingerprint = "scoring_fingerprint"

// Rescore implements registry.Store: one transaction, one read, and a write
// only for risks whose derived fields moved.
func (s *Store) Rescore(ctx context.Context, actor, fingerprint string) (int, error) {
	changed := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if fingerprint != "" {
			var stored string
			err := s.get(ctx, tx, &stored, `SELECT value FROM registry_meta WHERE name = ?`+s.dialect.ForUpdate, scoringFingerprint)
			if err == nil && stored == fingerprint {
				return nil
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err := s.exec(ctx, tx, `INSERT INTO registry_meta (name, value) VALUES (?, ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, scoringFingerprint, fingerprint); err != nil {
				return err
			}
		}
		var rows []riskRow
		if err := s.selectAll(ctx, tx, &rows, `SELECT `+riskColumns+` FROM risks ORDER BY id`+s.dialect.ForUpdate); err != nil {
			return err
		}
		now := s.nowUTC()
		for i := range rows {
			r := rows[i].risk()
			before := r.Clone()
			s.derive(r)
			changes := registry.Diff(before, r)
			// review_due_at is derived but not history-worthy on its own.
			if len(changes) == 0 && registry.SameTime(before.ReviewDueAt, r.ReviewDueAt) {
				continue
			}
			changed++
			if err := s.exec(ctx, tx, `UPDATE risks SET score = ?, band = ?, review_due_at = ? WHERE id = ?`,
				floatArg(r.Score), strArg(r.Band), optTime(r.ReviewDueAt), r.ID); err != nil {
				return err
			}
			if err := s.insertHistory(ctx, tx, r.ID, actor, now, changes); err != nil {
				return err
			}
		}
		return nil
	})
	return changed, s.wrap("rescore", err)
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func rows(n, cols int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}
