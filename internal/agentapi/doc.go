// Package agentapi defines the protocol between the Patchring agent and the
// server: the versioned wire types of /agent/v1, the request-signing scheme
// and the signed job envelope. It imports only the standard library, so the
// agent (which must stay small and never link server code) and the server
// share one definition and cannot drift apart.
//
// # Why the protocol is shaped this way
//
// The agent runs as root or SYSTEM on client machines and the server can
// tell it to install software and reboot. Both directions are therefore
// authenticated with keys rather than bearer secrets that a proxy log or a
// memory dump would leak:
//
//   - Every agent request is signed with the agent's own Ed25519 key, which
//     never leaves the machine (see [SignRequest]). The signature covers the
//     method, the request URI, the key id, a timestamp, a random nonce and the
//     SHA-256 of the body, so the server can refuse altered bodies, requests
//     replayed later (the nonce is remembered for longer than the accepted
//     clock skew) and requests from another time (the skew bound).
//   - Enrollment is the only request not signed by a known key: it carries a
//     per-client enrollment secret and the agent's new public key, and it is
//     signed with the matching private key to prove possession.
//   - Every job the server hands out is signed with the server's
//     agent-commands key, which the agent pinned at enrollment (see
//     [SignJob]). A job names the agent it is for and expires, so a job
//     captured from one agent cannot be replayed to another or run late.
//   - Jobs are typed actions ([JobKind]) with typed payloads. The server
//     never sends shell text: a hook is run by the name the machine's own
//     administrator configured, and package installs are exact
//     (package, version) pairs that the backend turns into a command line.
//
// Results are idempotent: every [Result] carries an id chosen by the agent
// when the work finished. The agent keeps results in an on-disk outbox until
// the server acknowledges their ids, so a result sent twice (the
// acknowledgement was lost) is recognised and applied once.
//
// Unknown JSON fields are ignored when decoding, in both directions, so that
// adding a field is compatible; what a field means is gated by
// [ProtocolVersion], never by parsing version strings.
package agentapi

// ProtocolVersion is the version of the agent protocol this build speaks.
// Agents send theirs with every request and the server gates features on it;
// the server sends its own in every response.
//
// History:
//
//   - 1: enrollment with an enrollment secret and an agent-generated Ed25519
//     key (proof of possession); the server's agent-commands key pinned at
//     enrollment; requests signed over method, URI, key id, timestamp, nonce
//     and body SHA-256; check-in with an inventory hash and the full inventory
//     only when the hash changed or the server asks; server-set next check-in
//     and scan interval; scan, install, reboot and hook jobs in signed
//     envelopes bound to one agent with an expiry; results with agent-chosen
//     idempotent ids, sent with a check-in or on their own.
//   - 2: health jobs (typed checks: TCP port, HTTP status, service running,
//     file readable, a configured hook by name) and rollback jobs (return
//     packages to earlier versions through the backend's Rollbacker), with
//     their health and rollback reports. The rollout engine sends them only
//     to agents of protocol 2 or later.
const ProtocolVersion = 2

// Paths of the protocol endpoints.
const (
	PathEnroll  = "/agent/v1/enroll"
	PathCheckIn = "/agent/v1/checkin"
	PathResults = "/agent/v1/results"
)

// Body limits. The server refuses larger bodies with 413 before reading
// them, and the agent keeps its requests under them (a result that alone
// exceeds MaxResultsBody is dropped with a warning rather than retried
// forever).
const (
	MaxEnrollBody  = 8 << 20
	MaxCheckInBody = 8 << 20
	MaxResultsBody = 8 << 20
	// MaxResultsPerRequest bounds how many results one request carries.
	MaxResultsPerRequest = 50
)
