package evict

import (
	"fmt"
	"os"
	"sort"
	"sync"
)

// span64 is the byte range [start, end).
type span64 struct{ start, end int64 }

// maxPendingBlocks bounds the blocks read=fresh remembers as partly read;
// beyond it the oldest is dropped as it stands.
const maxPendingBlocks = 1024

// readaheadAllowance is how far past the furthest read Close looks for pages
// that readahead brought in: the kernel's largest readahead window is the
// device's read_ahead_kb (8 MiB on this suite's machines), rounded to folios.
const readaheadAllowance = 16 << 20

// freshTracker carries out read=fresh for one file. It remembers which pages
// were cached when the file was attached, collects the ranges that reads
// covered per aligned block, and once a block has been read whole it drops
// the pages of the block that were not cached before. Dropping whole blocks
// rather than each read's range is what lets the kernel drop large folios:
// POSIX_FADV_DONTNEED only drops folios that lie entirely in its range, and
// readahead builds folios of up to 2 MiB.
type freshTracker struct {
	fd     int
	block  int64
	size   int64    // file size at attach; the last block ends here
	cached []span64 // resident at attach, sorted

	mu      sync.Mutex
	pending map[int64][]span64 // block number -> read ranges, sorted, merged
	order   []int64            // blocks in the order they became pending
	hi      int64              // end of the furthest read
}

func newFreshTracker(f *os.File, fd int, block int64) (*freshTracker, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read=fresh needs a regular file, %s is %v", f.Name(), fi.Mode().Type())
	}
	cached, err := residentRuns(f, fi.Size())
	if err != nil {
		return nil, err
	}
	return &freshTracker{fd: fd, block: block, size: fi.Size(), cached: cached, pending: map[int64][]span64{}}, nil
}

// afterRead records a read of [off, off+n) and drops the blocks it completes.
func (t *freshTracker) afterRead(off, n int64) {
	end := off + n
	var done []int64
	t.mu.Lock()
	t.hi = max(t.hi, end)
	for b := off / t.block; b*t.block < end; b++ {
		bs, be := b*t.block, (b+1)*t.block
		if bs < t.size && t.size < be {
			be = t.size
		}
		cov := addSpan(t.pending[b], span64{max(off, bs), min(end, be)})
		if len(cov) == 1 && cov[0].start <= bs && cov[0].end >= be {
			delete(t.pending, b)
			done = append(done, b)
			continue
		}
		if _, ok := t.pending[b]; !ok {
			t.order = append(t.order, b)
		}
		t.pending[b] = cov
	}
	for len(t.pending) > maxPendingBlocks {
		b := t.order[0]
		t.order = t.order[1:]
		if _, ok := t.pending[b]; ok {
			delete(t.pending, b)
			done = append(done, b)
		}
	}
	if len(t.order) > 2*len(t.pending)+64 {
		live := t.order[:0]
		for _, b := range t.order {
			if _, ok := t.pending[b]; ok {
				live = append(live, b)
			}
		}
		t.order = live
	}
	t.mu.Unlock()
	for _, b := range done {
		t.drop(b)
	}
}

// flush drops every block that reads touched but did not complete, and
// the blocks readahead may have filled past the furthest read.
func (t *freshTracker) flush() {
	t.mu.Lock()
	blocks := make([]int64, 0, len(t.pending))
	for b := range t.pending {
		blocks = append(blocks, b)
	}
	if t.hi > 0 {
		for b := t.hi / t.block; b*t.block < min(t.hi+readaheadAllowance, t.size); b++ {
			if _, ok := t.pending[b]; !ok {
				blocks = append(blocks, b)
			}
		}
	}
	t.pending = map[int64][]span64{}
	t.order = nil
	t.hi = 0
	t.mu.Unlock()
	for _, b := range blocks {
		t.drop(b)
	}
}

// drop advises the kernel to drop the pages of block b that were not cached
// at attach.
func (t *freshTracker) drop(b int64) {
	bs, be := b*t.block, (b+1)*t.block
	i := sort.Search(len(t.cached), func(i int) bool { return t.cached[i].end > bs })
	for pos := bs; pos < be; i++ {
		gapEnd := be
		if i < len(t.cached) && t.cached[i].start < be {
			gapEnd = t.cached[i].start
		}
		if gapEnd > pos {
			dropCache(t.fd, pos, gapEnd-pos)
		}
		if i >= len(t.cached) || t.cached[i].start >= be {
			break
		}
		pos = t.cached[i].end
	}
}

// addSpan inserts s into the sorted, merged list l.
func addSpan(l []span64, s span64) []span64 {
	out := make([]span64, 0, len(l)+1)
	i := 0
	for ; i < len(l) && l[i].end < s.start; i++ {
		out = append(out, l[i])
	}
	for ; i < len(l) && l[i].start <= s.end; i++ {
		s.start, s.end = min(s.start, l[i].start), max(s.end, l[i].end)
	}
	out = append(out, s)
	return append(out, l[i:]...)
}
