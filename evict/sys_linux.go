//go:build linux

package evict

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/pagecache"
)

// supported reports whether this system has the calls the policies need.
func supported() error { return nil }

// startWriteback asks the kernel to start writing [off, off+n) back,
// without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). It can fail
// with EIO, which fails the write that asked for it.
func startWriteback(fd int, off, n int64) error {
	return retryEINTR(func() error {
		return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// waitWriteback writes [off, off+n) back and waits until it is on disk
// (WAIT_BEFORE|WRITE|WAIT_AFTER), so that the pages are clean.
func waitWriteback(fd int, off, n int64) error {
	return retryEINTR(func() error {
		return unix.SyncFileRange(fd, off, n,
			unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	})
}

// dropCache advises the kernel to drop the clean pages of [off, off+n).
// It is best-effort: the kernel skips dirty, locked and mapped pages and
// folios that reach outside the range, so its result is not reported.
func dropCache(fd int, off, n int64) {
	_ = unix.Fadvise(fd, off, n, unix.FADV_DONTNEED)
}

// datasync is fdatasync(2).
func datasync(fd int) error {
	return retryEINTR(func() error { return unix.Fdatasync(fd) })
}

func retryEINTR(call func() error) error {
	for {
		err := call()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// fileSize is the size of a regular file, or of a block device
// (BLKGETSIZE64: fstat reports 0 for one). Other files have no page cache
// of their own for read=fresh to manage.
func fileSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return fi.Size(), nil
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		n, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
		if err != nil {
			return 0, fmt.Errorf("ioctl BLKGETSIZE64 %s: %w", f.Name(), err)
		}
		return int64(n), nil
	default:
		return 0, fmt.Errorf("read=fresh needs a regular file or a block device, %s is %v", f.Name(), m.Type())
	}
}

// residentRuns returns the byte ranges of f's first size bytes that are in
// the page cache (pagecache.Resident: cachestat skips what holds nothing,
// so the cost follows what is cached, not size). blind is true when the
// kernel would not tell this caller the truth (neither owner nor writer):
// read=fresh then drops nothing, the safe side.
func residentRuns(f *os.File, size int64) (runs []span64, blind bool, err error) {
	rs, err := pagecache.Resident(f, pagecache.Range{Length: size})
	if errors.Is(err, pagecache.ErrNotPermitted) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	runs = make([]span64, len(rs))
	for i, r := range rs {
		runs[i] = span64{r.Offset, r.Offset + r.Length}
	}
	return runs, false, nil
}

// cachedPages is the number of pages of [off, off+n) in the page cache,
// counting those whose read is still in flight (cachestat; mincore, which
// sees only completed ones, on older kernels). Errors count as none.
func cachedPages(f *os.File, off, n int64) int64 {
	st, err := pagecache.StatFile(f, pagecache.Range{Offset: off, Length: n})
	if err != nil {
		return 0
	}
	return st.Resident
}

// settle waits until the read I/O in flight on [off, off+n) has finished,
// so that a following DONTNEED can drop those pages: the kernel skips
// folios that are locked for readahead, and they would stay cached when
// the I/O completes. It does not depend on timing or on the size of the
// readahead window. pagecache.Loading finds the pages that are in the
// cache but not up to date (cachestat counts them, mincore does not); each
// of them is touched through a mapping with readahead disabled
// (MADV_RANDOM), and a fault on a folio under I/O sleeps on the folio's
// lock until the I/O ends. A page that completed or left meanwhile costs
// nothing or one page read. The mapping is gone when settle returns, so
// the pages are not mapped when DONTNEED comes. Best-effort: without
// cachestat (before Linux 6.5) nothing is waited for.
func settle(f *os.File, off, n int64) {
	loading, err := pagecache.Loading(f, pagecache.Range{Offset: off, Length: n})
	if err != nil {
		return
	}
	for _, r := range loading {
		touch(int(f.Fd()), r.Offset, r.Length)
	}
}

// touch reads one byte of every page of [off, off+n) through a mapping
// with readahead disabled. off is page-aligned.
func touch(fd int, off, n int64) {
	mem, err := unix.Mmap(fd, off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return
	}
	defer unix.Munmap(mem)
	if err := unix.Madvise(mem, unix.MADV_RANDOM); err != nil {
		return
	}
	// A page beyond the end of a file truncated meanwhile raises SIGBUS;
	// turn that into a recovered panic rather than a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { _ = recover() }()
	var sum byte
	for i := 0; i < len(mem); i += os.Getpagesize() {
		sum += mem[i]
	}
	touched = sum
}

// touched keeps the compiler from discarding touch's reads; it is only
// ever written.
//
//lint:ignore U1000 a sink: the reads that feed it are what matters.
var touched byte
