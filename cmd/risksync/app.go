package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/postgres"
	"github.com/risksync/risksync/internal/registry/sqlite"
	"github.com/risksync/risksync/internal/registry/sqlstore"
)

// Main wires the program. Tests build one with their own streams, environment
// and clock and call Run, exactly as main does.
type Main struct {
	Stdout, Stderr io.Writer
	LookupEnv      func(string) (string, bool)
	Now            func() time.Time

	// Tests point these at the tracker fakes; nil means the real thing (each
	// connector and the report publisher default a nil Sleep to a timer).
	HTTPClient       *http.Client
	Sleep            func(context.Context, time.Duration) error
	MinWriteInterval time.Duration
	// OnListen receives serve's address once it listens (tests use ":0").
	OnListen func(addr string)

	configFlag string
	serverFlag string // --server: the risk commands go through the API
	tokenFile  string // --token-file: the API token, instead of $RISKSYNC_TOKEN
	cfg        *config.Config
}

// NewMain returns a Main on the process's streams, environment and clock.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now}
}

func (m *Main) getenv(k string) string { v, _ := m.LookupEnv(k); return v }

// usageError marks mistakes in the command line: exit code 2.
type usageError struct{ error }

// Run executes one command line and returns the exit code: 0 on success,
// 2 for a wrong command line, 1 for any other failure. Failures print one
// line on stderr.
func (m *Main) Run(ctx context.Context, args []string) int {
	root := m.rootCommand()
	root.SetArgs(args)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintln(m.Stderr, msg)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func (m *Main) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "risksync",
		Short:         "A living SRE risk registry, mirrored to GitHub and Jira",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every command needs the configuration; it is read once, here.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.refuseRemote(cmd); err != nil {
				return err
			}
			cfg, err := config.Load(config.Locate(m.configFlag, m.getenv), m.getenv)
			if err != nil {
				return err
			}
			m.cfg = cfg
			return nil
		},
	}
	root.PersistentFlags().StringVar(&m.configFlag, "config", "", "configuration file (default $RISKSYNC_CONFIG, else ./risksync.yaml if present, else built-in defaults)")
	root.PersistentFlags().StringVar(&m.serverFlag, "server", "", "send risk and report commands through the risksync API at this URL (default $RISKSYNC_SERVER) with $RISKSYNC_TOKEN")
	root.PersistentFlags().StringVar(&m.tokenFile, "token-file", "", "read the API token from this file instead of $RISKSYNC_TOKEN")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())}
	})
	root.AddCommand(m.riskCommand(), m.migrateCommand(), m.configCommand(), m.syncCommand(), m.serveCommand(), m.reportCommand())
	for _, c := range root.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return root
}

// wrapArgs turns positional-argument errors into usage errors.
func wrapArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	if v == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

func exactKey(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{fmt.Errorf("%s: give one risk key, e.g. RISK-12", cmd.CommandPath())}
	}
	return nil
}

// openedStore is an open, migrated database and the leader lock that suits it.
type openedStore struct {
	*sqlstore.Store
	applied []int64
	leader  reconcile.Leader
	where   string // for messages: a file path, or a redacted URL
	// listen wakes the caller when any replica queues a webhook (PostgreSQL); nil on SQLite.
	listen func(ctx context.Context, wake func(), logger *slog.Logger) error
}

// openStore opens the configured database, applies migrations and rescores
// when the scoring configuration changed since the last run.
func (m *Main) openStore(ctx context.Context) (*openedStore, error) { return m.openStoreFor(ctx, true) }

// openStoreFor opens the database; rescore=false leaves stored scores as
// they are (a dry run writes no registry data).
func (m *Main) openStoreFor(ctx context.Context, rescore bool) (*openedStore, error) {
	target, err := config.ParseDatabaseURL(m.cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	sc := m.cfg.ScoringConfig()
	opts := registry.StoreOptions{Derive: sc.Derive, Now: m.Now}
	var o *openedStore
	switch target.Kind {
	case config.SQLite:
		db, err := sqlite.Open(ctx, target.Path, opts)
		if err != nil {
			return nil, err
		}
		o = &openedStore{Store: db.Store, applied: db.Applied, leader: &sqlite.Leader{Path: target.Path + ".lock"}, where: target.Path}
	case config.Postgres:
		db, err := postgres.Open(ctx, target.DSN, opts)
		if err != nil {
			return nil, err
		}
		o = &openedStore{Store: db.Store, applied: db.Applied, leader: &postgres.Leader{DB: db.DB().DB}, where: config.RedactURL(target.DSN),
			listen: db.ListenWebhooks}
	}
	if !rescore {
		return o, nil
	}
	if _, err := o.Rescore(ctx, registry.ActorConfig, sc.Fingerprint()); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// withStore runs fn with an open store and closes it afterwards.
func (m *Main) withStore(ctx context.Context, fn func(*openedStore) error) error {
	s, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// actor is who the history records for CLI changes: $RISKSYNC_ACTOR, else
// the login name, else "cli".
func (m *Main) actor() string {
	for _, k := range []string{"RISKSYNC_ACTOR", "USER", "LOGNAME"} {
		if v := strings.TrimSpace(m.getenv(k)); v != "" {
			return v
		}
	}
	return "cli"
}

func (m *Main) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
