package schedule

import (
	"fmt"
	"time"
)

const (
	// searchYears bounds how far ahead a search runs past the latest date
	// that matters (after, effective_from, the last blackout) before it
	// concludes that a window never opens again.
	searchYears = 10
	// maxBlock caps a merged block. Windows that together cover every
	// moment would otherwise merge into one endless block; once a block is
	// this long it takes no further occurrences, and the next block starts
	// where it ended.
	maxBlock = 35 * 24 * time.Hour
)

// Calendar is a set of windows (all those that apply to one asset), compiled
// once for repeated occurrence math. Occurrences of its windows that overlap
// or touch are merged into one block, so a job may run across them.
//
// A Calendar is immutable and safe for concurrent use.
type Calendar struct {
	windows []*compiled
}

// NewCalendar compiles windows; fallback is the site's zone, used by windows
// without a TimeZone (nil means UTC). It returns FieldErrors with paths
// prefixed by the window's index ("[1].duration") if any window is invalid.
// A Calendar without windows is valid and never open.
func NewCalendar(fallback *time.Location, ws ...Window) (*Calendar, error) {
	var errs FieldErrors
	c := &Calendar{}
	for i, w := range ws {
		cw, err := w.compile(fallback)
		if err != nil {
			errs = append(errs, fieldErrors(err).WithPrefix(fmt.Sprintf("[%d]", i))...)
			continue
		}
		c.windows = append(c.windows, cw)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// lenientCalendar compiles the valid windows and drops the others: a window
// that fails Validate never opens.
func lenientCalendar(fallback *time.Location, ws ...Window) *Calendar {
	c := &Calendar{}
	for _, w := range ws {
		if cw, err := w.compile(fallback); err == nil {
			c.windows = append(c.windows, cw)
		}
	}
	return c
}

// Next returns the first block that ends after after: the block in
// progress at after, if any, or else the next one. Its Start may be before
// after. Blocks are searched up to ten years past the latest of after, the
// effective_from dates and the blackouts.
func (c *Calendar) Next(after time.Time) (Occurrence, bool) {
	return c.blocks(after)()
}

// Contains reports whether some window is open at t.
func (c *Calendar) Contains(t time.Time) bool {
	b, ok := c.Next(t)
	return ok && b.Contains(t)
}

// Occurrences returns the blocks that overlap [from, to), in order, without
// overlaps. The first may start before from and the last may end after to.
func (c *Calendar) Occurrences(from, to time.Time) []Occurrence {
	var out []Occurrence
	next := c.blocks(from)
	for {
		b, ok := next()
		if !ok || !b.Start.Before(to) {
			return out
		}
		out = append(out, b)
	}
}

// Fits reports whether a job of length need started at t finishes before
// the block open at t closes: a job that cannot finish inside the window is
// not started.
func (c *Calendar) Fits(t time.Time, need time.Duration) bool {
	b, ok := c.Next(t)
	return ok && b.Contains(t) && !t.Add(need).After(b.End)
}

// NextFit returns the earliest instant at or after after at which a job of
// length need can start and finish inside one block, and that block. It
// reports false if no block within the search range is long enough.
func (c *Calendar) NextFit(after time.Time, need time.Duration) (time.Time, Occurrence, bool) {
	next := c.blocks(after)
	for {
		b, ok := next()
		if !ok {
			return time.Time{}, Occurrence{}, false
		}
		s := b.Start
		if s.Before(after) {
			s = after.In(s.Location())
		}
		if !s.Add(need).After(b.End) {
			return s, b, true
		}
	}
}

// blocks returns an iterator over the merged blocks that end after after.
//
// A block in progress at after may have begun with occurrences long
// before it. So that its reported start does not depend on where the
// search began, the search first walks back while earlier occurrences
// overlap or touch the block (at most maxBlock).
func (c *Calendar) blocks(after time.Time) func() (Occurrence, bool) {
	origin := after
	for after.Sub(origin) < maxBlock {
		next := c.merged(origin)
		b, ok := next()
		for ok && b.End.Before(origin) {
			b, ok = next()
		}
		if !ok || !b.Start.Before(origin) {
			break
		}
		origin = b.Start
	}
	next := c.merged(origin)
	return func() (Occurrence, bool) {
		for {
			b, ok := next()
			if !ok || b.End.After(after) {
				return b, ok
			}
		}
	}
}

// merged returns an iterator over the blocks formed by the occurrences
// that could still be open at origin and all later ones.
func (c *Calendar) merged(origin time.Time) func() (Occurrence, bool) {
	streams := make([]*stream, 0, len(c.windows))
	for _, w := range c.windows {
		streams = append(streams, w.stream(origin))
	}
	pop := func() (Occurrence, bool) {
		var best *stream
		for _, s := range streams {
			if s.ok && (best == nil || s.head.Start.Before(best.head.Start)) {
				best = s
			}
		}
		if best == nil {
			return Occurrence{}, false
		}
		o := best.head
		best.advance()
		return o, true
	}
	var (
		pending    Occurrence
		hasPending bool
		lastEnd    time.Time
	)
	return func() (Occurrence, bool) {
		for {
			cur := pending
			if hasPending {
				hasPending = false
			} else {
				o, ok := pop()
				if !ok {
					return Occurrence{}, false
				}
				cur = o
			}
			if !lastEnd.IsZero() && cur.Start.Before(lastEnd) {
				if !cur.End.After(lastEnd) {
					continue
				}
				cur.Start = lastEnd.In(cur.Start.Location())
			}
			for cur.End.Sub(cur.Start) < maxBlock {
				o, ok := pop()
				if !ok {
					break
				}
				if o.Start.After(cur.End) {
					pending, hasPending = o, true
					break
				}
				if o.End.After(cur.End) {
					cur.End = o.End.In(cur.Start.Location())
				}
			}
			lastEnd = cur.End
			return cur, true
		}
	}
}

// stream yields one window's occurrences in order of start, beginning with
// any that could still be open at the instant it was created for.
type stream struct {
	c     *compiled
	next  func() (time.Time, bool)
	limit time.Time // civil; nominal starts at or after it are not produced
	head  Occurrence
	ok    bool
}

func (c *compiled) stream(after time.Time) *stream {
	now := civilOf(after, c.loc)
	// A nominal start earlier than this cannot still be open at after,
	// whatever the zone's transitions do to its end.
	from := now.Add(-c.dur - 48*time.Hour)
	base := now
	if !c.from.IsZero() {
		if c.from.After(from) {
			from = c.from
		}
		if c.from.After(base) {
			base = c.from
		}
	}
	for _, b := range c.blackouts {
		if b[1].After(base) {
			base = b[1]
		}
	}
	limit := base.AddDate(searchYears, 0, 0)
	if !c.until.IsZero() {
		if end := c.until.AddDate(0, 0, 1); end.Before(limit) {
			limit = end
		}
	}
	s := &stream{c: c, next: c.gen.starts(from), limit: limit}
	s.advance()
	return s
}

func (s *stream) advance() {
	for {
		n, ok := s.next()
		if !ok || !n.Before(s.limit) {
			s.ok = false
			s.next = func() (time.Time, bool) { return time.Time{}, false }
			return
		}
		if s.c.skipped(n) {
			continue
		}
		s.head, s.ok = s.c.occurrence(n), true
		return
	}
}

// skipped reports whether no occurrence starts at the nominal start n.
func (c *compiled) skipped(n time.Time) bool {
	d := civilDate(n)
	if !c.from.IsZero() && d.Before(c.from) {
		return true
	}
	if !c.until.IsZero() && d.After(c.until) {
		return true
	}
	for _, b := range c.blackouts {
		if !d.Before(b[0]) && !d.After(b[1]) {
			return true
		}
	}
	return false
}

// occurrence turns a nominal start into instants: both ends are wall-clock
// readings resolved in the window's zone. If a DST gap swallows (almost)
// the whole window, it still stays open for MinDuration.
func (c *compiled) occurrence(n time.Time) Occurrence {
	start := resolve(n, c.loc)
	end := resolve(n.Add(c.dur), c.loc)
	if floor := min(c.dur, MinDuration); end.Sub(start) < floor {
		end = start.Add(floor)
	}
	return Occurrence{Start: start, End: end}
}

// Next returns the window's first occurrence that ends after after (the
// one in progress, or the next). Occurrences that overlap or touch are
// merged. An invalid window never opens. Each call compiles the window;
// build a Calendar for repeated queries.
func (w Window) Next(after time.Time, fallback *time.Location) (Occurrence, bool) {
	return lenientCalendar(fallback, w).Next(after)
}

// Contains reports whether the window is open at t.
func (w Window) Contains(t time.Time, fallback *time.Location) bool {
	return lenientCalendar(fallback, w).Contains(t)
}

// Occurrences returns the window's occurrences that overlap [from, to).
func (w Window) Occurrences(from, to time.Time, fallback *time.Location) []Occurrence {
	return lenientCalendar(fallback, w).Occurrences(from, to)
}

// Fits reports whether a job of length need started at t can finish before
// the window closes.
func (w Window) Fits(t time.Time, need time.Duration, fallback *time.Location) bool {
	return lenientCalendar(fallback, w).Fits(t, need)
}

// NextFit returns the earliest instant at or after after at which a job of
// length need can run to completion inside the window.
func (w Window) NextFit(after time.Time, need time.Duration, fallback *time.Location) (time.Time, Occurrence, bool) {
	return lenientCalendar(fallback, w).NextFit(after, need)
}

// NextAny returns the first block, across all windows, that ends after
// after, with overlapping or touching occurrences merged. Invalid windows
// are ignored: they never open.
func NextAny(ws []Window, after time.Time, fallback *time.Location) (Occurrence, bool) {
	return lenientCalendar(fallback, ws...).Next(after)
}
