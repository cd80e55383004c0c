package debversion

import (
	"context"
	"errors"
	"os/exec"
	"testing"

	"github.com/google/osv-scalibr/semantic"
)

// compareCases are ordered pairs with the expected result of Compare(a, b).
var compareCases = []struct {
	name string
	a, b string
	want int
}{
	{"Equal", "1.0-1", "1.0-1", 0},
	{"EpochBeatsUpstream", "1:1.0", "2.0", 1},
	{"EpochZeroIsAbsent", "0:1.0", "1.0", 0},
	{"HigherEpoch", "2:0.1", "1:9.9", 1},
	{"TildeBeforeRelease", "1.0~rc1", "1.0", -1},
	{"TildeBeforeTilde", "1.0~~", "1.0~", -1},
	{"TildeRcOrder", "1.0~rc1", "1.0~rc2", -1},
	{"TildeBeforeEmptyRevision", "1.0~rc1-1", "1.0-1", -1},
	{"SecurityRevision", "1.0-1", "1.0-1+deb12u1", -1},
	{"SecurityRevisionSequence", "1.0-1+deb12u1", "1.0-1+deb12u2", -1},
	{"BinNMU", "1.0-1", "1.0-1+b1", -1},
	{"BinNMUNumeric", "5.2.15-2+b8", "5.2.15-2+b13", -1},
	{"NativeBinNMU", "1.0+b1", "1.0", 1},
	{"NumericNotLexical", "1.10", "1.9", 1},
	{"LeadingZeros", "1.01", "1.1", 0},
	{"AbsentRevisionIsZero", "1.0", "1.0-0", 0},
	{"RevisionDecides", "1.0-2", "1.0-10", -1},
	{"LettersBeforePunctuation", "1.0a", "1.0+", -1},
	{"LetterAfterEnd", "1.0a", "1.0", 1},
	{"PlusAfterEnd", "1.0+", "1.0", 1},
	{"DotAfterPlus", "1.0.", "1.0+", 1},
	{"UbuntuSRU", "2.35-0ubuntu3.1", "2.35-0ubuntu3.4", -1},
	{"UbuntuBackportTilde", "1.2-3ubuntu0.20.04.1", "1.2-3ubuntu0.22.04.1", -1},
	{"HyphenInUpstream", "1.0-beta-1", "1.0-beta-2", -1},
	{"ColonInUpstream", "1:2:3-1", "1:2:4-1", -1},
	{"LongNumbers", "1.99999999999999999999", "1.100000000000000000000", -1},
	{"Really", "4.0.1really4.0.1-0ubuntu0.24.04.7", "4.0.1really4.0.1-0ubuntu0.24.04.8", -1},
	{"CaseSensitive", "1.0A", "1.0a", -1},
	{"DebRevisionTildeSecurity", "3.0.17-1~deb12u1", "3.0.17-1~deb12u2", -1},
	{"DebRevisionTildeBeforePlain", "3.0.17-1~deb12u2", "3.0.17-1", -1},
}

func TestCompare(t *testing.T) {
	for _, tc := range compareCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareStrings(tc.a, tc.b)
			if err != nil {
				t.Fatalf("CompareStrings(%q, %q) error: %v", tc.a, tc.b, err)
			}
			if got != tc.want {
				t.Errorf("CompareStrings(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if back, _ := CompareStrings(tc.b, tc.a); back != -tc.want {
				t.Errorf("CompareStrings(%q, %q) = %d, want %d", tc.b, tc.a, back, -tc.want)
			}
		})
	}
}

// TestCompare_AgreesWithDpkg runs every table case through dpkg itself, so
// the table cannot drift from the reference implementation. It is skipped
// where dpkg is absent (non-Debian developer machines).
func TestCompare_AgreesWithDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed")
	}
	ops := map[int]string{-1: "lt", 0: "eq", 1: "gt"}
	for _, tc := range compareCases {
		cmd := exec.CommandContext(context.Background(), dpkg, "--compare-versions", tc.a, ops[tc.want], tc.b)
		if err := cmd.Run(); err != nil {
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				t.Errorf("dpkg --compare-versions %s %s %s is false; table disagrees with dpkg", tc.a, ops[tc.want], tc.b)
				continue
			}
			t.Fatalf("run dpkg: %v", err)
		}
	}
}

func TestParse(t *testing.T) {
	valid := []struct {
		in   string
		want Version
	}{
		{"1.0", Version{Upstream: "1.0"}},
		{"1:2.30-4+deb12u1", Version{Epoch: 1, Upstream: "2.30", Revision: "4+deb12u1"}},
		{"2:8.2.3995-1ubuntu2.15", Version{Epoch: 2, Upstream: "8.2.3995", Revision: "1ubuntu2.15"}},
		{"1.0-beta-1", Version{Upstream: "1.0-beta", Revision: "1"}},
		{"0:1.0~rc1", Version{Upstream: "1.0~rc1"}},
		{"1:2:3-1", Version{Epoch: 1, Upstream: "2:3", Revision: "1"}},
		{"5:29.8.1-1~ubuntu.24.04~noble", Version{Epoch: 5, Upstream: "29.8.1", Revision: "1~ubuntu.24.04~noble"}},
	}
	for _, tc := range valid {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q) error: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	invalid := []string{
		"", "-1.0", "--allow-downgrades", "a1.0", ":1.0", "x:1.0", "1:", "1.0-", "1.0 ", " 1.0",
		"1.0/stable", "1.0=2", "1.0-1_1", "1.0;rm", "99999999999:1.0", "1.0\n", "1.0-1:2",
	}
	for _, in := range invalid {
		if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalid", in, err)
		}
	}
}

func TestVersion_String(t *testing.T) {
	for _, s := range []string{"1.0", "1:1.0", "1.0-1", "2:8.2.3995-1ubuntu2.15", "1.0~rc1+b1-0"} {
		if got := MustParse(s).String(); got != s {
			t.Errorf("MustParse(%q).String() = %q", s, got)
		}
	}
	if got := MustParse("0:1.0").String(); got != "1.0" {
		t.Errorf(`MustParse("0:1.0").String() = %q, want "1.0"`, got)
	}
}

// FuzzCompare checks that Parse never panics, that what it accepts prints
// back to an equal version, that Compare is antisymmetric, and that it agrees
// with osv-scalibr's independent Debian comparator on everything Parse accepts.
func FuzzCompare(f *testing.F) {
	for _, tc := range compareCases {
		f.Add(tc.a, tc.b)
	}
	f.Add("1:", "~")
	f.Add("0", "00")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := Parse(a)
		vb, errB := Parse(b)
		if errA != nil || errB != nil {
			return
		}
		if r := MustParse(va.String()); Compare(r, va) != 0 {
			t.Fatalf("round trip of %q gave %q, which compares unequal", a, va.String())
		}
		ab, ba := Compare(va, vb), Compare(vb, va)
		if ab != -ba {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		sa, err := semantic.ParseDebianVersion(a)
		if err != nil {
			return
		}
		other, err := sa.CompareStr(b)
		if err != nil {
			return
		}
		if other != ab {
			t.Fatalf("Compare(%q,%q)=%d, osv-scalibr says %d", a, b, ab, other)
		}
	})
}
