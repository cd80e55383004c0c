// Package password hashes and verifies console passwords with argon2id
// (RFC 9106), stored as PHC strings ("$argon2id$v=19$m=...,t=...,p=...$salt$hash")
// so parameters can be raised later without invalidating old hashes:
// [NeedsRehash] tells the login code when to re-hash with current settings.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// Default follows RFC 9106's second recommended option (64 MiB, 3 passes),
// about 50–100 ms on a small server: slow for guessing, fine for logins.
var Default = Params{Memory: 64 * 1024, Time: 3, Threads: 2}

// MinLength is the shortest password accepted; NIST SP 800-63B asks for at
// least 8 and we ask for 12 for accounts that can patch every client.
const MinLength = 12

// ErrMismatch is returned by Verify for a wrong password.
var ErrMismatch = errors.New("password does not match")

// Validate checks a new password's length; composition rules are
// deliberately absent (NIST SP 800-63B).
func Validate(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinLength {
		return fmt.Errorf("must be at least %d characters", MinLength)
	}
	if len(pw) > 1024 {
		return errors.New("must be at most 1024 bytes")
	}
	return nil
}

// Hash returns the PHC string of pw with fresh salt.
func Hash(pw string, p Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify checks pw against a PHC string in constant time.
func Verify(pw, phc string) error {
	p, salt, key, err := decode(phc)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether phc was made with parameters other than p.
func NeedsRehash(phc string, p Params) bool {
	got, _, _, err := decode(phc)
	return err != nil || got != p
}

func decode(phc string) (Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errors.New("not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, fmt.Errorf("bad argon2 parameters %q: %w", parts[3], err)
	}
	if p.Memory < 8*1024 || p.Memory > 256*1024 || p.Time < 1 || p.Time > 20 || p.Threads < 1 {
		return Params{}, nil, nil, fmt.Errorf("argon2 parameters out of range: %q", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, fmt.Errorf("bad salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, errors.New("bad hash")
	}
	return p, salt, key, nil
}
