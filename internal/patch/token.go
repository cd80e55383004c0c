package patch

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// TokenPrefix starts every API token so that secret scanners can find
// leaked ones.
const TokenPrefix = "prt_"

// Token is an API token. Only the SHA-256 of the secret is stored; the
// secret itself is shown once, at creation.
type Token struct {
	ID       TokenID  `json:"id"`
	Name     string   `json:"name"`
	Role     Role     `json:"role"`
	ClientID ClientID `json:"client_id,omitempty"`
	// UserID is the user the token acts for, if any.
	UserID UserID `json:"user_id,omitempty"`
	// Hint is the first characters of the secret, to recognise a token in
	// a list without revealing it.
	Hint       string    `json:"hint"`
	Hash       string    `json:"-"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// MaxTokenLifetime bounds token expiry. Tokens without an expiry are allowed
// for automation but must be revoked explicitly.
const MaxTokenLifetime = 5 * 365 * 24 * time.Hour

// Validate checks the token's fields.
func (t *Token) Validate() error {
	if err := validName("name", t.Name, 100); err != nil {
		return err
	}
	if err := t.Role.Validate(); err != nil {
		return err
	}
	return validateRoleClient(t.Role, t.ClientID)
}

// Active reports whether the token may authenticate at time now.
func (t *Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Actor returns the actor of a request authenticated with t.
func (t *Token) Actor() Actor {
	return Actor{Kind: ActorToken, ID: string(t.ID), Name: t.Name, Role: t.Role, ClientID: t.ClientID}
}

// NewSecret returns a new random secret with the given prefix: 32 bytes of
// entropy, base64url without padding.
func NewSecret(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("patch: crypto/rand failed: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret returns the hex SHA-256 of a secret, the only form stored.
// A fast hash is right here: the secret has 256 bits of entropy, so
// guessing is infeasible without a slow hash, and lookups stay cheap.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretHint returns the displayable start of a secret.
func SecretHint(secret string) string {
	if i := strings.IndexByte(secret, '_'); i >= 0 && len(secret) > i+7 {
		return secret[:i+7]
	}
	return ""
}

// TokenFilter selects tokens.
type TokenFilter struct {
	ID       *TokenID
	ClientID *ClientID
	UserID   *UserID
	// Active selects tokens that are (true) or are not (false) usable now.
	Active *bool
	Offset int
	Limit  int
}
