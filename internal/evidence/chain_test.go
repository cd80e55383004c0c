package evidence

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

var cmpEntry = cmpopts.EquateEmpty()

// rehash recomputes e's hash, as a forger without the signing key can.
func rehash(e *Entry) { e.Hash = e.ComputeHash() }

func TestVerifyChain(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(c []Entry) []Entry
		seq     uint64
		problem ChainProblem
		msg     string
		// findings is how many problems checkChain reports in all; one
		// act of tampering should give one, except that a re-hashed entry
		// also breaks the next entry's link.
		findings int
	}{
		{name: "OK", tamper: func(c []Entry) []Entry { return c }},
		{name: "OK empty", tamper: func(c []Entry) []Entry { return nil }},
		{
			name: "edited details",
			tamper: func(c []Entry) []Entry {
				c[16].Details = map[string]string{"exit_code": "0", "output": "all fine"}
				return c
			},
			seq: 17, problem: ChainHashMismatch,
			msg: "entry 17: hash does not match its contents (edited?)",
		},
		{
			name:   "edited time",
			tamper: func(c []Entry) []Entry { c[4].Time = c[4].Time.Add(-24 * time.Hour); return c },
			seq:    5, problem: ChainHashMismatch,
			msg: "entry 5: hash does not match its contents (edited?)",
		},
		{
			name:   "edited and re-hashed",
			tamper: func(c []Entry) []Entry { c[16].Actor.Name = "someone else"; rehash(&c[16]); return c },
			seq:    18, problem: ChainPrevMismatch,
			msg: "entry 18: previous-entry hash does not match entry 17 (entry 17 was altered and re-hashed, or this entry was re-linked)",
		},
		{
			name:   "dropped entry",
			tamper: func(c []Entry) []Entry { return slices.Delete(c, 17, 18) },
			seq:    18, problem: ChainMissing,
			msg: "entry 18 missing (sequence jumps 17 → 19)",
		},
		{
			name:   "dropped entries",
			tamper: func(c []Entry) []Entry { return slices.Delete(c, 4, 7) },
			seq:    5, problem: ChainMissing,
			msg: "entries 5–7 missing (sequence jumps 4 → 8)",
		},
		{
			name:   "dropped first entry",
			tamper: func(c []Entry) []Entry { return c[1:] },
			seq:    1, problem: ChainMissing,
			msg: "entry 1 missing (sequence jumps 0 → 2)",
		},
		{
			name:   "swapped entries",
			tamper: func(c []Entry) []Entry { c[16], c[17] = c[17], c[16]; return c },
			seq:    17, problem: ChainOutOfOrder,
			msg: "entry 17: out of order (appears after entry 18)",
		},
		{
			name:   "duplicated entry",
			tamper: func(c []Entry) []Entry { return slices.Insert(c, 10, c[8]) },
			seq:    9, problem: ChainDuplicate,
			msg: "entry 9: appears more than once",
		},
		{
			name: "entry from another client",
			tamper: func(c []Entry) []Entry {
				c[3].ClientID = "clinic-other"
				rehash(&c[3])
				return c
			},
			seq: 4, problem: ChainWrongClient,
			msg: `entry 4: belongs to client "clinic-other", not "clinic-0042"`, findings: 2,
		},
		{
			name:   "first entry does not start at zeros",
			tamper: func(c []Entry) []Entry { c[0].PrevHash = Hash{1}; rehash(&c[0]); return c },
			seq:    1, problem: ChainPrevMismatch,
			msg: "entry 1: previous-entry hash does not match the start of the chain (all zeros)", findings: 2,
		},
		{
			name:   "invalid entry",
			tamper: func(c []Entry) []Entry { c[2].Type = "Not Valid"; rehash(&c[2]); return c },
			seq:    3, problem: ChainInvalid,
			msg: `entry 3: invalid: event type "Not Valid" must be lowercase letters, digits and underscores, starting with a letter`, findings: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.tamper(MustChain(t, fixtureClient, 30))
			err := VerifyChain(c)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("VerifyChain() = %v, want nil", err)
				}
				return
			}
			ce, ok := errors.AsType[*ChainError](err)
			if !ok {
				t.Fatalf("VerifyChain() = %v, want a *ChainError", err)
			}
			if ce.Seq != tt.seq || ce.Problem != tt.problem || ce.Error() != tt.msg {
				t.Errorf("VerifyChain() = {%d %s %q}, want {%d %s %q}", ce.Seq, ce.Problem, ce.Error(), tt.seq, tt.problem, tt.msg)
			}
			want := max(tt.findings, 1)
			if errs := checkChain(fixtureClient, 0, Hash{}, c); len(errs) != want {
				t.Errorf("checkChain() found %d problems, want %d: %v", len(errs), want, errs)
			}
		})
	}
}

func TestVerifyChainFrom(t *testing.T) {
	c := MustChain(t, fixtureClient, 30)
	if err := VerifyChainFrom(fixtureClient, 10, c[9].Hash, c[10:]); err != nil {
		t.Errorf("VerifyChainFrom(segment) = %v, want nil", err)
	}
	if err := VerifyChainFrom(fixtureClient, 30, c[29].Hash, nil); err != nil {
		t.Errorf("VerifyChainFrom(empty segment) = %v, want nil", err)
	}
	err := VerifyChainFrom(fixtureClient, 10, c[8].Hash, c[10:])
	want := "entry 11: previous-entry hash does not match the chain head at size 10"
	if err == nil || err.Error() != want {
		t.Errorf("VerifyChainFrom(wrong head) = %v, want %q", err, want)
	}
	err = VerifyChainFrom(fixtureClient, 10, c[9].Hash, c[8:])
	want = "entry 9: out of order (the segment starts after entry 10)"
	if err == nil || err.Error() != want {
		t.Errorf("VerifyChainFrom(overlapping start) = %v, want %q", err, want)
	}
	err = VerifyChainFrom("clinic-other", 10, c[9].Hash, c[10:])
	if ce, ok := errors.AsType[*ChainError](err); !ok || ce.Problem != ChainWrongClient || ce.Seq != 11 {
		t.Errorf("VerifyChainFrom(other client) = %v, want wrong-client at 11", err)
	}
}

// TestChain_Properties checks that any chain built with Append verifies, and
// that any single mutation is detected, either by VerifyChain or, for
// changes at the end, by comparing against a checkpoint of the original
// head, which is what bundles and checkpoints are for.
func TestChain_Properties(t *testing.T) {
	genEntry := rapid.Custom(func(t *rapid.T) Entry {
		details := rapid.MapOfN(
			rapid.StringMatching(`[a-z0-9][a-z0-9_.-]{0,10}`),
			rapid.StringOfN(rapid.RuneFrom([]rune{'\n', '\t', '✓'}, unicode.L, unicode.N, unicode.P, unicode.Zs), 0, 20, -1),
			0, 4).Draw(t, "details")
		name := rapid.StringOfN(rapid.RuneFrom(nil, unicode.L, unicode.N, unicode.Zs), 0, 16, -1)
		return Entry{
			ClientID: "c",
			Time:     t0.Add(time.Duration(rapid.Int64Range(-1e12, 1e12).Draw(t, "offset")) * time.Millisecond),
			Type:     EventType(rapid.SampledFrom([]EventType{EventDetected, EventInstalled, EventVerified, "custom_event"}).Draw(t, "type")),
			Actor:    Actor{Kind: ActorKind(rapid.StringMatching(`[a-z][a-z_]{0,8}`).Draw(t, "kind")), ID: rapid.StringMatching(`[a-z0-9-]{1,8}`).Draw(t, "id"), Name: name.Draw(t, "name")},
			Subject:  Subject{AssetID: rapid.StringMatching(`[a-z0-9-]{0,8}`).Draw(t, "asset")},
			Details:  details,
		}
	})
	build := func(t *rapid.T) []Entry {
		var chain []Entry
		for _, next := range rapid.SliceOfN(genEntry, 1, 25).Draw(t, "entries") {
			var prev *Entry
			if len(chain) > 0 {
				prev = &chain[len(chain)-1]
			}
			e, err := Append(prev, next)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			chain = append(chain, e)
		}
		return chain
	}

	t.Run("built chains verify", rapid.MakeCheck(func(t *rapid.T) {
		if err := VerifyChain(build(t)); err != nil {
			t.Fatalf("VerifyChain() = %v", err)
		}
	}))

	t.Run("single mutations are detected", rapid.MakeCheck(func(t *rapid.T) {
		orig := build(t)
		c := slices.Clone(orig)
		i := rapid.IntRange(0, len(c)-1).Draw(t, "i")
		e := &c[i]
		e.Details = maps.Clone(e.Details)
		mutation := rapid.SampledFrom([]string{
			"time", "type", "actor", "subject", "details", "client", "seq", "prev",
			"time+rehash", "details+rehash", "drop", "swap", "duplicate", "rewrite-rest",
		}).Draw(t, "mutation")
		switch mutation {
		case "time", "time+rehash":
			e.Time = e.Time.Add(rapidNonZeroMillis(t))
		case "type":
			e.Type += "x"
		case "actor":
			e.Actor.ID += "x"
		case "subject":
			e.Subject.CycleID += "x"
		case "details", "details+rehash":
			if e.Details == nil {
				e.Details = map[string]string{}
			}
			e.Details["tampered"] += "x"
		case "client":
			e.ClientID += "x"
		case "seq":
			e.Seq += uint64(rapid.IntRange(1, 3).Draw(t, "by"))
		case "prev":
			e.PrevHash[rapid.IntRange(0, 31).Draw(t, "byte")] ^= 1
		case "drop":
			c = slices.Delete(c, i, i+1)
		case "swap":
			if len(c) < 2 {
				t.Skip("no pair to swap")
			}
			j := rapid.IntRange(0, len(c)-1).Filter(func(j int) bool { return j != i }).Draw(t, "j")
			c[i], c[j] = c[j], c[i]
		case "duplicate":
			c = slices.Insert(c, rapid.IntRange(0, len(c)).Draw(t, "at"), c[i])
		case "rewrite-rest":
			// A forger rebuilds the chain from entry i on with Append: every
			// link is consistent, only the head differs.
			e.Actor.Name += "x"
			var prev *Entry
			if i > 0 {
				prev = &c[i-1]
			}
			for k := i; k < len(c); k++ {
				ne, err := Append(prev, c[k])
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				c[k] = ne
				prev = &c[k]
			}
		}
		if strings.HasSuffix(mutation, "+rehash") {
			rehash(e)
		}
		if !detected(orig, c) {
			t.Fatalf("mutation %q of entry %d not detected", mutation, i+1)
		}
	}))
}

// detected reports whether a tampered chain c is told apart from orig by
// VerifyChain plus a checkpoint of orig's head.
func detected(orig, c []Entry) bool {
	if VerifyChain(c) != nil {
		return true
	}
	if len(c) != len(orig) {
		return true // a checkpoint of size len(orig) names an entry c lacks, or c grew
	}
	return c[len(c)-1].Hash != orig[len(orig)-1].Hash
}

func rapidNonZeroMillis(t *rapid.T) time.Duration {
	ms := rapid.Int64Range(1, 1e9).Draw(t, "ms")
	if rapid.Bool().Draw(t, "neg") {
		ms = -ms
	}
	return time.Duration(ms) * time.Millisecond
}
