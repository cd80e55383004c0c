package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/patch"
)

// AgentOptions configure the agent protocol. Zero values take the defaults
// named on each field.
type AgentOptions struct {
	// PublicURL is the server URL agents use; it goes into the install
	// commands shown with a new enrollment secret.
	PublicURL string
	// MinCheckIn is the shortest check-in interval (5 minutes).
	MinCheckIn time.Duration
	// MaxCheckInRate is the fleet-wide check-in rate, per second, the
	// server paces agents to stay under (10): a fleet larger than
	// MinCheckIn allows at that rate gets a proportionally longer
	// interval, so load stays flat as the fleet grows.
	MaxCheckInRate float64
	// ScanInterval is how often agents scan without being asked (4 hours).
	ScanInterval time.Duration
	// ClockSkew bounds how far a request's timestamp may be from the
	// server's clock (5 minutes). Nonces are remembered a little longer.
	ClockSkew time.Duration
	// JobTTL is how long an operator-requested job waits for its agent
	// (24 hours).
	JobTTL time.Duration
	// Jitter returns a random number in [0, 1); math/rand/v2 when nil.
	Jitter func() float64
}

func (o AgentOptions) withDefaults() AgentOptions {
	if o.MinCheckIn <= 0 {
		o.MinCheckIn = 5 * time.Minute
	}
	if o.MaxCheckInRate <= 0 {
		o.MaxCheckInRate = 10
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = 4 * time.Hour
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = 5 * time.Minute
	}
	if o.JobTTL <= 0 {
		o.JobTTL = 24 * time.Hour
	}
	if o.Jitter == nil {
		o.Jitter = mrand.Float64
	}
	return o
}

// Results are kept this long after delivery so that a re-sent result is
// recognised; agents deliver long before.
const resultRetention = 30 * 24 * time.Hour

// Jobs handed out per check-in, and how long a delivered job waits for its
// result before it is handed out again.
const (
	maxJobsPerCheckIn = 10
	redeliverAfter    = 30 * time.Minute
)

// agentState is the server's agent-protocol state held in memory.
type agentState struct {
	mu      sync.Mutex
	key     *commandKey
	fleet   int
	fleetAt time.Time
	// publicURL overrides AgentOptions.PublicURL once the listening
	// address is known (see SetPublicURL).
	publicURL string
}

// SetPublicURL sets the URL agents are told to use, for servers whose
// address is known only once they listen (port 0).
func (s *Server) SetPublicURL(u string) {
	s.agents.mu.Lock()
	defer s.agents.mu.Unlock()
	s.agents.publicURL = u
}

func (s *Server) publicURL() string {
	s.agents.mu.Lock()
	defer s.agents.mu.Unlock()
	if s.agents.publicURL != "" {
		return s.agents.publicURL
	}
	return s.agentOpts.PublicURL
}

// commandKey is the server's current job-signing key.
type commandKey struct {
	id   string
	priv ed25519.PrivateKey
	pub  string
}

// system returns ctx acting as the server itself.
func system(ctx context.Context, what string) context.Context {
	return patch.NewContextWithActor(ctx, patch.SystemActor(what))
}

// commandKey returns the agent-commands signing key, creating it on first
// use (EnsureKey makes concurrent servers agree on one).
func (s *Server) commandKey(ctx context.Context) (*commandKey, error) {
	s.agents.mu.Lock()
	defer s.agents.mu.Unlock()
	if s.agents.key != nil {
		return s.agents.key, nil
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate agent-commands key: %w", err)
	}
	k, err := s.st.Keys.EnsureKey(system(ctx, "agent-commands key"), &patch.ServerKey{
		ID:      patch.NewID("key", s.now()),
		Purpose: patch.KeyAgentCommands,
		Public:  agentapi.EncodePublicKey(pub),
		Private: base64.StdEncoding.EncodeToString(priv.Seed()),
	})
	if err != nil {
		return nil, fmt.Errorf("ensure agent-commands key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(k.Private)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("stored agent-commands key %s is not an Ed25519 seed", k.ID)
	}
	s.agents.key = &commandKey{id: k.ID, priv: ed25519.NewKeyFromSeed(seed), pub: k.Public}
	return s.agents.key, nil
}

// EnsureCommandKey creates the agent-commands key if there is none, so a
// server reports a broken key store at start rather than at the first
// enrollment.
func (s *Server) EnsureCommandKey(ctx context.Context) error {
	_, err := s.commandKey(ctx)
	return err
}

// fleetSize returns how many agents may check in, refreshed every minute.
func (s *Server) fleetSize(ctx context.Context) int {
	now := s.now()
	s.agents.mu.Lock()
	if now.Sub(s.agents.fleetAt) < time.Minute {
		n := s.agents.fleet
		s.agents.mu.Unlock()
		return n
	}
	s.agents.mu.Unlock()
	n := 0
	for _, st := range []patch.AgentStatus{patch.AgentOnline, patch.AgentOffline} {
		_, k, err := s.st.Agents.FindAgents(system(ctx, "agent pacing"), patch.AgentFilter{Status: &st, Limit: 1})
		if err != nil {
			s.logger.WarnContext(ctx, "count agents for pacing", "err", err)
			continue
		}
		n += k
	}
	s.agents.mu.Lock()
	s.agents.fleet, s.agents.fleetAt = n, now
	s.agents.mu.Unlock()
	return n
}

// CheckInInterval is the base check-in interval for a fleet of n agents:
// the minimum, or as long as keeps n agents under the maximum rate
// (nomad's RateScaledInterval).
func CheckInInterval(o AgentOptions, n int) time.Duration {
	o = o.withDefaults()
	scaled := time.Duration(float64(n) / o.MaxCheckInRate * float64(time.Second))
	return max(o.MinCheckIn, scaled)
}

// pacing returns the next check-in (base interval plus up to a quarter of
// it at random, so agents started together spread out) and the deadline
// after which the agent counts as offline.
func (s *Server) pacing(ctx context.Context) (next time.Duration, expectedBy time.Time) {
	o := s.agentOpts.withDefaults()
	base := CheckInInterval(o, s.fleetSize(ctx))
	next = base + time.Duration(o.Jitter()*float64(base/4))
	next = next.Truncate(time.Second)
	// Offline after missing a whole further interval, not one late packet.
	return next, s.now().Add(2*next + time.Minute)
}

func (s *Server) wirePacing(next time.Duration) agentapi.Pacing {
	return agentapi.Pacing{NextCheckInSeconds: int(next / time.Second), ScanIntervalSeconds: int(s.agentOpts.withDefaults().ScanInterval / time.Second)}
}

// Refusal reasons of the agent protocol, used as metric labels.
const (
	RefusedUnsigned      = "unsigned"
	RefusedMalformed     = "malformed"
	RefusedClockSkew     = "clock_skew"
	RefusedUnknownAgent  = "unknown_agent"
	RefusedRevokedAgent  = "revoked_agent"
	RefusedBadSignature  = "bad_signature"
	RefusedReplay        = "replay"
	RefusedKeyReused     = "key_reused"
	RefusedSecretUnknown = "secret_unknown"
	RefusedSecretRevoked = "secret_revoked"
	RefusedSecretExpired = "secret_expired"
	RefusedSecretUsedUp  = "secret_used_up"
	RefusedInvalidBody   = "invalid_body"
)

// refusal marks an error as a refused agent request and says why.
type refusal struct {
	reason string
	cause  error
}

func (r *refusal) Error() string {
	if r.cause != nil {
		return r.reason + ": " + r.cause.Error()
	}
	return r.reason
}

func (r *refusal) Unwrap() error { return r.cause }

// refuse returns a classified error of kind k with a user message, marked
// with reason.
func refuse(reason string, k patch.Kind, msg string, cause error) error {
	return &patch.Error{Kind: k, Message: msg, Err: &refusal{reason: reason, cause: cause}}
}

// refuseAs keeps a store error's kind and message and marks it with reason.
func refuseAs(reason string, err error) error {
	e, ok := errors.AsType[*patch.Error](err)
	if !ok {
		return err
	}
	return &patch.Error{Kind: e.Kind, Message: e.Message, Field: e.Field, Err: &refusal{reason: reason, cause: err}}
}

// RefusalReason returns why an agent request was refused, or "" if err is
// not a refusal.
func RefusalReason(err error) string {
	if r, ok := errors.AsType[*refusal](err); ok {
		return r.reason
	}
	return ""
}

// AgentRequest is an agent protocol request as the transport received it.
type AgentRequest struct {
	Method string
	// URI is the request URI as sent (path and query).
	URI        string
	Header     http.Header
	Body       []byte
	RemoteAddr string
}

const msgUnauthenticated = "The request is not signed by an enrolled agent."

// parseAuth reads a request's signature headers and checks the timestamp.
func (s *Server) parseAuth(r AgentRequest) (agentapi.RequestAuth, error) {
	auth, err := agentapi.ParseRequestAuth(r.Header)
	switch {
	case errors.Is(err, agentapi.ErrMissingAuth):
		return auth, refuse(RefusedUnsigned, patch.KindUnauthenticated, "Agent requests must be signed (Patchring-Signature headers).", err)
	case err != nil:
		return auth, refuse(RefusedMalformed, patch.KindUnauthenticated, "The request's signature headers are malformed.", err)
	}
	skew := s.agentOpts.withDefaults().ClockSkew
	if d := s.now().Sub(auth.Timestamp); d > skew || d < -skew {
		return auth, refuse(RefusedClockSkew, patch.KindUnauthenticated,
			fmt.Sprintf("The request's timestamp is %s away from the server's clock (at most %s allowed); check the machine's clock.", d.Round(time.Second).Abs(), skew), nil)
	}
	return auth, nil
}

// nonceExpiry is how long a request's nonce must be remembered: while a
// request with its timestamp can still pass the skew check.
func (s *Server) nonceExpiry(auth agentapi.RequestAuth) time.Time {
	return auth.Timestamp.Add(s.agentOpts.withDefaults().ClockSkew + time.Minute)
}

// AuthenticateAgentRequest verifies a signed agent request: the headers'
// form, the timestamp against the skew bound, the agent (known, not
// revoked), the signature over method, URI, key id, timestamp, nonce and
// body, and the nonce's novelty, in that order. It returns a context acting
// as the agent. Refusals are KindUnauthenticated (KindForbidden for a
// revoked agent) and RefusalReason says why; nothing is stored for them.
func (s *Server) AuthenticateAgentRequest(ctx context.Context, r AgentRequest) (context.Context, *patch.Agent, error) {
	auth, err := s.parseAuth(r)
	if err != nil {
		return nil, nil, err
	}
	ag, err := s.st.Agents.AuthenticateAgent(ctx, patch.AgentID(auth.KeyID))
	switch patch.ErrorKind(err) {
	case patch.KindUnauthenticated:
		return nil, nil, refuseAs(RefusedUnknownAgent, err)
	case patch.KindForbidden:
		return nil, nil, refuseAs(RefusedRevokedAgent, err)
	}
	if err != nil {
		return nil, nil, err
	}
	pub, err := agentapi.ParsePublicKey(ag.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("stored key of agent %s: %w", ag.ID, err)
	}
	if err := auth.Verify(pub, r.Method, r.URI, r.Body); err != nil {
		return nil, nil, refuse(RefusedBadSignature, patch.KindUnauthenticated, msgUnauthenticated, err)
	}
	actx := patch.NewContextWithActor(ctx, ag.Actor())
	if err := s.st.Agents.UseNonce(actx, auth.Nonce, s.nonceExpiry(auth)); err != nil {
		if patch.ErrorKind(err) == patch.KindConflict {
			return nil, nil, refuse(RefusedReplay, patch.KindUnauthenticated, "This request was already received (replayed).", err)
		}
		return nil, nil, err
	}
	return actx, ag, nil
}

// decodeAgentBody decodes and validates a protocol message.
func decodeAgentBody(body []byte, v interface{ Validate() error }) error {
	if err := agentapi.Decode(body, v); err != nil {
		return refuse(RefusedInvalidBody, patch.KindInvalid, "The request body is not a valid protocol message.", err)
	}
	if err := v.Validate(); err != nil {
		if fe, ok := errors.AsType[*agentapi.FieldError](err); ok {
			return refuseAs(RefusedInvalidBody, patch.FieldError(fe.Field, "%s", fe.Message))
		}
		return refuse(RefusedInvalidBody, patch.KindInvalid, err.Error(), err)
	}
	return nil
}

// EnrollAgent enrolls a machine. The request is signed with the key it
// enrolls (proof of possession) under agentapi.EnrollKeyID and carries the
// enrollment secret.
func (s *Server) EnrollAgent(ctx context.Context, r AgentRequest) (*agentapi.EnrollResponse, error) {
	auth, err := s.parseAuth(r)
	if err != nil {
		return nil, err
	}
	if auth.KeyID != agentapi.EnrollKeyID {
		return nil, refuse(RefusedMalformed, patch.KindUnauthenticated, "Enrollment requests are signed with key id "+agentapi.EnrollKeyID+".", nil)
	}
	var req agentapi.EnrollRequest
	if err := decodeAgentBody(r.Body, &req); err != nil {
		return nil, err
	}
	pub, _ := agentapi.ParsePublicKey(req.PublicKey) // checked by Validate
	if err := auth.Verify(pub, r.Method, r.URI, r.Body); err != nil {
		return nil, refuse(RefusedBadSignature, patch.KindUnauthenticated, "The enrollment request is not signed with the key it enrolls.", err)
	}
	inv, err := inventoryFromWire(&req.Inventory, req.InventoryHash)
	if err != nil {
		return nil, refuse(RefusedInvalidBody, patch.KindInvalid, "The inventory could not be read.", err)
	}
	next, expectedBy := s.pacing(ctx)
	res, err := s.st.Enrollment.Enroll(ctx, patch.Enrollment{
		SecretHash: patch.HashSecret(req.Secret),
		Agent: patch.Agent{
			ID:         patch.AgentID(patch.NewID(patch.PrefixAgent, s.now())),
			PublicKey:  agentapi.EncodePublicKey(pub),
			Hostname:   inv.Facts.Hostname,
			Version:    clean(req.AgentVersion),
			Protocol:   min(max(auth.Protocol, req.ProtocolVersion, 0), 1<<20),
			RemoteAddr: r.RemoteAddr,
			ExpectedBy: expectedBy,
		},
		Nonce:        auth.Nonce,
		NonceExpires: s.nonceExpiry(auth),
		Inventory:    inv,
	})
	if err != nil {
		switch {
		case errors.Is(err, patch.ErrSecretUnknown):
			return nil, refuseAs(RefusedSecretUnknown, err)
		case errors.Is(err, patch.ErrSecretRevoked):
			return nil, refuseAs(RefusedSecretRevoked, err)
		case errors.Is(err, patch.ErrSecretExpired):
			return nil, refuseAs(RefusedSecretExpired, err)
		case errors.Is(err, patch.ErrSecretUsedUp):
			return nil, refuseAs(RefusedSecretUsedUp, err)
		case patch.ErrorKind(err) == patch.KindConflict && patch.ErrorField(err) == "public_key":
			return nil, refuseAs(RefusedKeyReused, err)
		case patch.ErrorKind(err) == patch.KindConflict:
			return nil, refuse(RefusedReplay, patch.KindUnauthenticated, "This request was already received (replayed).", err)
		}
		return nil, err
	}
	// The key exists already when serve started (EnsureCommandKey); it is
	// read only after the enrollment so that a refused request stores
	// nothing, not even a first key.
	key, err := s.commandKey(ctx)
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "agent enrolled", "agent", res.Agent.ID, "asset", res.Asset.ID, "tenant", res.Agent.ClientID,
		"reattached", res.Reattached, "revoked", len(res.Revoked))
	return &agentapi.EnrollResponse{
		ProtocolVersion: agentapi.ProtocolVersion,
		AgentID:         string(res.Agent.ID),
		AssetID:         string(res.Asset.ID),
		ClientID:        string(res.Agent.ClientID),
		Reattached:      res.Reattached,
		CommandKeys:     []agentapi.CommandKey{{ID: key.id, PublicKey: key.pub}},
		Pacing:          s.wirePacing(next),
	}, nil
}

// AgentCheckIn applies an authenticated check-in (see
// AuthenticateAgentRequest) and answers with pacing, acknowledgements and
// signed jobs.
func (s *Server) AgentCheckIn(ctx context.Context, ag *patch.Agent, r AgentRequest) (*agentapi.CheckInResponse, error) {
	var req agentapi.CheckInRequest
	if err := decodeAgentBody(r.Body, &req); err != nil {
		return nil, err
	}
	results, rejected := resultsFromWire(req.Results)
	c := patch.CheckIn{
		AgentID:       ag.ID,
		Version:       clean(req.AgentVersion),
		Protocol:      min(max(req.ProtocolVersion, 0), 1<<20),
		RemoteAddr:    r.RemoteAddr,
		InventoryHash: clean(req.InventoryHash),
		Report: patch.AgentReport{
			OutboxLength: min(max(req.Status.OutboxLength, 0), 1<<30), OutboxDropped: max(req.Status.OutboxDropped, 0), RefusedJobs: max(req.Status.RefusedJobs, 0),
			LastError: clean(req.Status.LastError), LastScanAt: truncateTime(req.Status.LastScanAt),
		},
		Results:        results,
		MaxJobs:        maxJobsPerCheckIn,
		RedeliverAfter: redeliverAfter,
	}
	if req.Inventory != nil {
		inv, err := inventoryFromWire(req.Inventory, req.InventoryHash)
		if err != nil {
			return nil, refuse(RefusedInvalidBody, patch.KindInvalid, "The inventory could not be read.", err)
		}
		c.Inventory = &inv
	}
	key, err := s.commandKey(ctx)
	if err != nil {
		return nil, err
	}
	next, expectedBy := s.pacing(ctx)
	c.ExpectedBy = expectedBy
	out, err := s.st.Agents.RecordCheckIn(ctx, c)
	if err != nil {
		if patch.ErrorKind(err) == patch.KindForbidden {
			return nil, refuseAs(RefusedRevokedAgent, err)
		}
		return nil, err
	}
	s.evaluateAfterCheckIn(ctx, ag.AssetID)
	resp := &agentapi.CheckInResponse{
		ProtocolVersion: agentapi.ProtocolVersion,
		ServerTime:      s.now().UTC(),
		Pacing:          s.wirePacing(next),
		InventoryNeeded: out.InventoryNeeded,
		Acknowledged:    acknowledged(out.Results),
		Rejected:        rejected,
		CommandKeys:     []agentapi.CommandKey{{ID: key.id, PublicKey: key.pub}},
	}
	for _, j := range out.Jobs {
		sj, err := s.signJob(key, j)
		if err != nil {
			// A job this protocol cannot express is a server bug: log it
			// and let it expire rather than fail the agent's check-in.
			s.logger.ErrorContext(ctx, "cannot sign agent job", "job", j.ID, "agent", ag.ID, "err", err)
			continue
		}
		resp.Jobs = append(resp.Jobs, sj)
	}
	return resp, nil
}

// AgentResults stores results delivered outside a check-in.
func (s *Server) AgentResults(ctx context.Context, ag *patch.Agent, r AgentRequest) (*agentapi.ResultsResponse, error) {
	var req agentapi.ResultsRequest
	if err := decodeAgentBody(r.Body, &req); err != nil {
		return nil, err
	}
	results, rejected := resultsFromWire(req.Results)
	resp := &agentapi.ResultsResponse{ProtocolVersion: agentapi.ProtocolVersion, Acknowledged: []string{}, Rejected: rejected}
	if len(results) == 0 {
		return resp, nil
	}
	out, err := s.st.Agents.RecordResults(ctx, results)
	if err != nil {
		if patch.ErrorKind(err) == patch.KindForbidden {
			return nil, refuseAs(RefusedRevokedAgent, err)
		}
		return nil, err
	}
	resp.Acknowledged = acknowledged(out)
	s.evaluateAfterCheckIn(ctx, ag.AssetID)
	return resp, nil
}

// evaluateAfterCheckIn brings an asset's SLA fields, compliance rating and
// monitors up to date right after its agent reported, so the console and
// alerts reflect a check-in at once rather than at the next background
// round. The check-in itself has already been stored: a failure here is
// logged, and the background loops repair it.
func (s *Server) evaluateAfterCheckIn(ctx context.Context, asset patch.AssetID) {
	sys := systemContext(ctx, "check-in")
	if s.st.Policies != nil {
		if _, err := s.EvaluateAsset(sys, asset); err != nil {
			s.logger.WarnContext(ctx, "evaluate SLA after check-in", "asset", asset, "err", err)
		}
	}
	if s.st.ComplianceFacts != nil {
		if _, err := s.EvaluateAssetCompliance(sys, asset); err != nil {
			s.logger.WarnContext(ctx, "evaluate compliance after check-in", "asset", asset, "err", err)
		}
	}
}

func acknowledged(rs []patch.ResultOutcome) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// signJob puts a stored job into a signed envelope for its agent.
func (s *Server) signJob(key *commandKey, j *patch.AgentJob) (agentapi.SignedJob, error) {
	job := agentapi.Job{ID: string(j.ID), AgentID: string(j.AgentID), Kind: agentapi.JobKind(j.Kind),
		IssuedAt: s.now().UTC(), ExpiresAt: j.ExpiresAt.UTC(), Payload: json.RawMessage(j.Payload)}
	return agentapi.SignJob(job, key.id, key.priv)
}

// RunAgentMaintenance forgets expired nonces and old results and expires
// overdue jobs, hourly, until ctx is done.
func (s *Server) RunAgentMaintenance(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := s.now()
		n, err := s.st.AgentJobs.PruneAgentData(system(ctx, "agent maintenance"), now, now.Add(-resultRetention))
		if err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "prune agent data", "err", err)
		} else if n > 0 {
			s.logger.DebugContext(ctx, "pruned agent data", "rows", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// --- Operator use cases ---

// EnrollmentSecretInput creates an enrollment secret.
type EnrollmentSecretInput struct {
	ClientID patch.ClientID `json:"client_id"`
	Name     string         `json:"name" minLength:"1" maxLength:"100" doc:"What the secret is for, e.g. 'Front office PCs'"`
	SiteID   patch.SiteID   `json:"site_id,omitempty" doc:"Site of the assets this secret creates"`
	Class    string         `json:"class,omitempty" doc:"Asset class of the assets this secret creates; by default it follows the role the agent reports"`
	MaxUses  int            `json:"max_uses,omitempty" minimum:"0" maximum:"1000000" doc:"How many machines may enroll with it; 0 means no limit"`
	// ExpiresAt is when the secret stops working; zero means never (revoke
	// it explicitly).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// InstallCommands are copy-paste commands that install the agent on a
// machine with a new secret.
type InstallCommands struct {
	Linux   string `json:"linux" doc:"Run as root"`
	MacOS   string `json:"macos" doc:"Run as root"`
	Windows string `json:"windows" doc:"Run in an elevated PowerShell"`
}

// NewEnrollmentSecret is a created secret with its value, shown once.
type NewEnrollmentSecret struct {
	*patch.EnrollmentSecret
	Secret  string          `json:"secret" doc:"The enrollment secret: shown only now"`
	Install InstallCommands `json:"install"`
}

// CreateEnrollmentSecret creates a secret agents enroll into a client with.
func (s *Server) CreateEnrollmentSecret(ctx context.Context, in EnrollmentSecretInput) (*NewEnrollmentSecret, error) {
	actor, err := patch.Authorize(ctx, patch.PermOperate)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !in.ExpiresAt.IsZero() {
		if !in.ExpiresAt.After(now) {
			return nil, patch.FieldError("expires_at", "must be in the future")
		}
		if in.ExpiresAt.Sub(now) > patch.MaxEnrollmentSecretLifetime {
			return nil, patch.FieldError("expires_at", "must be within 5 years")
		}
	}
	secret := patch.NewSecret(patch.EnrollmentSecretPrefix)
	e := &patch.EnrollmentSecret{
		ID:        patch.EnrollmentSecretID(patch.NewID(patch.PrefixEnrollmentSecret, now)),
		ClientID:  in.ClientID,
		SiteID:    in.SiteID,
		Class:     in.Class,
		Name:      in.Name,
		Hash:      patch.HashSecret(secret),
		Hint:      patch.SecretHint(secret),
		MaxUses:   in.MaxUses,
		ExpiresAt: in.ExpiresAt,
		CreatedBy: actor.Name,
	}
	if err := s.st.Enrollment.CreateEnrollmentSecret(ctx, e); err != nil {
		return nil, err
	}
	return &NewEnrollmentSecret{EnrollmentSecret: e, Secret: secret, Install: s.installCommands(secret)}, nil
}

// installCommands returns the two commands that enroll a machine and make
// the agent a service.
func (s *Server) installCommands(secret string) InstallCommands {
	url := strings.TrimRight(s.publicURL(), "/")
	if url == "" {
		url = "https://patchring.example.com"
	}
	q := "'" + strings.ReplaceAll(url, "'", `'\''`) + "'"
	unix := fmt.Sprintf("patchring agent enroll --server %s --secret %s && patchring agent install-service", q, secret)
	ps := "'" + strings.ReplaceAll(url, "'", "''") + "'"
	exe := `& "$env:ProgramFiles\Patchring\patchring.exe"`
	return InstallCommands{
		Linux:   "sudo sh -c \"" + strings.ReplaceAll(unix, `"`, `\"`) + "\"",
		MacOS:   "sudo sh -c \"" + strings.ReplaceAll(unix, `"`, `\"`) + "\"",
		Windows: fmt.Sprintf("%s agent enroll --server %s --secret %s; if ($?) { %s agent install-service }", exe, ps, secret, exe),
	}
}

// EnrollmentSecrets lists enrollment secrets.
func (s *Server) EnrollmentSecrets(ctx context.Context, f patch.EnrollmentSecretFilter) ([]*patch.EnrollmentSecret, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Enrollment.FindEnrollmentSecrets(ctx, f)
}

// EnrollmentSecret returns one enrollment secret (never its value).
func (s *Server) EnrollmentSecret(ctx context.Context, id patch.EnrollmentSecretID) (*patch.EnrollmentSecret, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Enrollment.FindEnrollmentSecretByID(ctx, id)
}

// RevokeEnrollmentSecret stops a secret from enrolling more machines.
func (s *Server) RevokeEnrollmentSecret(ctx context.Context, id patch.EnrollmentSecretID) (*patch.EnrollmentSecret, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	return s.st.Enrollment.RevokeEnrollmentSecret(ctx, id)
}

// Agents lists agents.
func (s *Server) Agents(ctx context.Context, f patch.AgentFilter) ([]*patch.Agent, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.Agents.FindAgents(ctx, f)
}

// Agent returns one agent.
func (s *Server) Agent(ctx context.Context, id patch.AgentID) (*patch.Agent, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.st.Agents.FindAgentByID(ctx, id)
}

// RevokeAgent revokes an agent's key: it can no longer check in, and the
// machine must enroll again to be managed.
func (s *Server) RevokeAgent(ctx context.Context, id patch.AgentID, reason string) (*patch.Agent, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	return s.st.Agents.RevokeAgent(ctx, id, reason)
}

// InventoryView is an asset's last inventory with what the server derives
// from it.
type InventoryView struct {
	*patch.InventorySnapshot
	// Serviceable says whether the service description covers the
	// machine (Windows 8.1 / Server 2012 R2 or later, and activated).
	Serviceable          bool   `json:"serviceable"`
	ServiceabilityReason string `json:"serviceability_reason"`
}

// AssetInventory returns an asset's last inventory.
func (s *Server) AssetInventory(ctx context.Context, id patch.AssetID) (*InventoryView, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	snap, err := s.st.Inventory.FindInventory(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &InventoryView{InventorySnapshot: snap}
	var host inventory.Host
	if err := json.Unmarshal(snap.Document, &host); err != nil {
		v.ServiceabilityReason = "The stored inventory could not be read."
		return v, nil
	}
	v.Serviceable, v.ServiceabilityReason = host.Serviceable()
	return v, nil
}

// AssetSoftware lists software installed on assets.
func (s *Server) AssetSoftware(ctx context.Context, f patch.SoftwareFilter) ([]*patch.Software, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if f.AssetID != nil {
		if _, err := s.st.Assets.FindAssetByID(ctx, *f.AssetID); err != nil {
			return nil, 0, err
		}
	}
	return s.st.Inventory.FindSoftware(ctx, f)
}

// AssetFindings lists an asset's findings with their catalog entries.
func (s *Server) AssetFindings(ctx context.Context, f patch.FindingFilter) ([]*patch.Finding, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if f.AssetID == nil {
		return nil, 0, patch.FieldError("asset_id", "is required")
	}
	if _, err := s.st.Assets.FindAssetByID(ctx, *f.AssetID); err != nil {
		return nil, 0, err
	}
	f.WithUpdate = true
	return s.st.Findings.FindFindings(ctx, f)
}

// AssetScanStatus returns the last scan of each source on an asset.
func (s *Server) AssetScanStatus(ctx context.Context, id patch.AssetID) ([]*patch.ScanStatus, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if _, err := s.st.Assets.FindAssetByID(ctx, id); err != nil {
		return nil, err
	}
	st, err := s.st.Findings.FindScanStatus(ctx, id)
	if st == nil {
		st = []*patch.ScanStatus{}
	}
	return st, err
}

// RequestScan asks an asset's agent to scan at its next check-in.
func (s *Server) RequestScan(ctx context.Context, id patch.AssetID) (*patch.AgentJob, error) {
	if _, err := patch.Authorize(ctx, patch.PermOperate); err != nil {
		return nil, err
	}
	if _, err := s.st.Assets.FindAssetByID(ctx, id); err != nil {
		return nil, err
	}
	var agent *patch.Agent
	for _, st := range []patch.AgentStatus{patch.AgentOnline, patch.AgentOffline} {
		as, _, err := s.st.Agents.FindAgents(ctx, patch.AgentFilter{AssetID: &id, Status: &st, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(as) > 0 {
			agent = as[0]
			break
		}
	}
	if agent == nil {
		return nil, patch.Errorf(patch.KindConflict, "Asset %s has no enrolled agent to scan it.", id)
	}
	now := s.now()
	j := &patch.AgentJob{
		ID:        patch.AgentJobID(patch.NewID(patch.PrefixAgentJob, now)),
		AgentID:   agent.ID,
		Kind:      string(agentapi.JobScan),
		Payload:   json.RawMessage(`{}`),
		ExpiresAt: now.Add(s.agentOpts.withDefaults().JobTTL),
	}
	if err := s.st.AgentJobs.CreateAgentJob(ctx, j); err != nil {
		return nil, err
	}
	return j, nil
}

// AgentJobs lists jobs for agents.
func (s *Server) AgentJobs(ctx context.Context, f patch.AgentJobFilter) ([]*patch.AgentJob, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	return s.st.AgentJobs.FindAgentJobs(ctx, f)
}
