package main

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/pkgmgr/apttest"
	"github.com/patchring/patchring/internal/server"
)

// TestCycleAptEndToEnd is the acceptance test on real apt: a real
// server, the real agent CLI on this machine and a local apt repository
// with a newer version of two packages. A cycle deploys the first in the
// agent's ring and the machine ends with it installed (dpkg says so) and
// verified by a scan; then, with a health check that fails, a cycle of the
// second package rolls it back to the old version and records the
// rollback. Everything is driven through the CLI an MSP engineer uses.
func TestCycleAptEndToEnd(t *testing.T) {
	apttest.RequireRoot(t)
	apttest.RequireTools(t)
	const good, bad = "patchring-e2e-cycle-good", "patchring-e2e-cycle-bad"
	repo := apttest.NewRepo(t)
	for _, p := range []string{good, bad} {
		repo.Add(apttest.Package{Name: p, Version: "1.0-1"})
		repo.Add(apttest.Package{Name: p, Version: "1.1-1"})
		repo.DpkgInstall(p, "1.0-1")
	}

	srv := &serverProcess{t: t, data: t.TempDir(), addr: "127.0.0.1:0"}
	url := srv.start()
	defer srv.stop()
	op := newOperator(t, srv.data, url)
	clientID, secret := op.enrollmentSecret("Riverside Clinic")

	state := t.TempDir()
	aptFlags := []string{}
	for _, o := range repo.AptOptions() {
		aptFlags = append(aptFlags, "--apt-option="+o)
	}
	agentCLI := func(args ...string) {
		t.Helper()
		code, out, errOut := runCLI(t, nil, "", append(append(args, "--state", state), aptFlags...)...)
		if code != 0 {
			t.Fatalf("patchring %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	agentCLI("agent", "enroll", "--server", url, "--secret", secret)
	agentCLI("agent", "run", "--once")
	st, err := agent.LoadState(state)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PATCHRING_SERVER": url, "PATCHRING_TOKEN": op.token}
	cli := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, "", args...)
		if code != 0 {
			t.Fatalf("patchring %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	// Deploy at any time (the test must not depend on the day of the
	// week), and pin the machine to the pilot ring: canary is empty and
	// passes at once; pilot is this machine's ring.
	var pol patch.Policy
	op.api(&pol, "GET", "/api/v1/clients/"+clientID+"/policy")
	for i := range pol.SLA.Matrix {
		pol.SLA.Matrix[i].Windows = nil
		pol.SLA.Matrix[i].ManualApproval = false
		pol.SLA.Matrix[i].Reboot = patch.RebootPolicy{Mode: patch.RebootManual}
	}
	body, _ := json.Marshal(pol)
	op.api(nil, "PUT", "/api/v1/clients/"+clientID+"/policy", string(body))
	op.api(nil, "PATCH", "/api/v1/assets/"+st.AssetID, `{"ring":"pilot"}`)

	updateOf := func(pkg string) string {
		t.Helper()
		var fs struct{ Items []*patch.Finding }
		op.api(&fs, "GET", "/api/v1/assets/"+st.AssetID+"/findings?state=open")
		for _, f := range fs.Items {
			if f.Update != nil && f.Update.Package == pkg {
				if f.Update.Version != "1.1-1" {
					t.Fatalf("%s finding = %+v", pkg, f.Update)
				}
				op.api(nil, "POST", "/api/v1/clients/"+clientID+"/approvals", fmt.Sprintf(`{"update_id":%q,"decision":"approved"}`, f.UpdateID))
				return string(f.UpdateID)
			}
		}
		t.Fatalf("no open finding for %s: %+v", pkg, fs.Items)
		return ""
	}
	run := func(cycle string, until patch.CycleState) map[string]any {
		t.Helper()
		for range 10 {
			if _, err := srv.app.srv.RolloutRound(t.Context()); err != nil {
				t.Fatalf("rollout round: %v", err)
			}
			agentCLI("agent", "run", "--once")
			var v struct {
				Cycle       server.CycleView         `json:"cycle"`
				Deployments []*server.DeploymentView `json:"deployments"`
			}
			if err := json.Unmarshal([]byte(cli("cycle", "show", cycle, "--json")), &v); err != nil {
				t.Fatal(err)
			}
			if v.Cycle.State == until {
				return map[string]any{"cycle": v.Cycle, "deployment": v.Deployments[0]}
			}
		}
		t.Fatalf("cycle %s did not reach %s:\n%s", cycle, until, cli("cycle", "show", cycle))
		return nil
	}

	// 1. The good package: deployed, then verified.
	goodUpdate := updateOf(good)
	cycle := strings.TrimSpace(cli("cycle", "create", "--client", clientID, "--name", "November 2026", "--update", goodUpdate))
	res := run(cycle, patch.CycleCompleted)
	d := res["deployment"].(*server.DeploymentView)
	if got := repo.InstalledVersion(good); got != "1.1-1" {
		t.Fatalf("dpkg says %s is at %q, want 1.1-1", good, got)
	}
	if d.State != patch.DeploySucceeded || d.Ring != "pilot" || d.Targets[0].State != patch.TargetVerified || d.Targets[0].FromVersion != "1.0-1" ||
		d.SentAt.IsZero() || d.InstalledAt.IsZero() || d.VerifiedAt.IsZero() || d.VerifiedAt.Before(d.InstalledAt) {
		t.Fatalf("deployment = %+v", d.Deployment)
	}
	var resolved struct{ Items []*patch.Finding }
	op.api(&resolved, "GET", "/api/v1/assets/"+st.AssetID+"/findings?state=resolved")
	if len(resolved.Items) != 1 || resolved.Items[0].Resolution != patch.ResolvedVerified || string(resolved.Items[0].UpdateID) != goodUpdate {
		t.Errorf("resolved findings = %+v", resolved.Items)
	}
	var ev struct{ Items []*patch.EvidenceEntry }
	op.api(&ev, "GET", "/api/v1/clients/"+clientID+"/evidence?asset_id="+st.AssetID+"&update_id="+goodUpdate+"&limit=100")
	var types []string
	for _, e := range ev.Items {
		types = append(types, e.Type)
	}
	if want := []string{"detected", "approved", "scheduled", "sent", "installed", "verified"}; !containsInOrder(types, want) {
		t.Errorf("evidence of %s = %v, want %v in order", good, types, want)
	}
	out := cli("cycle", "show", cycle)
	if !strings.Contains(out, "pilot") || !strings.Contains(out, "succeeded") {
		t.Errorf("cycle show:\n%s", out)
	}

	// 2. The bad package, with a health check that fails (nothing
	// listens on the port): rolled back to 1.0-1, with the evidence.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var rb patch.Runbook
	op.api(&rb, "GET", "/api/v1/clients/"+clientID+"/runbook")
	rb.HealthChecks = []patch.HealthCheckSet{{Name: "ehr", Checks: []patch.HealthCheck{{Name: "ehr-web", Kind: patch.CheckTCP, Host: "127.0.0.1", Port: port, TimeoutSeconds: 2}}}}
	body, _ = json.Marshal(rb)
	op.api(nil, "PUT", "/api/v1/clients/"+clientID+"/runbook", string(body))
	badUpdate := updateOf(bad)
	cycle2 := strings.TrimSpace(cli("cycle", "create", "--client", clientID, "--update", badUpdate))
	// A rolled-back deployment is a failure of its ring: one of one is
	// above the pilot's threshold, so the cycle halts too.
	res = run(cycle2, patch.CycleHalted)
	d = res["deployment"].(*server.DeploymentView)
	if got := repo.InstalledVersion(bad); got != "1.0-1" {
		t.Fatalf("dpkg says %s is at %q after the rollback, want 1.0-1", bad, got)
	}
	if d.State != patch.DeployRolledBack || d.Targets[0].State != patch.TargetRolledBack || d.RolledBackAt.IsZero() || d.TicketID == "" {
		t.Fatalf("deployment = %+v", d.Deployment)
	}
	var steps []string
	for _, j := range d.Jobs {
		steps = append(steps, string(j.Step)+":"+string(j.State))
	}
	if !slices.Equal(steps, []string{"install:succeeded", "health:failed", "rollback:succeeded"}) {
		t.Errorf("jobs = %v", steps)
	}
	op.api(&ev, "GET", "/api/v1/clients/"+clientID+"/evidence?asset_id="+st.AssetID+"&limit=200")
	types = types[:0]
	var rolled *patch.EvidenceEntry
	for _, e := range ev.Items {
		if e.Subject.CycleID == cycle2 {
			types = append(types, e.Type)
			if e.Type == patch.EventRolledBack {
				rolled = e
			}
		}
	}
	if want := []string{"scheduled", "sent", "installed", "health_check_failed", "rolled_back"}; !containsInOrder(types, want) {
		t.Errorf("evidence of the rollback cycle = %v, want %v in order", types, want)
	}
	if rolled == nil || rolled.Details["version"] != "1.0-1" || rolled.Details["previous_version"] != "1.1-1" {
		t.Errorf("rolled_back event = %+v", rolled)
	}
	// The update is missing again, and says why.
	var open struct {
		Items []struct {
			patch.Finding
			Why struct{ Code, Text string } `json:"why_not_patched"`
		}
	}
	op.api(&open, "GET", "/api/v1/findings?client_id="+clientID+"&asset_id="+st.AssetID+"&state=open")
	if len(open.Items) != 1 || open.Items[0].Why.Code != "install_failed" || !strings.Contains(open.Items[0].Why.Text, "health check failed") {
		t.Errorf("open findings after the rollback = %+v", open.Items)
	}
	if out := cli("cycle", "tickets", "--client", clientID, "--state", "open"); !strings.Contains(out, "rolled back after a failed health check") {
		t.Errorf("tickets:\n%s", out)
	}
}

// containsInOrder reports whether want appears in got in order (other
// entries may sit between).
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
