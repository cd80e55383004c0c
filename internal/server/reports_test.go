package server_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/patchtest"
	"github.com/patchring/patchring/internal/report/reporttest"
	"github.com/patchring/patchring/internal/server"
)

func TestReports(t *testing.T) {
	w := newEvidenceWorld(t, time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC))
	a, err := w.srv.CreateClient(w.admin, server.ClientInput{Name: "Riverside Family Clinic"})
	mustDo(t, err)
	b, err := w.srv.CreateClient(w.admin, server.ClientInput{Name: "Hartwell & Shaw"})
	mustDo(t, err)
	srv := patchtest.Asset(a.ID, "srv-ehr", patchtest.Tag(patch.TagEPHI, "yes"))
	srv.Class, srv.Role = patch.ClassCoreServer, patch.RoleServer
	mustDo(t, w.db.CreateAsset(w.admin, srv))
	ownerA, ownerB := patchtest.OwnerContext(t.Context(), a.ID), patchtest.OwnerContext(t.Context(), b.ID)

	t.Run("Validation", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			in    server.ReportRequest
			field string
		}{
			{"NoKind", server.ReportRequest{ClientID: a.ID, Period: "2026-10"}, "kind"},
			{"BadPeriod", server.ReportRequest{ClientID: a.ID, Kind: patch.ReportPatchHealth, Period: "October"}, "period"},
			{"FuturePeriod", server.ReportRequest{ClientID: a.ID, Kind: patch.ReportPatchHealth, Period: "2026-12"}, "period"},
			{"NoClient", server.ReportRequest{Kind: patch.ReportPatchHealth, Period: "2026-10"}, "client_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := w.srv.GenerateReport(w.admin, tc.in)
				if patch.ErrorKind(err) != patch.KindInvalid || patch.ErrorField(err) != tc.field {
					t.Errorf("err = %v, want invalid %s", err, tc.field)
				}
			})
		}
	})

	t.Run("PartialPeriod", func(t *testing.T) {
		r, err := w.srv.GenerateReport(w.admin, server.ReportRequest{ClientID: a.ID, Kind: patch.ReportPatchHealth, Period: "2026-10"})
		mustDo(t, err)
		if r.Trigger != patch.TriggerOnDemand || len(r.Files) != 4 {
			t.Fatalf("report = %+v", r)
		}
		f, pdf, err := w.srv.ReportFile(w.admin, r.ID, patch.FormatPDF, "")
		mustDo(t, err)
		if f.ContentType != "application/pdf" {
			t.Errorf("content type %s", f.ContentType)
		}
		text := reporttest.PDFText(t, pdf)
		if !strings.Contains(text, "The period is not over: figures are as of 2026-10-20 12:00 UTC") {
			t.Errorf("a partial report does not say so:\n%s", text)
		}
	})

	t.Run("TenantIsolation", func(t *testing.T) {
		r, err := w.srv.GenerateReport(ownerA, server.ReportRequest{ClientID: a.ID, Kind: patch.ReportInventory, Period: "2026-10"})
		mustDo(t, err)
		if _, err := w.srv.GenerateReport(ownerB, server.ReportRequest{ClientID: a.ID, Kind: patch.ReportInventory, Period: "2026-10"}); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("owner of b generating for a: %v", err)
		}
		if _, _, err := w.srv.ReportFile(ownerB, r.ID, patch.FormatCSV, ""); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("owner of b downloading a's report: %v", err)
		}
		if _, err := w.srv.GenerateReport(ownerA, server.ReportRequest{ClientID: a.ID, Kind: patch.ReportScorecard, Period: "2026-10"}); patch.ErrorKind(err) != patch.KindForbidden {
			t.Errorf("owner generating the internal scorecard: %v", err)
		}
		var buf bytes.Buffer
		if _, err := w.srv.WriteEvidenceBundle(ownerB, server.BundleRequest{ClientID: a.ID, Period: "2026-10"}, &buf); patch.ErrorKind(err) != patch.KindNotFound {
			t.Errorf("owner of b bundling a: %v", err)
		}
		// A client owner may take its own client's bundle.
		if _, err := w.srv.WriteEvidenceBundle(ownerA, server.BundleRequest{ClientID: a.ID, Period: "2026-10"}, &buf); err != nil {
			t.Errorf("owner of a bundling a: %v", err)
		}
		keys, err := w.srv.PublishedEvidenceKeys(t.Context())
		mustDo(t, err)
		pk, err := evidence.ParsePublicKey(keys[0].Public)
		mustDo(t, err)
		rep, err := evidence.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()), []evidence.PublicKey{pk})
		mustDo(t, err)
		if !rep.OK() {
			t.Errorf("the owner's bundle does not verify: %v", rep.Findings)
		}
	})

	t.Run("Schedule", func(t *testing.T) {
		// Before 02:00 on the 1st, nothing is due.
		w.clock.Set(time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC))
		n, err := w.srv.GenerateScheduledReports(t.Context())
		mustDo(t, err)
		if n != 0 {
			t.Errorf("generated %d before the delay", n)
		}
		w.clock.Set(time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
		n, err = w.srv.GenerateScheduledReports(t.Context())
		mustDo(t, err)
		if n != 2*3+1 {
			t.Errorf("generated %d, want 3 per client and the MSP scorecard", n)
		}
		n, err = w.srv.GenerateScheduledReports(t.Context())
		mustDo(t, err)
		if n != 0 {
			t.Errorf("a second run generated %d", n)
		}
		sched := patch.TriggerSchedule
		rs, total, err := w.srv.Reports(w.admin, patch.ReportFilter{Trigger: &sched})
		mustDo(t, err)
		if total != 7 {
			t.Errorf("scheduled reports = %d", total)
		}
		for _, r := range rs {
			if r.Period.Key != "2026-10" || r.GeneratedBy.Kind != patch.ActorSystem {
				t.Errorf("scheduled report %+v", r)
			}
		}
		// The client owner sees its three, not the scorecard.
		mine, total, err := w.srv.Reports(ownerA, patch.ReportFilter{Trigger: &sched})
		mustDo(t, err)
		if total != 3 {
			t.Errorf("owner of a sees %d scheduled reports: %+v", total, mine)
		}
		// A quarter's end adds the QBR.
		w.clock.Set(time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC))
		n, err = w.srv.GenerateScheduledReports(t.Context())
		mustDo(t, err)
		if n != 2*4+1 {
			t.Errorf("after Q4 generated %d, want 4 per client and the scorecard", n)
		}
		qbr := patch.ReportQBR
		q4 := "2026-Q4"
		if _, total, _ := w.srv.Reports(w.admin, patch.ReportFilter{Kind: &qbr, Period: &q4}); total != 2 {
			t.Errorf("QBRs for Q4 = %d", total)
		}
	})
}
