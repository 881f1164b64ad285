// Package postgres is the registry store on PostgreSQL, for production and
// several replicas.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ConnectTimeout bounds how long an unreachable server can hold up start-up.
const ConnectTimeout = 10 * time.Second

// DB is the registry store on PostgreSQL.
type DB struct {
	*sqlstore.Store
	Applied []int64 // migrations applied by Open
	target  string  // host:port/db, for messages; never the password
	dsn     string
}

// WebhookChannel is the LISTEN/NOTIFY channel that tells replicas a webhook
// delivery was queued.
const WebhookChannel = "risksync_webhooks"

// ListenWebhooks calls wake whenever any replica queues a webhook delivery,
// until ctx ends. It reconnects by itself; a missed notification only delays
// the work until the next interval.
func (d *DB) ListenWebhooks(ctx context.Context, wake func(), logger *slog.Logger) error {
	l := pq.NewListener(d.dsn, time.Second, time.Minute, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			logger.Warn("postgres: webhook listener", "target", d.target, "err", scrub(err.Error(), passwordOf(d.dsn)))
		}
	})
	defer l.Close()
	if err := l.Listen(WebhookChannel); err != nil {
		return fmt.Errorf("postgres: listen %s on %s: %w", WebhookChannel, d.target, err)
	}
	ping := time.NewTicker(90 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.Notify: // nil after a reconnect: wake anyway, something may have been missed
			wake()
		case <-ping.C:
			go l.Ping()
		}
	}
}

func passwordOf(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// Open connects, failing within ConnectTimeout with a message naming the
// host (never the password), and applies pending migrations under a session
// advisory lock so replicas starting together migrate once.
func Open(ctx context.Context, dsn string, opts registry.StoreOptions) (*DB, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return nil, registry.Errorf(registry.EINVALID, "postgres: database url is not a valid postgres:// URL")
	}
	target := u.Host + u.Path
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", fmt.Sprint(int(ConnectTimeout.Seconds())))
	}
	if q.Get("application_name") == "" {
		q.Set("application_name", "risksync")
	}
	u.RawQuery = q.Encode()
	password, _ := u.User.Password()
	mapErr := func(err error) error { return mapError(target, password, err) }

	db, err := sqlx.Open("postgres", u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", mapErr(err))
	}
	pingCtx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		if pingCtx.Err() != nil && ctx.Err() == nil {
			return nil, registry.Errorf(registry.EUNAVAILABLE, "postgres: cannot reach %s: no answer within %s", target, ConnectTimeout)
		}
		return nil, mapErr(err)
	}
	d := &DB{target: target}
	if d.Applied, err = migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: migrate %s: %w", target, mapErr(err))
	}
	d.Store = sqlstore.New(db, sqlstore.Dialect{
		Name:        "postgres",
		RankOrder:   "score DESC NULLS LAST, id",
		ForUpdate:   " FOR UPDATE",
		MapError:    mapErr,
		NotifyQuery: "SELECT pg_notify('" + WebhookChannel + "', '')",
	}, opts)
	d.dsn = u.String()
	return d, nil
}

func migrate(ctx context.Context, db *sqlx.DB) ([]int64, error) {
	// Replicas starting together take turns: the first migrates, the others find nothing to do.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return sqlstore.Migrate(ctx, db.DB, goose.DialectPostgres, migrations, "migrations", goose.WithSessionLocker(locker))
}

// mapError classifies driver errors and makes sure no message carries the
// password, whatever the driver put in it.
func mapError(target, password string, err error) error {
	var pe *pq.Error
	var ne net.Error
	switch {
	case errors.As(err, &pe) && pe.Code == "23505":
		return registry.Errorf(registry.ECONFLICT, "postgres: %s", pe.Message)
	case errors.As(err, &pe) && pe.Code.Class() == "28":
		return registry.Errorf(registry.EUNAVAILABLE, "postgres: %s refused the login: %s", target, scrub(pe.Message, password))
	case errors.As(err, &pe) && pe.Code == "3D000":
		return registry.Errorf(registry.EUNAVAILABLE, "postgres: %s: %s", target, scrub(pe.Message, password))
	case errors.As(err, &ne):
		return registry.Errorf(registry.EUNAVAILABLE, "postgres: cannot reach %s: %s", target, scrub(err.Error(), password))
	}
	if password != "" && strings.Contains(err.Error(), password) {
		return errors.New(scrub(err.Error(), password))
	}
	return err
}

func scrub(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "xxxxx")
}
