package evict

import (
	"sync"
	"time"
)

// AutoStater is implemented by the policies of window:auto. Its state is
// safe to read at any time from any goroutine, for instance every 50 ms
// beside a residency sample.
type AutoStater interface {
	AutoState() AutoState
}

// AutoState returns the state of a window:auto policy's controller and
// rings. It is the zero AutoState for other policies.
func (p *policy) AutoState() AutoState {
	if p.auto == nil {
		return AutoState{}
	}
	return p.auto.state()
}

// autoShared is the controller of one window:auto policy and the account of
// the rings it sizes: the policy's shared ring, or with per=stream the ring
// of every stream, which then share the limit equally among those holding
// windows, and the ceiling together. Lock order: ring.mu, then mu.
type autoShared struct {
	mu      sync.Mutex
	ctl     *autoCtl
	bytes   int64 // in all rings
	windows int
	active  int // rings holding at least one window
}

func newAutoShared(c config) *autoShared {
	p := defaultAutoParams(c.autoMin, c.autoMax)
	p.floorWindows = c.autoFloorWindows
	return &autoShared{ctl: newAutoCtl(p)}
}

// newRing makes a ring for p's config, sized by p's controller under
// window:auto.
func (p *policy) newRing() *ring {
	r := newRing(p.c)
	r.auto = p.auto
	return r
}

// byteBounds returns the bytes r evicts down to and, under window:auto
// only, the ceiling that all the policy's rings together never exceed
// after a push, and the bytes the other rings hold; before is what r held
// when the push began. Call with r.mu held.
func (r *ring) byteBounds(before int64) (limit, ceiling, others int64) {
	if r.auto == nil {
		return r.maxBytes, 0, 0
	}
	a := r.auto
	a.mu.Lock()
	defer a.mu.Unlock()
	n := int64(max(a.active, 1))
	return max(a.ctl.limit()/n, a.ctl.ringFloor(), 1), a.ctl.p.max, a.bytes - before
}

// account reports to r's controller how r's content changed from before
// bytes in beforeN windows. Call with r.mu held.
func (r *ring) account(before int64, beforeN int) {
	a := r.auto
	if a == nil {
		return
	}
	a.mu.Lock()
	a.bytes += r.bytes - before
	a.windows += len(r.q) - beforeN
	switch {
	case beforeN == 0 && len(r.q) > 0:
		a.active++
	case beforeN > 0 && len(r.q) == 0:
		a.active--
	}
	a.mu.Unlock()
}

// started counts a window of n bytes whose writeback starts now.
func (a *autoShared) started(n int64) autoMark {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ctl.started(n)
}

// evictWindow is w.evict, timed for window:auto's controller.
func (r *ring) evictWindow(w window) error {
	if r.auto == nil {
		return w.evict()
	}
	wait := time.Now()
	if !w.started {
		// A merged window pushed out before its writeback started:
		// the wait below starts it.
		w.t0, w.mark = wait, r.auto.started(w.n)
	}
	if err := w.evict(); err != nil {
		return err
	}
	end := time.Now()
	r.auto.mu.Lock()
	r.auto.ctl.observe(autoObs{bytes: w.n, start: w.t0, wait: wait, end: end, at: w.mark})
	r.auto.mu.Unlock()
	return nil
}

func (a *autoShared) state() AutoState {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.ctl.state()
	s.Resident, s.Windows, s.Rings = a.bytes, a.windows, a.active
	return s
}
