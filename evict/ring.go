package evict

import (
	"fmt"
	"sync"
	"time"
)

// window is one write (or, with merge, a run of adjacent writes of one
// stream) held in a ring while the kernel writes it back.
type window struct {
	s       *stream // the writer; s.h is the file
	off, n  int64
	started bool // writeback of [off, off+n) has been started

	// window:auto: when the writeback started, and the controller's
	// counts then.
	t0   time.Time
	mark autoMark
}

// ring is nbdkit's ring of write windows, bounded by a count, by bytes or
// by both. The newest window is at the end of q; a push that makes the ring
// exceed its bounds pushes the oldest windows out, and the writer that
// pushed waits for them to reach the disk and drops them from the cache.
// All slow calls happen outside mu.
//
// With merge, each stream has at most one open window, which is not yet
// being written back and grows while the stream's writes continue it. It
// keeps its place in the ring, so writers sharing a ring merge their own
// writes while the ring still bounds them all together.
type ring struct {
	maxWindows int
	maxBytes   int64
	merge      int64
	auto       *autoShared // window:auto: sizes the ring, nil otherwise

	mu    sync.Mutex
	q     []window
	bytes int64
}

func newRing(c config) *ring {
	return &ring{maxWindows: c.windows, maxBytes: c.bytes, merge: c.merge}
}

// push records that s wrote n bytes at off: it starts the writeback of that
// write (or of the merged window it completes or ends) and evicts the
// windows the write pushes out of the ring. The first error fails the
// write; errors on other files' windows are also kept for their Close.
func (r *ring) push(s *stream, off, n int64) error {
	var start, out []window
	r.mu.Lock()
	before, beforeN := r.bytes, len(r.q)
	k := r.open(s)
	if k >= 0 && r.q[k].off+r.q[k].n == off {
		r.q[k].n += n
	} else {
		if k >= 0 {
			// A merged window ends where the stream's next write does
			// not continue it.
			start = append(start, r.begin(k))
		}
		r.q = append(r.q, window{s: s, off: off, n: n})
		s.open = true
		k = len(r.q) - 1
	}
	r.bytes += n
	if r.merge == 0 || r.q[k].n >= r.merge {
		start = append(start, r.begin(k))
	}
	limit, ceiling, others := r.byteBounds(before)
	for len(r.q) > 0 && (r.maxWindows > 0 && len(r.q) > r.maxWindows || limit > 0 && r.bytes > limit || ceiling > 0 && others+r.bytes > ceiling) {
		if ceiling > 0 && (len(out) >= 2 || len(r.q) == 1) && others+r.bytes <= ceiling {
			break // window:auto shrinks by a window per push, keeps one
		}
		w := r.q[0]
		if !w.started {
			w.s.open = false // the wait below writes it
		}
		out = append(out, w)
		r.bytes -= w.n
		r.q[0] = window{}
		r.q = r.q[1:]
	}
	r.account(before, beforeN)
	// The files named here cannot finish Close until these calls are done.
	for _, w := range start {
		w.s.h.inflight.Add(1)
	}
	for _, w := range out {
		w.s.h.inflight.Add(1)
	}
	r.mu.Unlock()

	var first error
	for _, w := range start {
		err := w.s.h.note(w.start())
		w.s.h.inflight.Done()
		if first == nil {
			first = err
		}
	}
	for _, w := range out {
		err := w.s.h.note(r.evictWindow(w))
		w.s.h.inflight.Done()
		if first == nil {
			first = err
		}
	}
	return first
}

// open returns the index of s's open window, or -1. Call with mu held.
func (r *ring) open(s *stream) int {
	if !s.open {
		return -1
	}
	for i := len(r.q) - 1; i >= 0; i-- {
		if r.q[i].s == s && !r.q[i].started {
			return i
		}
	}
	panic("evict: stream has no open window in its ring")
}

// begin marks window k started and returns it. Call with mu held.
func (r *ring) begin(k int) window {
	r.q[k].started = true
	r.q[k].s.open = false
	if r.auto != nil {
		r.q[k].t0, r.q[k].mark = time.Now(), r.auto.started(r.q[k].n)
	}
	return r.q[k]
}

// seal starts the writeback of s's open window, if any.
func (r *ring) seal(s *stream) error {
	r.mu.Lock()
	k := r.open(s)
	if k < 0 {
		r.mu.Unlock()
		return nil
	}
	w := r.begin(k)
	w.s.h.inflight.Add(1)
	r.mu.Unlock()
	err := w.s.h.note(w.start())
	w.s.h.inflight.Done()
	return err
}

// release takes the windows of h out of the ring (or all of them, for a nil
// h). With drain it waits for their writeback and drops them; without, they
// stay in the cache as nbdkit leaves them. It returns the first error of the
// drain.
func (r *ring) release(h *handle, drain bool) error {
	var mine []window
	r.mu.Lock()
	before, beforeN := r.bytes, len(r.q)
	kept := r.q[:0]
	for _, w := range r.q {
		if h == nil || w.s.h == h {
			w.s.open = false
			mine = append(mine, w)
			r.bytes -= w.n
		} else {
			kept = append(kept, w)
		}
	}
	clear(r.q[len(kept):])
	r.q = kept
	r.account(before, beforeN)
	r.mu.Unlock()
	if !drain {
		return nil
	}
	var first error
	for _, w := range mine {
		if err := w.s.h.note(r.evictWindow(w)); first == nil {
			first = err
		}
	}
	return first
}

// start begins the writeback of w.
func (w window) start() error {
	if err := startWriteback(w.s.h.fd, w.off, w.n); err != nil {
		return fmt.Errorf("sync_file_range(WRITE) %s [%d,+%d): %w", w.s.h.name, w.off, w.n, err)
	}
	return nil
}

// evict waits for w to be on disk and drops it from the page cache.
func (w window) evict() error {
	if err := waitWriteback(w.s.h.fd, w.off, w.n); err != nil {
		return fmt.Errorf("sync_file_range(WAIT) %s [%d,+%d): %w", w.s.h.name, w.off, w.n, err)
	}
	dropCache(w.s.h.fd, w.off, w.n)
	return nil
}
