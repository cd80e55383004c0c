package patch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

func TestNewID(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var ids []string
	for range 1000 {
		ids = append(ids, patch.NewID(patch.PrefixAsset, at))
	}
	if !slices.IsSorted(ids) {
		t.Error("IDs made in one millisecond are not strictly increasing")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Error("duplicate IDs")
	}
	later := patch.NewID(patch.PrefixAsset, at.Add(time.Millisecond))
	if later <= ids[len(ids)-1] {
		t.Errorf("ID of a later millisecond %s sorts before %s", later, ids[len(ids)-1])
	}
	for _, id := range ids[:3] {
		if !patch.ValidID(patch.PrefixAsset, id) || len(id) != 30 {
			t.Errorf("ValidID(%q) = false", id)
		}
	}
	for _, bad := range []string{"", "ast_", "cli_01M843N0F0BP2JFBY1SHKSKV7T", "ast_01M843N0F0BP2JFBY1SHKSKV7!", "ast_01m843n0f0bp2jfby1shksKV7T"} {
		if patch.ValidID(patch.PrefixAsset, bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestErrors(t *testing.T) {
	inner := errors.New("pq: connection refused")
	err := fmt.Errorf("create client: %w", patch.WrapError(inner, patch.KindUnavailable, "The database is unavailable."))
	if patch.ErrorKind(err) != patch.KindUnavailable || patch.ErrorMessage(err) != "The database is unavailable." || !errors.Is(err, inner) {
		t.Errorf("wrapped error lost its class: %v", err)
	}
	if patch.ErrorKind(inner) != patch.KindInternal || patch.ErrorMessage(inner) != "Internal error." {
		t.Error("unclassified error leaks its message")
	}
	fe := patch.FieldError("name", "is required")
	if patch.ErrorField(fe) != "name" || patch.ErrorKind(fe) != patch.KindInvalid || fe.Error() != "name: is required" {
		t.Errorf("FieldError = %v", fe)
	}
	for k := patch.KindInternal; k <= patch.KindTooLarge; k++ {
		if strings.HasPrefix(k.String(), "kind(") {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestPermissions(t *testing.T) {
	all := []patch.Permission{patch.PermRead, patch.PermManageClients, patch.PermManageAssets, patch.PermManageUsers, patch.PermReadAudit, patch.PermOperate, patch.PermSignOff, patch.PermRequestChanges}
	want := map[patch.Role][]patch.Permission{
		patch.RoleMSPAdmin:    {patch.PermRead, patch.PermManageClients, patch.PermManageAssets, patch.PermManageUsers, patch.PermReadAudit, patch.PermOperate, patch.PermRequestChanges},
		patch.RoleTechnician:  {patch.PermRead, patch.PermManageAssets, patch.PermOperate, patch.PermRequestChanges},
		patch.RoleAuditor:     {patch.PermRead, patch.PermReadAudit},
		patch.RoleClientOwner: {patch.PermRead, patch.PermReadAudit, patch.PermSignOff, patch.PermRequestChanges},
		"root":                nil,
	}
	for role, perms := range want {
		for _, p := range all {
			a := patch.Actor{Role: role}
			if got := a.Can(p); got != slices.Contains(perms, p) {
				t.Errorf("%s.Can(%s) = %v", role, p, got)
			}
		}
	}
	// Only client owners sign off: the MSP cannot sign off on the client's behalf.
	if (patch.Actor{Role: patch.RoleMSPAdmin}).Can(patch.PermSignOff) {
		t.Error("an MSP admin can sign off exceptions for a client")
	}
}

func TestScope(t *testing.T) {
	ctx := context.Background()
	if _, err := patch.ScopeFromContext(ctx); patch.ErrorKind(err) != patch.KindUnauthenticated {
		t.Errorf("no actor: %v", err)
	}
	for _, tc := range []struct {
		actor patch.Actor
		all   bool
		err   patch.Kind
	}{
		{patch.Actor{Kind: patch.ActorToken, Role: patch.RoleMSPAdmin}, true, 0},
		{patch.Actor{Kind: patch.ActorToken, Role: patch.RoleAuditor}, true, 0},
		{patch.Actor{Kind: patch.ActorToken, Role: patch.RoleClientOwner, ClientID: "cli_a"}, false, 0},
		{patch.Actor{Kind: patch.ActorToken, Role: patch.RoleClientOwner}, false, patch.KindForbidden},
		{patch.Actor{Kind: patch.ActorAgent, ClientID: "cli_a"}, false, 0},
		{patch.Actor{Kind: patch.ActorAgent}, false, patch.KindForbidden},
		{patch.SystemActor("x"), true, 0},
	} {
		s, err := patch.ScopeFromContext(patch.NewContextWithActor(ctx, tc.actor))
		if tc.err != 0 {
			if patch.ErrorKind(err) != tc.err {
				t.Errorf("%+v: err = %v, want kind %v", tc.actor, err, tc.err)
			}
			continue
		}
		if err != nil || s.All != tc.all {
			t.Errorf("%+v: scope = %+v, %v", tc.actor, s, err)
		}
		if !tc.all && (s.Allows("cli_b") || !s.Allows("cli_a") || s.Allows("")) {
			t.Errorf("%+v: scope %+v allows the wrong clients", tc.actor, s)
		}
	}
}

func TestAssetValidate(t *testing.T) {
	valid := func() *patch.Asset {
		return &patch.Asset{ClientID: "cli_a", Hostname: "ws-1", OS: patch.OS{Family: patch.OSWindows}, Role: patch.RoleWorkstation,
			Class: "workstation", Criticality: patch.CriticalityMedium, Source: patch.SourceManual, Tags: map[string]string{}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*patch.Asset)
		field string
	}{
		{"OK", func(*patch.Asset) {}, ""},
		{"FQDN", func(a *patch.Asset) { a.FQDN = "ws-1.corp.example" }, ""},
		{"HostnameDots", func(a *patch.Asset) { a.Hostname = "ws..1" }, "hostname"},
		{"HostnameLong", func(a *patch.Asset) { a.Hostname = strings.Repeat("a", 64) }, "hostname"},
		{"Control", func(a *patch.Asset) { a.Owner = "bell\a" }, "owner"},
		{"LongOwner", func(a *patch.Asset) { a.Owner = strings.Repeat("ü", 201) }, "owner"},
		{"BadUTF8", func(a *patch.Asset) { a.Location = "\xff" }, "location"},
		{"ClassCase", func(a *patch.Asset) { a.Class = "Workstation" }, "class"},
		{"RingKey", func(a *patch.Asset) { a.Ring = "pilot group" }, "ring"},
		{"TooManyTags", func(a *patch.Asset) {
			for i := range 51 {
				a.Tags[fmt.Sprintf("k%d", i)] = "v"
			}
		}, "tags"},
		{"EPHIValue", func(a *patch.Asset) { a.Tags["ephi"] = "Yes" }, "tags.ephi"},
		{"IPv6", func(a *patch.Asset) { a.IPAddresses = []string{"2001:db8::1"} }, ""},
		{"MACUpper", func(a *patch.Asset) { a.MACAddresses = []string{"00:1A:2B:3C:4D:5E"} }, "mac_addresses[0]"},
		{"Source", func(a *patch.Asset) { a.Source = "magic" }, "source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := valid()
			tc.edit(a)
			err := a.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) != tc.field {
				t.Errorf("Validate = %v (field %q), want field %q", err, patch.ErrorField(err), tc.field)
			}
		})
	}
	t.Run("NormalizeThenValid", func(t *testing.T) {
		a := valid()
		a.Hostname, a.MACAddresses = "  WS-1 ", []string{"00-1A-2B-3C-4D-5E"}
		a.Normalize()
		if err := a.Validate(); err != nil || a.Hostname != "ws-1" || a.MACAddresses[0] != "00:1a:2b:3c:4d:5e" {
			t.Errorf("normalised asset %+v: %v", a, err)
		}
	})
	t.Run("ValidateFor", func(t *testing.T) {
		c := &patch.Client{ID: "cli_a", Name: "A", AssetClasses: patch.DefaultAssetClasses()}
		a := valid()
		a.Class = "gold"
		err := a.ValidateFor(c)
		if patch.ErrorField(err) != "class" || !strings.Contains(patch.ErrorMessage(err), "core-server") {
			t.Errorf("ValidateFor = %v; the message should list the client's classes", err)
		}
	})
}

func TestDefaultAssetClasses(t *testing.T) {
	cs := patch.DefaultAssetClasses()
	if err := patch.ValidateAssetClasses(cs); err != nil {
		t.Fatal(err)
	}
	target := map[string]float64{}
	for _, c := range cs {
		target[c.Key] = c.TargetPct
	}
	// The service description's targets: servers 95 %, workstations 92 %.
	if target["core-server"] != 95 || target["server"] != 95 || target["workstation"] != 92 {
		t.Errorf("targets = %v", target)
	}
}

func TestTokenSecrets(t *testing.T) {
	s1, s2 := patch.NewSecret(patch.TokenPrefix), patch.NewSecret(patch.TokenPrefix)
	if s1 == s2 || !strings.HasPrefix(s1, "prt_") || len(s1) != 47 {
		t.Errorf("secrets %q %q", s1, s2)
	}
	if h := patch.HashSecret(s1); len(h) != 64 || h == patch.HashSecret(s2) || h != patch.HashSecret(s1) {
		t.Errorf("HashSecret = %q", h)
	}
	if hint := patch.SecretHint(s1); hint != s1[:10] {
		t.Errorf("hint = %q", hint)
	}
	now := time.Now()
	tok := patch.Token{ExpiresAt: now.Add(time.Minute)}
	if !tok.Active(now) || tok.Active(now.Add(time.Minute)) {
		t.Error("expiry boundary wrong")
	}
	tok.RevokedAt = now
	if tok.Active(now) {
		t.Error("revoked token active")
	}
}
