package nbdserve

import (
	"math/bits"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Payload memory. READ results and WRITE payloads live in buffers of
// power-of-two size classes (4 KiB and up) mapped with mmap outside the
// Go heap, so that freeing one gives the memory back to the kernel at
// once instead of waiting for the garbage collector and the scavenger.
//
// Two budgets, counted in class sizes, bound the bytes held: one per
// connection (Config.MaxInFlight) and one for the whole server
// (Config.MaxPayloadMemory). A receiver takes its bytes from both before
// it reads a WRITE payload or queues a READ, and waits while either is
// used up: a client that does not read its replies stops being read. The
// pool keeps freed buffers for reuse, never more than the server budget
// in all (in use plus kept), and unmaps every kept buffer once no payload
// has been in flight for poolIdle.

// poolIdle is how long the pool keeps its buffers after the last payload
// in flight is freed.
const poolIdle = time.Second

const minBufShift = 12 // 4 KiB, the smallest class

// bufClass is the size class of a buffer of n bytes: its capacity is
// 1<<bufClass(n).
func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return minBufShift
	}
	return bits.Len(uint(n - 1))
}

// classSize is the bytes a payload of n bytes holds of the budgets.
func classSize(n int) int64 { return 1 << bufClass(n) }

// budget is a byte semaphore: acquire waits (first come, first served)
// until the bytes are free or abort is closed.
type budget struct {
	mu      sync.Mutex
	total   int64
	used    int64
	peak    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

func newBudget(total int64) *budget { return &budget{total: total} }

// acquire takes n bytes (n at most the total) and reports whether it did:
// false when abort or stop was closed first.
func (b *budget) acquire(n int64, abort, stop <-chan struct{}) bool {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.total {
		b.take(n)
		b.mu.Unlock()
		return true
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-abort:
	case <-stop:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
		b.grant()
		return false
	default:
	}
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			break
		}
	}
	b.grant() // the next waiter may fit now
	return false
}

func (b *budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// grant wakes waiters in order while they fit.
func (b *budget) grant() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.total {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.take(w.n)
		close(w.ready)
	}
}

func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

func (b *budget) stats() (used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}

// bufPool hands out mmap'ed payload buffers. Every buffer in use is
// covered by the server budget, so keeping at most limit bytes mapped in
// all never fails to make room for a new one.
type bufPool struct {
	mu     sync.Mutex
	limit  int64
	mapped int64 // in use plus kept
	inUse  int64
	free   map[int][][]byte // kept buffers by class
	maps   map[*byte]bool   // every mapped buffer, by its first byte
	idle   *time.Timer      // unmaps the kept buffers; nil when not armed
	gen    uint64           // bumped by every get, so a stale timer does nothing
}

func newBufPool(limit int64) *bufPool {
	return &bufPool{limit: limit, free: map[int][][]byte{}, maps: map[*byte]bool{}}
}

// get returns a buffer of length n whose class size the caller holds of
// the server budget.
func (p *bufPool) get(n int) []byte {
	k := bufClass(n)
	size := int64(1) << k
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.inUse += size
	if l := p.free[k]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[k] = l[:len(l)-1]
		return b[:n]
	}
	for c, l := range p.free {
		for len(l) > 0 && p.mapped+size > p.limit {
			p.unmap(l[len(l)-1])
			l = l[:len(l)-1]
		}
		p.free[c] = l
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		// Out of address space or map count: fall back to the heap
		// (put recognises such a buffer by not finding it mapped).
		return make([]byte, n, size)
	}
	p.mapped += size
	p.maps[&b[0]] = true
	return b[:n]
}

func (p *bufPool) unmap(b []byte) {
	p.mapped -= int64(cap(b))
	delete(p.maps, &b[:1][0])
	if err := unix.Munmap(b[:cap(b)]); err != nil {
		panic("nbdserve: munmap of a payload buffer: " + err.Error())
	}
}

// put takes back a buffer from get; the caller must not touch it again.
func (p *bufPool) put(b []byte) {
	size := int64(cap(b))
	k := bufClass(cap(b))
	b = b[:cap(b)]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse -= size
	if !p.maps[&b[0]] {
		return // a heap fallback: the garbage collector frees it
	}
	p.free[k] = append(p.free[k], b)
	if p.inUse == 0 && p.idle == nil {
		gen := p.gen
		p.idle = time.AfterFunc(poolIdle, func() { p.shrink(gen) })
	}
}

// shrink unmaps the kept buffers if nothing was taken since gen;
// otherwise it waits for the next idle moment.
func (p *bufPool) shrink(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = nil
	if p.inUse != 0 {
		return
	}
	if p.gen != gen {
		gen = p.gen
		p.idle = time.AfterFunc(poolIdle, func() { p.shrink(gen) })
		return
	}
	for k, l := range p.free {
		for _, b := range l {
			p.unmap(b)
		}
		delete(p.free, k)
	}
}

// mappedBytes is the payload memory mapped now, in use or kept.
func (p *bufPool) mappedBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mapped
}
