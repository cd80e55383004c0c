// Package patchtest provides fixtures for tests above the domain package:
// valid objects with sensible defaults, actor contexts, and a controllable
// clock. It holds no fakes of Patchring's own code: tests run against real
// stores.
package patchtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Epoch is the fixed start time of test clocks: a Tuesday, so that Patch
// Tuesday arithmetic starts from a meaningful day.
var Epoch = time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)

// Clock is a manually advanced clock safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to t (Epoch when t is zero).
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = Epoch
	}
	return &Clock{now: t}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// AdminContext returns a context acting as an MSP admin token.
func AdminContext(ctx context.Context) context.Context {
	return patch.NewContextWithActor(ctx, patch.Actor{Kind: patch.ActorToken, ID: "tok_admin", Name: "test-admin", Role: patch.RoleMSPAdmin})
}

// RoleContext returns a context acting with role r (and client c, for
// client owners).
func RoleContext(ctx context.Context, r patch.Role, c patch.ClientID) context.Context {
	return patch.NewContextWithActor(ctx, patch.Actor{Kind: patch.ActorToken, ID: "tok_" + string(r), Name: "test-" + string(r), Role: r, ClientID: c})
}

// OwnerContext returns a context acting as the client owner of c.
func OwnerContext(ctx context.Context, c patch.ClientID) context.Context {
	return RoleContext(ctx, patch.RoleClientOwner, c)
}

var seq atomic.Int64

// Client returns a valid new client with a unique name.
func Client(name string) *patch.Client {
	if name == "" {
		name = fmt.Sprintf("Client %d", seq.Add(1))
	}
	return &patch.Client{
		ID:           patch.ClientID(patch.NewID(patch.PrefixClient, time.Now())),
		Name:         name,
		AssetClasses: patch.DefaultAssetClasses(),
	}
}

// Site returns a valid new site of client c.
func Site(c patch.ClientID, name, tz string) *patch.Site {
	if tz == "" {
		tz = "America/Chicago"
	}
	return &patch.Site{ID: patch.SiteID(patch.NewID(patch.PrefixSite, time.Now())), ClientID: c, Name: name, TimeZone: tz, Subnets: []string{}}
}

// Asset returns a valid new Windows workstation of client c, adjusted by
// the given options.
func Asset(c patch.ClientID, hostname string, opts ...func(*patch.Asset)) *patch.Asset {
	a := &patch.Asset{
		ID:          patch.AssetID(patch.NewID(patch.PrefixAsset, time.Now())),
		ClientID:    c,
		Hostname:    hostname,
		OS:          patch.OS{Family: patch.OSWindows, Name: "Windows 11 Pro", Version: "10.0.22631", Build: "22631.4460"},
		Role:        patch.RoleWorkstation,
		Class:       patch.ClassWorkstation,
		Criticality: patch.CriticalityMedium,
		Source:      patch.SourceManual,
		Tags:        map[string]string{},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Linux makes an asset a Debian server.
func Linux(a *patch.Asset) {
	a.OS = patch.OS{Family: patch.OSLinux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Kernel: "6.1.0-26-amd64", Arch: "amd64"}
	a.Role, a.Class = patch.RoleServer, patch.ClassServer
}

// Tag sets a tag on an asset.
func Tag(k, v string) func(*patch.Asset) {
	return func(a *patch.Asset) { a.Tags[k] = v }
}

// User returns a valid new user with role r (client c for client owners).
func User(email string, r patch.Role, c patch.ClientID) *patch.User {
	return &patch.User{ID: patch.UserID(patch.NewID(patch.PrefixUser, time.Now())), Email: email, Name: "Test " + string(r), Role: r, ClientID: c}
}

// Token returns a new token and its secret.
func Token(name string, r patch.Role, c patch.ClientID) (*patch.Token, string) {
	secret := patch.NewSecret(patch.TokenPrefix)
	return &patch.Token{ID: patch.TokenID(patch.NewID(patch.PrefixToken, time.Now())), Name: name, Role: r, ClientID: c, Hash: patch.HashSecret(secret), Hint: patch.SecretHint(secret)}, secret
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }
