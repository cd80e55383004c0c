package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/patchring/patchring/internal/version"
	"github.com/patchring/patchring/internal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

// serveFlags configure the server.
type serveFlags struct {
	store     storeFlags
	listen    string
	tlsCert   string
	tlsKey    string
	publicURL string
	logLevel  string
	logFormat string
	noMigrate bool
	notify    notifyFlags
}

func (f *serveFlags) register(cmd *cobra.Command, defaultListen string) {
	f.store.register(cmd)
	cmd.Flags().StringVar(&f.listen, "listen", defaultListen, "address to serve HTTP(S) on")
	cmd.Flags().StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serve HTTPS when set with --tls-key")
	cmd.Flags().StringVar(&f.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	cmd.Flags().StringVar(&f.publicURL, "public-url", "", "URL agents and browsers use to reach this server (default derived from --listen)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	cmd.Flags().BoolVar(&f.noMigrate, "no-migrate", false, "do not apply database migrations at start (run 'patchring migrate' instead)")
	f.notify.register(cmd)
}

func newServeCmd(io stdio) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Patchring server (API, web console, agent endpoints)",
		Long: `Run the Patchring server: the JSON API under /api/v1, the agent protocol
under /agent/v1, the web console, /healthz, /readyz and /metrics.

Storage is embedded SQLite under --data (created on first start) unless --db
names a PostgreSQL database. Migrations are applied at start.

The server has no default account. Create the first admin token on this host
with: patchring token create --role msp-admin --name NAME`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(io.err, f.logLevel, f.logFormat)
			if err != nil {
				return err
			}
			a, err := newApp(cmd.Context(), &f, logger)
			if err != nil {
				return err
			}
			defer a.Close()
			return a.serve(cmd.Context(), nil)
		},
	}
	f.register(cmd, ":8080")
	return cmd
}

func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be json or text (got %q)", format)
}

// app is a wired server: store, use cases, HTTP handlers and background
// loops.
type app struct {
	flags    *serveFlags
	logger   *slog.Logger
	db       *sqlstore.DB
	srv      *server.Server
	registry *prometheus.Registry
	handler  http.Handler
	// loops are the background jobs run beside the HTTP server.
	loops []func(ctx context.Context) error
}

func newApp(ctx context.Context, f *serveFlags, logger *slog.Logger) (*app, error) {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	notifyOpts, err := f.notify.options()
	if err != nil {
		return nil, err
	}
	db, err := f.store.open(ctx)
	if err != nil {
		return nil, err
	}
	a := &app{flags: f, logger: logger, db: db}
	if !f.noMigrate {
		applied, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, err
		}
		if len(applied) > 0 {
			logger.Info("applied migrations", "count", len(applied), "db", f.store.describe())
		}
	}
	a.srv = server.New(server.Stores{
		MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Sessions: db, AssetCounts: db, ClientCounts: db,
		Evidence: db, Checkpoints: db, EvidenceKeys: db, Reports: db,
		Enrollment: db, Agents: db, Inventory: db, AgentJobs: db, Findings: db, Keys: db,
		Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db,
		Rollouts: db, Tickets: db, Leases: db, Runbooks: db, ScanResults: db, Deployments: server.NewDeploymentFacts(db),
		Channels: db, Notifications: db,
	}, server.Options{Logger: logger, Agents: server.AgentOptions{PublicURL: f.agentURL()}, Evidence: evidenceOptions(f), Notify: notifyOpts})
	if err := a.srv.EnsureCommandKey(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a.loops = append(a.loops, a.srv.RunSLAEvaluator)
	if err := a.srv.EnsureEvidenceKey(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.srv.EnsureNotifyKey(ctx); err != nil {
		db.Close()
		return nil, err
	}

	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := httpapi.NewMetrics(a.registry)
	api := httpapi.New(a.srv, httpapi.Options{Logger: logger, Version: version.String(), Metrics: metrics})

	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", api.Handler())
	mux.Handle("/agent/", httpapi.NewAgentProtocol(a.srv, httpapi.AgentProtocolOptions{Logger: logger, Metrics: httpapi.NewAgentMetrics(a.registry)}).Handler())
	mux.Handle("GET "+httpapi.WellKnownEvidenceKeys, httpapi.EvidenceKeysHandler(a.srv))
	a.loops = append(a.loops, a.srv.RunEvidenceCheckpointer, a.srv.RunReportScheduler)
	a.loops = append(a.loops, a.srv.RunCompliance)
	a.loops = append(a.loops, a.srv.RunAgentMaintenance)
	a.loops = append(a.loops, a.srv.RunRollout)
	a.loops = append(a.loops, a.srv.RunNotifier)
	httpapi.MountOps(mux, a.srv, a.registry)
	// The console has its own mux (cookies, CSRF, CSP); it answers every
	// path the API, agent and ops routes above do not.
	console, err := web.New(a.srv, web.Options{Logger: logger, Version: version.String(),
		Secure: f.tlsCert != "" || strings.HasPrefix(f.publicURL, "https://")})
	if err != nil {
		db.Close()
		return nil, err
	}
	mux.Handle("/", console.Handler())
	a.handler = httpapi.Middleware(logger, metrics, mux)
	return a, nil
}

// Close releases the database.
func (a *app) Close() error { return a.db.Close() }

// serve listens and serves until ctx is done, then shuts down gracefully.
// ready, when not nil, receives the listening address.
func (a *app) serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", a.flags.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.flags.listen, err)
	}
	hs := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if a.flags.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(a.flags.tlsCert, a.flags.tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	} else if host, _, _ := net.SplitHostPort(a.flags.listen); !isLoopback(host) {
		a.logger.Warn("serving plain HTTP on a non-loopback address; put Patchring behind TLS (--tls-cert/--tls-key or a reverse proxy) before agents or browsers connect over a network")
	}
	addr := ln.Addr().String()
	if a.flags.publicURL == "" && strings.HasSuffix(a.flags.listen, ":0") {
		a.srv.SetPublicURL(scheme + "://" + addr) // the port is known only now
	}
	a.logger.Info("patchring serving", "url", scheme+"://"+addr, "version", version.String(), "db", a.flags.store.describe())
	if ready != nil {
		ready(scheme + "://" + addr)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(a.loops)+1)
	for _, loop := range a.loops {
		wg.Go(func() {
			if err := loop(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		})
	}
	wg.Go(func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	})
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer stop()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		a.logger.Warn("shutdown", "err", err)
	}
	wg.Wait()
	a.logger.Info("patchring stopped")
	return runErr
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
