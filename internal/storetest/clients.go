package storetest

import (
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testClients(t *testing.T, open Opener) {
	t.Run("CreateAndFind", func(t *testing.T) {
		f := newFixture(t, open)
		got, err := f.db.FindClientByID(f.admin, f.a.ID)
		must(t, err)
		if got.Name != "Alpha Clinic" || len(got.AssetClasses) != len(patch.DefaultAssetClasses()) || got.CreatedAt.IsZero() {
			t.Errorf("FindClientByID = %+v", got)
		}
		list, n, err := f.db.FindClients(f.admin, patch.ClientFilter{})
		must(t, err)
		if n != 2 || len(list) != 2 || list[0].Name != "Alpha Clinic" || list[1].Name != "Beta Law" {
			t.Errorf("FindClients = %d %v", n, list)
		}
		list, n, err = f.db.FindClients(f.admin, patch.ClientFilter{Query: patchtest.Ptr("LAW")})
		must(t, err)
		if n != 1 || list[0].ID != f.b.ID {
			t.Errorf("FindClients(query LAW) = %d %v", n, list)
		}
		// A LIKE wildcard in the query is matched literally.
		_, n, err = f.db.FindClients(f.admin, patch.ClientFilter{Query: patchtest.Ptr("%")})
		must(t, err)
		if n != 0 {
			t.Errorf("FindClients(query %%) = %d, want 0", n)
		}
	})
	t.Run("ErrNameConflict", func(t *testing.T) {
		f := newFixture(t, open)
		wantField(t, f.db.CreateClient(f.admin, patchtest.Client("alpha CLINIC")), patch.KindConflict, "name")
		_, err := f.db.UpdateClient(f.admin, f.b.ID, patch.ClientUpdate{Name: patchtest.Ptr("ALPHA clinic")})
		wantField(t, err, patch.KindConflict, "name")
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		f := newFixture(t, open)
		c := patchtest.Client(" padded ")
		wantField(t, f.db.CreateClient(f.admin, c), patch.KindInvalid, "name")
		c = patchtest.Client("")
		c.AssetClasses[1].Key = c.AssetClasses[0].Key
		wantField(t, f.db.CreateClient(f.admin, c), patch.KindInvalid, "asset_classes[1].key")
		c = patchtest.Client("")
		c.AssetClasses[0].TargetPct = 101
		wantField(t, f.db.CreateClient(f.admin, c), patch.KindInvalid, "asset_classes[0].target_pct")
		_, err := f.db.UpdateClient(f.admin, f.a.ID, patch.ClientUpdate{ContactEmail: patchtest.Ptr("not an email")})
		wantField(t, err, patch.KindInvalid, "contact_email")
	})
	t.Run("Update", func(t *testing.T) {
		f := newFixture(t, open)
		got, err := f.db.UpdateClient(f.admin, f.a.ID, patch.ClientUpdate{Notes: patchtest.Ptr("HIPAA covered entity"), ContactEmail: patchtest.Ptr("it@alpha.example")})
		must(t, err)
		if got.Notes != "HIPAA covered entity" || got.Name != "Alpha Clinic" || got.ContactEmail != "it@alpha.example" {
			t.Errorf("UpdateClient = %+v", got)
		}
		again, err := f.db.FindClientByID(f.admin, f.a.ID)
		must(t, err)
		if again.Notes != got.Notes {
			t.Errorf("stored notes = %q, want %q", again.Notes, got.Notes)
		}
	})
	t.Run("ErrClassInUse", func(t *testing.T) {
		f := newFixture(t, open)
		must(t, f.db.CreateAsset(f.admin, patchtest.Asset(f.a.ID, "ws-1")))
		classes := []patch.AssetClass{{Key: "server", Name: "Servers", Kind: patch.ClassKindServer, TargetPct: 95}}
		_, err := f.db.UpdateClient(f.admin, f.a.ID, patch.ClientUpdate{AssetClasses: &classes})
		wantField(t, err, patch.KindConflict, "asset_classes")
		// The other client has no assets: dropping classes is fine there.
		_, err = f.db.UpdateClient(f.admin, f.b.ID, patch.ClientUpdate{AssetClasses: &classes})
		must(t, err)
	})
	t.Run("Delete", func(t *testing.T) {
		f := newFixture(t, open)
		a := patchtest.Asset(f.a.ID, "ws-1")
		must(t, f.db.CreateAsset(f.admin, a))
		wantKind(t, f.db.DeleteClient(f.admin, f.a.ID), patch.KindConflict)
		must(t, f.db.DeleteAsset(f.admin, a.ID))
		must(t, f.db.DeleteClient(f.admin, f.a.ID))
		_, err := f.db.FindClientByID(f.admin, f.a.ID)
		wantKind(t, err, patch.KindNotFound)
		_, n, err := f.db.FindSites(f.admin, patch.SiteFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 0 {
			t.Errorf("sites of deleted client: %d, want 0", n)
		}
		wantKind(t, f.db.DeleteClient(f.admin, f.a.ID), patch.KindNotFound)
	})
	t.Run("Paging", func(t *testing.T) {
		f := newFixture(t, open)
		for range 5 {
			must(t, f.db.CreateClient(f.admin, patchtest.Client("")))
		}
		page, n, err := f.db.FindClients(f.admin, patch.ClientFilter{Limit: 3, Offset: 3})
		must(t, err)
		if n != 7 || len(page) != 3 {
			t.Errorf("page 2 = %d of %d, want 3 of 7", len(page), n)
		}
		page, n, err = f.db.FindClients(f.admin, patch.ClientFilter{Limit: 3, Offset: 30})
		must(t, err)
		if n != 7 || len(page) != 0 {
			t.Errorf("page past end = %d of %d, want 0 of 7", len(page), n)
		}
	})
}

func testSites(t *testing.T, open Opener) {
	t.Run("CRUD", func(t *testing.T) {
		f := newFixture(t, open)
		s := patchtest.Site(f.a.ID, "Branch", "Asia/Kolkata")
		s.Subnets = []string{"10.1.0.0/24", "fd00::/64"}
		must(t, f.db.CreateSite(f.admin, s))
		got, err := f.db.FindSiteByID(f.admin, s.ID)
		must(t, err)
		if got.TimeZone != "Asia/Kolkata" || len(got.Subnets) != 2 {
			t.Errorf("FindSiteByID = %+v", got)
		}
		upd, err := f.db.UpdateSite(f.admin, s.ID, patch.SiteUpdate{Location: patchtest.Ptr("2nd floor")})
		must(t, err)
		if upd.Location != "2nd floor" || upd.Name != "Branch" {
			t.Errorf("UpdateSite = %+v", upd)
		}
		list, n, err := f.db.FindSites(f.admin, patch.SiteFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 2 || list[0].Name != "Branch" {
			t.Errorf("FindSites = %d %v", n, list)
		}
		must(t, f.db.DeleteSite(f.admin, s.ID))
		_, err = f.db.FindSiteByID(f.admin, s.ID)
		wantKind(t, err, patch.KindNotFound)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		f := newFixture(t, open)
		for _, tc := range []struct {
			name  string
			edit  func(*patch.Site)
			field string
		}{
			{"TimeZone", func(s *patch.Site) { s.TimeZone = "Mars/Base" }, "time_zone"},
			{"LocalZone", func(s *patch.Site) { s.TimeZone = "Local" }, "time_zone"},
			{"Subnet", func(s *patch.Site) { s.Subnets = []string{"10.0.0.0/8", "banana"} }, "subnets[1]"},
			{"HostBits", func(s *patch.Site) { s.Subnets = []string{"10.0.0.1/24"} }, "subnets[0]"},
			{"Name", func(s *patch.Site) { s.Name = "" }, "name"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := patchtest.Site(f.a.ID, "X", "")
				tc.edit(s)
				wantField(t, f.db.CreateSite(f.admin, s), patch.KindInvalid, tc.field)
			})
		}
		wantField(t, f.db.CreateSite(f.admin, patchtest.Site(f.a.ID, "MAIN", "")), patch.KindConflict, "name")
		wantKind(t, f.db.CreateSite(f.admin, patchtest.Site("cli_missing", "X", "")), patch.KindNotFound)
	})
	t.Run("ErrInUse", func(t *testing.T) {
		f := newFixture(t, open)
		must(t, f.db.CreateAsset(f.admin, patchtest.Asset(f.a.ID, "ws-1", func(a *patch.Asset) { a.SiteID = f.sa.ID })))
		wantKind(t, f.db.DeleteSite(f.admin, f.sa.ID), patch.KindConflict)
	})
}
