package evict

import (
	"fmt"
	"os"
	"sync"
)

// policy carries out a config. For a window policy shared by all writers,
// the ring lives here, so each Parse result has its own.
type policy struct {
	c      config
	shared *ring
	auto   *autoShared // window:auto only
}

func newPolicy(c config) (Policy, error) {
	if c.kind != kindNone || c.read != readKeep {
		if err := supported(); err != nil {
			return nil, fmt.Errorf("policy %s: %w", c, err)
		}
	}
	p := &policy{c: c}
	if c.auto {
		p.auto = newAutoShared(c)
	}
	if c.kind == kindWindow && !c.perStream {
		p.shared = p.newRing()
	}
	return p, nil
}

func (p *policy) String() string { return p.c.String() }

func (p *policy) Attach(f *os.File) (Handle, error) {
	h := &handle{p: p, name: f.Name(), fd: int(f.Fd())}
	if p.c.read == readFresh {
		t, err := newFreshTracker(f, h.fd, p.c.readBlock)
		if err != nil {
			return nil, fmt.Errorf("attach %s %s: %w", p, f.Name(), err)
		}
		h.fresh = t
	}
	return h, nil
}

// handle is one attached file.
type handle struct {
	p     *policy
	name  string
	fd    int
	fresh *freshTracker // read=fresh only

	// inflight counts calls on fd running outside a ring's lock, which
	// may belong to another handle's writer; Close waits for them.
	inflight sync.WaitGroup

	mu    sync.Mutex
	rings []*ring // per=stream: the rings of streams not yet closed
	err   error   // first I/O error
}

// note records the first error seen on h and returns err.
func (h *handle) note(err error) error {
	if err != nil {
		h.mu.Lock()
		if h.err == nil {
			h.err = err
		}
		h.mu.Unlock()
	}
	return err
}

func (h *handle) Stream() Stream {
	s := &stream{h: h, r: h.p.shared}
	if h.p.c.kind == kindWindow && h.p.c.perStream {
		s.r = h.p.newRing()
		s.own = true
		h.mu.Lock()
		h.rings = append(h.rings, s.r)
		h.mu.Unlock()
	}
	return s
}

func (h *handle) Close() error {
	h.mu.Lock()
	rings := h.rings
	h.rings = nil
	h.mu.Unlock()
	if h.p.shared != nil {
		rings = append(rings, h.p.shared)
	}
	for _, r := range rings {
		r.release(h, h.p.c.drain)
	}
	h.inflight.Wait()
	if h.fresh != nil {
		h.fresh.flush()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// stream is one writer of a handle; r is its ring (shared or own).
type stream struct {
	h   *handle
	r   *ring
	own bool

	open bool // has an open (merging) window in r; guarded by r.mu
}

func (s *stream) AfterWrite(off int64, n int) error {
	if n <= 0 {
		return nil
	}
	h := s.h
	switch h.p.c.kind {
	case kindFlushEach:
		if err := datasync(h.fd); err != nil {
			return h.note(fmt.Errorf("fdatasync %s: %w", h.name, err))
		}
		dropCache(h.fd, off, int64(n))
	case kindWindow:
		return s.r.push(s, off, int64(n))
	}
	return nil
}

func (s *stream) AfterRead(off int64, n int) error {
	if n <= 0 {
		return nil
	}
	switch s.h.p.c.read {
	case readEach:
		dropCache(s.h.fd, off, int64(n))
	case readFresh:
		s.h.fresh.afterRead(off, int64(n))
	}
	return nil
}

func (s *stream) Close() error {
	if s.r == nil {
		return nil
	}
	if !s.own {
		// The shared ring outlives the stream: start what it left open.
		return s.r.seal(s)
	}
	h := s.h
	h.mu.Lock()
	for i, r := range h.rings {
		if r == s.r {
			h.rings = append(h.rings[:i], h.rings[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
	return s.r.release(nil, h.p.c.drain)
}
