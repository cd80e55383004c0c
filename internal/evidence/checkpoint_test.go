package evidence

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCheckpoint_SignVerify(t *testing.T) {
	key := MustKey(t, "patchring.example-msp.com", 1)
	chain := MustChain(t, fixtureClient, 5)
	want := Checkpoint{ClientID: fixtureClient, Size: 5, Head: chain[4].Hash, Time: time.Date(2026, 10, 6, 0, 0, 0, 0, time.UTC)}
	signed, err := SignCheckpoint(Checkpoint{ClientID: want.ClientID, Size: want.Size, Head: want.Head, Time: want.Time.Add(999 * time.Microsecond)}, key)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "checkpoint-v1.golden", signed)

	got, err := VerifyCheckpoint(signed, []PublicKey{key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("VerifyCheckpoint() (-want +got):\n%s", diff)
	}
	if err := VerifyChainFrom(fixtureClient, got.Size, got.Head, nil); err != nil {
		t.Error(err)
	}
}

func TestCheckpoint_Rotation(t *testing.T) {
	old, cur := MustKey(t, "msp/2025", 1), MustKey(t, "msp/2026", 2)
	chain := MustChain(t, fixtureClient, 3)
	byOld := MustCheckpoint(t, chain, 2, old)
	byCur := MustCheckpoint(t, chain, 3, cur)
	trusted := []PublicKey{old.Public(), cur.Public()}
	for _, signed := range [][]byte{byOld, byCur} {
		if _, err := VerifyCheckpoint(signed, trusted); err != nil {
			t.Errorf("VerifyCheckpoint(rotated keys) = %v, want nil", err)
		}
	}
	_, err := VerifyCheckpoint(byOld, []PublicKey{cur.Public()})
	want := "checkpoint: signed by key " + old.Public().ID().String() + ", which is not in the trusted set"
	if err == nil || err.Error() != want {
		t.Errorf("VerifyCheckpoint(old key untrusted) = %v, want %q", err, want)
	}
	// Both keys sign during an overlap; a verifier knowing either accepts.
	text, _, _ := splitNote(byCur)
	sigOld, err := sign(text, old)
	if err != nil {
		t.Fatal(err)
	}
	both := append(bytes.Clone(byCur), sigOld...)
	for _, k := range trusted {
		if _, err := VerifyCheckpoint(both, []PublicKey{k}); err != nil {
			t.Errorf("VerifyCheckpoint(two signatures, trust %v) = %v, want nil", k.ID(), err)
		}
	}
}

func TestVerifyCheckpoint_Errors(t *testing.T) {
	key := MustKey(t, "msp", 1)
	trusted := []PublicKey{key.Public()}
	chain := MustChain(t, fixtureClient, 3)
	signed := MustCheckpoint(t, chain, 3, key)
	text, sigs, _ := splitNote(signed)
	resign := func(text string) []byte {
		s, err := sign([]byte(text), key)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(text+"\n"), s...)
	}
	tests := []struct {
		name    string
		signed  []byte
		wantErr string
	}{
		{"ErrAlteredSize", bytes.Replace(signed, []byte("size 3"), []byte("size 2"), 1), "signature by key msp+"},
		{"ErrAlteredHead", bytes.Replace(signed, []byte("head "+chain[2].Hash.String()), []byte("head "+chain[1].Hash.String()), 1), "is invalid"},
		{"ErrUnsigned", append(bytes.Clone(text), '\n'), "no signature"},
		{"ErrNoBlankLine", text, "no blank line"},
		{"ErrMalformedSignature", append(append(bytes.Clone(text), '\n'), "— msp !!!\n"...), "malformed signature lines"},
		{"ErrWrongHeader", resign(strings.Replace(string(text), checkpointHeader, "patchring-evidence-checkpoint-v2", 1)), "want 5 lines"},
		{"ErrExtraLine", resign(string(text) + "extra 1\n"), "want 5 lines"},
		{"ErrLeadingZero", resign(strings.Replace(string(text), "size 3", "size 03", 1)), "leading zero"},
		{"ErrUppercaseHead", resign(strings.Replace(string(text), chain[2].Hash.String(), strings.ToUpper(chain[2].Hash.String()), 1)), "lowercase"},
		{"ErrTimeFormat", resign(strings.Replace(string(text), ".000Z", "Z", 1)), "time"},
		{"ErrZeroSizeWithHead", resign(strings.Replace(string(text), "size 3", "size 0", 1)), "all-zero head"},
		{"ErrTooLong", append(bytes.Clone(signed), bytes.Repeat([]byte("— msp AAAA\n"), maxCheckpointLen/10)...), "more than"},
		{"ErrSignatureOnOtherText", append(resign(strings.Replace(string(text), "size 3", "size 4", 1))[:len(text)+1], sigs...), "is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyCheckpoint(tt.signed, trusted)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("VerifyCheckpoint() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSignCheckpoint_Errors(t *testing.T) {
	key := MustKey(t, "msp", 1)
	for _, c := range []Checkpoint{
		{ClientID: "", Size: 1, Time: t0},
		{ClientID: "a\nsize 9", Size: 1, Time: t0},
		{ClientID: "c", Size: 0, Head: Hash{1}, Time: t0},
		{ClientID: "c", Size: 1},
	} {
		if _, err := SignCheckpoint(c, key); err == nil {
			t.Errorf("SignCheckpoint(%+v) succeeded, want error", c)
		}
	}
}

func FuzzVerifyCheckpoint(f *testing.F) {
	key := MustKey(f, "msp", 1)
	trusted := []PublicKey{key.Public()}
	chain := MustChain(f, fixtureClient, 3)
	f.Add(MustCheckpoint(f, chain, 3, key))
	f.Add(MustCheckpoint(f, chain, 0, key))
	f.Add([]byte("patchring-evidence-checkpoint-v1\n\n— msp AAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, signed []byte) {
		c, err := VerifyCheckpoint(signed, trusted)
		if err != nil {
			return
		}
		// Anything that verifies was signed by key, so re-signing it gives
		// the same text.
		again, err := SignCheckpoint(c, key)
		if err != nil {
			t.Fatalf("SignCheckpoint(verified checkpoint): %v", err)
		}
		text, _, _ := splitNote(signed)
		if !bytes.HasPrefix(again, text) {
			t.Errorf("verified text %q differs from re-signed %q", text, again)
		}
	})
}
