package evict

import (
	"fmt"
	"sync"
)

// window is one write (or, with merge, a run of adjacent writes) held in a
// ring while the kernel writes it back.
type window struct {
	h       *handle
	off, n  int64
	started bool // writeback of [off, off+n) has been started
}

// ring is nbdkit's ring of write windows, bounded by a count, by bytes or
// by both. The newest window is at the end of q; a push that makes the ring
// exceed its bounds pushes the oldest windows out, and the writer that
// pushed waits for them to reach the disk and drops them from the cache.
// All slow calls happen outside mu.
type ring struct {
	maxWindows int
	maxBytes   int64
	merge      int64

	mu    sync.Mutex
	q     []window
	bytes int64
}

func newRing(c config) *ring {
	return &ring{maxWindows: c.windows, maxBytes: c.bytes, merge: c.merge}
}

// push records that h wrote n bytes at off: it starts the writeback of that
// write (or of the merged window it completes) and evicts the windows the
// write pushes out of the ring. The first error fails the write; errors on
// other handles' windows are also kept for their Close.
func (r *ring) push(h *handle, off, n int64) error {
	var start, out []window
	r.mu.Lock()
	k := len(r.q) - 1
	if r.merge > 0 && k >= 0 && r.q[k].h == h && !r.q[k].started && r.q[k].off+r.q[k].n == off {
		r.q[k].n += n
	} else {
		if k >= 0 && !r.q[k].started {
			// A merged window ends where a write does not follow it.
			r.q[k].started = true
			start = append(start, r.q[k])
		}
		r.q = append(r.q, window{h: h, off: off, n: n})
		k++
	}
	r.bytes += n
	if r.merge == 0 || r.q[k].n >= r.merge {
		r.q[k].started = true
		start = append(start, r.q[k])
	}
	for len(r.q) > 0 && (r.maxWindows > 0 && len(r.q) > r.maxWindows || r.maxBytes > 0 && r.bytes > r.maxBytes) {
		out = append(out, r.q[0])
		r.bytes -= r.q[0].n
		r.q[0] = window{}
		r.q = r.q[1:]
	}
	// The handles named here cannot finish Close until these calls are done.
	for _, w := range start {
		w.h.inflight.Add(1)
	}
	for _, w := range out {
		w.h.inflight.Add(1)
	}
	r.mu.Unlock()

	var first error
	for _, w := range start {
		err := w.h.note(w.start())
		w.h.inflight.Done()
		if first == nil {
			first = err
		}
	}
	for _, w := range out {
		err := w.h.note(w.evict())
		w.h.inflight.Done()
		if first == nil {
			first = err
		}
	}
	return first
}

// release takes h's windows out of the ring. With drain it waits for their
// writeback and drops them; without, they stay in the cache as nbdkit leaves
// them. It returns the first error of the drain.
func (r *ring) release(h *handle, drain bool) error {
	var mine []window
	r.mu.Lock()
	kept := r.q[:0]
	for _, w := range r.q {
		if w.h == h {
			mine = append(mine, w)
			r.bytes -= w.n
		} else {
			kept = append(kept, w)
		}
	}
	clear(r.q[len(kept):])
	r.q = kept
	r.mu.Unlock()
	if !drain {
		return nil
	}
	var first error
	for _, w := range mine {
		if err := h.note(w.evict()); first == nil {
			first = err
		}
	}
	return first
}

// start begins the writeback of w.
func (w window) start() error {
	if err := startWriteback(w.h.fd, w.off, w.n); err != nil {
		return fmt.Errorf("sync_file_range(WRITE) %s [%d,+%d): %w", w.h.name, w.off, w.n, err)
	}
	return nil
}

// evict waits for w to be on disk and drops it from the page cache.
func (w window) evict() error {
	if err := waitWriteback(w.h.fd, w.off, w.n); err != nil {
		return fmt.Errorf("sync_file_range(WAIT) %s [%d,+%d): %w", w.h.name, w.off, w.n, err)
	}
	dropCache(w.h.fd, w.off, w.n)
	return nil
}
