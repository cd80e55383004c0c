package patch

import (
	"context"
	"time"
)

// EventKeyRotated is the evidence event appended to every client's chain
// when the evidence signing key changes. Like the other event types it is
// hashed into entries: never change it.
const EventKeyRotated = "key_rotated"

// EvidenceCheckpoint is a stored signed checkpoint of a client's evidence
// chain: the signed note (package evidence's format) stating that at At
// the chain's first Size entries ended in the entry with hash Head.
type EvidenceCheckpoint struct {
	ClientID ClientID  `json:"client_id"`
	Size     uint64    `json:"size"`
	Head     string    `json:"head"`
	At       time.Time `json:"at"`
	// KeyID names the signing key ("<name>+<hash>").
	KeyID string `json:"key_id"`
	// Signed is the signed note, exactly as signed.
	Signed string `json:"signed"`
}

// CheckpointFilter selects a client's checkpoints, by size.
type CheckpointFilter struct {
	ClientID ClientID // required
	// MinSize and MaxSize bound the sizes, inclusive; nil is open.
	MinSize *uint64
	MaxSize *uint64
	// Desc lists the largest size first.
	Desc  bool
	Limit int
}

// EvidenceSpan is the part of a client's chain recorded in a time
// interval: entries StartSize+1 through EndSize. An interval without
// entries has StartSize == EndSize, the size of the chain before it.
type EvidenceSpan struct {
	StartSize uint64 `json:"start_size"`
	EndSize   uint64 `json:"end_size"`
}

// CheckpointStore persists signed checkpoints of the evidence chains.
type CheckpointStore interface {
	// SaveCheckpoint stores c unless the client has a checkpoint of the
	// same size already, and returns the stored one (c or the earlier
	// one) and whether c was stored: signing the same head twice keeps
	// the first signature. Unscoped actors only (KindForbidden): the
	// server signs, nobody else.
	SaveCheckpoint(ctx context.Context, c *EvidenceCheckpoint) (*EvidenceCheckpoint, bool, error)
	// FindCheckpoints lists a client's checkpoints in size order. A client
	// out of scope has none.
	FindCheckpoints(ctx context.Context, f CheckpointFilter) ([]*EvidenceCheckpoint, error)
	// EvidenceSpan returns the entries of client's chain recorded in
	// [from, to): the smallest Seq recorded at or after from, minus one,
	// and the largest recorded before to. KindNotFound for a client out of
	// scope.
	EvidenceSpan(ctx context.Context, client ClientID, from, to time.Time) (EvidenceSpan, error)
}

// EvidenceKeyStore rotates the evidence signing key together with the
// evidence of the rotation.
type EvidenceKeyStore interface {
	// RotateEvidenceKey retires the current key of k's purpose, stores k
	// as the current one and appends a key_rotated event with details to
	// the chain of every client, in one transaction, audited as
	// key.rotate. Unscoped actors only.
	RotateEvidenceKey(ctx context.Context, k *ServerKey, details map[string]string) error
}
