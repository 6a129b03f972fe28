//go:build linux

package evict

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
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

// residentRuns returns the byte ranges of f's first size bytes that are in
// the page cache, page-aligned and merged, from mincore(2) over read-only
// PROT_NONE mappings of at most mincoreWindow bytes each.
//
// When the caller can neither write nor owns the file, Linux 5.2+ reports
// every page resident; read=fresh then drops nothing, which is the safe
// side of that lie.
func residentRuns(f *os.File, size int64) ([]span64, error) {
	const mincoreWindow = 1 << 30
	var runs []span64
	ps := int64(os.Getpagesize())
	for base := int64(0); base < size; base += mincoreWindow {
		n := min(size-base, mincoreWindow)
		var err error
		runs, err = residentWindow(f, base, n, ps, runs)
		if err != nil {
			return nil, err
		}
	}
	return runs, nil
}

func residentWindow(f *os.File, base, n, ps int64, runs []span64) ([]span64, error) {
	mem, err := unix.Mmap(int(f.Fd()), base, int(n), unix.PROT_NONE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s for mincore: %w", f.Name(), err)
	}
	defer unix.Munmap(mem)
	vec := make([]byte, (n+ps-1)/ps)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return nil, fmt.Errorf("mincore %s: %w", f.Name(), errno)
	}
	for i, v := range vec {
		if v&1 == 0 {
			continue
		}
		off := base + int64(i)*ps
		if k := len(runs) - 1; k >= 0 && runs[k].end == off {
			runs[k].end = off + ps
		} else {
			runs = append(runs, span64{off, off + ps})
		}
	}
	return runs, nil
}

// settle waits until the read I/O in flight on the cached pages of
// [off, off+n) has finished, so that a following DONTNEED can drop them:
// the kernel skips folios that are locked for readahead. It maps the range
// with readahead disabled (MADV_RANDOM) and touches each resident page,
// which waits for a locked folio and reads nothing new. off must be
// page-aligned. Best-effort: errors leave the pages to DONTNEED as they are.
func settle(fd int, off, n int64) {
	if n <= 0 {
		return
	}
	mem, err := unix.Mmap(fd, off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return
	}
	defer unix.Munmap(mem)
	if err := unix.Madvise(mem, unix.MADV_RANDOM); err != nil {
		return
	}
	ps := os.Getpagesize()
	vec := make([]byte, (len(mem)+ps-1)/ps)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return
	}
	// A page beyond the end of a file truncated meanwhile raises SIGBUS;
	// turn that into a recovered panic rather than a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { _ = recover() }()
	var sum byte
	for i, v := range vec {
		if v&1 != 0 {
			sum += mem[i*ps]
		}
	}
	touched = sum
}

// touched keeps the compiler from discarding settle's reads; it is only
// ever written.
//
//lint:ignore U1000 a sink: the reads that feed it are what matters.
var touched byte
