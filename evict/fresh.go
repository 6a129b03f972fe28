package evict

import (
	"fmt"
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
	// readaheadAllowance is how far past the end of a run of reads
	// readahead may have filled the cache: the kernel's largest window is
	// the device's read_ahead_kb (8 MiB on this suite's machines), and
	// folios round it up.
	readaheadAllowance = 16 << 20
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
// Readahead also fills the cache past where a run of reads stops. The
// tracker keeps the runs of reads; once a run has not grown while
// shadowLag bytes were read elsewhere, and at Close, it waits for the
// readahead I/O in the readaheadAllowance past the run's end and drops
// those blocks too.
type freshTracker struct {
	fd     int
	block  int64
	size   int64    // file size at attach; the last block ends here
	cached []span64 // resident at attach, sorted

	mu        sync.Mutex
	pending   map[int64][]span64 // block number -> read ranges, sorted, merged
	order     []int64            // blocks in the order they became pending
	runs      []readRun          // sorted, neither overlapping nor touching
	clock     int64              // bytes read so far
	nextSweep int64
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

// afterRead records a read of [off, off+n) and drops the blocks it
// completes and the readahead shadows of runs that have finished.
func (t *freshTracker) afterRead(off, n int64) {
	end := off + n
	var done, shadows []int64
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
		t.drop(b)
	}
	t.dropSettled(shadows)
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

// sweep returns the blocks of the readahead shadows of the runs that have
// finished (all of them, with all), marking those runs shadowed, and forgets
// the least recently extended runs beyond maxRuns. Call with mu held.
func (t *freshTracker) sweep(all bool) []int64 {
	var blocks []int64
	shadow := func(r *readRun) {
		if r.shadowed {
			return
		}
		r.shadowed = true
		limit := min(r.end+readaheadAllowance, t.size)
		for b := r.end / t.block; b*t.block < limit; b++ {
			blocks = append(blocks, b)
		}
	}
	for i := range t.runs {
		if all || t.clock-t.runs[i].touched > shadowLag {
			shadow(&t.runs[i])
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
			shadow(&t.runs[i])
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
	return blocks
}

// flush drops every block that reads touched but did not complete, and the
// readahead shadows of every run.
func (t *freshTracker) flush() {
	t.mu.Lock()
	blocks := t.sweep(true)
	for b := range t.pending {
		blocks = append(blocks, b)
	}
	t.pending = map[int64][]span64{}
	t.order = nil
	t.runs = nil
	t.mu.Unlock()
	t.dropSettled(blocks)
}

// dropSettled drops blocks that reads did not wholly cover, once the
// readahead I/O still running on them is done.
func (t *freshTracker) dropSettled(blocks []int64) {
	sort.Slice(blocks, func(i, j int) bool { return blocks[i] < blocks[j] })
	for i, b := range blocks {
		if i > 0 && blocks[i-1] == b {
			continue
		}
		settle(t.fd, b*t.block, min(t.block, t.size-b*t.block))
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
