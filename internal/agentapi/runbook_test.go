package agentapi

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

func TestHealthCheckValidate(t *testing.T) {
	tests := []struct {
		name  string
		c     HealthCheck
		field string // "" when valid
	}{
		{"tcp", HealthCheck{Name: "smtp", Kind: CheckTCP, Host: "127.0.0.1", Port: 25}, ""},
		{"http", HealthCheck{Name: "ehr", Kind: CheckHTTP, URL: "https://ehr.clinic.example/health", ExpectStatus: 200}, ""},
		{"service", HealthCheck{Name: "postfix", Kind: CheckService, Service: "postfix@-.service"}, ""},
		{"file", HealthCheck{Name: "share", Kind: CheckFile, Path: `\\fs1\clinic\probe.txt`}, ""},
		{"command by hook name", HealthCheck{Name: "mail-flow", Kind: CheckCommand, Hook: "smtp-probe"}, ""},
		{"no name", HealthCheck{Kind: CheckTCP, Host: "a", Port: 1}, "name"},
		{"unknown kind", HealthCheck{Name: "x", Kind: "shell"}, "kind"},
		{"port out of range", HealthCheck{Name: "x", Kind: CheckTCP, Host: "a", Port: 70000}, "port"},
		{"a field of another kind", HealthCheck{Name: "x", Kind: CheckTCP, Host: "a", Port: 1, Hook: "evil"}, "hook"},
		{"ftp URL", HealthCheck{Name: "x", Kind: CheckHTTP, URL: "ftp://a/b"}, "url"},
		{"shell in a service name", HealthCheck{Name: "x", Kind: CheckService, Service: "a; rm -rf /"}, "service"},
		{"a command is never text", HealthCheck{Name: "x", Kind: CheckCommand, Hook: "/bin/sh -c id"}, "hook"},
		{"long timeout", HealthCheck{Name: "x", Kind: CheckFile, Path: "/etc/hosts", TimeoutSeconds: 601}, "timeout_seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			var fe *FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Errorf("Validate() = %v, want an error on %s", err, tt.field)
			}
		})
	}
}

func TestRunbookJobsSignAndVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Date(2026, 11, 17, 2, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		kind    JobKind
		payload any
		ok      bool
	}{
		{JobHealth, HealthPayload{Checks: []HealthCheck{{Name: "ehr", Kind: CheckHTTP, URL: "https://ehr.example/health"}}}, true},
		{JobHealth, HealthPayload{}, false},
		{JobHealth, map[string]any{"checks": []any{map[string]any{"name": "x", "kind": "tcp", "host": "a", "port": 1, "script": "id"}}}, false},
		{JobRollback, RollbackPayload{Source: "apt", Targets: []Target{{ID: "curl=8.1", Package: "curl", Version: "8.0"}}}, true},
		{JobRollback, RollbackPayload{Source: "apt", Targets: []Target{{ID: "curl=8.1", Package: "curl"}}}, false}, // a version is required
	} {
		j, err := NewJob("job_1", "agt_1", tt.kind, tt.payload, now, now.Add(time.Hour))
		if (err == nil) != tt.ok {
			t.Errorf("NewJob(%s, %+v) = %v, want ok=%v", tt.kind, tt.payload, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		sj, err := SignJob(j, "key_1", priv)
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyJob(sj, map[string]ed25519.PublicKey{"key_1": pub}, "agt_1", now)
		if err != nil || got.Kind != tt.kind {
			t.Errorf("VerifyJob = %+v, %v", got, err)
		}
	}
}

func TestRunbookResults(t *testing.T) {
	now := time.Date(2026, 11, 17, 2, 0, 0, 0, time.UTC)
	ok := Result{ID: "res_1", JobID: "job_1", Kind: JobHealth, Status: ResultFailed, StartedAt: now, FinishedAt: now,
		Health: &HealthReport{Checks: []CheckResult{{Name: "ehr", OK: false, Detail: "status 502"}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("health result: %v", err)
	}
	wrong := ok
	wrong.Install = &InstallReport{}
	if err := wrong.Validate(); err == nil {
		t.Error("a health result with an install report validated")
	}
	rb := Result{ID: "res_2", JobID: "job_2", Kind: JobRollback, Status: ResultSucceeded, StartedAt: now, FinishedAt: now,
		Rollback: &InstallReport{Source: "apt", Items: []ItemResult{{ID: "curl=8.1", Package: "curl", Status: "installed", ToVersion: "8.0"}}}}
	if err := rb.Validate(); err != nil {
		t.Errorf("rollback result: %v", err)
	}
}

// FuzzHealthPayload: no payload makes validation panic, and whatever
// validates names only the kinds' own fields.
func FuzzHealthPayload(f *testing.F) {
	f.Add([]byte(`{"checks":[{"name":"smtp","kind":"tcp","host":"127.0.0.1","port":25}]}`))
	f.Add([]byte(`{"checks":[{"name":"ehr","kind":"http","url":"https://ehr/health","expect_status":200}]}`))
	f.Add([]byte(`{"checks":[{"name":"x","kind":"command","hook":"probe","host":"a"}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		j := Job{ID: "job_1", AgentID: "agt_1", Kind: JobHealth, IssuedAt: time.Unix(1, 0), ExpiresAt: time.Unix(2, 0), Payload: payload}
		if err := j.Validate(); err != nil {
			return
		}
		var p HealthPayload
		if err := j.DecodePayload(&p); err != nil {
			t.Fatalf("validated payload does not decode: %v", err)
		}
		for _, c := range p.Checks {
			if c.Kind == CheckCommand && (c.Host != "" || c.URL != "" || c.Path != "" || c.Service != "") {
				t.Fatalf("command check with other fields validated: %+v", c)
			}
		}
	})
}
