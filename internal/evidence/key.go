package evidence

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// KeyID identifies a signing key the way signed notes do: by the key's name
// and a 32-bit hash of the name and public key (see [PublicKey]). Its text
// form is "<name>+<8 hex digits>", the first two parts of the public key text.
type KeyID struct {
	Name string
	Hash uint32
}

func (id KeyID) String() string { return fmt.Sprintf("%s+%08x", id.Name, id.Hash) }

// PublicKey is an Ed25519 public key with a name, as used by signed notes
// (golang.org/x/mod/sumdb/note, specified as C2SP signed-note). Its text form,
// which the server publishes and an auditor passes to the verifier, is
//
//	<name>+<hash>+<base64(0x01 || 32-byte Ed25519 public key)>
//
// where hash is 8 lowercase hex digits of the first four bytes (big-endian)
// of SHA-256(<name> || "\n" || 0x01 || public key), and base64 is standard
// base64 with padding. The zero PublicKey is not valid.
type PublicKey struct {
	id  KeyID
	key ed25519.PublicKey
	v   note.Verifier
}

// ParsePublicKey parses the text form of a public key.
func ParsePublicKey(s string) (PublicKey, error) {
	s = strings.TrimSpace(s)
	v, err := note.NewVerifier(s)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse public key %q: %w", truncate(s, 80), err)
	}
	name, rest, _ := strings.Cut(s, "+")
	_, b64, _ := strings.Cut(rest, "+")
	raw, _ := base64.StdEncoding.DecodeString(b64) // checked by NewVerifier
	if err := checkText("key name", name, 1, maxIDLen, false); err != nil {
		return PublicKey{}, fmt.Errorf("parse public key: %w", err)
	}
	return PublicKey{id: KeyID{name, v.KeyHash()}, key: ed25519.PublicKey(raw[1:]), v: v}, nil
}

// ParsePublicKeys parses a list of public keys in text form, one per line,
// as an auditor might keep them in a file. Blank lines and lines starting
// with '#' are ignored.
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	var keys []PublicKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParsePublicKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no public keys found")
	}
	return keys, nil
}

// ID returns the key's identifier.
func (k PublicKey) ID() KeyID { return k.id }

// String returns the text form of k.
func (k PublicKey) String() string {
	if k.v == nil {
		return ""
	}
	return fmt.Sprintf("%s+%s", k.id, base64.StdEncoding.EncodeToString(append([]byte{1}, k.key...)))
}

// Ed25519 returns the raw Ed25519 public key.
func (k PublicKey) Ed25519() ed25519.PublicKey { return k.key }

// PrivateKey is a named Ed25519 signing key. Its String method hides the
// secret; use [MarshalPrivateKey] to store it.
type PrivateKey struct {
	secret string
	signer note.Signer
	pub    PublicKey
}

// GenerateKey creates a signing key called name, reading randomness from rand
// (crypto/rand.Reader in production). The name appears in every signature and
// in the public key text; use something an auditor recognises, such as the
// server's host name, optionally with a year for rotation
// ("patchring.example-msp.com/2026"). It must be 1 to 256 bytes of printable
// ASCII without spaces or '+'.
func GenerateKey(rand io.Reader, name string) (*PrivateKey, error) {
	if name == "" || len(name) > maxIDLen {
		return nil, fmt.Errorf("generate key: name must be 1 to %d bytes", maxIDLen)
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || c == '+' {
			return nil, fmt.Errorf("generate key: name %q must be printable ASCII without spaces or '+'", name)
		}
	}
	skey, _, err := note.GenerateKey(rand, name)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return ParsePrivateKey(skey)
}

// ParsePrivateKey parses the text form written by [MarshalPrivateKey].
func ParsePrivateKey(s string) (*PrivateKey, error) {
	s = strings.TrimSpace(s)
	signer, err := note.NewSigner(s)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	// "PRIVATE+KEY+<name>+<hash>+<base64>": the key data is the fifth
	// field. Standard base64 may itself contain '+', so split from the
	// left (the name has no '+').
	parts := strings.SplitN(s, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1]) // checked by NewSigner
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("parse private key: malformed key data")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	k, err := ParsePublicKey(vkey)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return &PrivateKey{secret: s, signer: signer, pub: k}, nil
}

// MarshalPrivateKey returns the secret text form of k,
// "PRIVATE+KEY+<name>+<hash>+<base64(0x01 || 32-byte Ed25519 seed)>", for the
// server to store. Anyone holding it can sign evidence in the server's name.
func MarshalPrivateKey(k *PrivateKey) string { return k.secret }

// Public returns the public half of k.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// String describes k without revealing the secret.
func (k PrivateKey) String() string { return "PRIVATE+KEY+" + k.pub.id.String() + "+(secret)" }

// GoString describes k without revealing the secret.
func (k PrivateKey) GoString() string { return k.String() }

// verifiers returns a note.Verifiers for keys. Listing the same key twice is
// harmless (note.VerifierList would call it ambiguous).
func verifiers(keys []PublicKey) note.Verifiers {
	vs := make([]note.Verifier, 0, len(keys))
	seen := make(map[string]bool)
	for _, k := range keys {
		if k.v != nil && !seen[k.String()] {
			seen[k.String()] = true
			vs = append(vs, k.v)
		}
	}
	return note.VerifierList(vs...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
