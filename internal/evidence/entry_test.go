package evidence

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goldenEntries are fixed entries whose canonical encoding and hash are
// pinned in testdata/entry-v1.golden. If this test fails, the format has
// changed and every stored chain would stop verifying: do not run -update
// unless a new format version is intended.
func goldenEntries(tb testing.TB) []Entry {
	tb.Helper()
	first, err := Append(nil, Entry{
		ClientID: "clinic-0042",
		Time:     time.Date(2026, 10, 5, 14, 30, 0, 123_000_000, time.UTC),
		Type:     EventInstalled,
		Actor:    Actor{Kind: ActorAgent, ID: "agent-7", Name: "FRONTDESK-01"},
		Subject:  Subject{AssetID: "asset-7", UpdateID: "KB5044284", CycleID: "2026-10", ExceptionID: ""},
		Details:  map[string]string{"exit_code": "0", "reboot": "required", "output": "Installed ✓\nline 2"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	second, err := Append(&first, Entry{
		ClientID: "clinic-0042",
		Time:     time.Date(2026, 10, 5, 14, 31, 0, 0, time.UTC),
		Type:     EventRebooted,
		Actor:    Actor{Kind: ActorSystem, ID: "scheduler"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return []Entry{first, second}
}

func TestEntry_ComputeHash_Golden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Canonical encodings (hex) and SHA-256 hashes of the entries in goldenEntries.\n")
	b.WriteString("# A change here is a change of the evidence format: see entry_test.go.\n")
	for _, e := range goldenEntries(t) {
		enc := e.canonical()
		fmt.Fprintf(&b, "\nentry %d (%d bytes):\n", e.Seq, len(enc))
		for len(enc) > 0 {
			n := min(32, len(enc))
			fmt.Fprintf(&b, "%s\n", hex.EncodeToString(enc[:n]))
			enc = enc[n:]
		}
		fmt.Fprintf(&b, "hash %s\n", e.ComputeHash())
		line, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "json %s\n", line)
	}
	golden(t, "entry-v1.golden", []byte(b.String()))
}

// TestEntry_ComputeHash_Pinned repeats the golden hashes in code, so that
// running -update by mistake cannot silently change the format.
func TestEntry_ComputeHash_Pinned(t *testing.T) {
	want := []string{
		"9c6e1ed08a41edefca3b86b670d71d3ccb40eb156cf9c5494bca0d94fe1a0598",
		"77530aa215bb2cb48197d560e4bafd48fc73d282fd0518bf467f1d7861a0318b",
	}
	for i, e := range goldenEntries(t) {
		if got := e.ComputeHash().String(); got != want[i] {
			t.Errorf("entry %d: ComputeHash() = %s, want %s", e.Seq, got, want[i])
		}
	}
}

func TestEntry_ComputeHash_CoversEveryField(t *testing.T) {
	base := goldenEntries(t)[0]
	mutations := map[string]func(e *Entry){
		"ClientID":    func(e *Entry) { e.ClientID += "x" },
		"Seq":         func(e *Entry) { e.Seq++ },
		"Time":        func(e *Entry) { e.Time = e.Time.Add(time.Millisecond) },
		"Type":        func(e *Entry) { e.Type = EventInstallFailed },
		"Actor.Kind":  func(e *Entry) { e.Actor.Kind = ActorUser },
		"Actor.ID":    func(e *Entry) { e.Actor.ID += "x" },
		"Actor.Name":  func(e *Entry) { e.Actor.Name += "x" },
		"AssetID":     func(e *Entry) { e.Subject.AssetID += "x" },
		"UpdateID":    func(e *Entry) { e.Subject.UpdateID += "x" },
		"CycleID":     func(e *Entry) { e.Subject.CycleID += "x" },
		"ExceptionID": func(e *Entry) { e.Subject.ExceptionID += "x" },
		"Details key": func(e *Entry) { e.Details["extra"] = "" },
		"Details val": func(e *Entry) { e.Details["exit_code"] = "1" },
		"PrevHash":    func(e *Entry) { e.PrevHash[31] ^= 1 },
		// Length prefixes keep field boundaries: moving a byte from one
		// field to its neighbour changes the hash.
		"boundary": func(e *Entry) { e.Actor.ID, e.Actor.Name = "agent-7F", "RONTDESK-01" },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			e := base
			e.Details = map[string]string{}
			for k, v := range base.Details {
				e.Details[k] = v
			}
			mutate(&e)
			if e.ComputeHash() == base.Hash {
				t.Errorf("hash unchanged after changing %s", name)
			}
		})
	}
	t.Run("nil and empty details", func(t *testing.T) {
		e := goldenEntries(t)[1]
		e2 := e
		e2.Details = map[string]string{}
		if e.ComputeHash() != e2.ComputeHash() {
			t.Error("nil and empty Details hash differently")
		}
	})
	t.Run("Hash not covered", func(t *testing.T) {
		e := base
		e.Hash = Hash{}
		if e.ComputeHash() != base.Hash {
			t.Error("ComputeHash depends on Hash")
		}
	})
}

func TestAppend(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		details := map[string]string{"kb": "KB1"}
		loc := time.FixedZone("EST", -5*3600)
		first, err := Append(nil, Entry{
			ClientID: "c1", Seq: 99, PrevHash: Hash{1}, Hash: Hash{2}, // ignored
			Time: time.Date(2026, 1, 2, 3, 4, 5, 678_901_234, loc), Type: EventDetected,
			Actor: Actor{Kind: ActorAgent, ID: "a1"}, Details: details,
		})
		if err != nil {
			t.Fatal(err)
		}
		details["kb"] = "changed"
		if first.Seq != 1 || first.PrevHash != (Hash{}) || first.Hash != first.ComputeHash() {
			t.Errorf("first entry: Seq %d PrevHash %s Hash %s, want 1, zeros, its hash", first.Seq, first.PrevHash, first.Hash)
		}
		if want := time.Date(2026, 1, 2, 8, 4, 5, 678_000_000, time.UTC); !first.Time.Equal(want) || first.Time.Location() != time.UTC {
			t.Errorf("Time = %v, want %v in UTC", first.Time, want)
		}
		if first.Details["kb"] != "KB1" {
			t.Errorf("Details not copied: caller's change shows up as %q", first.Details["kb"])
		}
		second, err := Append(&first, Entry{ClientID: "c1", Time: t0, Type: EventApproved, Actor: Actor{Kind: ActorUser, ID: "u1"}})
		if err != nil {
			t.Fatal(err)
		}
		if second.Seq != 2 || second.PrevHash != first.Hash {
			t.Errorf("second entry: Seq %d PrevHash %s, want 2, %s", second.Seq, second.PrevHash, first.Hash)
		}
	})
	t.Run("ErrWrongClient", func(t *testing.T) {
		first := MustChain(t, "c1", 1)[0]
		_, err := Append(&first, Entry{ClientID: "c2", Time: t0, Type: EventApproved, Actor: Actor{Kind: ActorUser, ID: "u1"}})
		if err == nil || !strings.Contains(err.Error(), `client "c2"`) {
			t.Errorf("Append(other client) error = %v, want one naming the client", err)
		}
	})
}

func TestEntry_validate(t *testing.T) {
	valid := func() Entry {
		return Entry{ClientID: "c1", Seq: 1, Time: t0, Type: EventDetected, Actor: Actor{Kind: ActorAgent, ID: "a1"}}
	}
	tests := []struct {
		name    string
		mutate  func(e *Entry)
		wantErr string // empty: valid
	}{
		{"OK", func(e *Entry) {}, ""},
		{"OK future event type", func(e *Entry) { e.Type = "quarantined_v2" }, ""},
		{"OK multiline details", func(e *Entry) { e.Details = map[string]string{"output": "a\tb\r\nc"} }, ""},
		{"OK max details", func(e *Entry) {
			e.Details = map[string]string{}
			for i := range maxDetails {
				e.Details[fmt.Sprintf("k%d", i)] = "v"
			}
		}, ""},
		{"ErrClientEmpty", func(e *Entry) { e.ClientID = "" }, "client id is empty"},
		{"ErrClientNewline", func(e *Entry) { e.ClientID = "c\n1" }, "control character"},
		{"ErrClientLong", func(e *Entry) { e.ClientID = strings.Repeat("c", 257) }, "more than 256"},
		{"ErrClientUTF8", func(e *Entry) { e.ClientID = "c\xff" }, "not valid UTF-8"},
		{"ErrSeqZero", func(e *Entry) { e.Seq = 0 }, "start at 1"},
		{"ErrTimeZero", func(e *Entry) { e.Time = time.Time{} }, "outside years"},
		{"ErrTimeSubMilli", func(e *Entry) { e.Time = t0.Add(time.Microsecond) }, "sub-millisecond"},
		{"ErrTypeEmpty", func(e *Entry) { e.Type = "" }, "event type is empty"},
		{"ErrTypeUpper", func(e *Entry) { e.Type = "Installed" }, "lowercase"},
		{"ErrTypeDigitFirst", func(e *Entry) { e.Type = "1st" }, "starting with a letter"},
		{"ErrActorKind", func(e *Entry) { e.Actor.Kind = "a b" }, "actor kind"},
		{"ErrActorIDEmpty", func(e *Entry) { e.Actor.ID = "" }, "actor id is empty"},
		{"ErrActorNameControl", func(e *Entry) { e.Actor.Name = "x\x00" }, "actor name contains control"},
		{"ErrSubjectControl", func(e *Entry) { e.Subject.UpdateID = "KB\t1" }, "subject update"},
		{"ErrDetailKeyUpper", func(e *Entry) { e.Details = map[string]string{"KB": "1"} }, `details key "KB"`},
		{"ErrDetailKeyEmpty", func(e *Entry) { e.Details = map[string]string{"": "1"} }, "details key"},
		{"ErrDetailValueNUL", func(e *Entry) { e.Details = map[string]string{"k": "a\x00"} }, "control character U+0000"},
		{"ErrDetailValueLong", func(e *Entry) { e.Details = map[string]string{"k": strings.Repeat("v", maxDetailValLen+1)} }, "more than 16384"},
		{"ErrTooManyDetails", func(e *Entry) {
			e.Details = map[string]string{}
			for i := range maxDetails + 1 {
				e.Details[fmt.Sprintf("k%d", i)] = "v"
			}
		}, "more than 64"},
		{"ErrTooLong", func(e *Entry) {
			e.Details = map[string]string{}
			for i := range 5 {
				e.Details[fmt.Sprintf("k%d", i)] = strings.Repeat("v", maxDetailValLen)
			}
		}, "encodes to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.mutate(&e)
			err := e.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHash_Text(t *testing.T) {
	h := Hash{0xab, 0x01}
	text, _ := h.MarshalText()
	var got Hash
	if err := got.UnmarshalText(text); err != nil || got != h {
		t.Errorf("round trip: got %s, %v; want %s", got, err, h)
	}
	for _, bad := range []string{"", "ab", strings.ToUpper(h.String()), h.String() + "00", strings.Repeat("g", 64)} {
		if err := got.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded, want error", bad)
		}
	}
}

func TestEntry_JSON(t *testing.T) {
	chain := MustChain(t, "c1", 12)
	for _, e := range chain {
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var got Entry
		if err := got.UnmarshalJSON(b); err != nil {
			t.Fatalf("UnmarshalJSON(%s): %v", b, err)
		}
		if diff := cmp.Diff(e, got, cmpEntry); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}
