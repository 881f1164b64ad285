package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/risksync/risksync/internal/api"
	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/sqlite"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/web"
)

// ShutdownTimeout bounds how long serve takes to stop after SIGTERM.
const ShutdownTimeout = 10 * time.Second

func (m *Main) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: sync passes every sync.interval and on webhooks; /metrics, /healthz, /readyz",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.serve(cmd.Context())
		},
	}
}

func (m *Main) serve(ctx context.Context) error {
	logger := m.logger()
	s, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if fl, ok := s.leader.(*sqlite.Leader); ok {
		// SQLite has one writer: a second daemon on the same file refuses to start.
		if err := fl.Lock(); err != nil {
			return fmt.Errorf("serve: another risksync is already serving %s (%v); stop it first", s.where, err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := reconcile.NewMetrics(reg)
	var daemon *reconcile.Daemon
	notify := func(ctx context.Context, n registry.Notification) error {
		fresh, err := s.Enqueue(ctx, n)
		if err != nil {
			return err
		}
		if !fresh {
			metrics.ObserveWebhook(n.Tracker, "replay")
			return nil
		}
		metrics.ObserveWebhook(n.Tracker, "stored")
		daemon.Wake()
		return nil
	}
	ts, err := m.buildTrackers(logger, func(tracker, method, _ string, status int, d time.Duration) {
		metrics.ObserveRequest(tracker, method, status, d)
	}, notify)
	if err != nil {
		return err
	}
	var publisher *report.Publisher
	if m.cfg.Report.GitHubIssue || m.cfg.Report.WebhookURL().Set() {
		if publisher, err = m.reportPublisher(s, ts); err != nil {
			return err
		}
	}
	reports, err := m.newReportJob(s, publisher, metrics, logger)
	if err != nil {
		return err
	}
	engine := m.newEngine(s, ts, logger, metrics.ObserveWrite)
	daemon = &reconcile.Daemon{Engine: engine, Store: s, Leader: s.leader, Interval: m.cfg.Sync.Interval.Std(), Logger: logger, Now: m.Now,
		FollowerRetry: min(m.cfg.Sync.Interval.Std(), 10*time.Second), OnLeadership: metrics.SetLeader,
		AfterPass: func(ctx context.Context, res *reconcile.Result) {
			metrics.ObservePass(res, m.stagnantCount(res.Risks), m.Now())
			reports.afterPass(ctx, res)
		}}

	authn, err := m.newAuthenticator(s, reg, logger)
	if err != nil {
		return err
	}
	m.adviseFirstToken(ctx, s, logger)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", m.readyHandler(s, daemon, reports))
	// People's pages and the API need a principal; health, metrics and
	// webhooks (signed by the trackers) keep their own rules.
	// The web UI owns "/" and /report: a token (as before), a session
	// cookie or the trusted proxy lets people in; browsers without one are
	// sent to /login.
	ui, err := web.New(web.Options{Service: m.newService(s), Auth: authn, Logger: logger})
	if err != nil {
		return err
	}
	mux.Handle("/", ui)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle(api.Prefix+"/", m.apiHandler(s, authn, logger))
	for _, tracker := range []string{registry.TrackerGitHub, registry.TrackerJira} {
		h := ts.webhooks[tracker]
		if h == nil {
			msg := fmt.Sprintf("webhooks for %s are off: set %s.webhook_secret_env (or _file) to receive them", tracker, tracker)
			h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, msg, http.StatusNotFound) })
		}
		mux.Handle("/webhooks/"+tracker, countRejections(tracker, metrics, h))
	}

	ln, err := net.Listen("tcp", m.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s (server.listen): %w", m.cfg.Server.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if len(ts.trackers) == 0 {
		logger.Info("no tracker configured: serving the registry only (metrics, health); add a github or jira section to mirror risks", "config", m.cfg.Source)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "database", s.where, "interval", m.cfg.Sync.Interval.Std())
	if m.OnListen != nil {
		m.OnListen(ln.Addr().String())
	}

	daemonCtx, stopDaemon := context.WithCancel(ctx)
	defer stopDaemon()
	daemonDone := make(chan error, 1)
	// With no tracker the loop still runs: metrics, daily snapshots and the
	// weekly report come from the registry alone.
	go func() { daemonDone <- daemon.Start(daemonCtx) }()
	if s.listen != nil {
		// A webhook queued by any replica wakes the leader, not just the receiver.
		go func() {
			if err := s.listen(daemonCtx, daemon.Wake, logger); err != nil {
				logger.Warn("webhook wake-ups across replicas are off; deliveries wait for the next interval", "err", err)
			}
		}()
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("shutting down")
	stopDaemon()
	shutCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	select {
	case <-daemonDone:
	case <-shutCtx.Done():
		logger.Warn("the current pass did not stop in time; an interrupted create is adopted at the next start")
	}
	return nil
}

// newAuthenticator builds what authenticates every request to people's
// pages and the API: API tokens from the store and, when configured, the
// trusted single-sign-on proxy. Its failure counter goes on reg.
func (m *Main) newAuthenticator(s *openedStore, reg prometheus.Registerer, logger *slog.Logger) (*auth.Authenticator, error) {
	var proxy *auth.Proxy
	if p := m.cfg.Server.Auth.TrustedProxy; p != nil {
		prefixes, err := p.Prefixes()
		if err != nil { // validated when the config was read
			return nil, fmt.Errorf("serve: server.auth.trusted_proxy: %w", err)
		}
		proxy = &auth.Proxy{Header: p.Header, Trusted: prefixes, Role: registry.Role(p.Role)}
	}
	return auth.New(auth.Options{Tokens: s, Sessions: s, Proxy: proxy, Now: m.Now, Registerer: reg, Logger: logger})
}

// adviseFirstToken logs, in one line, how to make the first token when no
// live one exists. Never a token itself.
func (m *Main) adviseFirstToken(ctx context.Context, s *openedStore, logger *slog.Logger) {
	ts, err := s.Tokens(ctx)
	if err != nil {
		logger.Warn("cannot list API tokens", "err", err)
		return
	}
	now := m.Now()
	for _, t := range ts {
		if t.ExpiresAt == nil || now.Before(*t.ExpiresAt) {
			return
		}
	}
	who := "/report and the API refuse every request"
	if m.cfg.Server.Auth.TrustedProxy != nil {
		who = "only people signed in through the trusted proxy get in"
	}
	logger.Warn("no live API token: " + who + "; create the first admin token with: risksync token create --name admin --role admin")
}

// readyHandler answers 200 when the database responds and, on the leader,
// the last pass is recent; the body says why either way.
func (m *Main) readyHandler(s *openedStore, daemon *reconcile.Daemon, reports *reportJob) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		detail := map[string]any{}
		ready := true
		if err := s.DB().PingContext(ctx); err != nil {
			ready, detail["database"] = false, "unreachable"
		} else {
			detail["database"] = "ok"
		}
		leading, last := daemon.Status()
		detail["leader"] = leading
		if last != nil {
			ended := last.Started.Add(last.Duration)
			detail["last_pass"] = ended.UTC().Format(time.RFC3339)
			detail["last_pass_failures"] = len(last.Failures)
			if b := backingOff(last); len(b) > 0 {
				detail["backing_off"] = b
			}
			if leading && m.Now().Sub(ended) > 3*m.cfg.Sync.Interval.Std()+time.Minute {
				ready, detail["pass"] = false, "stale"
			}
		} else if leading {
			detail["pass"] = "first pass running"
		}
		reports.status(ctx, detail)
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(detail)
	}
}

// countRejections records webhook deliveries the handler refused.
func countRejections(tracker string, metrics *reconcile.Metrics, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		switch {
		case rec.status == http.StatusUnauthorized:
			metrics.ObserveWebhook(tracker, "unauthorized")
		case rec.status == http.StatusRequestEntityTooLarge:
			metrics.ObserveWebhook(tracker, "too_large")
		case rec.status >= 400:
			metrics.ObserveWebhook(tracker, "rejected")
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// stagnantCount counts the risks the stagnation rule flags.
func (m *Main) stagnantCount(risks []*registry.Risk) int {
	n := 0
	for _, r := range risks {
		if report.CheckStagnation(r, m.cfg.Stagnation.After.Std(), m.Now()).Stagnant {
			n++
		}
	}
	return n
}

// backingOff lists the risks that wait before their next try, each
// with the fix its error names, so an operator sees what to change.
func backingOff(res *reconcile.Result) []reconcile.Failure {
	var out []reconcile.Failure
	for _, f := range res.Failures {
		if f.BackingOff() {
			out = append(out, f)
		}
	}
	return out
}

// apiHandler serves /api/v1 over the one service layer.
func (m *Main) apiHandler(s *openedStore, authn api.Authenticator, logger *slog.Logger) http.Handler {
	return api.New(m.newService(s), authn, api.WithLogger(logger))
}
