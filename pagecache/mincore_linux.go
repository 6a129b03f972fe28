//go:build linux

package pagecache

import (
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// windowBytes bounds each mapping mincoreWindows makes, so that an 8 GiB
// file needs neither 8 GiB of address space nor a 2 MiB vector at once.
// Tests shrink it to cross window boundaries on small files.
var windowBytes = 128 << 20

// mincoreWindows calls fn with the mincore(2) vector of every window of
// the n pages of f starting at page first. page is the file page index of
// vec[0]; vec is reused between calls.
func mincoreWindows(f *os.File, first, n int64, fn func(page int64, vec []byte)) error {
	perWindow := int64(windowBytes / pageSize)
	vec := make([]byte, min(perWindow, n))
	fd := int(f.Fd())
	for p := first; p < first+n; p += perWindow {
		k := min(perWindow, first+n-p)
		if err := mincoreWindow(fd, p*int64(pageSize), int(k)*pageSize, vec[:k]); err != nil {
			return &fs.PathError{Op: "mincore", Path: f.Name(), Err: err}
		}
		fn(p, vec[:k])
	}
	return nil
}

// mincoreWindow maps length bytes of fd at off with PROT_NONE, so that the
// pages can never be faulted in, and asks mincore about them. The mapping
// is never touched.
func mincoreWindow(fd int, off int64, length int, vec []byte) error {
	addr, err := unix.MmapPtr(fd, off, nil, uintptr(length), unix.PROT_NONE, unix.MAP_SHARED)
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	defer unix.MunmapPtr(addr, uintptr(length))
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(addr), uintptr(length), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return errno
	}
	return nil
}
