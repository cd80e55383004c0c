package evidence

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteChain_ReadChain(t *testing.T) {
	chain := MustChain(t, fixtureClient, 25)
	var buf bytes.Buffer
	if err := WriteChain(&buf, chain); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(chain) {
		t.Errorf("WriteChain wrote %d lines, want %d", n, len(chain))
	}
	got, err := ReadChain(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(chain, got, cmpEntry); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := VerifyChain(got); err != nil {
		t.Errorf("VerifyChain(round trip) = %v", err)
	}
}

func TestReadChain_Errors(t *testing.T) {
	chain := MustChain(t, fixtureClient, 3)
	var buf bytes.Buffer
	if err := WriteChain(&buf, chain); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	line1 := strings.TrimSuffix(lines[0], "\n")
	tests := []struct {
		name    string
		input   string
		wantErr string // empty: valid
	}{
		{"OK no final newline", strings.TrimSuffix(buf.String(), "\n"), ""},
		{"OK CRLF", strings.ReplaceAll(buf.String(), "\n", "\r\n"), ""},
		{"OK empty file", "", ""},
		{"ErrEmptyLine", lines[0] + "\n" + lines[1], "line 2: empty line"},
		{"ErrNotJSON", lines[0] + "not json\n", "line 2: not a valid entry"},
		{"ErrUnknownField", strings.Replace(line1, `"seq":1`, `"seq":1,"note":"x"`, 1), `unknown field "note"`},
		{"ErrDuplicateKey", strings.Replace(line1, `"seq":1`, `"seq":1,"seq":2`, 1), `duplicate key "seq"`},
		{"ErrCaseDuplicateKey", strings.Replace(line1, `"seq":1`, `"seq":1,"SEQ":2`, 1), `duplicate key "SEQ"`},
		{"ErrDuplicateDetailsKey", strings.Replace(line1, `"details":{`, `"details":{"kb":"KB1",`, 1), `duplicate key "kb"`},
		{"ErrInvalidUTF8", strings.Replace(line1, "FRONTDESK", "FRONT\xffDESK", 1), "not valid UTF-8"},
		{"ErrTrailingData", line1 + " {}", "unexpected data"},
		{"ErrBadTime", strings.Replace(line1, "2026-10-05T14:30:00.000Z", "yesterday", 1), "time"},
		{"ErrBadHash", strings.Replace(line1, `"prev":"0000`, `"prev":"zz00`, 1), "hexadecimal"},
		{"ErrLineTooLong", `{"client":"` + strings.Repeat("x", maxLineLen) + `"}`, "line 1: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadChain(strings.NewReader(tt.input))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ReadChain() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ReadChain() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadChain_KeepsGoing(t *testing.T) {
	chain := MustChain(t, fixtureClient, 4)
	var buf bytes.Buffer
	if err := WriteChain(&buf, chain); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	lines[1] = "garbage\n"
	entries, errs := readChain(strings.NewReader(strings.Join(lines, "")))
	if len(entries) != 3 || len(errs) != 1 || errs[0].line != 2 {
		t.Errorf("readChain() = %d entries, errors %v; want 3 entries and an error on line 2", len(entries), errs)
	}
}

func FuzzReadChain(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteChain(&buf, MustChain(f, fixtureClient, 3)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"client":"c","seq":1,"time":"2026-01-01T00:00:00.000Z","type":"x","actor":{"kind":"a","id":"b"},"prev":"` + strings.Repeat("0", 64) + `","hash":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte("{}\n\n[]\n"))
	f.Add([]byte(`{"details":{"a":"1","A":"2"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ReadChain(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = VerifyChain(entries) // must not panic
		// Whatever decodes re-encodes and decodes to the same entries.
		var out bytes.Buffer
		if err := WriteChain(&out, entries); err != nil {
			t.Fatalf("WriteChain after ReadChain: %v", err)
		}
		again, err := ReadChain(&out)
		if err != nil {
			t.Fatalf("ReadChain(WriteChain(entries)): %v\n%s", err, out.Bytes())
		}
		if diff := cmp.Diff(entries, again, cmpEntry); diff != "" {
			t.Errorf("re-encoding changed entries (-first +second):\n%s", diff)
		}
		for i := range entries {
			if entries[i].ComputeHash() != again[i].ComputeHash() {
				t.Errorf("entry %d: hash changed by re-encoding", i)
			}
		}
	})
}
