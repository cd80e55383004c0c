package storetest

import (
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

// testTenantIsolation checks, store by store, that a client owner of B can
// neither read nor change anything of client A, and that what it is refused
// looks exactly like what does not exist.
func testTenantIsolation(t *testing.T, open Opener) {
	f := newFixture(t, open)
	assetA := patchtest.Asset(f.a.ID, "ws-a", patchtest.Tag("ephi", "yes"))
	must(t, f.db.CreateAsset(f.admin, assetA))
	assetB := patchtest.Asset(f.b.ID, "ws-b")
	must(t, f.db.CreateAsset(f.admin, assetB))
	userA := patchtest.User("owner@a.example", patch.RoleClientOwner, f.a.ID)
	must(t, f.db.CreateUser(f.admin, userA))
	tokA, _ := patchtest.Token("a-token", patch.RoleClientOwner, f.a.ID)
	must(t, f.db.CreateToken(f.admin, tokA))
	staff := patchtest.User("tech@msp.example", patch.RoleTechnician, "")
	must(t, f.db.CreateUser(f.admin, staff))

	own := f.ownB
	t.Run("Clients", func(t *testing.T) {
		_, err := f.db.FindClientByID(own, f.a.ID)
		wantKind(t, err, patch.KindNotFound)
		list, n, err := f.db.FindClients(own, patch.ClientFilter{})
		must(t, err)
		if n != 1 || list[0].ID != f.b.ID {
			t.Errorf("client owner of B lists %d clients: %v", n, list)
		}
		_, err = f.db.UpdateClient(own, f.a.ID, patch.ClientUpdate{Notes: patchtest.Ptr("x")})
		wantKind(t, err, patch.KindNotFound)
		wantKind(t, f.db.DeleteClient(own, f.a.ID), patch.KindForbidden)
		wantKind(t, f.db.CreateClient(own, patchtest.Client("")), patch.KindForbidden)
	})
	t.Run("Sites", func(t *testing.T) {
		_, err := f.db.FindSiteByID(own, f.sa.ID)
		wantKind(t, err, patch.KindNotFound)
		_, n, err := f.db.FindSites(own, patch.SiteFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d sites of A", n)
		}
		_, err = f.db.UpdateSite(own, f.sa.ID, patch.SiteUpdate{Name: patchtest.Ptr("pwned")})
		wantKind(t, err, patch.KindNotFound)
		wantKind(t, f.db.DeleteSite(own, f.sa.ID), patch.KindNotFound)
		wantKind(t, f.db.CreateSite(own, patchtest.Site(f.a.ID, "Rogue", "")), patch.KindNotFound)
	})
	t.Run("Assets", func(t *testing.T) {
		_, err := f.db.FindAssetByID(own, assetA.ID)
		wantKind(t, err, patch.KindNotFound)
		list, n, err := f.db.FindAssets(own, patch.AssetFilter{})
		must(t, err)
		if n != 1 || list[0].ID != assetB.ID {
			t.Errorf("client owner of B lists %d assets", n)
		}
		// Explicitly asking for A's assets or A's tags finds nothing.
		_, n, err = f.db.FindAssets(own, patch.AssetFilter{ClientID: &f.a.ID, Tags: []patch.TagMatch{{Key: "ephi", Value: "yes"}}})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B finds %d assets of A", n)
		}
		_, err = f.db.UpdateAsset(own, assetA.ID, patch.AssetUpdate{Owner: patchtest.Ptr("x")})
		wantKind(t, err, patch.KindNotFound)
		wantKind(t, f.db.DeleteAsset(own, assetA.ID), patch.KindNotFound)
		wantKind(t, f.db.CreateAsset(own, patchtest.Asset(f.a.ID, "rogue")), patch.KindNotFound)
		_, err = f.db.ImportAssets(own, f.a.ID, []patch.AssetImportRow{{Line: 2, Fields: patch.AssetUpdate{Hostname: patchtest.Ptr("ws-a")}}})
		wantKind(t, err, patch.KindNotFound)
		// Moving B's own asset to A's site is refused too.
		_, err = f.db.UpdateAsset(own, assetB.ID, patch.AssetUpdate{SiteID: &f.sa.ID})
		wantField(t, err, patch.KindInvalid, "site_id")
	})
	t.Run("Users", func(t *testing.T) {
		_, err := f.db.FindUserByID(own, userA.ID)
		wantKind(t, err, patch.KindNotFound)
		_, err = f.db.FindUserByID(own, staff.ID)
		wantKind(t, err, patch.KindNotFound)
		_, n, err := f.db.FindUsers(own, patch.UserFilter{})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d users", n)
		}
		_, err = f.db.UpdateUser(own, userA.ID, patch.UserUpdate{Disabled: patchtest.Ptr(true)})
		wantKind(t, err, patch.KindNotFound)
		wantKind(t, f.db.DeleteUser(own, staff.ID), patch.KindNotFound)
		// A client owner cannot mint an MSP-wide user.
		wantKind(t, f.db.CreateUser(own, patchtest.User("evil@x.example", patch.RoleMSPAdmin, "")), patch.KindForbidden)
		wantField(t, f.db.CreateUser(own, patchtest.User("evil@x.example", patch.RoleClientOwner, f.a.ID)), patch.KindInvalid, "client_id")
	})
	t.Run("Tokens", func(t *testing.T) {
		_, err := f.db.FindTokenByID(own, tokA.ID)
		wantKind(t, err, patch.KindNotFound)
		_, err = f.db.RevokeToken(own, tokA.ID)
		wantKind(t, err, patch.KindNotFound)
		tok, _ := patchtest.Token("escalate", patch.RoleMSPAdmin, "")
		wantKind(t, f.db.CreateToken(own, tok), patch.KindForbidden)
		tok, _ = patchtest.Token("cross", patch.RoleClientOwner, f.a.ID)
		wantField(t, f.db.CreateToken(own, tok), patch.KindInvalid, "client_id")
	})
	t.Run("Audit", func(t *testing.T) {
		_, n, err := f.db.FindAuditEntries(own, patch.AuditFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("client owner of B sees %d audit entries of A", n)
		}
	})
	t.Run("NothingChanged", func(t *testing.T) {
		got, err := f.db.FindAssetByID(f.admin, assetA.ID)
		must(t, err)
		if got.Owner != "" || got.ClientID != f.a.ID {
			t.Errorf("asset of A changed: %+v", got)
		}
		site, err := f.db.FindSiteByID(f.admin, f.sa.ID)
		must(t, err)
		if site.Name != "Main" {
			t.Errorf("site of A renamed to %q", site.Name)
		}
		u, err := f.db.FindUserByID(f.admin, userA.ID)
		must(t, err)
		if u.Disabled {
			t.Error("user of A disabled by B")
		}
	})
}
