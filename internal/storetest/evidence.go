package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testEvidence(t *testing.T, open Opener) {
	f := newFixture(t, open)
	a := patchtest.Asset(f.a.ID, "srv-1", patchtest.Linux)
	must(t, f.db.CreateAsset(f.admin, a))
	at := time.Now()
	// A scan appends detected and verified events.
	_, err := f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a.ID, At: at, Sources: []patch.UpdateSource{"apt"}, Missing: []patch.ScannedUpdate{aptUpdate("openssl", "3.0.15-1")}})
	must(t, err)
	_, err = f.db.RecordScan(f.admin, patch.ScanResult{AssetID: a.ID, At: at.Add(time.Hour), Sources: []patch.UpdateSource{"apt"}})
	must(t, err)
	must(t, f.db.AppendEvidence(f.admin, patch.EvidenceEvent{ClientID: f.a.ID, Type: patch.EventApproved, Details: map[string]string{"note": "manual"}}))

	es, n, err := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID})
	must(t, err)
	if n != 3 || es[0].Type != patch.EventDetected || es[1].Type != patch.EventVerified || es[2].Type != patch.EventApproved {
		t.Fatalf("chain = %d entries %+v", n, es)
	}
	if es[0].Subject.AssetID != a.ID || es[0].Details["package"] != "openssl" || es[0].Seq != 1 || es[2].Seq != 3 {
		t.Errorf("first entry = %+v", es[0])
	}
	if es[1].PrevHash != es[0].Hash {
		t.Errorf("entry 2 does not chain to entry 1")
	}

	t.Run("Verifies", func(t *testing.T) {
		raw, err := f.db.EvidenceChain(f.admin, f.a.ID, 1, 3)
		must(t, err)
		if err := evidence.VerifyChain(raw); err != nil {
			t.Errorf("stored chain does not verify: %v", err)
		}
	})
	t.Run("ConcurrentAppendsDoNotFork", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				errs <- f.db.AppendEvidence(f.admin, patch.EvidenceEvent{ClientID: f.a.ID, Type: patch.EventScheduled})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		raw, err := f.db.EvidenceChain(f.admin, f.a.ID, 1, 1000)
		must(t, err)
		if len(raw) != 23 {
			t.Errorf("chain length = %d, want 23", len(raw))
		}
		if err := evidence.VerifyChain(raw); err != nil {
			t.Errorf("chain after concurrent appends: %v", err)
		}
		heads, err := f.db.EvidenceHeads(f.admin)
		must(t, err)
		if len(heads) != 1 || heads[0].Seq != 23 || heads[0].Hash != raw[22].Hash.String() {
			t.Errorf("heads = %+v", heads)
		}
	})
	t.Run("Paging", func(t *testing.T) {
		es, n, err := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID, Limit: 2, Offset: 1})
		must(t, err)
		if n != 23 || len(es) != 2 || es[0].Seq != 2 {
			t.Errorf("page = %d of %d starting %d", len(es), n, es[0].Seq)
		}
		es, _, err = f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: f.a.ID, Types: []string{patch.EventVerified}})
		must(t, err)
		if len(es) != 1 {
			t.Errorf("verified events = %d, want 1", len(es))
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		es, n, err := f.db.FindEvidence(f.ownB, patch.EvidenceFilter{ClientID: f.a.ID})
		must(t, err)
		if n != 0 || len(es) != 0 {
			t.Errorf("client owner of B reads %d entries of A", n)
		}
		wantKind(t, f.db.AppendEvidence(f.ownB, patch.EvidenceEvent{ClientID: f.a.ID, Type: patch.EventApproved}), patch.KindNotFound)
		_, err = f.db.EvidenceChain(f.ownB, f.a.ID, 1, 10)
		wantKind(t, err, patch.KindNotFound)
		heads, err := f.db.EvidenceHeads(f.ownB)
		must(t, err)
		if len(heads) != 0 {
			t.Errorf("client owner of B sees heads %v", heads)
		}
	})
}

func testKeys(t *testing.T, open Opener) {
	db := open(t)
	admin := patchtest.AdminContext(t.Context())
	_, err := db.ActiveKey(admin, patch.KeyEvidence)
	wantKind(t, err, patch.KindNotFound)
	k1 := &patch.ServerKey{ID: "key1", Purpose: patch.KeyEvidence, Public: "pub1", Private: "priv1"}
	got, err := db.EnsureKey(admin, k1)
	must(t, err)
	if got.ID != "key1" || got.Private != "priv1" {
		t.Fatalf("EnsureKey = %+v", got)
	}
	got, err = db.EnsureKey(admin, &patch.ServerKey{ID: "key-loser", Purpose: patch.KeyEvidence, Public: "x", Private: "y"})
	must(t, err)
	if got.ID != "key1" {
		t.Errorf("second EnsureKey replaced the key: %+v", got)
	}
	must(t, db.RotateKey(admin, &patch.ServerKey{ID: "key2", Purpose: patch.KeyEvidence, Public: "pub2", Private: "priv2"}))
	keys, err := db.FindKeys(admin, patch.KeyEvidence)
	must(t, err)
	if len(keys) != 2 || keys[0].ID != "key2" || !keys[0].RetiredAt.IsZero() || keys[1].RetiredAt.IsZero() {
		t.Errorf("keys after rotation = %+v", keys)
	}
	owner := patchtest.OwnerContext(t.Context(), "cli_x")
	_, err = db.ActiveKey(owner, patch.KeyEvidence)
	wantKind(t, err, patch.KindForbidden)
	pub, err := db.FindKeys(owner, patch.KeyEvidence)
	must(t, err)
	for _, k := range pub {
		if k.Private != "" {
			t.Error("client owner can read a private key")
		}
	}
}
