package server_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/server"
	"github.com/patchring/patchring/internal/sqlite"
	"github.com/patchring/patchring/internal/sqlstore"
)

// evidenceWorld is a server with the stores the evidence service and the
// reports use, on SQLite, with raw access to the database file for
// tampering.
type evidenceWorld struct {
	srv   *server.Server
	db    *sqlstore.DB
	raw   *sql.DB
	clock *patchtest.Clock
	admin context.Context
}

func newEvidenceWorld(t *testing.T, start time.Time) *evidenceWorld {
	t.Helper()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	clock := patchtest.NewClock(start)
	db.Now = clock.Now
	srv := server.New(server.Stores{MSP: db, Clients: db, Sites: db, Assets: db, Users: db, Tokens: db, Audit: db, Ping: db,
		Inventory: db, Findings: db, Keys: db, Policies: db, Decisions: db, Exceptions: db, Evaluations: db, Alerts: db,
		Evidence: db, Checkpoints: db, EvidenceKeys: db, Reports: db,
		ComplianceFacts: db, Monitors: db, Baselines: db, Snapshots: db},
		server.Options{Now: clock.Now, Evidence: server.EvidenceOptions{KeyName: "patchring.test", Generator: "patchring test"}})
	return &evidenceWorld{srv: srv, db: db, raw: raw, clock: clock, admin: patchtest.AdminContext(t.Context())}
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestEvidenceKeyAndCheckpoints(t *testing.T) {
	w := newEvidenceWorld(t, time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC))
	a, err := w.srv.CreateClient(w.admin, server.ClientInput{Name: "Riverside Family Clinic"})
	mustDo(t, err)
	b, err := w.srv.CreateClient(w.admin, server.ClientInput{Name: "Hartwell & Shaw"})
	mustDo(t, err)

	// The key is made once, on first start, and published.
	mustDo(t, w.srv.EnsureEvidenceKey(t.Context()))
	mustDo(t, w.srv.EnsureEvidenceKey(t.Context()))
	keys, err := w.srv.PublishedEvidenceKeys(t.Context())
	mustDo(t, err)
	if len(keys) != 1 || !keys[0].Current || !strings.HasPrefix(keys[0].Public, "patchring.test/2026-10-05+") {
		t.Fatalf("published keys = %+v", keys)
	}
	if _, err := evidence.ParsePublicKeys([]byte(server.FormatEvidenceKeys(keys))); err != nil {
		t.Errorf("the published key file does not parse: %v", err)
	}

	for range 3 {
		mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: a.ID, Type: patch.EventApproved}))
	}
	mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: b.ID, Type: patch.EventApproved}))

	t.Run("SignOnlyWhatMoved", func(t *testing.T) {
		n, err := w.srv.SignCheckpoints(t.Context())
		mustDo(t, err)
		if n != 2 {
			t.Errorf("first pass signed %d, want 2", n)
		}
		n, err = w.srv.SignCheckpoints(t.Context())
		mustDo(t, err)
		if n != 0 {
			t.Errorf("second pass signed %d, want 0 (nothing moved)", n)
		}
		w.clock.Advance(time.Hour)
		mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: a.ID, Type: patch.EventVerified}))
		n, err = w.srv.SignCheckpoints(t.Context())
		mustDo(t, err)
		if n != 1 {
			t.Errorf("after one append signed %d, want 1", n)
		}
		cps, err := w.srv.EvidenceCheckpoints(w.admin, a.ID)
		mustDo(t, err)
		if len(cps) != 2 || cps[0].Size != 3 || cps[1].Size != 4 {
			t.Fatalf("checkpoints of a = %+v", cps)
		}
		pub, _ := evidence.ParsePublicKey(keys[0].Public)
		cp, err := evidence.VerifyCheckpoint([]byte(cps[1].Signed), []evidence.PublicKey{pub})
		mustDo(t, err)
		if cp.Size != 4 || cp.ClientID != string(a.ID) || cp.Head.String() != cps[1].Head {
			t.Errorf("signed checkpoint = %+v", cp)
		}
	})

	t.Run("VerifyOK", func(t *testing.T) {
		v, err := w.srv.VerifyEvidenceChain(w.admin, a.ID)
		mustDo(t, err)
		if !v.OK || v.Entries != 4 || v.Checkpoints != 2 || v.LastCheckpoint != 4 {
			t.Errorf("verification = %+v", v)
		}
		// A client owner may verify its own chain, not another's.
		_, err = w.srv.VerifyEvidenceChain(patchtest.OwnerContext(t.Context(), b.ID), a.ID)
		if patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("owner of b verifying a: %v", err)
		}
	})

	t.Run("Rotate", func(t *testing.T) {
		tech := patchtest.RoleContext(t.Context(), patch.RoleTechnician, "")
		if _, err := w.srv.RotateEvidenceKey(tech, ""); patch.ErrorKind(err) != patch.KindForbidden {
			t.Fatalf("technician rotates: %v", err)
		}
		w.clock.Advance(24 * time.Hour)
		rot, err := w.srv.RotateEvidenceKey(w.admin, "annual rotation")
		mustDo(t, err)
		if rot.Old.Public != keys[0].Public || rot.New.Public == rot.Old.Public || !rot.New.Current || rot.Old.Current || rot.Clients != 2 {
			t.Fatalf("rotation = %+v", rot)
		}
		for _, c := range []patch.ClientID{a.ID, b.ID} {
			es, _, err := w.srv.EvidenceEntries(w.admin, patch.EvidenceFilter{ClientID: c, Types: []string{patch.EventKeyRotated}})
			mustDo(t, err)
			if len(es) != 1 || es[0].Details["new_key"] != rot.New.Public || es[0].Details["old_key"] != rot.Old.Public || es[0].Details["reason"] != "annual rotation" {
				t.Errorf("key_rotated in %s = %+v", c, es)
			}
			v, err := w.srv.VerifyEvidenceChain(w.admin, c)
			mustDo(t, err)
			if !v.OK {
				t.Errorf("chain of %s after rotation: %+v", c, v.Problems)
			}
		}
		// The rotation event is covered by a checkpoint of the new key.
		cps, err := w.srv.EvidenceCheckpoints(w.admin, a.ID)
		mustDo(t, err)
		last := cps[len(cps)-1]
		if last.Size != 5 || last.KeyID != strings.Join(strings.SplitN(rot.New.Public, "+", 3)[:2], "+") {
			t.Errorf("last checkpoint = size %d key %s; want 5 by %s", last.Size, last.KeyID, rot.New.KeyID)
		}
	})

	t.Run("TamperedChainIsNeitherSignedNorVerified", func(t *testing.T) {
		_, err := w.raw.ExecContext(t.Context(), `UPDATE evidence_entries SET details = '{"reason":"edited"}' WHERE client_id = ? AND seq = 2`, string(a.ID))
		mustDo(t, err)
		v, err := w.srv.VerifyEvidenceChain(w.admin, a.ID)
		mustDo(t, err)
		if v.OK || len(v.Problems) == 0 || !strings.Contains(strings.Join(v.Problems, "\n"), "entry 2") {
			t.Errorf("verification of an edited chain = %+v", v)
		}
		mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: a.ID, Type: patch.EventApproved}))
		mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: b.ID, Type: patch.EventApproved}))
		// The checkpointer still signs b; a is signed from its last
		// checkpoint on (size 5), which the edit at entry 2 predates.
		n, err := w.srv.SignCheckpoints(t.Context())
		mustDo(t, err)
		if n != 2 {
			t.Errorf("signed %d, want 2", n)
		}
		// An edit after the last checkpoint stops the signing of a.
		mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: a.ID, Type: patch.EventApproved}))
		_, err = w.raw.ExecContext(t.Context(), `UPDATE evidence_entries SET type = 'declined' WHERE client_id = ? AND seq = 7`, string(a.ID))
		mustDo(t, err)
		mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: a.ID, Type: patch.EventApproved}))
		mustDo(t, w.db.AppendEvidence(w.admin, patch.EvidenceEvent{ClientID: b.ID, Type: patch.EventApproved}))
		n, err = w.srv.SignCheckpoints(t.Context())
		if err == nil || !strings.Contains(err.Error(), "not signing") || n != 1 {
			t.Errorf("SignCheckpoints over an edited chain = %d, %v; want 1 and an error", n, err)
		}
		cps, err := w.srv.EvidenceCheckpoints(w.admin, a.ID)
		mustDo(t, err)
		if last := cps[len(cps)-1]; last.Size != 6 {
			t.Errorf("a was signed up to %d after the edit of entry 6", last.Size)
		}
	})
}
