package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/patchring/patchring/internal/agentapi"
)

const outboxDir = "outbox"

// DefaultOutboxSize is how many results the outbox holds before it drops
// the oldest. A scan every four hours for a month offline is 180.
const DefaultOutboxSize = 500

// Outbox is the on-disk queue of results waiting for the server. Every
// result is a file written atomically before the agent reports it, so a
// result survives the server being down, the agent restarting and the
// machine rebooting; it is removed only when the server acknowledged its
// id. Files are named "<sequence>-<result id>.json" so a directory listing
// is the delivery order.
//
// An Outbox is used by one goroutine at a time.
type Outbox struct {
	dir string
	max int
}

// OpenOutbox opens the outbox in the state directory.
func OpenOutbox(stateDir string, max int) *Outbox {
	if max <= 0 {
		max = DefaultOutboxSize
	}
	return &Outbox{dir: filepath.Join(stateDir, outboxDir), max: max}
}

type outboxEntry struct {
	seq  uint64
	id   string
	name string
}

// entries lists the outbox files, oldest first.
func (o *Outbox) entries() ([]outboxEntry, error) {
	des, err := os.ReadDir(o.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	var out []outboxEntry
	for _, de := range des {
		name := de.Name()
		base, ok := strings.CutSuffix(name, ".json")
		if !ok || de.IsDir() {
			continue
		}
		seqText, id, ok := strings.Cut(base, "-")
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if !ok || err != nil || !agentapi.ValidID(id) {
			continue
		}
		out = append(out, outboxEntry{seq: seq, id: id, name: name})
	}
	slices.SortFunc(out, func(a, b outboxEntry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	return out, nil
}

// Len returns how many results wait.
func (o *Outbox) Len() (int, error) {
	es, err := o.entries()
	return len(es), err
}

// Add stores a result. When the outbox is full it drops the oldest results
// first and returns their ids, so the caller can count and report them.
func (o *Outbox) Add(r agentapi.Result) (dropped []string, err error) {
	if !agentapi.ValidID(r.ID) {
		return nil, fmt.Errorf("result id %q is not valid", r.ID)
	}
	es, err := o.entries()
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(es, func(e outboxEntry) bool { return e.id == r.ID }) {
		return nil, nil // already queued
	}
	for len(es) >= o.max {
		if err := os.Remove(filepath.Join(o.dir, es[0].name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return dropped, fmt.Errorf("drop oldest result: %w", err)
		}
		dropped = append(dropped, es[0].id)
		es = es[1:]
	}
	var seq uint64 = 1
	if len(es) > 0 {
		seq = es[len(es)-1].seq + 1
	}
	b, err := json.Marshal(r)
	if err != nil {
		return dropped, fmt.Errorf("encode result %s: %w", r.ID, err)
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return dropped, fmt.Errorf("create outbox: %w", err)
	}
	return dropped, writeFileAtomic(filepath.Join(o.dir, fmt.Sprintf("%020d-%s.json", seq, r.ID)), b)
}

// Peek returns up to n of the oldest results, and how many bytes of JSON
// they are, stopping before budget bytes are exceeded (but always returning
// at least one result if there is one). Unreadable files are removed.
func (o *Outbox) Peek(n, budget int) ([]agentapi.Result, error) {
	es, err := o.entries()
	if err != nil {
		return nil, err
	}
	var out []agentapi.Result
	size := 0
	for _, e := range es {
		if len(out) >= n {
			break
		}
		b, err := os.ReadFile(filepath.Join(o.dir, e.name))
		if err != nil {
			return out, fmt.Errorf("read outbox result %s: %w", e.id, err)
		}
		var r agentapi.Result
		if err := json.Unmarshal(b, &r); err != nil || r.ID != e.id {
			_ = os.Remove(filepath.Join(o.dir, e.name)) // damaged by hand; nothing to deliver
			continue
		}
		if len(out) > 0 && size+len(b) > budget {
			break
		}
		size += len(b)
		out = append(out, r)
	}
	return out, nil
}

// Remove deletes the results with the given ids (acknowledged or refused by
// the server). Unknown ids are ignored.
func (o *Outbox) Remove(ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	es, err := o.entries()
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range es {
		if slices.Contains(ids, e.id) {
			if err := os.Remove(filepath.Join(o.dir, e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove delivered results: %w", errors.Join(errs...))
	}
	return nil
}
