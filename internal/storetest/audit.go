package storetest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testAudit(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := patchtest.Asset(f.a.ID, "ws-1")
	must(t, f.db.CreateAsset(f.admin, a))
	_, err := f.db.UpdateAsset(f.admin, a.ID, patch.AssetUpdate{Owner: patchtest.Ptr("alice")})
	must(t, err)
	// A refused write leaves no audit entry.
	_, err = f.db.UpdateAsset(f.admin, a.ID, patch.AssetUpdate{Class: patchtest.Ptr("nope")})
	wantKind(t, err, patch.KindInvalid)
	must(t, f.db.DeleteAsset(f.admin, a.ID))

	entityID := string(a.ID)
	entries, n, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{EntityID: &entityID})
	must(t, err)
	if n != 3 {
		t.Fatalf("audit entries for asset = %d, want 3 (create, update, delete)", n)
	}
	// Newest first.
	wantActions := []string{"asset.delete", "asset.update", "asset.create"}
	for i, e := range entries {
		if e.Action != wantActions[i] {
			t.Errorf("entry %d action = %q, want %q", i, e.Action, wantActions[i])
		}
		if e.Actor.Name != "test-admin" || e.Actor.Kind != patch.ActorToken || e.ClientID != f.a.ID || e.At.IsZero() {
			t.Errorf("entry %d = %+v", i, e)
		}
	}
	var before, after patch.Asset
	must(t, json.Unmarshal(entries[1].Before, &before))
	must(t, json.Unmarshal(entries[1].After, &after))
	if before.Owner != "" || after.Owner != "alice" {
		t.Errorf("update before/after owner = %q/%q", before.Owner, after.Owner)
	}
	if entries[0].After != nil || entries[2].Before != nil {
		t.Error("delete has an after state or create has a before state")
	}

	t.Run("SecretsNotLogged", func(t *testing.T) {
		u := patchtest.User("u@x.example", patch.RoleAuditor, "")
		u.PasswordHash = "$argon2id$secret-hash"
		must(t, f.db.CreateUser(f.admin, u))
		tok, _ := patchtest.Token("t", patch.RoleAuditor, "")
		must(t, f.db.CreateToken(f.admin, tok))
		all, _, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{Limit: 1000})
		must(t, err)
		for _, e := range all {
			for _, raw := range []json.RawMessage{e.Before, e.After} {
				s := string(raw)
				if strings.Contains(s, "secret-hash") || strings.Contains(s, tok.Hash) {
					t.Errorf("audit entry %s leaks a secret: %s", e.Action, s)
				}
			}
		}
	})
	t.Run("Scoped", func(t *testing.T) {
		must(t, f.db.CreateAsset(f.admin, patchtest.Asset(f.b.ID, "ws-b")))
		entries, _, err := f.db.FindAuditEntries(f.ownA, patch.AuditFilter{Limit: 1000})
		must(t, err)
		if len(entries) == 0 {
			t.Fatal("client owner sees no audit entries of its own client")
		}
		for _, e := range entries {
			if e.ClientID != f.a.ID {
				t.Errorf("client owner of A sees entry %s of client %q", e.Action, e.ClientID)
			}
		}
	})
}
