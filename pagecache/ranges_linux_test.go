//go:build linux

package pagecache

import (
	"errors"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"golang.org/x/sys/unix"
)

// countCachestat wraps the cachestat system call for the rest of the test,
// counting the calls, and adds extra(first, n) to the count of each.
func countCachestat(t *testing.T, extra func(first, n int64) uint64) *int {
	t.Helper()
	real := cachestat
	t.Cleanup(func() { cachestat = real })
	calls := new(int)
	cachestat = func(fd uint, cr *unix.CachestatRange, cs *unix.Cachestat_t, flags uint) error {
		*calls++
		err := real(fd, cr, cs, flags)
		if err == nil && extra != nil {
			cs.Cache += extra(int64(cr.Off)/int64(pageSize), int64(cr.Len)/int64(pageSize))
		}
		return err
	}
	return calls
}

// TestResidentSparse finds two cached pages in a 15 TiB sparse file. Its
// cost must follow what is cached, not the size: a few cachestat calls per
// cached page for each halving down to one mincore window, where a scan
// would map and mincore 15 TiB.
func TestResidentSparse(t *testing.T) {
	path := filepath.Join(testenv.DiskDir(t), "sparse")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 15 << 40
	if err := f.Truncate(size); err != nil {
		t.Skipf("this file system cannot hold a %d-byte sparse file: %v", int64(size), err)
	}
	pages := []int64{7 << 40 / int64(pageSize), size/int64(pageSize) - 1}
	testenv.ReadPages(t, f, pages...)
	calls := countCachestat(t, nil)
	got, err := Resident(f, Range{})
	if err != nil {
		t.Fatal(err)
	}
	var want []Range
	for _, p := range pages {
		want = append(want, Range{Offset: p * int64(pageSize), Length: int64(pageSize)})
	}
	if !slices.Equal(got, want) {
		t.Errorf("Resident %v, want %v", got, want)
	}
	depth := bits.Len64(uint64(size / int64(windowBytes)))
	if limit := 1 + 2*depth*len(pages); *calls > limit {
		t.Errorf("%d cachestat calls for %d cached pages, want at most %d", *calls, len(pages), limit)
	}
	if _, err := StatFile(f, Range{}); err != nil { // f is still measurable
		t.Fatal(err)
	}
}

// TestLoading acts out folios whose read is in flight, which cachestat
// counts and mincore does not: a cachestat that counts extra pages at
// chosen places. Loading must name exactly those pages, across window
// boundaries, next to up-to-date pages.
func TestLoading(t *testing.T) {
	f, _ := testFile(t, 64)
	testenv.ReadPages(t, f, 3, 4, 40)
	defer func(w int) { windowBytes = w }(windowBytes)
	windowBytes = 16 * pageSize
	loading := []int64{5, 6, 7, 15, 16, 41, 63}
	countCachestat(t, func(first, n int64) uint64 {
		var c uint64
		for _, p := range loading {
			if p >= first && p < first+n {
				c++
			}
		}
		return c
	})
	got, err := Loading(f, Range{})
	if err != nil {
		t.Fatal(err)
	}
	ps := int64(pageSize)
	want := []Range{{5 * ps, 3 * ps}, {15 * ps, 2 * ps}, {41 * ps, ps}, {63 * ps, ps}}
	if !slices.Equal(got, want) {
		t.Errorf("Loading %v, want %v", got, want)
	}
	if got, err := Loading(f, Range{Offset: 6 * ps, Length: 10 * ps}); err != nil || !slices.Equal(got, []Range{{6 * ps, 2 * ps}, {15 * ps, ps}}) {
		t.Errorf("Loading of pages 6-15: %v, %v", got, err)
	}
	res, err := Resident(f, Range{})
	if err != nil || !slices.Equal(res, []Range{{3 * ps, 2 * ps}, {40 * ps, ps}}) {
		t.Errorf("Resident %v, %v; want pages 3-4 and 40 only", res, err)
	}
}

// TestRangesOldKernel: without cachestat, Resident falls back to mincore
// over the whole range and Loading says it cannot answer.
func TestRangesOldKernel(t *testing.T) {
	f, _ := testFile(t, 16)
	testenv.ReadPages(t, f, 2, 3, 9)
	defer func(c func(uint, *unix.CachestatRange, *unix.Cachestat_t, uint) error) {
		cachestat = c
		noCachestat.Store(false)
	}(cachestat)
	cachestat = func(uint, *unix.CachestatRange, *unix.Cachestat_t, uint) error { return unix.ENOSYS }
	ps := int64(pageSize)
	for range 2 {
		if got, err := Resident(f, Range{}); err != nil || !slices.Equal(got, []Range{{2 * ps, 2 * ps}, {9 * ps, ps}}) {
			t.Errorf("Resident without cachestat: %v, %v", got, err)
		}
		if _, err := Loading(f, Range{}); !errors.Is(err, ErrNoCachestat) {
			t.Errorf("Loading without cachestat: %v, want ErrNoCachestat", err)
		}
	}
}
