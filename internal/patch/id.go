package patch

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// ID types. IDs are opaque strings: a short type prefix, an underscore and a
// 26-character time-ordered random part (48-bit millisecond time and 80 random
// bits in Crockford base32, the ULID layout). The prefix makes an ID pasted
// into a ticket self-describing; the time order keeps inserts local in
// B-tree indexes.
type (
	ClientID string
	SiteID   string
	AssetID  string
	UserID   string
	TokenID  string
)

// ID prefixes.
const (
	PrefixClient = "cli"
	PrefixSite   = "sit"
	PrefixAsset  = "ast"
	PrefixUser   = "usr"
	PrefixToken  = "tok"
	PrefixAudit  = "aud"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idState makes IDs generated in one process strictly increasing even
// within one millisecond (the monotonic ULID rule): the random part of the
// previous ID is incremented instead of drawn anew.
var idState struct {
	sync.Mutex
	ms   uint64
	last [16]byte
}

// NewID returns a new ID with the given prefix, ordered by t. IDs made by
// one process are strictly increasing.
func NewID(prefix string, t time.Time) string {
	var b [16]byte
	now := uint64(t.UnixMilli())
	idState.Lock()
	if now <= idState.ms {
		b = idState.last
		for i := 15; i >= 6; i-- { // increment the 80-bit random part
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	} else {
		binary.BigEndian.PutUint64(b[:8], now<<16)
		if _, err := rand.Read(b[6:]); err != nil {
			idState.Unlock()
			panic("patch: crypto/rand failed: " + err.Error()) // never happens on supported platforms
		}
		b[6] &= 0x7f // leave room to increment without overflowing the time part
		idState.ms = now
	}
	idState.last = b
	idState.Unlock()
	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	// 128 bits → 26 base32 digits, most significant first.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		sb.WriteByte(crockford[v&31])
	}
	return sb.String()
}

// ValidID reports whether s looks like an ID with the given prefix. Stores
// use it to answer "not found" early for garbage input.
func ValidID(prefix, s string) bool {
	if len(s) != len(prefix)+27 || !strings.HasPrefix(s, prefix+"_") {
		return false
	}
	for _, c := range s[len(prefix)+1:] {
		if !strings.ContainsRune(crockford, c) {
			return false
		}
	}
	return true
}
