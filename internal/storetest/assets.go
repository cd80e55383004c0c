package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testAssets(t *testing.T, open Opener) {
	t.Run("CRUD", func(t *testing.T) {
		f := newFixture(t, open)
		a := patchtest.Asset(f.a.ID, "WS-014", patchtest.Tag("ephi", "yes"), patchtest.Tag("dept", "radiology"), func(a *patch.Asset) {
			a.SiteID = f.sa.ID
			a.IPAddresses = []string{"10.1.0.20", "10.1.0.20", "fe80::1"}
			a.MACAddresses = []string{"00-1A-2B-3C-4D-5E"}
		})
		must(t, f.db.CreateAsset(f.admin, a))
		got, err := f.db.FindAssetByID(f.admin, a.ID)
		must(t, err)
		if got.Hostname != "ws-014" {
			t.Errorf("hostname = %q, want normalised ws-014", got.Hostname)
		}
		if !got.EPHI() || got.Tags["dept"] != "radiology" || len(got.Tags) != 2 {
			t.Errorf("tags = %v", got.Tags)
		}
		if !slices.Equal(got.IPAddresses, []string{"10.1.0.20", "fe80::1"}) || !slices.Equal(got.MACAddresses, []string{"00:1a:2b:3c:4d:5e"}) {
			t.Errorf("addresses = %v %v", got.IPAddresses, got.MACAddresses)
		}
		if got.SiteID != f.sa.ID || got.FirstSeen.IsZero() || !got.LastSeen.IsZero() {
			t.Errorf("asset = %+v", got)
		}
		upd, err := f.db.UpdateAsset(f.admin, a.ID, patch.AssetUpdate{
			Owner: patchtest.Ptr("dr.lee@alpha.example"),
			Tags:  &map[string]string{"ephi": "no"},
			OS:    &patch.OSUpdate{Build: patchtest.Ptr("22631.4890")},
		})
		must(t, err)
		if upd.Owner != "dr.lee@alpha.example" || upd.EPHI() || len(upd.Tags) != 1 || upd.OS.Build != "22631.4890" || upd.OS.Name != "Windows 11 Pro" {
			t.Errorf("UpdateAsset = %+v", upd)
		}
		again, err := f.db.FindAssetByID(f.admin, a.ID)
		must(t, err)
		if again.Tags["ephi"] != "no" || len(again.Tags) != 1 || again.OS.Build != "22631.4890" {
			t.Errorf("stored after update = %+v", again)
		}
		must(t, f.db.DeleteAsset(f.admin, a.ID))
		_, err = f.db.FindAssetByID(f.admin, a.ID)
		wantKind(t, err, patch.KindNotFound)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		f := newFixture(t, open)
		for _, tc := range []struct {
			name  string
			edit  func(*patch.Asset)
			kind  patch.Kind
			field string
		}{
			{"Hostname", func(a *patch.Asset) { a.Hostname = "bad host" }, patch.KindInvalid, "hostname"},
			{"EmptyHostname", func(a *patch.Asset) { a.Hostname = "" }, patch.KindInvalid, "hostname"},
			{"OSFamily", func(a *patch.Asset) { a.OS.Family = "beos" }, patch.KindInvalid, "os.family"},
			{"Role", func(a *patch.Asset) { a.Role = "toaster" }, patch.KindInvalid, "role"},
			{"Class", func(a *patch.Asset) { a.Class = "gold" }, patch.KindInvalid, "class"},
			{"EPHI", func(a *patch.Asset) { a.Tags["ephi"] = "maybe" }, patch.KindInvalid, "tags.ephi"},
			{"TagKey", func(a *patch.Asset) { a.Tags["Bad Key"] = "x" }, patch.KindInvalid, "tags.Bad Key"},
			{"IP", func(a *patch.Asset) { a.IPAddresses = []string{"10.0.0.300"} }, patch.KindInvalid, "ip_addresses[0]"},
			{"MAC", func(a *patch.Asset) { a.MACAddresses = []string{"zz:zz"} }, patch.KindInvalid, "mac_addresses[0]"},
			{"Criticality", func(a *patch.Asset) { a.Criticality = "urgent" }, patch.KindInvalid, "criticality"},
			{"OtherClientsSite", func(a *patch.Asset) { a.SiteID = "sit_doesnotbelong" }, patch.KindInvalid, "site_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := patchtest.Asset(f.a.ID, "ws-x", tc.edit)
				wantField(t, f.db.CreateAsset(f.admin, a), tc.kind, tc.field)
			})
		}
		// The site of another client is refused, not silently attached.
		a := patchtest.Asset(f.a.ID, "ws-y", func(a *patch.Asset) { a.SiteID = f.sb.ID })
		wantField(t, f.db.CreateAsset(f.admin, a), patch.KindInvalid, "site_id")
		ok := patchtest.Asset(f.a.ID, "ws-z")
		must(t, f.db.CreateAsset(f.admin, ok))
		_, err := f.db.UpdateAsset(f.admin, ok.ID, patch.AssetUpdate{SiteID: &f.sb.ID})
		wantField(t, err, patch.KindInvalid, "site_id")
		_, n, err := f.db.FindAssets(f.admin, patch.AssetFilter{})
		must(t, err)
		if n != 1 {
			t.Errorf("assets after refused writes: %d, want 1", n)
		}
	})
	t.Run("ErrIdentityConflict", func(t *testing.T) {
		f := newFixture(t, open)
		a := patchtest.Asset(f.a.ID, "ws-1", func(a *patch.Asset) { a.IdentityKey = "uuid:4c4c4544" })
		must(t, f.db.CreateAsset(f.admin, a))
		b := patchtest.Asset(f.a.ID, "ws-2", func(a *patch.Asset) { a.IdentityKey = "uuid:4c4c4544" })
		wantField(t, f.db.CreateAsset(f.admin, b), patch.KindConflict, "identity_key")
		// The same identity under another client is a different machine record.
		c := patchtest.Asset(f.b.ID, "ws-2", func(a *patch.Asset) { a.IdentityKey = "uuid:4c4c4544" })
		must(t, f.db.CreateAsset(f.admin, c))
	})
}

func testAssetFilters(t *testing.T, open Opener) {
	f := newFixture(t, open)
	clock := patchtest.NewClock(time.Time{})
	mk := func(c patch.ClientID, host string, opts ...func(*patch.Asset)) *patch.Asset {
		a := patchtest.Asset(c, host, opts...)
		must(t, f.db.CreateAsset(f.admin, a))
		return a
	}
	seen := func(d time.Duration) func(*patch.Asset) {
		return func(a *patch.Asset) { a.LastSeen = clock.Now().Add(-d) }
	}
	srv := mk(f.a.ID, "srv-ehr", patchtest.Linux, patchtest.Tag("ephi", "yes"), seen(time.Hour), func(a *patch.Asset) {
		a.SiteID = f.sa.ID
		a.Owner = "Dr Patel"
		a.Ring = "canary"
		a.Managed = true
		a.Source = patch.SourceAgent
	})
	ws := mk(f.a.ID, "ws-front", patchtest.Tag("ephi", "no"), seen(10*24*time.Hour), func(a *patch.Asset) { a.SerialNumber = "5CG1234XYZ"; a.Managed = true; a.Source = patch.SourceAgent })
	mac := mk(f.a.ID, "mac-ceo", func(a *patch.Asset) {
		a.OS = patch.OS{Family: patch.OSMacOS, Name: "macOS Sonoma", Version: "14.4.1"}
		a.Source = patch.SourceDiscovery
	})
	mk(f.b.ID, "srv-files", patchtest.Linux, patchtest.Tag("ephi", "yes"))

	ids := func(as []*patch.Asset) []patch.AssetID {
		var out []patch.AssetID
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	before := clock.Now().Add(-24 * time.Hour)
	after := clock.Now().Add(-2 * time.Hour)
	for _, tc := range []struct {
		name string
		f    patch.AssetFilter
		want []patch.AssetID // in order
	}{
		{"Client", patch.AssetFilter{ClientID: &f.a.ID}, []patch.AssetID{mac.ID, srv.ID, ws.ID}},
		{"ClientDesc", patch.AssetFilter{ClientID: &f.a.ID, Desc: true}, []patch.AssetID{ws.ID, srv.ID, mac.ID}},
		{"Site", patch.AssetFilter{SiteID: &f.sa.ID}, []patch.AssetID{srv.ID}},
		{"OS", patch.AssetFilter{ClientID: &f.a.ID, OSFamily: patchtest.Ptr(patch.OSLinux)}, []patch.AssetID{srv.ID}},
		{"Class", patch.AssetFilter{ClientID: &f.a.ID, Class: patchtest.Ptr("workstation")}, []patch.AssetID{mac.ID, ws.ID}},
		{"Role", patch.AssetFilter{Role: patchtest.Ptr(patch.RoleServer)}, nil},
		{"TagValue", patch.AssetFilter{Tags: []patch.TagMatch{{Key: "ephi", Value: "yes"}}}, nil},
		{"TagValueClient", patch.AssetFilter{ClientID: &f.a.ID, Tags: []patch.TagMatch{{Key: "ephi", Value: "yes"}}}, []patch.AssetID{srv.ID}},
		{"TagAny", patch.AssetFilter{ClientID: &f.a.ID, Tags: []patch.TagMatch{{Key: "ephi"}}}, []patch.AssetID{srv.ID, ws.ID}},
		{"Ring", patch.AssetFilter{Ring: patchtest.Ptr("canary")}, []patch.AssetID{srv.ID}},
		{"Managed", patch.AssetFilter{ClientID: &f.a.ID, Managed: patchtest.Ptr(false)}, []patch.AssetID{mac.ID}},
		{"Source", patch.AssetFilter{Source: patchtest.Ptr(patch.SourceDiscovery)}, []patch.AssetID{mac.ID}},
		{"QueryOwner", patch.AssetFilter{Query: patchtest.Ptr("patel")}, []patch.AssetID{srv.ID}},
		{"QuerySerial", patch.AssetFilter{Query: patchtest.Ptr("5cg1234")}, []patch.AssetID{ws.ID}},
		{"LastSeenBefore", patch.AssetFilter{ClientID: &f.a.ID, LastSeenBefore: &before}, []patch.AssetID{mac.ID, ws.ID}},
		{"LastSeenAfter", patch.AssetFilter{LastSeenAfter: &after}, []patch.AssetID{srv.ID}},
		{"SortLastSeen", patch.AssetFilter{ClientID: &f.a.ID, Sort: patch.SortLastSeen, Desc: true}, []patch.AssetID{srv.ID, ws.ID, mac.ID}},
		{"SortOS", patch.AssetFilter{ClientID: &f.a.ID, Sort: patch.SortOS}, []patch.AssetID{srv.ID, mac.ID, ws.ID}},
		{"Page", patch.AssetFilter{ClientID: &f.a.ID, Limit: 1, Offset: 1}, []patch.AssetID{srv.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := f.db.FindAssets(f.admin, tc.f)
			must(t, err)
			if tc.want == nil {
				if n != 2 || len(got) != 2 {
					t.Errorf("got %d assets (total %d), want 2 across both clients", len(got), n)
				}
				return
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("got %v, want %v", ids(got), tc.want)
			}
			if tc.f.Limit == 0 && n != len(tc.want) {
				t.Errorf("total = %d, want %d", n, len(tc.want))
			}
		})
	}
	t.Run("PageTotal", func(t *testing.T) {
		_, n, err := f.db.FindAssets(f.admin, patch.AssetFilter{ClientID: &f.a.ID, Limit: 1, Offset: 1})
		must(t, err)
		if n != 3 {
			t.Errorf("total = %d, want 3", n)
		}
	})
	t.Run("ErrSort", func(t *testing.T) {
		_, _, err := f.db.FindAssets(f.admin, patch.AssetFilter{Sort: "hostname; DROP TABLE assets"})
		wantField(t, err, patch.KindInvalid, "sort")
	})
}

func testAssetImport(t *testing.T, open Opener) {
	f := newFixture(t, open)
	existing := patchtest.Asset(f.a.ID, "ws-001")
	must(t, f.db.CreateAsset(f.admin, existing))
	linux := patch.OSLinux
	rows := []patch.AssetImportRow{
		{Line: 2, Fields: patch.AssetUpdate{Hostname: patchtest.Ptr("WS-001"), Owner: patchtest.Ptr("reception")}},
		{Line: 3, Fields: patch.AssetUpdate{Hostname: patchtest.Ptr("srv-pacs"), OS: &patch.OSUpdate{Family: &linux}, Role: patchtest.Ptr(patch.RoleServer), Tags: &map[string]string{"ephi": "yes"}}},
	}
	t.Run("ErrRollsBackEverything", func(t *testing.T) {
		bad := append(slices.Clone(rows), patch.AssetImportRow{Line: 4, Fields: patch.AssetUpdate{Hostname: patchtest.Ptr("ws-bad"), OS: &patch.OSUpdate{Family: &linux}, Class: patchtest.Ptr("gold")}})
		_, err := f.db.ImportAssets(f.admin, f.a.ID, bad)
		wantField(t, err, patch.KindInvalid, "line 4: class")
		_, n, err := f.db.FindAssets(f.admin, patch.AssetFilter{ClientID: &f.a.ID})
		must(t, err)
		if n != 1 {
			t.Errorf("assets after failed import: %d, want 1 (nothing written)", n)
		}
		got, err := f.db.FindAssetByID(f.admin, existing.ID)
		must(t, err)
		if got.Owner != "" {
			t.Errorf("owner after failed import = %q, want unchanged", got.Owner)
		}
	})
	t.Run("ErrNewWithoutOS", func(t *testing.T) {
		_, err := f.db.ImportAssets(f.admin, f.a.ID, []patch.AssetImportRow{{Line: 7, Fields: patch.AssetUpdate{Hostname: patchtest.Ptr("new-one")}}})
		wantField(t, err, patch.KindInvalid, "line 7: os_family")
	})
	t.Run("OK", func(t *testing.T) {
		res, err := f.db.ImportAssets(f.admin, f.a.ID, rows)
		must(t, err)
		if res.Created != 1 || res.Updated != 1 {
			t.Errorf("ImportAssets = %+v, want 1 created, 1 updated", res)
		}
		got, err := f.db.FindAssetByID(f.admin, existing.ID)
		must(t, err)
		if got.Owner != "reception" || got.OS.Family != patch.OSWindows {
			t.Errorf("updated asset = %+v", got)
		}
		list, _, err := f.db.FindAssets(f.admin, patch.AssetFilter{Query: patchtest.Ptr("srv-pacs")})
		must(t, err)
		if len(list) != 1 || list[0].Class != patch.ClassServer || list[0].Source != patch.SourceImport || !list[0].EPHI() {
			t.Errorf("created asset = %+v", list)
		}
	})
	t.Run("ErrOtherClientsID", func(t *testing.T) {
		b := patchtest.Asset(f.b.ID, "ws-b")
		must(t, f.db.CreateAsset(f.admin, b))
		_, err := f.db.ImportAssets(f.admin, f.a.ID, []patch.AssetImportRow{{Line: 2, ID: b.ID, Fields: patch.AssetUpdate{Owner: patchtest.Ptr("hijack")}}})
		wantKind(t, err, patch.KindNotFound)
		got, err := f.db.FindAssetByID(f.admin, b.ID)
		must(t, err)
		if got.Owner != "" {
			t.Errorf("other client's asset changed: owner %q", got.Owner)
		}
	})
}
