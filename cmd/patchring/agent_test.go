package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/apttest"
	"github.com/patchring/patchring/internal/pkgmgr/pkgmgrtest"
)

// operator drives a running server the way an operator does: the CLI with
// an admin token.
type operator struct {
	t     *testing.T
	url   string
	token string
}

func newOperator(t *testing.T, data, url string) *operator {
	t.Helper()
	code, out, errOut := runCLI(t, nil, "", "token", "create", "--role", "msp-admin", "--name", "ops", "--data", data)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	return &operator{t: t, url: url, token: strings.TrimSpace(out)}
}

// api runs "patchring api" and decodes its JSON output into out.
func (o *operator) api(out any, method, path string, data ...string) {
	o.t.Helper()
	args := []string{"api", method, path}
	if len(data) > 0 {
		args = append(args, "--data", data[0])
	}
	code, stdout, errOut := runCLI(o.t, map[string]string{"PATCHRING_SERVER": o.url, "PATCHRING_TOKEN": o.token}, "", args...)
	if code != 0 {
		o.t.Fatalf("patchring api %s %s: %d %s", method, path, code, errOut)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			o.t.Fatalf("patchring api %s %s: %v in %s", method, path, err, stdout)
		}
	}
}

// enrollmentSecret creates a client and a secret for it.
func (o *operator) enrollmentSecret(name string) (clientID, secret string) {
	o.t.Helper()
	var cl patch.Client
	o.api(&cl, "POST", "/api/v1/clients", fmt.Sprintf(`{"name":%q}`, name))
	var sec struct {
		Secret  string `json:"secret"`
		Install struct {
			Linux string `json:"linux"`
		} `json:"install"`
	}
	o.api(&sec, "POST", "/api/v1/enrollment-secrets", fmt.Sprintf(`{"client_id":%q,"name":"servers"}`, cl.ID))
	if !strings.Contains(sec.Install.Linux, "patchring agent enroll --server '"+o.url+"' --secret "+sec.Secret) {
		o.t.Errorf("install command %q does not enroll with this server", sec.Install.Linux)
	}
	return string(cl.ID), sec.Secret
}

// TestAgentAptEndToEnd is the acceptance test on real apt: a real
// server, the real agent CLI, and a local apt repository holding a package
// at two versions. The older is installed; the agent reports the newer
// missing; after an upgrade by hand the next run verifies it installed.
func TestAgentAptEndToEnd(t *testing.T) {
	apttest.RequireRoot(t)
	apttest.RequireTools(t)
	const pkg = "patchring-e2e-agent"
	repo := apttest.NewRepo(t)
	repo.Add(apttest.Package{Name: pkg, Version: "1.0-1"})
	repo.Add(apttest.Package{Name: pkg, Version: "1.1-1"})
	repo.DpkgInstall(pkg, "1.0-1")

	data := t.TempDir()
	url := startServer(t, data)
	op := newOperator(t, data, url)
	_, secret := op.enrollmentSecret("Riverside Clinic")

	state := t.TempDir()
	var aptFlags []string
	for _, o := range repo.AptOptions() {
		aptFlags = append(aptFlags, "--apt-option="+o)
	}
	agentCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, nil, "", append(append(args, "--state", state), aptFlags...)...)
		if code != 0 {
			t.Fatalf("patchring %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	out := agentCLI("agent", "enroll", "--server", url, "--secret", secret)
	st, err := agent.LoadState(state)
	if err != nil || !strings.Contains(out, st.AgentID) {
		t.Fatalf("enroll printed %q; state %+v (%v)", out, st, err)
	}
	agentCLI("agent", "run", "--once")

	var findings struct {
		Items []*patch.Finding `json:"items"`
		Total int              `json:"total"`
	}
	op.api(&findings, "GET", "/api/v1/assets/"+st.AssetID+"/findings?state=open")
	if findings.Total != 1 {
		t.Fatalf("open findings = %d, want 1: %+v", findings.Total, findings.Items)
	}
	f := findings.Items[0]
	if f.Update == nil || f.Update.Package != pkg || f.Update.Version != "1.1-1" || f.InstalledVersion != "1.0-1" ||
		f.Update.Source != "apt" || f.Update.VendorID != pkg+"=1.1-1" {
		t.Fatalf("finding = %+v update %+v", f, f.Update)
	}

	// The machine's real inventory arrived with the enrollment.
	var inv struct {
		Document struct {
			Hostname string `json:"hostname"`
			OS       struct {
				Family string `json:"family"`
				Kernel string `json:"kernel"`
			} `json:"os"`
		} `json:"document"`
		Serviceable bool `json:"serviceable"`
	}
	op.api(&inv, "GET", "/api/v1/assets/"+st.AssetID+"/inventory")
	hostname, _ := os.Hostname()
	if !strings.EqualFold(inv.Document.Hostname, strings.Split(hostname, ".")[0]) || inv.Document.OS.Family != "linux" || inv.Document.OS.Kernel == "" || !inv.Serviceable {
		t.Errorf("inventory = %+v", inv)
	}
	var sw struct {
		Items []*patch.Software `json:"items"`
	}
	op.api(&sw, "GET", "/api/v1/assets/"+st.AssetID+"/software?q="+pkg)
	if len(sw.Items) != 1 || sw.Items[0].Version != "1.0-1" || sw.Items[0].Source != "dpkg" {
		t.Errorf("software = %+v", sw.Items)
	}

	// The upgrade by hand, with apt-get against the same repository.
	cmd := exec.CommandContext(t.Context(), "apt-get", slices.Concat(repo.AptOptions(), []string{"-o", "DPkg::Lock::Timeout=300", "-q", "-y", "install", pkg + "=1.1-1"})...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install: %v\n%s", err, b)
	}
	agentCLI("agent", "run", "--once")
	var resolved struct {
		Items []*patch.Finding `json:"items"`
		Total int              `json:"total"`
	}
	op.api(&resolved, "GET", "/api/v1/assets/"+st.AssetID+"/findings?state=resolved")
	if resolved.Total != 1 || resolved.Items[0].ID != f.ID || resolved.Items[0].Resolution != patch.ResolvedVerified {
		t.Errorf("resolved findings = %+v", resolved.Items)
	}
	op.api(&findings, "GET", "/api/v1/assets/"+st.AssetID+"/findings?state=open")
	if findings.Total != 0 {
		t.Errorf("open findings after the upgrade = %d", findings.Total)
	}
	op.api(&sw, "GET", "/api/v1/assets/"+st.AssetID+"/software?q="+pkg)
	if len(sw.Items) != 1 || sw.Items[0].Version != "1.1-1" {
		t.Errorf("software after the upgrade = %+v (the inventory changed, so it is sent again)", sw.Items)
	}

	code, out, _ := runCLI(t, nil, "", "agent", "status", "--state", state, "--json")
	var status agent.Status
	if code != 0 || json.Unmarshal([]byte(out), &status) != nil || status.AgentID != st.AgentID || status.Outbox != 0 || status.LastError != "" {
		t.Errorf("agent status = %d %s", code, out)
	}
}

// serverProcess is a server that a test can stop and start again on the
// same address and data.
type serverProcess struct {
	t      *testing.T
	data   string
	addr   string
	cancel context.CancelFunc
	done   chan error
	app    *app
}

func (s *serverProcess) start() string {
	s.t.Helper()
	f := &serveFlags{store: storeFlags{data: s.data}, listen: s.addr, logLevel: "info", logFormat: "json"}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		s.t.Fatal(err)
	}
	urls := make(chan string, 1)
	s.cancel, s.done, s.app = cancel, make(chan error, 1), a
	go func() { s.done <- a.serve(ctx, func(u string) { urls <- u }) }()
	select {
	case u := <-urls:
		s.addr = strings.TrimPrefix(u, "http://")
		return u
	case err := <-s.done:
		s.t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		s.t.Fatal("server did not start")
	}
	return ""
}

func (s *serverProcess) stop() {
	s.t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("serve: %v", err)
	}
	s.app.Close()
	s.cancel = nil
}

// TestAgentOffline stops the real server while the agent keeps scanning:
// nothing is lost and nothing is applied twice when the server is back.
func TestAgentOffline(t *testing.T) {
	srv := &serverProcess{t: t, data: t.TempDir(), addr: "127.0.0.1:0"}
	url := srv.start()
	t.Cleanup(srv.stop)
	op := newOperator(t, srv.data, url)
	_, secret := op.enrollmentSecret("Beta Law")

	fake := pkgmgrtest.New(pkgmgr.SourceApt, pkgmgr.Update{ID: "curl=8.0-1", Package: "curl", InstalledVersion: "7.88-1", AvailableVersion: "8.0-1"})
	opts := agent.Options{
		StateDir: t.TempDir(),
		Managers: []pkgmgr.Manager{fake},
		Collect: func(context.Context) (inventory.Host, error) {
			return inventory.Host{Hostname: "law-fs01", OS: inventory.OS{Family: inventory.FamilyLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12"},
				Hardware: inventory.Hardware{HardwareUUID: "3f0c2a55-1e0b-4bb0-9a11-0d6c1f0e8c2a"}}, nil
		},
	}
	st, err := agent.Enroll(t.Context(), opts, url, secret, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}

	srv.stop()
	if _, err := net.DialTimeout("tcp", srv.addr, time.Second); err == nil {
		t.Fatal("the server still answers")
	}
	// Offline: curl is still missing, then openssl too.
	for _, missing := range [][]pkgmgr.Update{
		{{ID: "curl=8.0-1", Package: "curl", InstalledVersion: "7.88-1", AvailableVersion: "8.0-1"}},
		{{ID: "curl=8.0-1", Package: "curl", InstalledVersion: "7.88-1", AvailableVersion: "8.0-1"}, {ID: "openssl=3.0.15-1", Package: "openssl", InstalledVersion: "3.0.14-1", AvailableVersion: "3.0.15-1"}},
	} {
		fake.SetMissing(missing...)
		if err := a.RunOnce(t.Context()); err == nil {
			t.Fatal("RunOnce with the server down succeeded")
		}
	}
	waiting, err := agent.OpenOutbox(opts.StateDir, 0).Peek(100, 1<<30)
	if err != nil || len(waiting) != 2 {
		t.Fatalf("outbox = %d results (%v), want 2", len(waiting), err)
	}

	srv.start()
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatalf("RunOnce after the server came back: %v", err)
	}
	if n, _ := agent.OpenOutbox(opts.StateDir, 0).Len(); n != 0 {
		t.Errorf("outbox = %d after delivery", n)
	}
	// Every offline result is stored: a re-send is recognised as one.
	ag, err := srv.app.db.FindAgentByID(patch.NewContextWithActor(t.Context(), patch.SystemActor("test")), patch.AgentID(st.AgentID))
	if err != nil {
		t.Fatal(err)
	}
	actx := patch.NewContextWithActor(t.Context(), ag.Actor())
	for _, r := range waiting {
		out, err := srv.app.db.RecordResults(actx, []patch.AgentResult{{ID: r.ID, Kind: "scan", Status: "succeeded", FinishedAt: r.FinishedAt, Document: []byte("{}")}})
		if err != nil || !out[0].Duplicate {
			t.Errorf("result %s delivered while offline was not stored (%+v, %v)", r.ID, out, err)
		}
	}
	// Applied once each: one open finding per update, one detection each.
	var findings struct {
		Items []*patch.Finding `json:"items"`
	}
	op.api(&findings, "GET", "/api/v1/assets/"+st.AssetID+"/findings?state=open")
	var pkgs []string
	for _, f := range findings.Items {
		pkgs = append(pkgs, f.Update.Package)
	}
	slices.Sort(pkgs)
	if !slices.Equal(pkgs, []string{"curl", "openssl"}) {
		t.Errorf("open findings = %v, want curl and openssl once each", pkgs)
	}
	ev, _, err := srv.app.db.FindEvidence(patch.NewContextWithActor(t.Context(), patch.SystemActor("test")),
		patch.EvidenceFilter{ClientID: ag.ClientID, Types: []string{patch.EventDetected}})
	if err != nil || len(ev) != 2 {
		t.Errorf("detected events = %d (%v), want 2", len(ev), err)
	}
}

func TestAgentCLI(t *testing.T) {
	state := t.TempDir()
	code, out, _ := runCLI(t, nil, "", "agent", "status", "--state", state)
	if code != 0 || !strings.Contains(out, "Not enrolled") {
		t.Errorf("status of an unenrolled machine: %d %q", code, out)
	}
	if code, _, errOut := runCLI(t, nil, "", "agent", "enroll", "--state", state); code != exitUsage || !strings.Contains(errOut, "--secret") {
		t.Errorf("enroll without a secret: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "", "agent", "run", "--once", "--state", state); code != exitRuntime || !strings.Contains(errOut, "not enrolled") {
		t.Errorf("run before enrolling: %d %q", code, errOut)
	}
	// The secret may come from the environment.
	env := map[string]string{"PATCHRING_SECRET": "pre_x", "PATCHRING_SERVER": "http://127.0.0.1:1"}
	if code, _, errOut := runCLI(t, env, "", "agent", "enroll", "--state", state); code != exitRuntime || !strings.Contains(errOut, "enroll") {
		t.Errorf("enroll against a closed port: %d %q", code, errOut)
	}
}
