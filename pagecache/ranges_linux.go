//go:build linux

package pagecache

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Resident returns the byte ranges of r of f whose pages are in the page
// cache and up to date (what mincore(2) reports), page-aligned, merged and
// in order. It works on regular files and block devices.
//
// Its cost follows what is cached, not the length of r: it asks
// cachestat(2) first and skips, by halving, every stretch in which no page
// is cached, running mincore only over windows that hold some. On a 15 TiB
// sparse file with nothing cached that is one system call. On kernels
// without cachestat it runs mincore over all of r in bounded windows.
//
// Like mincore for a caller that neither owns nor can write f, it fails
// with ErrNotPermitted rather than report every page resident.
func Resident(f *os.File, r Range) ([]Range, error) {
	w, err := newWalker(f, r)
	if err != nil || w == nil {
		return nil, err
	}
	if err := w.visit(w.first, w.n, false); err != nil {
		return nil, err
	}
	return w.resident, nil
}

// Loading returns the byte ranges of r of f whose pages are in the page
// cache but not up to date: folios that readahead (or a read) has added
// and whose read I/O has not completed, or has failed. mincore reports
// them absent and POSIX_FADV_DONTNEED skips them while they are locked for
// the I/O; cachestat(2) counts them, and the difference between the two,
// narrowed down by halving, finds them. It needs cachestat (Linux 6.5+)
// and fails with an error matching ErrNoCachestat without it.
func Loading(f *os.File, r Range) ([]Range, error) {
	w, err := newWalker(f, r)
	if err != nil || w == nil {
		return nil, err
	}
	if noCachestat.Load() {
		return nil, &fs.PathError{Op: "cachestat", Path: f.Name(), Err: ErrNoCachestat}
	}
	switch err := w.visit(w.first, w.n, true); {
	case errors.Is(err, unix.ENOSYS):
		return nil, &fs.PathError{Op: "cachestat", Path: f.Name(), Err: ErrNoCachestat}
	case err != nil:
		return nil, err
	}
	return w.loading, nil
}

// walker carries one Resident or Loading call over the pages
// [first, first+n) of f.
type walker struct {
	f                 *os.File
	fd                int
	first, n          int64 // pages
	vec               []byte
	resident, loading []Range
}

// newWalker checks f and r the way StatFile does; it returns nil for an
// empty range.
func newWalker(f *os.File, r Range) (*walker, error) {
	st, sys, err := prepare(f, r)
	if err != nil || st.Pages == 0 {
		return nil, err
	}
	if err := checkVisible(f, sys); err != nil {
		return nil, err
	}
	return &walker{f: f, fd: int(f.Fd()), first: pageOf(st.Offset), n: st.Pages}, nil
}

// count is the number of pages of [first, first+n) in the page cache,
// up to date or not, from cachestat; ok is false when the kernel lacks it.
func (w *walker) count(first, n int64) (c int64, ok bool, err error) {
	if noCachestat.Load() {
		return 0, false, nil
	}
	cr := unix.CachestatRange{Off: uint64(first * int64(pageSize)), Len: uint64(n * int64(pageSize))}
	var cs unix.Cachestat_t
	switch err := cachestat(uint(w.fd), &cr, &cs, 0); {
	case err == nil:
		return int64(cs.Cache), true, nil
	case errors.Is(err, unix.ENOSYS):
		noCachestat.Store(true)
		return 0, false, nil
	case errors.Is(err, unix.EPERM):
		return 0, false, &fs.PathError{Op: "cachestat", Path: w.f.Name(), Err: ErrNotPermitted}
	default:
		return 0, false, &fs.PathError{Op: "cachestat", Path: w.f.Name(), Err: err}
	}
}

// visit walks [first, first+n): halves stretches that cachestat says hold
// something until they fit one mincore window, records the up-to-date
// pages, and with loading narrows down the pages cachestat counts and
// mincore does not.
func (w *walker) visit(first, n int64, loading bool) error {
	c, ok, err := w.count(first, n)
	if err != nil {
		return err
	}
	if ok && c == 0 {
		return nil
	}
	if perWindow := int64(windowBytes / pageSize); n > perWindow {
		half := n / 2
		if err := w.visit(first, half, loading); err != nil {
			return err
		}
		return w.visit(first+half, n-half, loading)
	}
	if loading && !ok {
		return unix.ENOSYS
	}
	if int64(cap(w.vec)) < n {
		w.vec = make([]byte, n)
	}
	vec := w.vec[:n]
	if err := mincoreWindow(w.fd, first*int64(pageSize), int(n)*pageSize, vec); err != nil {
		return &fs.PathError{Op: "mincore", Path: w.f.Name(), Err: err}
	}
	if !loading {
		for i, b := range vec {
			if b&1 != 0 {
				w.resident = appendPage(w.resident, first+int64(i))
			}
		}
		return nil
	}
	return w.narrow(first, vec, c)
}

// narrow finds the pages of vec (file page first onwards) that are cached
// (c of them, by cachestat) but not up to date, halving while the counts
// differ. A page that completes or goes meanwhile only makes the counts
// agree sooner.
func (w *walker) narrow(first int64, vec []byte, c int64) error {
	var upToDate int64
	for _, b := range vec {
		upToDate += int64(b & 1)
	}
	if c <= upToDate {
		return nil
	}
	if len(vec) == 1 {
		w.loading = appendPage(w.loading, first)
		return nil
	}
	half := int64(len(vec) / 2)
	for _, part := range [2]struct {
		first int64
		vec   []byte
	}{{first, vec[:half]}, {first + half, vec[half:]}} {
		c, _, err := w.count(part.first, int64(len(part.vec)))
		if err != nil {
			return err
		}
		if err := w.narrow(part.first, part.vec, c); err != nil {
			return err
		}
	}
	return nil
}

// appendPage adds page p to the sorted ranges l, merging it with the last.
func appendPage(l []Range, p int64) []Range {
	off := p * int64(pageSize)
	if k := len(l) - 1; k >= 0 && l[k].Offset+l[k].Length == off {
		l[k].Length += int64(pageSize)
		return l
	}
	return append(l, Range{Offset: off, Length: int64(pageSize)})
}
