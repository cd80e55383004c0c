package patch_test

import (
	"encoding/json"
	"testing"

	"github.com/patchring/patchring/internal/patch"
)

func TestRunbookValidate(t *testing.T) {
	ok := func() *patch.Runbook {
		rb := patch.DefaultRunbook("cli_1")
		rb.Snapshots = []patch.SnapshotRule{
			{Name: "vms", Assets: patch.AssetSelector{Classes: []string{"core-server"}}, Webhook: "https://hv.example/snap"},
			{Name: "lvm", Hook: "lvm-snapshot", RestoreHook: "lvm-restore"},
		}
		rb.HealthChecks = []patch.HealthCheckSet{
			{Name: "mail", Assets: patch.AssetSelector{Tags: []patch.TagRef{{Key: "role", Value: "mail"}}}, Checks: []patch.HealthCheck{
				{Name: "smtp", Kind: patch.CheckTCP, Host: "127.0.0.1", Port: 25},
				{Name: "flow", Kind: patch.CheckCommand, Hook: "send-test-mail"},
			}},
			{Name: "servers", Assets: patch.AssetSelector{Roles: []patch.AssetRole{patch.RoleServer}}, Checks: []patch.HealthCheck{
				{Name: "smtp", Kind: patch.CheckTCP, Host: "127.0.0.1", Port: 25}, // the same check in two sets
				{Name: "ehr", Kind: patch.CheckHTTP, URL: "https://ehr.example/login"},
				{Name: "share", Kind: patch.CheckFile, Path: `C:\probe.txt`},
				{Name: "spooler", Kind: patch.CheckService, Service: "Spooler"},
			}},
		}
		return rb
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("valid runbook: %v", err)
	}
	if err := patch.DefaultRunbook("cli_1").Validate(); err != nil {
		t.Fatalf("default runbook: %v", err)
	}
	tests := []struct {
		name  string
		mod   func(r *patch.Runbook)
		field string
	}{
		{"snapshot with neither hook nor webhook", func(r *patch.Runbook) { r.Snapshots[1].Hook = "" }, "snapshots[1].hook"},
		{"snapshot with both", func(r *patch.Runbook) { r.Snapshots[1].Webhook = "https://x.example" }, "snapshots[1].hook"},
		{"hook name with a path", func(r *patch.Runbook) { r.Snapshots[1].Hook = "/sbin/lvcreate" }, "snapshots[1].hook"},
		{"webhook with credentials", func(r *patch.Runbook) { r.Snapshots[0].Webhook = "https://u:p@hv.example/" }, "snapshots[0].webhook"},
		{"unknown role", func(r *patch.Runbook) { r.HealthChecks[1].Assets.Roles = []patch.AssetRole{"printer"} }, "health_checks[1].assets.roles[0]"},
		{"no checks", func(r *patch.Runbook) { r.HealthChecks[0].Checks = nil }, "health_checks[0].checks"},
		{"a command line instead of a hook", func(r *patch.Runbook) { r.HealthChecks[0].Checks[1].Hook = "sh -c 'curl evil'" }, "health_checks[0].checks[1].hook"},
		{"one name, two checks", func(r *patch.Runbook) { r.HealthChecks[1].Checks[0].Port = 587 }, "health_checks[1].checks[0].name"},
		{"tcp without port", func(r *patch.Runbook) { r.HealthChecks[0].Checks[0].Port = 0 }, "health_checks[0].checks[0].port"},
		{"http with a port field", func(r *patch.Runbook) { r.HealthChecks[1].Checks[1].Port = 443 }, "health_checks[1].checks[1].port"},
		{"relative file", func(r *patch.Runbook) { r.HealthChecks[1].Checks[2].Path = "probe.txt" }, "health_checks[1].checks[2].path"},
		{"bad expect status", func(r *patch.Runbook) { r.HealthChecks[1].Checks[1].ExpectStatus = 99 }, "health_checks[1].checks[1].expect_status"},
		{"unknown rollback", func(r *patch.Runbook) { r.Rollback.OnHealthFailure = "pray" }, "rollback.on_health_failure"},
		{"no attempts", func(r *patch.Runbook) { r.Remediation.MaxAttempts = 0 }, "remediation.max_attempts"},
		{"backoff too short", func(r *patch.Runbook) { r.Remediation.Backoff = "10s" }, "remediation.backoff"},
		{"max backoff below backoff", func(r *patch.Runbook) { r.Remediation.Backoff, r.Remediation.MaxBackoff = "2h", "1h" }, "remediation.max_backoff"},
		{"no budget", func(r *patch.Runbook) { r.InstallBudget = "" }, "install_budget"},
		{"grace not a duration", func(r *patch.Runbook) { r.CatchUpGrace = "soon" }, "catch_up_grace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.mod(r)
			err := r.Validate()
			if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) != tt.field {
				t.Errorf("Validate() = %v (field %q), want invalid on %s", err, patch.ErrorField(err), tt.field)
			}
		})
	}
}

func TestRunbookSelectors(t *testing.T) {
	rb := patch.DefaultRunbook("cli_1")
	rb.Snapshots = []patch.SnapshotRule{
		{Name: "core", Assets: patch.AssetSelector{Classes: []string{"core-server"}}, Hook: "vss"},
		{Name: "all", Hook: "lvm"},
	}
	rb.HealthChecks = []patch.HealthCheckSet{
		{Name: "a", Assets: patch.AssetSelector{Roles: []patch.AssetRole{patch.RoleServer}}, Checks: []patch.HealthCheck{{Name: "x", Kind: patch.CheckFile, Path: "/x"}}},
		{Name: "b", Assets: patch.AssetSelector{Tags: []patch.TagRef{{Key: "ephi"}}}, Checks: []patch.HealthCheck{{Name: "x", Kind: patch.CheckFile, Path: "/x"}, {Name: "y", Kind: patch.CheckFile, Path: "/y"}}},
	}
	dc := &patch.Asset{Class: "core-server", Role: patch.RoleServer, Tags: map[string]string{"ephi": "yes"}}
	ws := &patch.Asset{Class: "workstation", Role: patch.RoleWorkstation}
	if s, _ := rb.Snapshot(dc); s.Hook != "vss" {
		t.Errorf("core server snapshot = %+v", s)
	}
	if s, _ := rb.Snapshot(ws); s.Hook != "lvm" {
		t.Errorf("workstation snapshot = %+v", s)
	}
	if cs := rb.Checks(dc); len(cs) != 2 || cs[0].Name != "x" || cs[1].Name != "y" {
		t.Errorf("core server checks = %+v (a check in two sets runs once)", cs)
	}
	if cs := rb.Checks(ws); len(cs) != 0 {
		t.Errorf("workstation checks = %+v", cs)
	}
}

// FuzzRunbook: any JSON document either fails validation with a field
// error or is a runbook whose every check validates alone.
func FuzzRunbook(f *testing.F) {
	b, _ := json.Marshal(patch.DefaultRunbook("cli_1"))
	f.Add(b)
	f.Add([]byte(`{"health_checks":[{"name":"a","checks":[{"name":"x","kind":"tcp","host":"h","port":1}]}],"rollback":{"on_health_failure":"none"},"remediation":{"max_attempts":1,"backoff":"1m","max_backoff":"1m"},"install_budget":"1m","catch_up_grace":"1h"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var r patch.Runbook
		if json.Unmarshal(doc, &r) != nil {
			return
		}
		err := r.Validate()
		if err != nil {
			if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) == "" {
				t.Fatalf("Validate() = %v without a field", err)
			}
			return
		}
		for _, set := range r.HealthChecks {
			for _, c := range set.Checks {
				if c.Validate("c") != nil {
					t.Fatalf("check %+v validated in the runbook but not alone", c)
				}
			}
		}
	})
}
