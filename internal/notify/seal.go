package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Key is a key-encryption key for webhook secrets: 32 bytes for
// AES-256-GCM, named so that sealed values say which key sealed them.
type Key struct {
	ID     string
	Secret []byte
}

// ExternalKey names a key supplied from outside the database (a key file)
// by a fingerprint of it, so the sealed values show which file they need.
func ExternalKey(secret []byte) Key {
	sum := sha256.Sum256(secret)
	return Key{ID: "ext-" + hex.EncodeToString(sum[:4]), Secret: secret}
}

// Sealer encrypts webhook signing secrets at rest with AES-256-GCM. The
// channel ID is authenticated with each value, so a sealed secret copied
// to another channel's row does not open. Sealed values look like
// "v1:KEYID:BASE64(nonce‖ciphertext)"; values sealed under an older key
// still open while that key is given to NewSealer. Safe for concurrent use.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewSealer seals with current and opens with current and older.
func NewSealer(current Key, older ...Key) (*Sealer, error) {
	s := &Sealer{current: current.ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range append([]Key{current}, older...) {
		if k.ID == "" || strings.ContainsAny(k.ID, ":") {
			return nil, fmt.Errorf("secret key id %q must be non-empty without ':'", k.ID)
		}
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("secret key %s has %d bytes, want 32", k.ID, len(k.Secret))
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("secret key %s: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret key %s: %w", k.ID, err)
		}
		if _, dup := s.aeads[k.ID]; !dup {
			s.aeads[k.ID] = aead
		}
	}
	return s, nil
}

// ErrSealed is returned when a sealed value does not open: a missing key
// (the key file was changed) or a damaged or moved value.
var ErrSealed = errors.New("the sealed secret cannot be opened with the configured keys")

// Seal encrypts secret for the channel with the given ID.
func (s *Sealer) Seal(channelID, secret string) (string, error) {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(secret), []byte(channelID))
	return "v1:" + s.current + ":" + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed for the channel with the given ID.
func (s *Sealer) Open(channelID, sealed string) (string, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return "", ErrSealed
	}
	aead, ok := s.aeads[parts[1]]
	if !ok {
		return "", fmt.Errorf("%w (sealed under key %s, which this server does not have)", ErrSealed, parts[1])
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrSealed
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(channelID))
	if err != nil {
		return "", ErrSealed
	}
	return string(plain), nil
}
