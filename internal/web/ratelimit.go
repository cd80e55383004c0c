package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LoginLimits are the token buckets of the login rate limiter. Each limit
// allows Burst failed attempts at once and then one more every Every.
type LoginLimits struct {
	// PerPair limits one client IP guessing one account's password.
	PerPair Limit
	// PerIP limits one client IP trying many accounts (password spraying).
	PerIP Limit
	// PerAccount limits guesses at one account from many IPs. It is the
	// most generous: an attacker can use it to slow down the real user's
	// logins, and it recovers within minutes once the guessing stops.
	PerAccount Limit
	// MaxEntries bounds the memory of each table; idle entries are dropped
	// first.
	MaxEntries int
}

// Limit is one token bucket.
type Limit struct {
	Burst int
	Every time.Duration
}

// DefaultLoginLimits: 5 failures per IP and account, then one a minute;
// 20 per IP, then one every 6 s; 20 per account, then one every 15 s.
// Combined with argon2id's cost per attempt this keeps online guessing far
// below what a 12-character minimum password needs, while a user who
// mistypes a few times is never locked out.
var DefaultLoginLimits = LoginLimits{
	PerPair:    Limit{Burst: 5, Every: time.Minute},
	PerIP:      Limit{Burst: 20, Every: 6 * time.Second},
	PerAccount: Limit{Burst: 20, Every: 15 * time.Second},
	MaxEntries: 10000,
}

// loginLimiter counts failed logins. An attempt is allowed when every
// bucket it falls in still holds a token; only failures take tokens, so
// successful logins never lock anybody out.
type loginLimiter struct {
	mu                    sync.Mutex
	limits                LoginLimits
	pair, byIP, byAccount map[string]*rate.Limiter
}

func newLoginLimiter(l LoginLimits) *loginLimiter {
	if l == (LoginLimits{}) {
		l = DefaultLoginLimits
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLoginLimits.MaxEntries
	}
	return &loginLimiter{limits: l, pair: map[string]*rate.Limiter{}, byIP: map[string]*rate.Limiter{}, byAccount: map[string]*rate.Limiter{}}
}

// allow reports whether a login for account from ip may be attempted now.
func (l *loginLimiter) allow(now time.Time, ip, account string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.buckets(now, ip, account) {
		if b.TokensAt(now) < 1 {
			return false
		}
	}
	return true
}

// failed records a failed attempt.
func (l *loginLimiter) failed(now time.Time, ip, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.buckets(now, ip, account) {
		b.AllowN(now, 1)
	}
}

func (l *loginLimiter) buckets(now time.Time, ip, account string) []*rate.Limiter {
	return []*rate.Limiter{
		l.bucket(now, l.pair, ip+"\x00"+account, l.limits.PerPair),
		l.bucket(now, l.byIP, ip, l.limits.PerIP),
		l.bucket(now, l.byAccount, account, l.limits.PerAccount),
	}
}

func (l *loginLimiter) bucket(now time.Time, m map[string]*rate.Limiter, key string, lim Limit) *rate.Limiter {
	if b, ok := m[key]; ok {
		return b
	}
	if len(m) >= l.limits.MaxEntries {
		// Drop buckets that have refilled: they hold no information.
		for k, b := range m {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(m, k)
			}
		}
		// Still full (a flood of distinct keys): drop arbitrary ones.
		for k := range m {
			if len(m) < l.limits.MaxEntries {
				break
			}
			delete(m, k)
		}
	}
	b := rate.NewLimiter(rate.Every(lim.Every), lim.Burst)
	m[key] = b
	return b
}
