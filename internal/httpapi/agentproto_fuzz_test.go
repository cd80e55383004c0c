package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/server"
)

var agentPaths = []string{agentapi.PathEnroll, agentapi.PathCheckIn, agentapi.PathResults, "/agent/v1/nope"}

// FuzzAgentHeaders sends arbitrary signature headers and bodies to every
// agent endpoint: the verify path must refuse them cleanly (a 4xx with the
// error body), never panic or fail with a 5xx.
func FuzzAgentHeaders(f *testing.F) {
	h := newAgentHarness(f)
	sec := h.newSecret(server.EnrollmentSecretInput{})
	a, _ := h.enroll(sec.Secret, "srv-01", "uuid-1")
	req, _ := http.NewRequest(http.MethodPost, "http://x"+agentapi.PathCheckIn, nil)
	agentapi.SignRequest(req, []byte("{}"), a.id, a.key, time.Now())
	f.Add(uint8(1), a.id, req.Header.Get(agentapi.HeaderTimestamp), req.Header.Get(agentapi.HeaderNonce), req.Header.Get(agentapi.HeaderSignature), []byte("{}"))
	f.Add(uint8(0), "enroll", "1", "AAAAAAAAAAAAAAAAAAAAAAAA", "", []byte(`{"secret":"pre_x"}`))
	f.Add(uint8(2), "", "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, which uint8, keyID, ts, nonce, sig string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, agentPaths[int(which)%len(agentPaths)], bytes.NewReader(body))
		for k, v := range map[string]string{agentapi.HeaderKeyID: keyID, agentapi.HeaderTimestamp: ts, agentapi.HeaderNonce: nonce, agentapi.HeaderSignature: sig} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		checkAnswer(t, rec, body)
	})
}

// FuzzAgentBodies signs arbitrary bodies with an enrolled agent's key, so
// that they pass authentication and reach decoding, validation and the
// store: the server must answer 200 or a 4xx, never a 5xx.
func FuzzAgentBodies(f *testing.F) {
	h := newAgentHarness(f)
	sec := h.newSecret(server.EnrollmentSecretInput{})
	a, _ := h.enroll(sec.Secret, "srv-01", "uuid-1")
	inv := testInventory("srv-01", "uuid-1")
	for _, v := range []any{
		agentapi.CheckInRequest{ProtocolVersion: 1, InventoryHash: "h", Inventory: &inv, Results: []agentapi.Result{scanResult("res-1")}},
		agentapi.ResultsRequest{ProtocolVersion: 1, Results: []agentapi.Result{scanResult("res-2"), {ID: "res-3", Kind: "hook", Status: "failed", FinishedAt: time.Now()}}},
		agentapi.EnrollRequest{ProtocolVersion: 1, Secret: sec.Secret, Inventory: inv},
	} {
		b, _ := json.Marshal(v)
		f.Add(uint8(1), b)
		f.Add(uint8(2), b)
	}
	f.Add(uint8(1), []byte(`{"results":[{"id":"r","kind":"scan","status":"succeeded","finished_at":"9999-12-31T23:59:59Z","scan":{"sources":["apt"],"missing":[{"source":"apt","id":"x"}]}}]}`))
	f.Add(uint8(1), []byte(`{"inventory":{"hostname":"\u0000","os":{"family":"linux"},"software":[{"name":"\u0000"}]}}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := agentPaths[1+int(which)%2]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		agentapi.SignRequest(req, body, a.id, a.key, time.Now())
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		checkAnswer(t, rec, body)
	})
}

func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, body []byte) {
	t.Helper()
	switch rec.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusConflict, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("answer is not JSON: %q", rec.Body.Bytes())
	}
}
