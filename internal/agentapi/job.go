package agentapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode"
)

// JobKind names a typed action the server can ask an agent to take.
// Values are sent over the wire and persisted: never change them. Adding a
// kind is compatible: an agent that does not know it refuses the job and
// reports that.
type JobKind string

// Job kinds.
const (
	// JobScan scans for missing updates now.
	JobScan JobKind = "scan"
	// JobInstall installs exact package versions with one backend.
	JobInstall JobKind = "install"
	// JobReboot restarts the machine after a delay.
	JobReboot JobKind = "reboot"
	// JobHook runs a hook the machine's administrator configured on the
	// agent, by name (a snapshot before patching, a health check after).
	JobHook JobKind = "hook"
)

// JobKinds lists the kinds this protocol version knows.
var JobKinds = []JobKind{JobScan, JobInstall, JobReboot, JobHook, JobHealth, JobRollback}

// Job is one action for one agent. Payload is the kind's payload as JSON
// (ScanPayload, InstallPayload, RebootPayload or HookPayload).
type Job struct {
	ID      string  `json:"id"`
	AgentID string  `json:"agent_id"`
	Kind    JobKind `json:"kind"`
	// IssuedAt and ExpiresAt bound when the agent may start the job; an
	// agent that sees it after ExpiresAt refuses it.
	IssuedAt  time.Time       `json:"issued_at"`
	ExpiresAt time.Time       `json:"expires_at"`
	Payload   json.RawMessage `json:"payload"`
}

// ScanPayload asks for a scan. Empty Sources means every backend.
type ScanPayload struct {
	Sources []string `json:"sources,omitempty"`
}

// InstallPayload asks one backend to install exact versions.
type InstallPayload struct {
	Source       string   `json:"source"`
	Targets      []Target `json:"targets"`
	DownloadOnly bool     `json:"download_only,omitempty"`
	// Deadline is the end of the maintenance window: no new work starts
	// after it. Zero means the job's expiry.
	Deadline time.Time `json:"deadline,omitzero"`
}

// Target names one update to install (the fields of pkgmgr.Target).
type Target struct {
	ID      string `json:"id"`
	Package string `json:"package"`
	Version string `json:"version,omitempty"`
}

// RebootPayload asks for a restart after DelaySeconds, announcing Message
// to logged-in users where the OS can.
type RebootPayload struct {
	DelaySeconds int    `json:"delay_seconds"`
	Message      string `json:"message,omitempty"`
}

// HookPayload asks for the configured hook Name to run.
type HookPayload struct {
	Name string `json:"name"`
}

// NewJob builds a job with the payload encoded.
func NewJob(id, agentID string, kind JobKind, payload any, issued, expires time.Time) (Job, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return Job{}, fmt.Errorf("encode %s payload: %w", kind, err)
	}
	j := Job{ID: id, AgentID: agentID, Kind: kind, IssuedAt: issued.UTC(), ExpiresAt: expires.UTC(), Payload: p}
	return j, j.Validate()
}

// Validate checks the job's fields and that its payload is one this
// protocol version understands completely.
func (j Job) Validate() error {
	if !ValidID(j.ID) {
		return fieldErr("id", "must be 1 to 64 characters of letters, digits, '_' and '-'")
	}
	if !ValidID(j.AgentID) {
		return fieldErr("agent_id", "must be an agent id")
	}
	if j.IssuedAt.IsZero() || !j.ExpiresAt.After(j.IssuedAt) {
		return fieldErr("expires_at", "must be after issued_at")
	}
	switch j.Kind {
	case JobScan:
		var p ScanPayload
		if err := j.DecodePayload(&p); err != nil {
			return err
		}
		for i, s := range p.Sources {
			if !ValidID(s) {
				return fieldErr(fmt.Sprintf("payload.sources[%d]", i), "must be a source name")
			}
		}
	case JobInstall:
		var p InstallPayload
		if err := j.DecodePayload(&p); err != nil {
			return err
		}
		if !ValidID(p.Source) {
			return fieldErr("payload.source", "must be a source name")
		}
		if len(p.Targets) == 0 || len(p.Targets) > 1000 {
			return fieldErr("payload.targets", "must list 1 to 1000 targets")
		}
		for i, t := range p.Targets {
			for _, f := range []struct{ name, v string }{{"id", t.ID}, {"package", t.Package}, {"version", t.Version}} {
				if (f.v == "" && f.name != "version") || !plainText(f.v, 512) {
					return fieldErr(fmt.Sprintf("payload.targets[%d].%s", i, f.name), "must be 1 to 512 printable characters")
				}
			}
		}
	case JobReboot:
		var p RebootPayload
		if err := j.DecodePayload(&p); err != nil {
			return err
		}
		if p.DelaySeconds < 0 || p.DelaySeconds > 24*3600 {
			return fieldErr("payload.delay_seconds", "must be between 0 and 86400")
		}
		if !plainText(p.Message, 500) {
			return fieldErr("payload.message", "must be at most 500 printable characters")
		}
	case JobHook:
		var p HookPayload
		if err := j.DecodePayload(&p); err != nil {
			return err
		}
		if !ValidHookName(p.Name) {
			return fieldErr("payload.name", "must be a hook name (a-z, 0-9, '-', '_', at most 64)")
		}
	case JobHealth, JobRollback:
		return validateRunbookJob(j)
	default:
		return fieldErr("kind", "unknown job kind %q", j.Kind)
	}
	return nil
}

// DecodePayload decodes the payload into v, refusing fields v does not
// have: a job whose meaning the agent does not fully understand must not
// run with part of it ignored.
func (j Job) DecodePayload(v any) error {
	dec := json.NewDecoder(bytes.NewReader(j.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fieldErr("payload", "not a valid %s payload: %v", j.Kind, err)
	}
	if dec.More() {
		return fieldErr("payload", "trailing data after the %s payload", j.Kind)
	}
	return nil
}

// ValidHookName reports whether s can name a hook.
func ValidHookName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func plainText(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// SignedJob is a job in its signed envelope. Job holds the exact signed
// bytes (standard base64 of the job's JSON), so no re-encoding on the way
// can invalidate or alter what was signed.
type SignedJob struct {
	Job       string `json:"job"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

const jobDomain = "patchring-job-v1"

func jobMessage(keyID string, job []byte) []byte {
	msg := make([]byte, 0, len(jobDomain)+len(keyID)+len(job)+2)
	msg = append(msg, jobDomain...)
	msg = append(msg, '\n')
	msg = append(msg, keyID...)
	msg = append(msg, '\n')
	return append(msg, job...)
}

// SignJob validates j and signs it with the server key keyID.
func SignJob(j Job, keyID string, key ed25519.PrivateKey) (SignedJob, error) {
	if err := j.Validate(); err != nil {
		return SignedJob{}, fmt.Errorf("sign job %s: %w", j.ID, err)
	}
	raw, err := json.Marshal(j)
	if err != nil {
		return SignedJob{}, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	sig := ed25519.Sign(key, jobMessage(keyID, raw))
	return SignedJob{Job: base64.StdEncoding.EncodeToString(raw), KeyID: keyID, Signature: base64.StdEncoding.EncodeToString(sig)}, nil
}

// Errors of job verification.
var (
	ErrUnknownKey = errors.New("job signed by a key that is not pinned")
	ErrWrongAgent = errors.New("job is for another agent")
	ErrExpired    = errors.New("job expired")
	ErrJobInvalid = errors.New("job is not valid")
)

// VerifyJob checks a signed job against the pinned keys and returns it.
// The job must be signed by one of keys, be for agentID, not be expired at
// now, and validate. Errors wrap ErrUnknownKey, ErrBadSignature,
// ErrWrongAgent, ErrExpired or ErrJobInvalid.
func VerifyJob(sj SignedJob, keys map[string]ed25519.PublicKey, agentID string, now time.Time) (Job, error) {
	pub, ok := keys[sj.KeyID]
	if !ok {
		return Job{}, fmt.Errorf("%w: %q", ErrUnknownKey, sj.KeyID)
	}
	raw, err := base64.StdEncoding.DecodeString(sj.Job)
	if err != nil {
		return Job{}, fmt.Errorf("%w: job is not base64", ErrBadSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(sj.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize || len(pub) != ed25519.PublicKeySize {
		return Job{}, fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	if !ed25519.Verify(pub, jobMessage(sj.KeyID, raw), sig) {
		return Job{}, ErrBadSignature
	}
	var j Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return Job{}, fmt.Errorf("%w: %v", ErrJobInvalid, err)
	}
	if j.AgentID != agentID {
		return j, fmt.Errorf("%w: job %s is for %s", ErrWrongAgent, j.ID, j.AgentID)
	}
	if !now.Before(j.ExpiresAt) {
		return j, fmt.Errorf("%w: job %s expired at %s", ErrExpired, j.ID, j.ExpiresAt.Format(time.RFC3339))
	}
	if err := j.Validate(); err != nil {
		return j, fmt.Errorf("%w: %v", ErrJobInvalid, err)
	}
	return j, nil
}

// PeekJobID returns the id a signed job claims without verifying it, for
// reporting a refusal. It is "" when the job cannot be read at all.
func PeekJobID(sj SignedJob) string {
	raw, err := base64.StdEncoding.DecodeString(sj.Job)
	if err != nil {
		return ""
	}
	var j struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &j) != nil || !ValidID(j.ID) {
		return ""
	}
	return j.ID
}
