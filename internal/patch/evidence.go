package patch

import (
	"context"
	"time"
)

// Evidence event types. They match package evidence's EventType values and
// are stored and hashed: never change them.
const (
	EventDetected           = "detected"
	EventApproved           = "approved"
	EventDeclined           = "declined"
	EventExcepted           = "excepted"
	EventExceptionSignedOff = "exception_signed_off"
	EventExceptionExpired   = "exception_expired"
	EventExceptionRevoked   = "exception_revoked"
	EventScheduled          = "scheduled"
	EventSnapshotTaken      = "snapshot_taken"
	EventSnapshotFailed     = "snapshot_failed"
	EventSent               = "sent"
	EventInstalled          = "installed"
	EventInstallFailed      = "install_failed"
	EventRebooted           = "rebooted"
	EventVerified           = "verified"
	EventVerifyFailed       = "verify_failed"
	EventRolledBack         = "rolled_back"
	EventRollbackFailed     = "rollback_failed"
	EventHealthCheckFailed  = "health_check_failed"
	EventSuperseded         = "superseded"
)

// EvidenceSubject says what an evidence event is about.
type EvidenceSubject struct {
	AssetID     AssetID  `json:"asset,omitempty"`
	UpdateID    UpdateID `json:"update,omitempty"`
	CycleID     string   `json:"cycle,omitempty"`
	ExceptionID string   `json:"exception,omitempty"`
}

// EvidenceEvent is a lifecycle event to append to a client's evidence
// chain. Stores append events in the same transaction as the change they
// prove; the actor is the one of the request.
type EvidenceEvent struct {
	ClientID ClientID
	Type     string
	Subject  EvidenceSubject
	// Details are small string facts (versions, KB numbers, exit codes).
	Details map[string]string
}

// EvidenceEntry is a stored entry of a client's hash chain.
type EvidenceEntry struct {
	ClientID ClientID          `json:"client_id"`
	Seq      uint64            `json:"seq"`
	At       time.Time         `json:"at"`
	Type     string            `json:"type"`
	Actor    Actor             `json:"actor"`
	Subject  EvidenceSubject   `json:"subject"`
	Details  map[string]string `json:"details,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

// EvidenceFilter selects chain entries, in sequence order.
type EvidenceFilter struct {
	ClientID ClientID // required
	AssetID  *AssetID
	UpdateID *UpdateID
	CycleID  *string
	Types    []string
	Since    *time.Time
	Until    *time.Time
	AfterSeq uint64
	Offset   int
	Limit    int
}

// EvidenceHead is the newest entry of a client's chain.
type EvidenceHead struct {
	ClientID ClientID `json:"client_id"`
	Seq      uint64   `json:"seq"`
	Hash     string   `json:"hash"`
}

// EvidenceStore reads and appends to the per-client evidence chains.
type EvidenceStore interface {
	// AppendEvidence appends events in one transaction. Events of one
	// client are chained in the order given.
	AppendEvidence(ctx context.Context, events ...EvidenceEvent) error
	FindEvidence(ctx context.Context, f EvidenceFilter) ([]*EvidenceEntry, int, error)
	// EvidenceHeads returns the head of every chain in scope.
	EvidenceHeads(ctx context.Context) ([]*EvidenceHead, error)
}

// ServerKey is one of the server's signing keys. Purposes: "agent-commands"
// (signs jobs sent to agents) and "evidence" (signs chain checkpoints and
// bundle manifests). Retired keys stay so old signatures still verify.
type ServerKey struct {
	ID        string    `json:"id"`
	Purpose   string    `json:"purpose"`
	Public    string    `json:"public"` // textual public key (format set by the purpose's user)
	Private   string    `json:"-"`      // textual private key; never leaves the server
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// Key purposes.
const (
	KeyAgentCommands = "agent-commands"
	KeyEvidence      = "evidence"
)

// KeyStore persists the server's signing keys.
type KeyStore interface {
	// ActiveKey returns the current key of a purpose; KindNotFound if none.
	ActiveKey(ctx context.Context, purpose string) (*ServerKey, error)
	// EnsureKey returns the current key of a purpose, storing k as the
	// current key first if there is none (safe when several servers start
	// at once: exactly one key wins).
	EnsureKey(ctx context.Context, k *ServerKey) (*ServerKey, error)
	// RotateKey retires the current key of k's purpose and makes k current.
	RotateKey(ctx context.Context, k *ServerKey) error
	// FindKeys lists the keys of a purpose, current first, retired included.
	FindKeys(ctx context.Context, purpose string) ([]*ServerKey, error)
}
