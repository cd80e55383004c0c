package evidence

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// EventType names a lifecycle event recorded in the chain. Values are stored
// in entries and hashed, so they never change once released. Verifiers accept
// any value that is well formed (see [Entry]), so that a newer server can add
// event types without breaking older verifiers.
type EventType string

// Lifecycle events of an update on an asset, in roughly the order they occur.
const (
	EventDetected           EventType = "detected"             // the agent reported the update as missing
	EventApproved           EventType = "approved"             // an operator or policy approved it
	EventDeclined           EventType = "declined"             // an operator declined it
	EventExcepted           EventType = "excepted"             // an exception (deferral) was requested
	EventExceptionSignedOff EventType = "exception_signed_off" // the client's owner signed the exception off
	EventExceptionExpired   EventType = "exception_expired"    // the exception reached its expiry date
	EventExceptionRevoked   EventType = "exception_revoked"    // the exception was withdrawn early
	EventScheduled          EventType = "scheduled"            // assigned to a maintenance window and ring
	EventSnapshotTaken      EventType = "snapshot_taken"       // a pre-install snapshot or restore point exists
	EventSnapshotFailed     EventType = "snapshot_failed"
	EventSent               EventType = "sent" // the install request was handed to the agent
	EventInstalled          EventType = "installed"
	EventInstallFailed      EventType = "install_failed"
	EventRebooted           EventType = "rebooted"
	EventVerified           EventType = "verified" // a later scan confirmed the update is present
	EventVerifyFailed       EventType = "verify_failed"
	EventRolledBack         EventType = "rolled_back"
	EventRollbackFailed     EventType = "rollback_failed"
	EventHealthCheckFailed  EventType = "health_check_failed"
	EventKeyRotated         EventType = "key_rotated" // the server's evidence signing key changed
)

// ActorKind says what sort of party caused an event. Like [EventType] it is
// open-ended: any well-formed value verifies.
type ActorKind string

// Actor kinds used by Patchring.
const (
	ActorUser          ActorKind = "user"           // an MSP operator signed in to Patchring
	ActorClientContact ActorKind = "client_contact" // a person at the client, e.g. signing off an exception
	ActorAgent         ActorKind = "agent"          // the endpoint agent on an asset
	ActorSystem        ActorKind = "system"         // the server itself (policy, scheduler, expiry)
	ActorAPIKey        ActorKind = "api_key"        // an API key used by an integration
)

// Actor identifies who or what caused an event. Name is the display name at
// the time of the event; it is hashed, so a later rename does not rewrite
// history.
type Actor struct {
	Kind ActorKind `json:"kind"`
	ID   string    `json:"id"`
	Name string    `json:"name,omitempty"`
}

// Subject identifies what an event is about. Every field is optional.
type Subject struct {
	AssetID     string `json:"asset,omitempty"`
	UpdateID    string `json:"update,omitempty"`
	CycleID     string `json:"cycle,omitempty"`
	ExceptionID string `json:"exception,omitempty"`
}

// Hash is a SHA-256 digest. Its text form is 64 lowercase hexadecimal digits.
type Hash [32]byte

// String returns h as lowercase hexadecimal.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements [encoding.TextMarshaler].
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts exactly 64
// lowercase hexadecimal digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("hash must be %d hex digits, got %d characters", 2*len(h), len(b))
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errors.New("hash must be lowercase hexadecimal")
		}
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Entry is one event in a client's evidence chain. Entries are created with
// [Append], which fills in Seq, PrevHash and Hash.
//
// Field rules, checked by [Append] and by every verifier:
//   - ClientID: 1 to 256 bytes of UTF-8 without control characters.
//   - Seq: 1 for a client's first entry, then one more than the previous entry.
//   - Time: when the server recorded the event, in UTC with millisecond
//     precision, between 1970 and 9999. It is not required to increase along
//     the chain (server clocks can step back); when an event happened
//     elsewhere, for example on the asset, put that time in Details.
//   - Type and Actor.Kind: 1 to 64 bytes of [a-z0-9_], starting with a letter.
//   - Actor.ID: 1 to 256 bytes; Actor.Name and the Subject fields: 0 to 256
//     bytes; all UTF-8 without control characters.
//   - Details: at most 64 keys; keys are 1 to 64 bytes of [a-z0-9_.-]
//     starting with a letter or digit; values are at most 16 KiB of UTF-8
//     without control characters other than tab, newline and carriage return.
//   - The canonical encoding (see [Entry.ComputeHash]) is at most 64 KiB.
type Entry struct {
	ClientID string
	Seq      uint64
	Time     time.Time
	Type     EventType
	Actor    Actor
	Subject  Subject
	// Details holds small, event-specific facts (a KB number, an exit code,
	// an exception's ticket and expiry) as strings. See the package
	// documentation for why values are strings and not arbitrary JSON.
	Details  map[string]string
	PrevHash Hash // Hash of the entry with Seq-1; all zeros for Seq 1
	Hash     Hash // ComputeHash() at the time the entry was appended
}

// Limits on entry fields; see [Entry].
const (
	maxIDLen         = 256
	maxTokenLen      = 64
	maxDetails       = 64
	maxDetailKeyLen  = 64
	maxDetailValLen  = 16 << 10
	maxEncodedLen    = 64 << 10
	entryDomain      = "patchring-evidence-entry-v1"
	minYear, maxYear = 1970, 9999
)

// ComputeHash returns the SHA-256 digest of e's canonical encoding. The
// encoding covers every field except Hash itself and is built from two
// primitives, all integers big-endian:
//
//	u32(n), u64(n)  the unsigned integer n in 4 or 8 bytes
//	str(s)          u32(len(s)) followed by the bytes of s (UTF-8)
//
// in this order:
//
//	str("patchring-evidence-entry-v1")
//	str(ClientID)
//	u64(Seq)
//	u64(Time as milliseconds since 1970-01-01T00:00:00Z)
//	str(Type)
//	str(Actor.Kind) str(Actor.ID) str(Actor.Name)
//	str(Subject.AssetID) str(Subject.UpdateID) str(Subject.CycleID) str(Subject.ExceptionID)
//	u32(number of Details keys)
//	for each key in ascending byte order: str(key) str(value)
//	PrevHash (32 raw bytes)
//
// Absent optional fields are empty strings; a nil and an empty Details map
// encode the same.
func (e *Entry) ComputeHash() Hash {
	return sha256.Sum256(e.canonical())
}

func (e *Entry) canonical() []byte {
	b := make([]byte, 0, 256)
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str(entryDomain)
	str(e.ClientID)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMilli()))
	str(string(e.Type))
	str(string(e.Actor.Kind))
	str(e.Actor.ID)
	str(e.Actor.Name)
	str(e.Subject.AssetID)
	str(e.Subject.UpdateID)
	str(e.Subject.CycleID)
	str(e.Subject.ExceptionID)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Details)))
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		str(k)
		str(e.Details[k])
	}
	return append(b, e.PrevHash[:]...)
}

// Append returns next as the entry that follows prev in a client's chain:
// it sets Seq, PrevHash and Hash (any values next carries in those fields are
// ignored), converts Time to UTC truncated to the millisecond, and copies
// Details so later changes to the caller's map cannot alter the entry.
// A nil prev starts a new chain. Append fails if next breaks a rule listed
// on [Entry] or belongs to a different client than prev.
func Append(prev *Entry, next Entry) (Entry, error) {
	next.Time = next.Time.UTC().Truncate(time.Millisecond)
	next.Details = maps.Clone(next.Details)
	next.Seq, next.PrevHash = 1, Hash{}
	if prev != nil {
		if prev.ClientID != next.ClientID {
			return Entry{}, fmt.Errorf("append to chain of client %q: entry is for client %q", prev.ClientID, next.ClientID)
		}
		next.Seq, next.PrevHash = prev.Seq+1, prev.Hash
	}
	if err := next.validate(); err != nil {
		return Entry{}, fmt.Errorf("append entry %d: %w", next.Seq, err)
	}
	next.Hash = next.ComputeHash()
	return next, nil
}

// validate checks the field rules documented on Entry.
func (e *Entry) validate() error {
	if err := checkText("client id", e.ClientID, 1, maxIDLen, false); err != nil {
		return err
	}
	if e.Seq == 0 {
		return errors.New("sequence number must start at 1")
	}
	if y := e.Time.Year(); y < minYear || y > maxYear {
		return fmt.Errorf("time %s outside years %d to %d", e.Time.Format(time.RFC3339), minYear, maxYear)
	}
	if !e.Time.Equal(e.Time.Truncate(time.Millisecond)) {
		return errors.New("time has sub-millisecond precision")
	}
	if err := checkToken("event type", string(e.Type)); err != nil {
		return err
	}
	if err := checkToken("actor kind", string(e.Actor.Kind)); err != nil {
		return err
	}
	texts := []struct {
		what string
		s    string
		min  int
	}{
		{"actor id", e.Actor.ID, 1},
		{"actor name", e.Actor.Name, 0},
		{"subject asset", e.Subject.AssetID, 0},
		{"subject update", e.Subject.UpdateID, 0},
		{"subject cycle", e.Subject.CycleID, 0},
		{"subject exception", e.Subject.ExceptionID, 0},
	}
	for _, t := range texts {
		if err := checkText(t.what, t.s, t.min, maxIDLen, false); err != nil {
			return err
		}
	}
	if len(e.Details) > maxDetails {
		return fmt.Errorf("details has %d keys, more than %d", len(e.Details), maxDetails)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		if err := checkDetailKey(k); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("details %q", k), e.Details[k], 0, maxDetailValLen, true); err != nil {
			return err
		}
	}
	if n := len(e.canonical()); n > maxEncodedLen {
		return fmt.Errorf("entry encodes to %d bytes, more than %d", n, maxEncodedLen)
	}
	return nil
}

// checkText checks that s is valid UTF-8 of min to max bytes without control
// characters (tab, newline and carriage return are allowed when multiline).
func checkText(what, s string, minLen, maxLen int, multiline bool) error {
	switch {
	case len(s) < minLen:
		return fmt.Errorf("%s is empty", what)
	case len(s) > maxLen:
		return fmt.Errorf("%s is %d bytes, more than %d", what, len(s), maxLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			if multiline && (r == '\t' || r == '\n' || r == '\r') {
				continue
			}
			return fmt.Errorf("%s contains control character %U", what, r)
		}
	}
	return nil
}

// checkToken checks an event type or actor kind: [a-z][a-z0-9_]{0,63}.
func checkToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(s) > maxTokenLen {
		return fmt.Errorf("%s is %d bytes, more than %d", what, len(s), maxTokenLen)
	}
	for i, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '_')) {
			return fmt.Errorf("%s %q must be lowercase letters, digits and underscores, starting with a letter", what, s)
		}
	}
	return nil
}

// checkDetailKey checks a Details key: [a-z0-9][a-z0-9_.-]{0,63}.
func checkDetailKey(k string) error {
	if k == "" || len(k) > maxDetailKeyLen {
		return fmt.Errorf("details key %q must be 1 to %d bytes", k, maxDetailKeyLen)
	}
	for i, c := range []byte(k) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')) {
			return fmt.Errorf("details key %q must be lowercase letters, digits, '_', '.' and '-', starting with a letter or digit", k)
		}
	}
	return nil
}
