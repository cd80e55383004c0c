package demo_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/demo"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
)

func TestSeed(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db}, server.Options{})
	res, err := demo.Seed(t.Context(), srv, db, demo.Options{Seed: 7, Now: time.Now(), Password: "demo-password-123"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := patch.NewContextWithActor(t.Context(), patch.SystemActor("test"))
	if len(res.Clients) != 3 || res.Assets < 200 || res.Token == "" {
		t.Fatalf("seed = %d clients, %d assets", len(res.Clients), res.Assets)
	}
	zones := map[string]bool{}
	sites, _, err := srv.Sites(ctx, patch.SiteFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		zones[s.TimeZone] = true
	}
	if len(zones) < 4 {
		t.Errorf("sites span %d time zones, want several: %v", len(zones), zones)
	}
	for _, fam := range []patch.OSFamily{patch.OSWindows, patch.OSMacOS, patch.OSLinux} {
		_, n, err := srv.Assets(ctx, patch.AssetFilter{OSFamily: &fam})
		if err != nil || n < 10 {
			t.Errorf("%s assets: %d %v", fam, n, err)
		}
	}
	clinic := res.Clients[0].ID
	_, ephi, _ := srv.Assets(ctx, patch.AssetFilter{ClientID: &clinic, Tags: []patch.TagMatch{{Key: "ephi", Value: "yes"}}})
	dnd := patch.ClassDoNotDisrupt
	manufacturer := res.Clients[2].ID
	_, lines, _ := srv.Assets(ctx, patch.AssetFilter{ClientID: &manufacturer, Class: &dnd})
	unmanaged := false
	_, discovered, _ := srv.Assets(ctx, patch.AssetFilter{Managed: &unmanaged})
	if ephi < 20 || lines < 10 || discovered < 5 {
		t.Errorf("ePHI systems %d, do-not-disrupt line systems %d, discovered devices %d", ephi, lines, discovered)
	}
	if u, err := srv.Login(t.Context(), "owner@riversideclinic.example", "demo-password-123"); err != nil || u.ClientID != clinic {
		t.Errorf("client owner login: %+v %v", u, err)
	}
}
