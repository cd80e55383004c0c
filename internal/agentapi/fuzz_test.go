package agentapi_test

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
)

// FuzzDecode feeds arbitrary bytes to every message decoder and validator:
// none may panic, and a message that decodes and validates must survive a
// re-encode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"protocol_version":1,"inventory_hash":"abc","results":[{"id":"res_1","kind":"scan","status":"succeeded","started_at":"2026-11-10T09:00:00Z","finished_at":"2026-11-10T09:00:01Z","scan":{"sources":["apt"],"missing":[{"source":"apt","id":"curl=8","package":"curl"}]}}]}`))
	f.Add([]byte(`{"secret":"pre_x","public_key":"ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","inventory":{"hostname":"h","os":{"family":"linux"}}}`))
	f.Add([]byte(`{"results":[{"id":"res_2","kind":"hook","status":"failed","finished_at":"2026-11-10T09:00:01Z","hook":{"name":"x"}}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ci agentapi.CheckInRequest
		if agentapi.Decode(data, &ci) == nil && ci.Validate() == nil {
			for i := range ci.Results {
				_ = ci.Results[i].Validate()
			}
			if _, err := json.Marshal(ci); err != nil {
				t.Fatalf("re-encode check-in: %v", err)
			}
		}
		var rr agentapi.ResultsRequest
		if agentapi.Decode(data, &rr) == nil && rr.Validate() == nil {
			for i := range rr.Results {
				_ = rr.Results[i].Validate()
			}
		}
		var er agentapi.EnrollRequest
		if agentapi.Decode(data, &er) == nil {
			_ = er.Validate()
		}
		var resp agentapi.CheckInResponse
		_ = agentapi.Decode(data, &resp)
	})
}

// FuzzVerifyRequest checks that parsing and verifying arbitrary signature
// headers never panics and never accepts a signature the key did not make.
func FuzzVerifyRequest(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	req, _ := http.NewRequest(http.MethodPost, "https://x"+agentapi.PathCheckIn, nil)
	agentapi.SignRequest(req, []byte("{}"), "agt_1", priv, time.Unix(1_800_000_000, 0))
	h := req.Header
	f.Add(h.Get(agentapi.HeaderKeyID), h.Get(agentapi.HeaderTimestamp), h.Get(agentapi.HeaderNonce), h.Get(agentapi.HeaderSignature), []byte("{}"))
	f.Add("enroll", "0", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, keyID, ts, nonce, sig string, body []byte) {
		h := http.Header{}
		h.Set(agentapi.HeaderKeyID, keyID)
		h.Set(agentapi.HeaderTimestamp, ts)
		h.Set(agentapi.HeaderNonce, nonce)
		h.Set(agentapi.HeaderSignature, sig)
		a, err := agentapi.ParseRequestAuth(h)
		if err != nil {
			return
		}
		if a.Verify(pub, http.MethodPost, agentapi.PathCheckIn, body) == nil {
			// Only the seeded, genuinely signed request may verify.
			if string(body) != "{}" || keyID != "agt_1" {
				t.Fatalf("forged request verified: key %q body %q", keyID, body)
			}
		}
	})
}

// FuzzVerifyJob checks that arbitrary envelopes never panic and that only
// the genuinely signed job verifies.
func FuzzVerifyJob(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	keys := map[string]ed25519.PublicKey{"srv_1": priv.Public().(ed25519.PublicKey)}
	now := time.Unix(1_800_000_000, 0).UTC()
	j, _ := agentapi.NewJob("job_1", "agt_1", agentapi.JobHook, agentapi.HookPayload{Name: "snapshot"}, now, now.Add(time.Hour))
	sj, _ := agentapi.SignJob(j, "srv_1", priv)
	f.Add(sj.Job, sj.KeyID, sj.Signature)
	f.Add("e30=", "srv_1", "")
	f.Fuzz(func(t *testing.T, job, keyID, sig string) {
		got, err := agentapi.VerifyJob(agentapi.SignedJob{Job: job, KeyID: keyID, Signature: sig}, keys, "agt_1", now)
		_ = agentapi.PeekJobID(agentapi.SignedJob{Job: job})
		if err == nil && (job != sj.Job || got.ID != "job_1") {
			t.Fatalf("forged job verified: %q", job)
		}
	})
}
