package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
)

func testCheckpoints(t *testing.T, open Opener) {
	f := newFixture(t, open)
	clock := patchtest.NewClock(time.Date(2026, 9, 30, 23, 0, 0, 0, time.UTC))
	f.db.Now = clock.Now
	appendAt := func(c patch.ClientID, at time.Time) {
		t.Helper()
		clock.Set(at)
		must(t, f.db.AppendEvidence(f.admin, patch.EvidenceEvent{ClientID: c, Type: patch.EventApproved}))
	}
	// Client a: 2 entries in September, 3 in October, 1 in November.
	for _, at := range []time.Time{
		time.Date(2026, 9, 29, 8, 0, 0, 0, time.UTC), time.Date(2026, 9, 30, 23, 59, 59, 999e6, time.UTC),
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	} {
		appendAt(f.a.ID, at)
	}
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	nov := oct.AddDate(0, 1, 0)

	t.Run("Span", func(t *testing.T) {
		tests := []struct {
			name     string
			from, to time.Time
			want     patch.EvidenceSpan
		}{
			{"October", oct, nov, patch.EvidenceSpan{StartSize: 2, EndSize: 5}},
			{"September", oct.AddDate(0, -1, 0), oct, patch.EvidenceSpan{StartSize: 0, EndSize: 2}},
			{"November", nov, nov.AddDate(0, 1, 0), patch.EvidenceSpan{StartSize: 5, EndSize: 6}},
			{"EmptyDecember", nov.AddDate(0, 1, 0), nov.AddDate(0, 2, 0), patch.EvidenceSpan{StartSize: 6, EndSize: 6}},
			{"EmptyBeforeAll", oct.AddDate(-1, 0, 0), oct.AddDate(-1, 1, 0), patch.EvidenceSpan{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.db.EvidenceSpan(f.admin, f.a.ID, tt.from, tt.to)
				must(t, err)
				if got != tt.want {
					t.Errorf("EvidenceSpan = %+v, want %+v", got, tt.want)
				}
			})
		}
		got, err := f.db.EvidenceSpan(f.admin, f.b.ID, oct, nov)
		must(t, err)
		if got != (patch.EvidenceSpan{}) {
			t.Errorf("span of a client without a chain = %+v", got)
		}
	})

	t.Run("SaveIsIdempotent", func(t *testing.T) {
		cp := &patch.EvidenceCheckpoint{ClientID: f.a.ID, Size: 5, Head: "h5", At: nov, KeyID: "k+1", Signed: "first"}
		got, created, err := f.db.SaveCheckpoint(f.admin, cp)
		must(t, err)
		if !created || got.Signed != "first" {
			t.Fatalf("first save = %+v, %v", got, created)
		}
		got, created, err = f.db.SaveCheckpoint(f.admin, &patch.EvidenceCheckpoint{ClientID: f.a.ID, Size: 5, Head: "h5", At: nov.Add(time.Hour), KeyID: "k+2", Signed: "second"})
		must(t, err)
		if created || got.Signed != "first" || got.KeyID != "k+1" || !got.At.Equal(nov) {
			t.Errorf("second save of size 5 = %+v, created %v; want the first kept", got, created)
		}
		for _, n := range []uint64{2, 6} {
			_, _, err := f.db.SaveCheckpoint(f.admin, &patch.EvidenceCheckpoint{ClientID: f.a.ID, Size: n, Head: "h", At: nov, KeyID: "k+1", Signed: "s"})
			must(t, err)
		}
		all, err := f.db.FindCheckpoints(f.admin, patch.CheckpointFilter{ClientID: f.a.ID})
		must(t, err)
		if len(all) != 3 || all[0].Size != 2 || all[2].Size != 6 {
			t.Errorf("checkpoints = %+v", all)
		}
		lo, hi := uint64(3), uint64(6)
		some, err := f.db.FindCheckpoints(f.admin, patch.CheckpointFilter{ClientID: f.a.ID, MinSize: &lo, MaxSize: &hi, Desc: true, Limit: 1})
		must(t, err)
		if len(some) != 1 || some[0].Size != 6 {
			t.Errorf("newest checkpoint in [3,6] = %+v", some)
		}
	})

	t.Run("TenantIsolation", func(t *testing.T) {
		_, _, err := f.db.SaveCheckpoint(f.ownA, &patch.EvidenceCheckpoint{ClientID: f.a.ID, Size: 1, Head: "h", At: nov, KeyID: "k", Signed: "forged"})
		wantKind(t, err, patch.KindForbidden)
		got, err := f.db.FindCheckpoints(f.ownB, patch.CheckpointFilter{ClientID: f.a.ID})
		must(t, err)
		if len(got) != 0 {
			t.Errorf("client owner of B reads %d checkpoints of A", len(got))
		}
		mine, err := f.db.FindCheckpoints(f.ownA, patch.CheckpointFilter{ClientID: f.a.ID})
		must(t, err)
		if len(mine) != 3 {
			t.Errorf("client owner of A reads %d of its checkpoints, want 3", len(mine))
		}
		_, err = f.db.EvidenceSpan(f.ownB, f.a.ID, oct, nov)
		wantKind(t, err, patch.KindNotFound)
		_, err = f.db.FindCheckpoints(f.admin, patch.CheckpointFilter{})
		wantField(t, err, patch.KindInvalid, "client_id")
	})
}

func testEvidenceKeyRotation(t *testing.T, open Opener) {
	f := newFixture(t, open)
	must(t, f.db.AppendEvidence(f.admin, patch.EvidenceEvent{ClientID: f.a.ID, Type: patch.EventApproved}))
	_, err := f.db.EnsureKey(f.admin, &patch.ServerKey{ID: "key1", Purpose: patch.KeyEvidence, Public: "pub1", Private: "priv1"})
	must(t, err)

	wantKind(t, f.db.RotateEvidenceKey(f.ownA, &patch.ServerKey{ID: "evil", Purpose: patch.KeyEvidence, Public: "p", Private: "s"}, nil), patch.KindForbidden)

	details := map[string]string{"old_key": "pub1", "new_key": "pub2"}
	must(t, f.db.RotateEvidenceKey(f.admin, &patch.ServerKey{ID: "key2", Purpose: patch.KeyEvidence, Public: "pub2", Private: "priv2"}, details))
	cur, err := f.db.ActiveKey(f.admin, patch.KeyEvidence)
	must(t, err)
	if cur.ID != "key2" {
		t.Errorf("active key = %s, want key2", cur.ID)
	}
	// Every client's chain records the rotation, and still verifies.
	for _, c := range []*patch.Client{f.a, f.b} {
		es, n, err := f.db.FindEvidence(f.admin, patch.EvidenceFilter{ClientID: c.ID, Types: []string{patch.EventKeyRotated}})
		must(t, err)
		if n != 1 || es[0].Details["new_key"] != "pub2" || es[0].Details["old_key"] != "pub1" {
			t.Errorf("client %s: key_rotated events = %+v", c.Name, es)
		}
		raw, err := f.db.EvidenceChain(f.admin, c.ID, 1, 100)
		must(t, err)
		if err := evidence.VerifyChain(raw); err != nil {
			t.Errorf("client %s chain after rotation: %v", c.Name, err)
		}
	}
	audits, _, err := f.db.FindAuditEntries(f.admin, patch.AuditFilter{})
	must(t, err)
	found := false
	for _, a := range audits {
		if a.Action == "key.rotate" && a.EntityID == "key2" {
			found = true
			if bytes.Contains(a.After, []byte("priv2")) || bytes.Contains(a.Before, []byte("priv1")) {
				t.Error("the audit log holds a private key")
			}
		}
	}
	if !found {
		t.Error("no key.rotate audit entry")
	}
}

func testReports(t *testing.T, open Opener) {
	f := newFixture(t, open)
	oct, err := patch.ParsePeriod("period", "2026-10")
	must(t, err)
	newReport := func(client patch.ClientID, kind patch.ReportKind, trigger patch.ReportTrigger) (*patch.Report, map[string][]byte) {
		r := &patch.Report{ID: patch.ReportID(patch.NewID(patch.PrefixReport, time.Now())), ClientID: client, Kind: kind, Period: oct,
			Title: kind.Title(), Trigger: trigger, Summary: map[string]string{"rating": "97.5"},
			Files: []patch.ReportFile{
				{Name: string(kind) + ".pdf", Format: patch.FormatPDF, ContentType: patch.FormatPDF.ContentType()},
				{Name: string(kind) + ".csv", Format: patch.FormatCSV, ContentType: patch.FormatCSV.ContentType()},
			}}
		return r, map[string][]byte{string(kind) + ".pdf": []byte("%PDF-1.3 " + string(client)), string(kind) + ".csv": []byte("a,b\n1,2\n")}
	}
	health, contents := newReport(f.a.ID, patch.ReportPatchHealth, patch.TriggerOnDemand)
	must(t, f.db.CreateReport(f.admin, health, contents))
	if health.GeneratedAt.IsZero() || health.GeneratedBy.Role != patch.RoleMSPAdmin || health.Files[0].SHA256 == "" || health.Files[0].Size == 0 {
		t.Fatalf("created report = %+v", health)
	}

	t.Run("Find", func(t *testing.T) {
		got, err := f.db.FindReportByID(f.admin, health.ID)
		must(t, err)
		if got.Kind != patch.ReportPatchHealth || got.Period != oct || got.Summary["rating"] != "97.5" || len(got.Files) != 2 {
			t.Errorf("FindReportByID = %+v", got)
		}
		pdf, ok := got.File(patch.FormatPDF)
		if !ok || pdf.SHA256 != health.Files[0].SHA256 || pdf.ContentType != "application/pdf" {
			t.Errorf("pdf file = %+v", pdf)
		}
		data, err := f.db.ReportContent(f.admin, health.ID, pdf.Name)
		must(t, err)
		if string(data) != "%PDF-1.3 "+string(f.a.ID) {
			t.Errorf("content = %q", data)
		}
		_, err = f.db.ReportContent(f.admin, health.ID, "nope.pdf")
		wantKind(t, err, patch.KindNotFound)
	})

	t.Run("ScheduledOncePerPeriod", func(t *testing.T) {
		r1, c1 := newReport(f.a.ID, patch.ReportPatchDetail, patch.TriggerSchedule)
		must(t, f.db.CreateReport(f.admin, r1, c1))
		r2, c2 := newReport(f.a.ID, patch.ReportPatchDetail, patch.TriggerSchedule)
		wantKind(t, f.db.CreateReport(f.admin, r2, c2), patch.KindConflict)
		_, err := f.db.FindReportByID(f.admin, r2.ID)
		wantKind(t, err, patch.KindNotFound)
		// On demand, any number.
		r3, c3 := newReport(f.a.ID, patch.ReportPatchDetail, patch.TriggerOnDemand)
		must(t, f.db.CreateReport(f.admin, r3, c3))
		kind := patch.ReportPatchDetail
		rs, n, err := f.db.FindReports(f.admin, patch.ReportFilter{ClientID: &f.a.ID, Kind: &kind})
		must(t, err)
		if n != 2 || rs[0].ID != r3.ID {
			t.Errorf("detail reports = %d, newest %s; want 2, %s", n, rs[0].ID, r3.ID)
		}
	})

	t.Run("Internal", func(t *testing.T) {
		sc, c := newReport("", patch.ReportScorecard, patch.TriggerOnDemand)
		must(t, f.db.CreateReport(f.admin, sc, c))
		scA, cA := newReport(f.a.ID, patch.ReportScorecard, patch.TriggerOnDemand)
		must(t, f.db.CreateReport(f.admin, scA, cA))
		rs, _, err := f.db.FindReports(f.admin, patch.ReportFilter{MSP: true})
		must(t, err)
		if len(rs) != 1 || rs[0].ID != sc.ID {
			t.Errorf("MSP-wide reports = %+v", rs)
		}
		// A client owner never sees internal reports, even of its client.
		_, err = f.db.FindReportByID(f.ownA, scA.ID)
		wantKind(t, err, patch.KindNotFound)
		_, err = f.db.ReportContent(f.ownA, scA.ID, scA.Files[0].Name)
		wantKind(t, err, patch.KindNotFound)
		x, cx := newReport(f.a.ID, patch.ReportScorecard, patch.TriggerOnDemand)
		wantKind(t, f.db.CreateReport(f.ownA, x, cx), patch.KindForbidden)
	})

	t.Run("TenantIsolation", func(t *testing.T) {
		rs, n, err := f.db.FindReports(f.ownB, patch.ReportFilter{})
		must(t, err)
		if n != 0 || len(rs) != 0 {
			t.Errorf("client owner of B sees %d reports of A", n)
		}
		_, err = f.db.FindReportByID(f.ownB, health.ID)
		wantKind(t, err, patch.KindNotFound)
		_, err = f.db.ReportContent(f.ownB, health.ID, health.Files[0].Name)
		wantKind(t, err, patch.KindNotFound)
		r, c := newReport(f.a.ID, patch.ReportPatchHealth, patch.TriggerOnDemand)
		wantKind(t, f.db.CreateReport(f.ownB, r, c), patch.KindNotFound)
		mine, n, err := f.db.FindReports(f.ownA, patch.ReportFilter{})
		must(t, err)
		for _, r := range mine {
			if r.Kind.Internal() || r.ClientID != f.a.ID {
				t.Errorf("client owner of A sees %+v", r)
			}
		}
		if n != 3 {
			t.Errorf("client owner of A sees %d reports, want 3 (health and 2 details)", n)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		r, _ := newReport(f.a.ID, patch.ReportPatchHealth, patch.TriggerOnDemand)
		wantKind(t, f.db.CreateReport(f.admin, r, nil), patch.KindInvalid)
		r2, c2 := newReport("cli_nonexistent", patch.ReportPatchHealth, patch.TriggerOnDemand)
		wantKind(t, f.db.CreateReport(f.admin, r2, c2), patch.KindNotFound)
	})
}
