// Package webtest runs a real Patchring server for console tests and
// drives it with headless Chromium.
//
// [Start] wires what `patchring serve` wires — the SQLite store, the
// server, the JSON API, the ops endpoints and the console, behind the
// shared middleware — on 127.0.0.1:0, seeded with the demo MSP
// (package demo) and with one injected clock shared by the store, the
// server and the console, so tests can move time (idle timeouts, expiry)
// without sleeping.
//
// [Env.Browser] starts Debian's /usr/bin/chromium through chromedp (the
// v0.23 generic API) with a fresh profile. Without Chromium the test is
// skipped, unless the CI environment variable is set, in which case it
// fails and says how to install it. Screenshots go to artifacts/screenshots
// at the repository root, or to $PATCHRING_ARTIFACTS.
//
// Pages added later get browser tests the same way:
//
//	env := webtest.Start(t, webtest.Options{})
//	b := env.Browser(t)
//	b.Login(webtest.AdminEmail, env.Password)
//	if st := b.Go("/cycles"); st != 200 { … }
//	b.Screenshot("cycles")
package webtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/demo"
	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
	"github.com/patchring/patchring/internal/web"
	"github.com/patchring/patchring/internal/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// Demo accounts (package demo); every one has Env.Password.
const (
	AdminEmail   = "admin@northstar.example"
	TechEmail    = "tech@northstar.example"
	AuditorEmail = "auditor@northstar.example"
	// ClinicOwnerEmail owns the first demo client, Riverside Family Clinic.
	ClinicOwnerEmail = "owner@riversideclinic.example"
)

// Options tune the environment.
type Options struct {
	// Now is the clock's start; patchtest.Epoch when zero.
	Now time.Time
	// Seed of the demo data; 1 when zero.
	Seed uint64
	// Sessions, LoginLimits and Secure are passed to the console.
	Sessions    server.SessionPolicy
	LoginLimits web.LoginLimits
	Secure      bool
	// NoDemo starts with an empty database (and no users).
	NoDemo bool
	// Logger receives the server's logs; discarded when nil.
	Logger *slog.Logger

	// seeded is the demo already in the database (set by Start).
	seeded *demo.Result
}

// Env is a running server.
type Env struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL     string
	DB      *sqlstore.DB
	Server  *server.Server
	Console *web.Console
	Clock   *patchtest.Clock
	// Demo is what the seed created (nil with NoDemo).
	Demo *demo.Result
	// Password is every demo user's password.
	Password string
}

// DemoPassword is the password of every demo user in tests.
const DemoPassword = "demo-password-for-tests"

// Start runs a server until the test ends. The demo data is seeded once
// per test binary (per seed and start time) and copied into each test's
// own database file: seeding two months of patch history takes long,
// especially under the race detector, and every test must still get a
// private database it can change.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	if !opts.NoDemo {
		data, res := demoTemplate(t, opts)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		opts.seeded = res
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return StartOn(t, db, opts)
}

// StartOn runs a server over an open, migrated database (for benchmarks
// that build a large one once).
func StartOn(t testing.TB, db *sqlstore.DB, opts Options) *Env {
	t.Helper()
	ctx := t.Context()
	clock := patchtest.NewClock(opts.Now)
	db.Now = clock.Now
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Keep in step with newApp in cmd/patchring/serve.go. Webhooks may
	// reach loopback receivers (httptest servers).
	notifyOpts := server.NotifyOptions{Senders: map[patch.ChannelKind]notify.Sender{
		patch.ChannelWebhook: webhook.New(webhook.Options{Guard: webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			Now: clock.Now, UserAgent: "Patchring/test"}),
	}}
	srv := server.New(Stores(db), server.Options{Now: clock.Now, Logger: logger, Notify: notifyOpts,
		Agents: server.AgentOptions{Jitter: func() float64 { return 0 }}})
	env := &Env{DB: db, Server: srv, Clock: clock, Password: DemoPassword}
	if err := srv.EnsureCommandKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnsureNotifyKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnsureEvidenceKey(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	switch {
	case opts.seeded != nil:
		env.Demo = opts.seeded
	case !opts.NoDemo:
		seed := opts.Seed
		if seed == 0 {
			seed = 1
		}
		env.Demo, err = demo.Seed(ctx, srv, db, demo.Options{Seed: seed, Now: clock.Now(), Password: DemoPassword})
		if err != nil {
			t.Fatalf("seed demo: %v", err)
		}
	}
	env.Console, err = web.New(srv, web.Options{
		Logger: logger, Now: clock.Now, Secure: opts.Secure, Version: "test",
		Sessions: opts.Sessions, LoginLimits: opts.LoginLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := httpapi.NewMetrics(reg)
	api := httpapi.New(srv, httpapi.Options{Logger: logger, Version: "test", Metrics: metrics})
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", api.Handler())
	mux.Handle("/agent/", httpapi.NewAgentProtocol(srv, httpapi.AgentProtocolOptions{Logger: logger, Metrics: httpapi.NewAgentMetrics(reg)}).Handler())
	mux.Handle("GET "+httpapi.WellKnownEvidenceKeys, httpapi.EvidenceKeysHandler(srv))
	httpapi.MountOps(mux, srv, reg)
	mux.Handle("/", env.Console.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Responses carry the injected clock's Date: agents compare it with
	// their own clock.
	dated := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
		mux.ServeHTTP(w, r)
	})
	hs := &http.Server{Handler: httpapi.Middleware(logger, metrics, dated), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	})
	env.URL = "http://" + ln.Addr().String()
	srv.SetPublicURL(env.URL)
	return env
}

// templates holds seeded demo databases by seed and start time: the file's
// bytes and what the seed created.
var templates struct {
	sync.Mutex
	byKey map[string]*template
}

type template struct {
	once sync.Once
	data []byte
	res  *demo.Result
	err  error
}

// demoTemplate returns a database file seeded with the demo for opts,
// building it on first use.
func demoTemplate(t testing.TB, opts Options) ([]byte, *demo.Result) {
	t.Helper()
	now := opts.Now
	if now.IsZero() {
		now = patchtest.Epoch
	}
	key := fmt.Sprintf("%d@%d", opts.Seed, now.UnixNano())
	templates.Lock()
	if templates.byKey == nil {
		templates.byKey = map[string]*template{}
	}
	tp := templates.byKey[key]
	if tp == nil {
		tp = &template{}
		templates.byKey[key] = tp
	}
	templates.Unlock()
	tp.once.Do(func() { tp.data, tp.res, tp.err = buildTemplate(opts, now) })
	if tp.err != nil {
		t.Fatalf("seed demo: %v", tp.err)
	}
	return tp.data, tp.res
}

func buildTemplate(opts Options, now time.Time) ([]byte, *demo.Result, error) {
	dir, err := os.MkdirTemp("", "patchring-webtest-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	path := filepath.Join(dir, sqlite.FileName)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	clock := patchtest.NewClock(now)
	db.Now = clock.Now
	srv := server.New(Stores(db), server.Options{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	res, err := demo.Seed(ctx, srv, db, demo.Options{Seed: seed, Now: now, Password: DemoPassword})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	// Closing the last connection checkpoints the write-ahead log into
	// the main file, so the file alone is the whole database.
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, nil, fmt.Errorf("demo template %s still has a write-ahead log after close", path)
	}
	data, err := os.ReadFile(path)
	return data, res, err
}

// Stores fills every field of server.Stores that db implements, so a store
// added to the server later is wired here without editing this package,
// plus the rollout engine's deployment facts (as newApp does).
func Stores(db *sqlstore.DB) server.Stores {
	var st server.Stores
	st.Deployments = server.NewDeploymentFacts(db)
	v := reflect.ValueOf(&st).Elem()
	dv := reflect.ValueOf(db)
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Interface && dv.Type().Implements(f.Type()) {
			f.Set(dv)
		}
	}
	return st
}

// Admin returns a context acting as the system (for setting up data the
// UI does not create).
func (e *Env) Admin(ctx context.Context) context.Context {
	return patch.NewContextWithActor(ctx, patch.SystemActor("test"))
}

// Client returns the demo client with the given name.
func (e *Env) Client(t testing.TB, name string) *patch.Client {
	t.Helper()
	for _, c := range e.Demo.Clients {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no demo client %q", name)
	return nil
}

// Demo client names.
const (
	Clinic       = "Riverside Family Clinic"
	LawFirm      = "Hartwell & Shaw LLP"
	Manufacturer = "Northfield Precision Manufacturing"
)
