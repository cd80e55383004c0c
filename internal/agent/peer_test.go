package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/pkgmgrtest"
)

// peer is a scripted server: the remote end of the protocol is one of the
// boundaries the agent's tests fake (the real server is exercised end to
// end in cmd/patchring). It verifies every signature like the server does.
type peer struct {
	t         testing.TB
	serverKey ed25519.PrivateKey
	// offset is the peer's clock minus the agent's.
	offset time.Duration

	mu          sync.Mutex
	agentPub    ed25519.PublicKey
	down        bool // answer 503 to everything
	lossyAcks   bool // store results but answer 503 (the ack is lost)
	revoked     bool
	checkIns    []time.Time
	received    map[string]int // result id → deliveries
	results     []agentapi.Result
	inventories int
	needInv     bool
	rejectInv   bool // answer 400 to a check-in with an inventory
	jobs        []agentapi.SignedJob
	next        int
	lastStatus  agentapi.AgentStatus
}

const serverKeyID = "key_test"

func newPeer(t testing.TB) *peer {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	return &peer{t: t, serverKey: ed25519.NewKeyFromSeed(seed), received: map[string]int{}, next: 300}
}

func (p *peer) set(f func(p *peer)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *peer) get(f func(p *peer)) { p.set(f) }

func (p *peer) commandKey() agentapi.CommandKey {
	return agentapi.CommandKey{ID: serverKeyID, PublicKey: agentapi.EncodePublicKey(p.serverKey.Public().(ed25519.PublicKey))}
}

func (p *peer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now().Add(p.offset)
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	body, _ := io.ReadAll(r.Body)
	fail := func(status int, refusal string) {
		if refusal != "" {
			w.Header().Set("Patchring-Refusal", refusal)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"code":"x","message":"refused"}}`))
	}
	if p.down {
		fail(http.StatusServiceUnavailable, "")
		return
	}
	auth, err := agentapi.ParseRequestAuth(r.Header)
	if err != nil {
		fail(http.StatusUnauthorized, "")
		return
	}
	if d := now.Sub(auth.Timestamp); d > 5*time.Minute || d < -5*time.Minute {
		fail(http.StatusUnauthorized, "clock_skew")
		return
	}
	pub := p.agentPub
	if r.URL.Path == agentapi.PathEnroll {
		var req agentapi.EnrollRequest
		if json.Unmarshal(body, &req) != nil {
			fail(http.StatusBadRequest, "")
			return
		}
		pub, _ = agentapi.ParsePublicKey(req.PublicKey)
	}
	if err := auth.Verify(pub, r.Method, r.URL.RequestURI(), body); err != nil {
		p.t.Errorf("peer: %s with a bad signature: %v", r.URL.Path, err)
		fail(http.StatusUnauthorized, "")
		return
	}
	if p.revoked {
		fail(http.StatusForbidden, "revoked_agent")
		return
	}
	ack := func(rs []agentapi.Result) []string {
		ids := []string{}
		for _, res := range rs {
			if p.received[res.ID] == 0 {
				p.results = append(p.results, res)
			}
			p.received[res.ID]++
			ids = append(ids, res.ID)
		}
		return ids
	}
	var out any
	switch r.URL.Path {
	case agentapi.PathEnroll:
		p.agentPub = pub
		out = agentapi.EnrollResponse{ProtocolVersion: 1, AgentID: "agt_test", AssetID: "ast_test", ClientID: "cli_test",
			CommandKeys: []agentapi.CommandKey{p.commandKey()}, Pacing: agentapi.Pacing{NextCheckInSeconds: p.next, ScanIntervalSeconds: 4 * 3600}}
	case agentapi.PathCheckIn:
		var req agentapi.CheckInRequest
		if err := json.Unmarshal(body, &req); err != nil || auth.KeyID != "agt_test" {
			fail(http.StatusBadRequest, "")
			return
		}
		if req.Inventory != nil && p.rejectInv {
			fail(http.StatusBadRequest, "")
			return
		}
		p.checkIns = append(p.checkIns, time.Now())
		p.lastStatus = req.Status
		if req.Inventory != nil {
			p.inventories++
		}
		acked := ack(req.Results)
		if p.lossyAcks {
			fail(http.StatusServiceUnavailable, "")
			return
		}
		resp := agentapi.CheckInResponse{ProtocolVersion: 1, ServerTime: now, Pacing: agentapi.Pacing{NextCheckInSeconds: p.next, ScanIntervalSeconds: 4 * 3600},
			InventoryNeeded: p.needInv && req.Inventory == nil, Acknowledged: acked, Jobs: p.jobs}
		if req.Inventory != nil {
			p.needInv = false
		}
		p.jobs = nil
		out = resp
	case agentapi.PathResults:
		var req agentapi.ResultsRequest
		if err := json.Unmarshal(body, &req); err != nil {
			fail(http.StatusBadRequest, "")
			return
		}
		acked := ack(req.Results)
		if p.lossyAcks {
			fail(http.StatusServiceUnavailable, "")
			return
		}
		out = agentapi.ResultsResponse{ProtocolVersion: 1, Acknowledged: acked}
	default:
		fail(http.StatusNotFound, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// transport serves requests from a handler in process: no sockets, so the
// agent runs inside a synctest bubble.
type transport struct{ h http.Handler }

func (tr transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// host is a fixed inventory of a Debian server.
func host() inventory.Host {
	return inventory.Host{
		Hostname: "srv-01",
		OS:       inventory.OS{Family: inventory.FamilyLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Kernel: "6.1.0-26-amd64", Arch: "amd64"},
		Hardware: inventory.Hardware{HardwareUUID: "4c4c4544-0042-4810-8056-b4c04f4e3132", Serial: "ABC123"},
		CPU:      inventory.CPU{Cores: 4, Threads: 8},
	}
}

var curl = pkgmgr.Update{ID: "curl=8.0-1", Package: "curl", Title: "curl", InstalledVersion: "7.88-1", AvailableVersion: "8.0-1", Classification: pkgmgr.ClassSecurity}

// testAgent enrolls an agent with the peer and returns it.
func testAgent(t testing.TB, p *peer, fake *pkgmgrtest.Fake, mod ...func(*agent.Options)) (*agent.Agent, agent.Options) {
	t.Helper()
	opts := agent.Options{
		StateDir:   t.TempDir(),
		Managers:   []pkgmgr.Manager{fake},
		HTTPClient: &http.Client{Transport: transport{p}},
		Collect:    func(context.Context) (inventory.Host, error) { return host(), nil },
		Rand:       func() float64 { return 0 },
		Hooks:      map[string]agent.Hook{},
		Reboot:     func(context.Context, time.Duration, string) error { return nil },
	}
	for _, m := range mod {
		m(&opts)
	}
	if _, err := agent.Enroll(t.Context(), opts, "https://patchring.example", "pre_secret", false); err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	a, err := agent.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, opts
}
