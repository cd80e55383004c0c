package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/sqlite"
)

// runCLI runs the command line in-process and returns exit code and output.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(t.Context(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut}, getenv)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"Version", []string{"version"}, 0, "patchring "},
		{"Help", []string{"help"}, 0, "Exit codes: 0 success, 1 runtime error, 2 usage error."},
		{"HelpServe", []string{"serve", "--help"}, 0, "--listen"},
		{"UnknownCommand", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"UnknownSubcommand", []string{"token", "mint"}, 2, `unknown command "mint"`},
		{"UnknownFlag", []string{"version", "--colour"}, 2, "unknown flag: --colour"},
		{"ExtraArgs", []string{"version", "extra"}, 2, "takes no arguments"},
		{"TokenNoName", []string{"token", "create", "--role", "msp-admin", "--data", data}, 2, "--name is required"},
		{"TokenBadRole", []string{"token", "create", "--role", "root", "--name", "x", "--data", data}, 2, "--role"},
		{"TokenUnknownClient", []string{"token", "create", "--role", "client-owner", "--client", "cli_nope", "--name", "x", "--data", data}, 1, "client_id"},
		{"RemoteWithoutServer", []string{"clients", "list"}, 2, "--server"},
		{"RemoteUnreachable", []string{"clients", "list", "--server", "http://127.0.0.1:1", "--token", "prt_x"}, 1, "Cannot reach"},
		{"BadDB", []string{"migrate", "--db", "mysql://x"}, 2, "postgres://"},
		{"BadLogLevel", []string{"serve", "--log-level", "loud", "--data", data}, 2, "--log-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out+errOut, tc.want) {
				t.Errorf("output does not mention %q\nstdout: %s\nstderr: %s", tc.want, out, errOut)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	fileData, envData, flagData := filepath.Join(dir, "file"), filepath.Join(dir, "env"), filepath.Join(dir, "flag")
	cfg := filepath.Join(dir, "patchring.yaml")
	if err := os.WriteFile(cfg, []byte("data: "+fileData+"\nlog-level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exists := func(d string) bool {
		_, err := os.Stat(filepath.Join(d, sqlite.FileName))
		return err == nil
	}
	if code, _, errOut := runCLI(t, nil, "", "migrate", "--config", cfg); code != 0 || !exists(fileData) {
		t.Fatalf("config file not used: %d %s", code, errOut)
	}
	env := map[string]string{"PATCHRING_DATA": envData, "PATCHRING_CONFIG": cfg}
	if code, _, errOut := runCLI(t, env, "", "migrate"); code != 0 || !exists(envData) {
		t.Fatalf("environment did not win over the file: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "", "migrate", "--data", flagData); code != 0 || !exists(flagData) {
		t.Fatalf("flag did not win over the environment: %d %s", code, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("datta: /tmp/x\n"), 0o600)
	if code, _, errOut := runCLI(t, nil, "", "migrate", "--config", bad); code != 2 || !strings.Contains(errOut, `unknown key "datta"`) {
		t.Errorf("typo in config file: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, map[string]string{"PATCHRING_LOG_LEVEL": "loud"}, "", "serve", "--data", dir); code != 2 || !strings.Contains(errOut, "--log-level") {
		t.Errorf("bad env value: %d %s", code, errOut)
	}
}

// TestServeEndToEnd is the README's first-run path: create the first admin
// token on the host, start the server, use the API and the CLI against it.
func TestServeEndToEnd(t *testing.T) {
	data := t.TempDir()
	code, tokOut, errOut := runCLI(t, nil, "", "token", "create", "--role", "msp-admin", "--name", "first admin", "--data", data)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	token := strings.TrimSpace(tokOut)
	if !strings.HasPrefix(token, "prt_") || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("token create printed %q / %q", tokOut, errOut)
	}

	url := startServer(t, data)
	get := func(path, tok string) (int, []byte) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/healthz", ""); code != 200 {
		t.Errorf("healthz = %d", code)
	}
	if code, _ := get("/api/v1/assets", ""); code != 401 {
		t.Errorf("assets without token = %d", code)
	}
	if code, body := get("/api/v1/assets", token); code != 200 {
		t.Errorf("assets with token = %d %s", code, body)
	}

	env := map[string]string{"PATCHRING_SERVER": url, "PATCHRING_TOKEN": token}
	code, out, errOut := runCLI(t, env, "", "clients", "create", "--name", "Riverside Clinic")
	if code != 0 {
		t.Fatalf("clients create: %d %s", code, errOut)
	}
	clientID := strings.TrimSpace(out)
	code, _, errOut = runCLI(t, env, "", "clients", "create", "--name", "riverside clinic")
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate client: %d %s", code, errOut)
	}
	csv := filepath.Join(t.TempDir(), "assets.csv")
	_ = os.WriteFile(csv, []byte("hostname,os_family,role,ephi\nws-1,windows,workstation,yes\nsrv-1,linux,server,no\n"), 0o600)
	if code, out, errOut := runCLI(t, env, "", "assets", "import", "--client", clientID, csv); code != 0 || !strings.Contains(out, "created 2") {
		t.Fatalf("assets import: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "", "assets", "list", "--tag", "ephi:yes", "--json")
	var assets []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &assets) != nil || len(assets) != 1 || assets[0]["hostname"] != "ws-1" {
		t.Errorf("assets list --json: %d %s", code, out)
	}
	export := filepath.Join(t.TempDir(), "out.csv")
	if code, _, errOut := runCLI(t, env, "", "assets", "export", "--client", clientID, "-o", export); code != 0 || !strings.Contains(errOut, "2 assets") {
		t.Errorf("assets export: %d %s", code, errOut)
	}
	code, out, _ = runCLI(t, env, "", "api", "GET", "/api/v1/me")
	if code != 0 || !strings.Contains(out, `"role": "msp-admin"`) {
		t.Errorf("api GET /me: %d %s", code, out)
	}
	code, _, errOut = runCLI(t, env, "", "api", "POST", "clients", "--data", `{"name": 7}`)
	if code != 1 || !strings.Contains(errOut, "name") {
		t.Errorf("api with a bad body: %d %s", code, errOut)
	}
}

// startServer runs `serve` in-process on a free port until the test ends.
func startServer(t *testing.T, data string) string {
	t.Helper()
	f := &serveFlags{store: storeFlags{data: data}, listen: "127.0.0.1:0", logLevel: "info", logFormat: "json"}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, f, logger)
	if err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, func(u string) { urls <- u }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

func TestDemoSeeds(t *testing.T) {
	f := &serveFlags{store: storeFlags{data: t.TempDir()}, listen: "127.0.0.1:0"}
	a, err := newApp(t.Context(), f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	banner, err := seedDemo(t.Context(), a, 1, "demo-password-123")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 clients", "admin@northstar.example", "demo-password-123", "prt_", "owner@riversideclinic.example"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	again, err := seedDemo(t.Context(), a, 1, "x")
	if err != nil || !strings.Contains(again, "existing data") {
		t.Errorf("second seed: %q %v", again, err)
	}
}
