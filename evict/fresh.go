package evict

import (
	"os"
	"sort"
	"sync"
)

// span64 is the byte range [start, end).
type span64 struct{ start, end int64 }

// Bounds and lags of read=fresh.
const (
	// maxPendingBlocks bounds the blocks remembered as partly read; beyond
	// it the oldest is dropped as it stands.
	maxPendingBlocks = 1024
	// shadowLag is how many bytes the file's readers must read elsewhere
	// before a run of reads that stopped growing counts as finished and
	// what readahead left past its end is dropped.
	shadowLag = 64 << 20
	// sweepEvery is how often, in bytes read, runs are checked for that.
	sweepEvery = 8 << 20
	// maxRuns bounds the runs remembered; the least recently extended go.
	maxRuns = 4096
)

// readRun is a maximal range that reads have covered.
type readRun struct {
	span64
	touched  int64 // the tracker's clock when the run last grew
	shadowed bool  // its readahead shadow was dropped since it last grew
}

// freshTracker carries out read=fresh for one file. It remembers which pages
// were cached when the file was attached, collects the ranges that reads
// covered per aligned block, and once a block has been read whole it drops
// the pages of the block that were not cached before. Dropping whole blocks
// rather than each read's range is what lets the kernel drop large folios:
// POSIX_FADV_DONTNEED only drops folios that lie entirely in its range, and
// readahead builds folios of up to 2 MiB.
//
// Readahead also fills the cache past where a run of reads stops, as far
// as the open file's readahead window reaches: the device's read_ahead_kb
// (doubled by POSIX_FADV_SEQUENTIAL), or more for a large request on a
// device whose max_sectors_kb is larger, and up to two windows ahead of
// the reader once asynchronous readahead runs. Rather than assume a
// window, the tracker keeps the runs of reads and, once a run has not
// grown while shadowLag bytes were read elsewhere, and at Close, asks the
// page cache how far the shadow reaches: it walks the blocks past the
// run's end while they hold pages that were not cached at attach
// (cachestat counts pages whose read is still in flight), up to the next
// run. It then waits for the read I/O still in flight there (settle) and
// drops those pages.
//
// Where the kernel would not tell this caller which pages are cached
// (neither owner nor writer of the file), the tracker is blind and drops
// nothing.
type freshTracker struct {
	f      *os.File
	fd     int
	block  int64
	size   int64    // file size at attach; the last block ends here
	cached []span64 // resident at attach, sorted
	blind  bool     // residency is hidden from us: drop nothing

	mu        sync.Mutex
	pending   map[int64][]span64 // block number -> read ranges, sorted, merged
	order     []int64            // blocks in the order they became pending
	runs      []readRun          // sorted, neither overlapping nor touching
	clock     int64              // bytes read so far
	nextSweep int64
}

// newFreshTracker snapshots what of f is cached. Its cost follows what is
// cached, not the size of f (see residentRuns).
func newFreshTracker(f *os.File, fd int, block int64) (*freshTracker, error) {
	size, err := fileSize(f)
	if err != nil {
		return nil, err
	}
	cached, blind, err := residentRuns(f, size)
	if err != nil {
		return nil, err
	}
	return &freshTracker{f: f, fd: fd, block: block, size: size, cached: cached, blind: blind, pending: map[int64][]span64{}}, nil
}

// afterRead records a read of [off, off+n) and drops the blocks it
// completes and the readahead shadows of runs that have finished.
func (t *freshTracker) afterRead(off, n int64) {
	if t.blind {
		return
	}
	end := off + n
	var done []int64
	var shadows []span64
	t.mu.Lock()
	t.clock += n
	t.extendRun(span64{off, end})
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
	if t.clock >= t.nextSweep || len(t.runs) > maxRuns {
		t.nextSweep = t.clock + sweepEvery
		shadows = t.sweep(false)
	}
	t.mu.Unlock()
	for _, b := range done {
		t.drop(b*t.block, (b+1)*t.block)
	}
	t.dropShadows(shadows)
}

// extendRun merges s into the runs. Call with mu held.
func (t *freshTracker) extendRun(s span64) {
	i := sort.Search(len(t.runs), func(i int) bool { return t.runs[i].end >= s.start })
	j := i
	for ; j < len(t.runs) && t.runs[j].start <= s.end; j++ {
		s.start, s.end = min(s.start, t.runs[j].start), max(s.end, t.runs[j].end)
	}
	t.runs = append(t.runs[:i], append([]readRun{{span64: s, touched: t.clock}}, t.runs[j:]...)...)
}

// sweep returns the readahead shadows of the runs that have finished (all
// of them, with all), marking those runs shadowed, and forgets the least
// recently extended runs beyond maxRuns. A shadow is where the walk starts
// (the block of the run's end) and where it must stop (the next run, which
// drops its own). Call with mu held.
func (t *freshTracker) sweep(all bool) []span64 {
	var shadows []span64
	shadow := func(i int) {
		r := &t.runs[i]
		if r.shadowed {
			return
		}
		r.shadowed = true
		limit := t.size
		if i+1 < len(t.runs) {
			limit = t.runs[i+1].start
		}
		shadows = append(shadows, span64{r.end / t.block * t.block, limit})
	}
	for i := range t.runs {
		if all || t.clock-t.runs[i].touched > shadowLag {
			shadow(i)
		}
	}
	if len(t.runs) > maxRuns {
		byAge := make([]int, len(t.runs))
		for i := range byAge {
			byAge[i] = i
		}
		sort.Slice(byAge, func(a, b int) bool { return t.runs[byAge[a]].touched < t.runs[byAge[b]].touched })
		gone := map[int]bool{}
		for _, i := range byAge[:len(t.runs)-maxRuns] {
			shadow(i)
			gone[i] = true
		}
		kept := t.runs[:0]
		for i, r := range t.runs {
			if !gone[i] {
				kept = append(kept, r)
			}
		}
		t.runs = kept
	}
	return shadows
}

// flush drops every block that reads touched but did not complete, and the
// readahead shadows of every run.
func (t *freshTracker) flush() {
	if t.blind {
		return
	}
	t.mu.Lock()
	shadows := t.sweep(true)
	blocks := make([]int64, 0, len(t.pending))
	for b := range t.pending {
		blocks = append(blocks, b)
	}
	t.pending = map[int64][]span64{}
	t.order = nil
	t.runs = nil
	t.mu.Unlock()
	sort.Slice(blocks, func(i, j int) bool { return blocks[i] < blocks[j] })
	for _, b := range blocks {
		bs, be := b*t.block, min((b+1)*t.block, t.size)
		settle(t.f, bs, be-bs)
		t.drop(bs, be)
	}
	t.dropShadows(shadows)
}

// dropShadows drops what readahead left past the end of runs of reads.
// Each shadow runs from its start, block by block, as long as the blocks
// hold pages that were not cached at attach (a block that was wholly
// cached at attach does not stop the walk: readahead skips such pages and
// goes on), and never past its limit. The first block, which holds the
// run's end, is always dropped. The pages whose read is still in
// flight are waited for first, so that DONTNEED can drop them.
func (t *freshTracker) dropShadows(shadows []span64) {
	for _, sh := range shadows {
		// The first block holds the run's end, where readahead starts.
		end := min(sh.start+t.block, sh.end, t.size)
		for end < min(sh.end, t.size) {
			be := min(end+t.block, sh.end, t.size)
			gaps := t.gaps(end, be)
			var fresh int64
			for _, g := range gaps {
				fresh += cachedPages(t.f, g.start, g.end-g.start)
			}
			if len(gaps) > 0 && fresh == 0 {
				break
			}
			end = be
		}
		if end > sh.start {
			settle(t.f, sh.start, end-sh.start)
			t.drop(sh.start, end)
		}
	}
}

// drop advises the kernel to drop the pages of [start, end) that were not
// cached at attach.
func (t *freshTracker) drop(start, end int64) {
	for _, g := range t.gaps(start, end) {
		dropCache(t.fd, g.start, g.end-g.start)
	}
}

// gaps returns the parts of [start, end) that were not cached at attach.
func (t *freshTracker) gaps(start, end int64) []span64 {
	var out []span64
	i := sort.Search(len(t.cached), func(i int) bool { return t.cached[i].end > start })
	for pos := start; pos < end; i++ {
		gapEnd := end
		if i < len(t.cached) && t.cached[i].start < end {
			gapEnd = t.cached[i].start
		}
		if gapEnd > pos {
			out = append(out, span64{pos, gapEnd})
		}
		if i >= len(t.cached) || t.cached[i].start >= end {
			break
		}
		pos = t.cached[i].end
	}
	return out
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
