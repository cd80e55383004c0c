package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/rollout"
)

// TestAgentJob: every job request the engine can make becomes an agent
// job the protocol accepts, with exactly its payload.
func TestAgentJob(t *testing.T) {
	c := &patch.Cycle{ID: "cyc_1", ClientID: "cli_1"}
	exp := time.Date(2026, 11, 17, 4, 30, 0, 0, time.UTC)
	base := rollout.JobRequest{ID: "job_1", AssetID: "ast_1", AgentID: "agt_1", ExpiresAt: exp, Deadline: exp.Add(30 * time.Minute), Source: "apt"}
	for _, tt := range []struct {
		mod  func(r *rollout.JobRequest)
		kind agentapi.JobKind
		want string
	}{
		{func(r *rollout.JobRequest) {
			r.Install = []rollout.Target{{ID: "curl=8.1", Package: "curl", Version: "8.1"}}
		}, agentapi.JobInstall,
			`{"source":"apt","targets":[{"id":"curl=8.1","package":"curl","version":"8.1"}],"deadline":"2026-11-17T05:00:00Z"}`},
		{func(r *rollout.JobRequest) {
			r.Rollback = []rollout.Target{{ID: "curl=8.1", Package: "curl", Version: "8.0"}}
		}, agentapi.JobRollback,
			`{"source":"apt","targets":[{"id":"curl=8.1","package":"curl","version":"8.0"}]}`},
		{func(r *rollout.JobRequest) { r.Hook = "lvm-snapshot" }, agentapi.JobHook, `{"name":"lvm-snapshot"}`},
		{func(r *rollout.JobRequest) {
			r.Reboot = &rollout.RebootRequest{DelaySeconds: 900, Message: "Save your work"}
		}, agentapi.JobReboot,
			`{"delay_seconds":900,"message":"Save your work"}`},
		{func(r *rollout.JobRequest) {
			r.Health = []patch.HealthCheck{{Name: "ehr", Kind: patch.CheckHTTP, URL: "https://ehr.example/", ExpectStatus: 200}}
		}, agentapi.JobHealth, `{"checks":[{"name":"ehr","kind":"http","url":"https://ehr.example/","expect_status":200}]}`},
		{func(r *rollout.JobRequest) { r.Scan = true }, agentapi.JobScan, `{}`},
	} {
		r := base
		tt.mod(&r)
		j, err := agentJob(c, r)
		if err != nil {
			t.Errorf("%s: %v", tt.kind, err)
			continue
		}
		if j.Kind != string(tt.kind) || string(j.Payload) != tt.want || j.AgentID != "agt_1" || !j.ExpiresAt.Equal(exp) || j.ClientID != "cli_1" {
			t.Errorf("%s: %+v payload %s", tt.kind, j, j.Payload)
		}
	}
	if _, err := agentJob(c, base); err == nil {
		t.Error("a request with no action became a job")
	}
	bad := base
	bad.Hook = "Not A Hook"
	if _, err := agentJob(c, bad); err == nil {
		t.Error("an invalid hook name became a job")
	}
}

// FuzzOutcome: whatever an agent's result document holds, reading it
// never panics and keeps the status.
func FuzzOutcome(f *testing.F) {
	f.Add([]byte(`{"id":"res_1","kind":"install","status":"succeeded","finished_at":"2026-11-17T01:09:00Z","install":{"source":"apt","items":[{"id":"curl=8.1","package":"curl","status":"installed","from_version":"8.0","to_version":"8.1"}],"reboot_required":true}}`))
	f.Add([]byte(`{"kind":"health","status":"failed","health":{"checks":[{"name":"ehr","ok":false,"detail":"502"}]}}`))
	f.Add([]byte(`{"kind":"reboot","status":"succeeded","reboot":{"scheduled_at":"2026-11-17T01:11:00Z"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		o := outcome(&patch.RolloutJob{Result: json.RawMessage(doc)})
		if len(doc) == 0 {
			if o != nil {
				t.Fatal("an empty result became an outcome")
			}
			return
		}
		if o == nil {
			t.Fatal("a result was dropped")
		}
		var r agentapi.Result
		if json.Unmarshal(doc, &r) == nil && o.Status != string(r.Status) {
			t.Fatalf("status %q, want %q", o.Status, r.Status)
		}
		_ = scanRebootRequired(doc)
	})
}
