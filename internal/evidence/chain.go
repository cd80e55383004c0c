package evidence

import (
	"cmp"
	"fmt"
	"slices"
)

// ChainProblem classifies what is wrong with a chain. Values are stable and
// may be shown to users or matched by tools.
type ChainProblem string

// Chain problems, from the most local (one entry's contents) to the most
// global (how entries link up).
const (
	ChainInvalid      ChainProblem = "invalid"       // a field breaks a rule listed on Entry
	ChainHashMismatch ChainProblem = "hash-mismatch" // the stored hash is not the hash of the contents: edited
	ChainWrongClient  ChainProblem = "wrong-client"  // the entry belongs to another client's chain
	ChainOutOfOrder   ChainProblem = "out-of-order"  // the entry appears after one with a higher Seq
	ChainDuplicate    ChainProblem = "duplicate"     // two entries carry the same Seq
	ChainMissing      ChainProblem = "missing"       // Seq values are skipped: entries dropped
	ChainPrevMismatch ChainProblem = "prev-mismatch" // PrevHash is not the hash of the entry before
)

// ChainError describes one problem in a chain. Seq names the entry: for
// ChainMissing it is the first missing Seq.
type ChainError struct {
	Seq     uint64
	Problem ChainProblem
	msg     string
}

func (e *ChainError) Error() string { return e.msg }

// VerifyChain checks a client's complete chain: entries must start at Seq 1
// with an all-zero PrevHash, carry consecutive Seq values in order, all
// belong to the client of the first entry, follow the rules listed on
// [Entry], and each must hash to its Hash and link to its predecessor's.
// It returns nil or the *ChainError with the lowest Seq.
//
// A chain that was cut short at its end is still a valid chain; only a
// signed checkpoint of the longer chain (see [Checkpoint]) reveals that.
func VerifyChain(entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	return VerifyChainFrom(entries[0].ClientID, 0, Hash{}, entries)
}

// VerifyChainFrom checks entries that continue clientID's chain after its
// first size entries, whose last entry has hash head (all zeros when size is
// 0): typically the size and head of a verified checkpoint. It applies the
// same checks as [VerifyChain] and returns nil or the *ChainError with the
// lowest Seq.
func VerifyChainFrom(clientID string, size uint64, head Hash, entries []Entry) error {
	if errs := checkChain(clientID, size, head, entries); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// checkChain returns every problem it finds, sorted by Seq. It is written to
// report one problem per tampering act: an edited entry gives one
// hash-mismatch, a dropped entry one missing range, two swapped entries one
// out-of-order, instead of a cascade of follow-on errors.
func checkChain(clientID string, size uint64, head Hash, entries []Entry) []*ChainError {
	var errs []*ChainError
	add := func(seq uint64, p ChainProblem, format string, args ...any) {
		errs = append(errs, &ChainError{Seq: seq, Problem: p, msg: fmt.Sprintf(format, args...)})
	}

	// Each entry on its own, and its position in file order.
	first := make(map[uint64]int, len(entries)) // Seq -> index of its first occurrence
	var maxSeen uint64
	for i := range entries {
		e := &entries[i]
		if err := e.validate(); err != nil {
			add(e.Seq, ChainInvalid, "entry %d: invalid: %v", e.Seq, err)
		}
		if e.ComputeHash() != e.Hash {
			add(e.Seq, ChainHashMismatch, "entry %d: hash does not match its contents (edited?)", e.Seq)
		}
		if e.ClientID != clientID {
			add(e.Seq, ChainWrongClient, "entry %d: belongs to client %q, not %q", e.Seq, e.ClientID, clientID)
		}
		switch _, dup := first[e.Seq]; {
		case e.Seq == 0:
			continue // already reported as invalid; 0 has no place in the order
		case dup:
			add(e.Seq, ChainDuplicate, "entry %d: appears more than once", e.Seq)
			continue
		case e.Seq <= size:
			add(e.Seq, ChainOutOfOrder, "entry %d: out of order (the segment starts after entry %d)", e.Seq, size)
		case e.Seq < maxSeen:
			add(e.Seq, ChainOutOfOrder, "entry %d: out of order (appears after entry %d)", e.Seq, maxSeen)
		}
		first[e.Seq] = i
		maxSeen = max(maxSeen, e.Seq)
	}

	// Continuity, in Seq order: gaps and links.
	seqs := make([]uint64, 0, len(first))
	for s := range first {
		if s > size {
			seqs = append(seqs, s)
		}
	}
	slices.Sort(seqs)
	prevSeq, prevHash := size, head
	for _, s := range seqs {
		e := &entries[first[s]]
		switch {
		case s > prevSeq+1:
			add(prevSeq+1, ChainMissing, "%s missing (sequence jumps %d → %d)", seqRange(prevSeq+1, s-1), prevSeq, s)
		case e.PrevHash != prevHash:
			add(s, ChainPrevMismatch, "entry %d: previous-entry hash does not match %s", s, describePrev(prevSeq, size))
		}
		prevSeq, prevHash = s, e.Hash
	}

	slices.SortStableFunc(errs, func(a, b *ChainError) int { return cmp.Compare(a.Seq, b.Seq) })
	return errs
}

// seqRange names one entry or a range of entries.
func seqRange(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("entry %d", from)
	}
	return fmt.Sprintf("entries %d–%d", from, to)
}

// describePrev names what an entry's PrevHash should have matched.
func describePrev(prevSeq, size uint64) string {
	switch {
	case prevSeq == 0:
		return "the start of the chain (all zeros)"
	case prevSeq == size:
		return fmt.Sprintf("the chain head at size %d", size)
	default:
		return fmt.Sprintf("entry %d (entry %d was altered and re-hashed, or this entry was re-linked)", prevSeq, prevSeq)
	}
}
