package password

import (
	"errors"
	"strings"
	"testing"
)

var fast = Params{Memory: 8 * 1024, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Errorf("Hash = %q", h)
	}
	if err := Verify("correct horse battery", h); err != nil {
		t.Errorf("Verify(right) = %v", err)
	}
	if err := Verify("correct horse batterx", h); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(wrong) = %v, want ErrMismatch", err)
	}
	h2, _ := Hash("correct horse battery", fast)
	if h == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if !NeedsRehash(h, Default) || NeedsRehash(h, fast) {
		t.Error("NeedsRehash wrong")
	}
}

func TestVerifyMalformed(t *testing.T) {
	for _, phc := range []string{
		"", "plain", "$argon2i$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",        // memory too low: refuse cheap hashes
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // memory bomb
		"$argon2id$v=19$m=8192,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$c2hvcnQ",
	} {
		if err := Verify("x", phc); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%q) = %v, want a format error", phc, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for pw, ok := range map[string]bool{"short": false, "elevenchars": false, "twelve chars": true, "ünïcödé-pässwörd": true, strings.Repeat("x", 1025): false} {
		if err := Validate(pw); (err == nil) != ok {
			t.Errorf("Validate(%.20q) = %v, want ok=%v", pw, err, ok)
		}
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := Hash("seed password", fast)
	f.Add("seed password", h)
	f.Add("x", "$argon2id$v=19$m=8192,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, pw, phc string) {
		_ = Verify(pw, phc) // must not panic or allocate unbounded memory
	})
}
