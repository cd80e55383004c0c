package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/httpapi"
	"github.com/patchring/patchring/internal/notify"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// TestChannelsCLI drives 'patchring channels' against a real server over
// HTTP and a real webhook receiver.
func TestChannelsCLI(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	guard := webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db, Keys: db,
		Channels: db, Notifications: db}, server.Options{Notify: server.NotifyOptions{
		Senders: map[patch.ChannelKind]notify.Sender{patch.ChannelWebhook: webhook.New(webhook.Options{Guard: guard})}}})
	m := httpapi.NewMetrics(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", httpapi.New(srv, httpapi.Options{Version: "test", Metrics: m}).Handler())
	ts := httptest.NewServer(httpapi.Middleware(slog.New(slog.DiscardHandler), m, mux))
	t.Cleanup(ts.Close)
	admin := patchtest.AdminContext(t.Context())
	tok, err := srv.CreateToken(admin, server.TokenInput{Name: "admin", Role: patch.RoleMSPAdmin})
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.CreateClient(admin, server.ClientInput{Name: "Riverside Clinic"})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		secret string
		status = http.StatusNoContent
		hits   int
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		hits++
		if err := webhook.Verify(secret, r.Header, body, time.Now()); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(receiver.Close)

	env := map[string]string{"PATCHRING_SERVER": ts.URL, "PATCHRING_TOKEN": tok.Secret}
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, "", args...)
		if code != 0 {
			t.Fatalf("patchring %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	out := run("channels", "create", "--name", "PSA", "--kind", "webhook", "--url", receiver.URL+"/hook", "--min-severity", "warning", "--kinds", "updates_failed,cycle_halted")
	m1 := regexp.MustCompile(`(nch_\w+)\s+enabled webhook "PSA"\nSigning secret \(shown only now; give it to the receiver\): (whsec_\S+)\n`).FindStringSubmatch(out)
	if m1 == nil {
		t.Fatalf("create printed:\n%s", out)
	}
	id := m1[1]
	mu.Lock()
	secret = m1[2]
	mu.Unlock()

	out = run("channels", "create", "--client", string(c.ID), "--name", "Owner hook", "--kind", "webhook", "--url", receiver.URL+"/owner", "--disabled")
	if !strings.Contains(out, "disabled webhook") {
		t.Errorf("create --disabled printed:\n%s", out)
	}
	out = run("channels", "list")
	if !strings.Contains(out, "(MSP)") || !strings.Contains(out, "kinds=updates_failed,cycle_halted ≥warning") || !strings.Contains(out, string(c.ID)) {
		t.Errorf("list:\n%s", out)
	}
	if out := run("channels", "list", "--msp"); strings.Contains(out, "Owner hook") {
		t.Errorf("list --msp shows a client's channel:\n%s", out)
	}

	// Change only the minimum severity: the kinds stay.
	run("channels", "update", id, "--min-severity", "critical")
	var chs []*patch.Channel
	if err := json.Unmarshal([]byte(run("channels", "list", "--msp", "--json")), &chs); err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 || chs[0].Filter.MinSeverity != "critical" || strings.Join(chs[0].Filter.Kinds, ",") != "updates_failed,cycle_halted" {
		t.Errorf("after update: %+v", chs)
	}

	if out := run("channels", "test", id); !strings.Contains(out, " delivered") {
		t.Errorf("test printed %q", out)
	}
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	code, out, errOut := runCLI(t, env, "", "channels", "test", id)
	if code != 1 || !strings.Contains(out, "failed (500)") || !strings.Contains(errOut, "not delivered") {
		t.Errorf("test against a failing receiver: exit %d\n%s%s", code, out, errOut)
	}
	out = run("channels", "deliveries", "--channel", id)
	if strings.Count(out, " test ") < 2 || !strings.Contains(out, "failed") || !strings.Contains(out, "delivered") {
		t.Errorf("deliveries:\n%s", out)
	}
	if out := run("channels", "deliveries", "--state", "failed"); strings.Contains(out, "delivered ") {
		t.Errorf("deliveries --state failed:\n%s", out)
	}

	// Rotation prints a new secret; the old one no longer verifies.
	out = run("channels", "update", id, "--rotate-secret")
	m2 := regexp.MustCompile(`Signing secret \(shown only now; give it to the receiver\): (whsec_\S+)`).FindStringSubmatch(out)
	if m2 == nil || m2[1] == m1[2] {
		t.Fatalf("rotate printed:\n%s", out)
	}
	mu.Lock()
	status = http.StatusNoContent
	mu.Unlock()
	if code, _, _ := runCLI(t, env, "", "channels", "test", id); code != 1 {
		t.Errorf("test with the receiver still on the old secret: exit %d, want 1", code)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"channels", "create", "--kind", "webhook"}, 2, "--name"},
		{[]string{"channels", "create", "--name", "x", "--kind", "webhook", "--url", "http://10.0.0.1/h"}, 1, "url"},
		{[]string{"channels", "update", id, "--enable", "--disable"}, 2, "exclude"},
		{[]string{"channels", "update"}, 2, "CHANNEL_ID"},
		{[]string{"channels", "deliveries", "--limit", "0"}, 2, "--limit"},
		{[]string{"channels", "delete", "nch_nope"}, 1, "not found"},
	} {
		code, out, errOut := runCLI(t, env, "", tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("patchring %s: exit %d, want %d with %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errOut)
		}
	}
	run("channels", "delete", id)
	if out := run("channels", "list", "--msp"); strings.Contains(out, id) {
		t.Errorf("deleted channel still listed:\n%s", out)
	}
}

func TestNotifyFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hexKey := write("hex", strings.Repeat("ab", 32)+"\n")
	b64Key := write("b64", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n")
	short := write("short", "abcd")
	tests := []struct {
		name   string
		f      notifyFlags
		ok     bool
		email  bool
		keyLen int
	}{
		{name: "Defaults", ok: true},
		{name: "AllowNetworks", f: notifyFlags{allowNetworks: []string{"10.0.4.0/24", "127.0.0.1/32"}}, ok: true},
		{name: "BadNetwork", f: notifyFlags{allowNetworks: []string{"10.0.4.0"}}},
		{name: "HexKey", f: notifyFlags{keyFile: hexKey}, ok: true, keyLen: 32},
		{name: "Base64Key", f: notifyFlags{keyFile: b64Key}, ok: true, keyLen: 32},
		{name: "ShortKey", f: notifyFlags{keyFile: short}},
		{name: "MissingKeyFile", f: notifyFlags{keyFile: filepath.Join(dir, "nope")}},
		{name: "SMTP", f: notifyFlags{smtpHost: "smtp.example", smtpFrom: "p@msp.example", smtpTLS: "starttls"}, ok: true, email: true},
		{name: "SMTPWithoutFrom", f: notifyFlags{smtpHost: "smtp.example", smtpTLS: "starttls"}},
		{name: "SMTPBadTLS", f: notifyFlags{smtpHost: "smtp.example", smtpFrom: "p@msp.example", smtpTLS: "ssl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.f.options()
			if (err == nil) != tt.ok {
				t.Fatalf("options() = %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				if _, isUsage := err.(usageError); !isUsage {
					t.Errorf("error %v is not a usage error", err)
				}
				return
			}
			if (o.Senders[patch.ChannelEmail] != nil) != tt.email || o.Senders[patch.ChannelWebhook] == nil || len(o.SecretKey) != tt.keyLen {
				t.Errorf("options = %+v", o)
			}
		})
	}
}
