package agent_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/pkgmgrtest"
)

// TestHealthJob runs each kind of health check against real local
// endpoints: the playbook's spot checks (email delivery as an SMTP port,
// EHR access as an HTTP status, local file access as a readable file, a
// configured probe as a hook).
func TestHealthJob(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("hooks run /bin/true")
	}
	smtp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	go func() {
		for {
			c, err := smtp.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().(*net.TCPAddr)
	closed.Close()
	ehr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Redirect(w, r, "/health", http.StatusFound)
	}))
	defer ehr.Close()
	share := filepath.Join(t.TempDir(), "probe.txt")
	if err := os.WriteFile(share, []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}

	p := newPeer(t)
	a, _ := testAgent(t, p, pkgmgrtest.New(pkgmgr.SourceApt), func(o *agent.Options) {
		o.Hooks = map[string]agent.Hook{"mail-flow": {Command: []string{"/bin/true"}}, "broken-probe": {Command: []string{"/bin/false"}}}
	})
	port := smtp.Addr().(*net.TCPAddr).Port
	checks := []agentapi.HealthCheck{
		{Name: "smtp", Kind: agentapi.CheckTCP, Host: "127.0.0.1", Port: port},
		{Name: "ehr", Kind: agentapi.CheckHTTP, URL: ehr.URL + "/health"},
		{Name: "share", Kind: agentapi.CheckFile, Path: share},
		{Name: "mail-flow", Kind: agentapi.CheckCommand, Hook: "mail-flow"},
		// Failing ones.
		{Name: "smtp-down", Kind: agentapi.CheckTCP, Host: "127.0.0.1", Port: closedAddr.Port},
		{Name: "ehr-redirect", Kind: agentapi.CheckHTTP, URL: ehr.URL + "/", ExpectStatus: 200},
		{Name: "missing-file", Kind: agentapi.CheckFile, Path: share + ".gone"},
		{Name: "broken-probe", Kind: agentapi.CheckCommand, Hook: "broken-probe"},
		{Name: "not-configured", Kind: agentapi.CheckCommand, Hook: "rm-rf"},
	}
	var before int
	p.set(func(p *peer) {
		p.jobs = []agentapi.SignedJob{signJob(t, p, agentapi.JobHealth, agentapi.HealthPayload{Checks: checks}, nil)}
		before = len(p.results)
	})
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	var res *agentapi.Result
	p.get(func(p *peer) {
		for i := range p.results[before:] {
			if r := p.results[before+i]; r.Kind == agentapi.JobHealth {
				res = &r
			}
		}
	})
	if res == nil || res.Health == nil || len(res.Health.Checks) != len(checks) {
		t.Fatalf("health result = %+v", res)
	}
	if res.Status != agentapi.ResultFailed || res.Error != "5 of 9 health checks failed" {
		t.Errorf("status %s %q", res.Status, res.Error)
	}
	for i, c := range res.Health.Checks {
		wantOK := i < 4
		if c.Name != checks[i].Name || c.OK != wantOK {
			t.Errorf("check %s: ok=%v (%s), want %v", c.Name, c.OK, c.Detail, wantOK)
		}
	}
	if d := res.Health.Checks[5].Detail; !strings.Contains(d, "answered 302, want 200") {
		t.Errorf("redirect detail = %q", d)
	}
	if d := res.Health.Checks[8].Detail; !strings.Contains(d, "not configured on this machine") {
		t.Errorf("unconfigured hook detail = %q", d)
	}
}

// TestRollbackJobNeedsRollbacker: a backend that cannot roll back refuses
// the job rather than pretend.
func TestRollbackJobNeedsRollbacker(t *testing.T) {
	p := newPeer(t)
	a, _ := testAgent(t, p, pkgmgrtest.New(pkgmgr.SourceApt))
	var before int
	p.set(func(p *peer) {
		p.jobs = []agentapi.SignedJob{signJob(t, p, agentapi.JobRollback, agentapi.RollbackPayload{Source: "apt",
			Targets: []agentapi.Target{{ID: "curl=8.0-1", Package: "curl", Version: "7.88-1"}}}, nil)}
		before = len(p.results)
	})
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.get(func(p *peer) {
		var got []agentapi.Result
		for _, r := range p.results[before:] {
			if r.JobID != "" {
				got = append(got, r)
			}
		}
		if len(got) != 1 || got[0].Status != agentapi.ResultRefused || !strings.Contains(got[0].Error, "cannot roll back") {
			t.Errorf("rollback results = %+v", got)
		}
	})
}
