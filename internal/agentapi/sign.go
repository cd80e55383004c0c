package agentapi

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request-signing headers.
const (
	HeaderKeyID     = "Patchring-Key-Id"
	HeaderTimestamp = "Patchring-Timestamp"
	HeaderNonce     = "Patchring-Nonce"
	HeaderSignature = "Patchring-Signature"
	HeaderProtocol  = "Patchring-Protocol"
)

// EnrollKeyID is the key id of an enrollment request: the key is the one
// in the request body, not yet known to the server.
const EnrollKeyID = "enroll"

// requestDomain separates request signatures from every other use of an
// agent key.
const requestDomain = "patchring-agent-request-v1"

// Errors of request verification. Verify wraps them so callers can tell
// (and count) why a request was refused.
var (
	ErrMissingAuth  = errors.New("request is not signed")
	ErrMalformed    = errors.New("malformed signature headers")
	ErrBadSignature = errors.New("signature does not verify")
)

// CanonicalRequest returns the bytes an agent signs: a domain string, the
// method, the request URI (path and query, as sent), the key id, the Unix
// timestamp, the nonce and the hex SHA-256 of the body, one per line.
// Binding the body hash means an altered body fails verification; binding
// the URI means a check-in cannot be replayed as a results delivery.
func CanonicalRequest(method, uri, keyID string, timestamp int64, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	for _, s := range []string{requestDomain, method, uri, keyID, strconv.FormatInt(timestamp, 10), nonce, hex.EncodeToString(sum[:])} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// NewNonce returns a fresh random nonce.
func NewNonce() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("agentapi: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// SignRequest signs req, whose body is body, with key under keyID at time
// now, setting the signature headers.
func SignRequest(req *http.Request, body []byte, keyID string, key ed25519.PrivateKey, now time.Time) {
	ts := now.Unix()
	nonce := NewNonce()
	sig := ed25519.Sign(key, CanonicalRequest(req.Method, req.URL.RequestURI(), keyID, ts, nonce, body))
	req.Header.Set(HeaderKeyID, keyID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set(HeaderProtocol, strconv.Itoa(ProtocolVersion))
}

// RequestAuth is the parsed signature of a request.
type RequestAuth struct {
	KeyID     string
	Timestamp time.Time
	Nonce     string
	Signature []byte
	// Protocol is the agent's protocol version (0 if not sent).
	Protocol int
}

// ParseRequestAuth reads the signature headers. It checks their form only;
// Verify checks the signature.
func ParseRequestAuth(h http.Header) (RequestAuth, error) {
	var a RequestAuth
	keyID, ts, nonce, sig := h.Get(HeaderKeyID), h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature)
	if keyID == "" && ts == "" && nonce == "" && sig == "" {
		return a, ErrMissingAuth
	}
	if !ValidID(keyID) {
		return a, fmt.Errorf("%w: key id", ErrMalformed)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 || sec > 1<<40 {
		return a, fmt.Errorf("%w: timestamp", ErrMalformed)
	}
	if len(nonce) < 16 || len(nonce) > 64 || !isIDText(nonce) {
		return a, fmt.Errorf("%w: nonce", ErrMalformed)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return a, fmt.Errorf("%w: signature", ErrMalformed)
	}
	if p := h.Get(HeaderProtocol); p != "" {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 1<<20 {
			return a, fmt.Errorf("%w: protocol", ErrMalformed)
		}
		a.Protocol = v
	}
	a.KeyID, a.Timestamp, a.Nonce, a.Signature = keyID, time.Unix(sec, 0), nonce, raw
	return a, nil
}

// Verify checks the signature against pub for the given method, request URI
// and body. It does not check the timestamp's freshness or the nonce's
// novelty: those need the server's clock and memory.
func (a RequestAuth) Verify(pub ed25519.PublicKey, method, uri string, body []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: no usable public key", ErrBadSignature)
	}
	if !ed25519.Verify(pub, CanonicalRequest(method, uri, a.KeyID, a.Timestamp.Unix(), a.Nonce, body), a.Signature) {
		return ErrBadSignature
	}
	return nil
}

// EncodePublicKey returns the text form of an Ed25519 public key:
// "ed25519:" and the standard base64 of the 32 bytes.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey parses the text form of an Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return nil, errors.New(`public key must have the prefix "ed25519:"`)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("public key must be 32 bytes of standard base64")
	}
	return ed25519.PublicKey(raw), nil
}

// ValidID reports whether s can be an id in the protocol (agent, key, job
// and result ids): 1 to 64 characters of A–Z, a–z, 0–9, '_' and '-'.
func ValidID(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && isIDText(s)
}

func isIDText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewID returns a new random id with the given prefix, ordered by t: the
// prefix, an underscore, 12 hex digits of Unix milliseconds and 20 random
// hex digits. Agents use it for result ids.
func NewID(prefix string, t time.Time) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("agentapi: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%s_%012x%s", prefix, uint64(t.UnixMilli())&(1<<48-1), hex.EncodeToString(b[:]))
}
