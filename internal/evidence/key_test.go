package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestKey_RoundTrip(t *testing.T) {
	k := MustKey(t, "patchring.example-msp.com/2026", 7)
	secret := MarshalPrivateKey(k)
	if !strings.HasPrefix(secret, "PRIVATE+KEY+patchring.example-msp.com/2026+") {
		t.Errorf("MarshalPrivateKey() = %q, want the signed-note private key form", secret)
	}
	k2, err := ParsePrivateKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Public().String() != k.Public().String() {
		t.Errorf("public key changed by round trip: %s vs %s", k2.Public(), k.Public())
	}
	pub, err := ParsePublicKey(k.Public().String())
	if err != nil {
		t.Fatal(err)
	}
	if pub.ID() != k.Public().ID() || !pub.Ed25519().Equal(k.Public().Ed25519()) {
		t.Errorf("ParsePublicKey(String()) = %v, want %v", pub.ID(), k.Public().ID())
	}
	// The text form is exactly what x/mod/sumdb/note produces, so any
	// signed-note tool can use it.
	vkey, err := note.NewEd25519VerifierKey("patchring.example-msp.com/2026", k.Public().Ed25519())
	if err != nil {
		t.Fatal(err)
	}
	if pub.String() != vkey {
		t.Errorf("PublicKey.String() = %q, want %q", pub.String(), vkey)
	}
}

func TestKey_IDMatchesDocumentedDerivation(t *testing.T) {
	// Key ID: first 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || key).
	k := MustKey(t, "example", 3)
	want := documentedKeyHash("example", k.Public().Ed25519())
	if got := k.Public().ID(); got.Hash != want || got.Name != "example" {
		t.Errorf("ID() = %v, want example+%08x", got, want)
	}
	if got, want := k.Public().ID().String(), fmt.Sprintf("example+%08x", want); got != want {
		t.Errorf("ID().String() = %q, want %q", got, want)
	}
}

func TestPrivateKey_StringHidesSecret(t *testing.T) {
	k := MustKey(t, "example", 3)
	secret := MarshalPrivateKey(k)
	b64 := secret[strings.LastIndexByte(secret, '+')+1:]
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, *k, k, k)} {
		if strings.Contains(s, b64) {
			t.Errorf("formatted key %q reveals the secret", s)
		}
	}
}

func TestGenerateKey_Names(t *testing.T) {
	for _, name := range []string{"", "has space", "a+b", "tab\t", "ünicode", strings.Repeat("n", 257)} {
		if _, err := GenerateKey(seedReader(1), name); err == nil {
			t.Errorf("GenerateKey(%q) succeeded, want error", name)
		}
	}
}

func TestParsePublicKey_Errors(t *testing.T) {
	good := MustKey(t, "example", 3).Public().String()
	name, rest, _ := strings.Cut(good, "+")
	hash, b64, _ := strings.Cut(rest, "+")
	for _, bad := range []string{
		"",
		"example",
		name + "+" + hash,
		name + "+00000000+" + b64, // wrong hash
		"other+" + hash + "+" + b64,
		name + "+" + hash + "+" + b64[:10],
		"PRIVATE+KEY+" + good,
		"ed25519:" + b64,
	} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded, want error", bad)
		}
	}
	if _, err := ParsePrivateKey(good); err == nil {
		t.Error("ParsePrivateKey(public key) succeeded, want error")
	}
}

func TestParsePublicKeys(t *testing.T) {
	a, b := MustKey(t, "old", 1).Public(), MustKey(t, "new", 2).Public()
	file := fmt.Sprintf("# keys published at https://patchring.example/api/v1/evidence/keys\n\n%s\n  %s  \n", a, b)
	keys, err := ParsePublicKeys([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID() != a.ID() || keys[1].ID() != b.ID() {
		t.Errorf("ParsePublicKeys() = %v, want [%v %v]", keys, a.ID(), b.ID())
	}
	if _, err := ParsePublicKeys([]byte("# nothing\n")); err == nil {
		t.Error("ParsePublicKeys(no keys) succeeded, want error")
	}
	if _, err := ParsePublicKeys([]byte(a.String() + "\nnot a key\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ParsePublicKeys(bad line 2) = %v, want error naming line 2", err)
	}
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(MustKey(f, "example", 3).Public().String())
	f.Add("a+00000000+AQ==")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			return
		}
		k2, err := ParsePublicKey(k.String())
		if err != nil || k2.String() != k.String() {
			t.Errorf("ParsePublicKey(%q).String() = %q does not round-trip: %v", s, k.String(), err)
		}
	})
}

// documentedKeyHash re-implements the key hash from its documentation.
func documentedKeyHash(name string, key ed25519.PublicKey) uint32 {
	h := sha256.Sum256([]byte(name + "\n\x01" + string(key)))
	return uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
}

// Standard base64 contains '+', the field separator of key texts: keys
// whose data has one must round-trip too (about half of all keys do).
func TestPrivateKeyWithPlusInData(t *testing.T) {
	seen := 0
	for i := range 64 {
		seed := bytes.Repeat([]byte{byte(i)}, 32)
		k, err := GenerateKey(bytes.NewReader(seed), "patchring.example/2026-11-23")
		if err != nil {
			t.Fatal(err)
		}
		text := MarshalPrivateKey(k)
		if strings.Count(text, "+") > 4 {
			seen++
		}
		back, err := ParsePrivateKey(text)
		if err != nil {
			t.Fatalf("ParsePrivateKey(%d): %v", i, err)
		}
		if back.Public().String() != k.Public().String() {
			t.Fatalf("key %d: public key changed in the round trip", i)
		}
	}
	if seen == 0 {
		t.Fatal("no test key had a '+' in its data; the test proves nothing")
	}
}
