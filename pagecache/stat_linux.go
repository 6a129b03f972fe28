//go:build linux

package pagecache

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errors and messages here avoid fmt: cachestats links this code, and fmt
// with the reflection it brings adds a tenth to a peak RSS that is compared
// with fincore's.

var errNegativeRange = errors.New("negative range offset or length")

// cachestat is the system call; tests replace it to act out older kernels.
var cachestat = unix.Cachestat

// noCachestat is set once the kernel has answered ENOSYS to cachestat(2),
// so later calls go straight to mincore.
var noCachestat atomic.Bool

// Open opens path read-only for measuring, the way StatPath does. What has
// no page cache (a FIFO, a socket, a character device, a directory) is
// refused with ErrNoPageCache from stat(2) alone, before any open: opening
// a device node can have side effects (a tape rewinds, a tty changes
// hands, a FIFO's writer is released). The open itself does not wait for
// a FIFO's writer nor take a controlling terminal, should the path be
// replaced between the stat and the open; prepare's fstat then refuses it.
// The descriptor is left blocking and made with os.NewFile, so that the
// runtime does not set up its network poller for a file that is never
// read: a one-shot cachestats stays smaller.
func Open(path string) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFBLK {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: ErrNoPageCache}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// StatFile measures r of the open file f with cachestat(2), or with mincore
// on kernels that lack it. With cachestat it costs one fstat and one
// cachestat call, cheap enough to sample a growing file every few
// milliseconds; the size is read at each call.
func StatFile(f *os.File, r Range) (Stat, error) {
	return StatFileUsing(f, r, MethodAuto)
}

// StatFileMincore measures r of f with mincore(2) only, whatever the kernel
// offers. It gives no extended counts.
func StatFileMincore(f *os.File, r Range) (Stat, error) {
	return StatFileUsing(f, r, MethodMincore)
}

// StatFileUsing measures r of f with the Method m. MethodAuto prefers
// cachestat(2) and falls back to mincore(2) when the kernel lacks it;
// MethodCachestat fails with ErrNoCachestat there instead.
func StatFileUsing(f *os.File, r Range, m Method) (Stat, error) {
	st, sys, err := prepare(f, r)
	if err != nil {
		return Stat{}, err
	}
	switch m {
	case MethodAuto, MethodCachestat:
		if !noCachestat.Load() {
			err = statCachestat(f, &st)
			if !errors.Is(err, unix.ENOSYS) {
				break
			}
			noCachestat.Store(true)
		}
		if m == MethodCachestat {
			err = &fs.PathError{Op: "cachestat", Path: f.Name(), Err: ErrNoCachestat}
			break
		}
		err = statMincore(f, sys, &st)
	case MethodMincore:
		err = statMincore(f, sys, &st)
	default:
		err = errors.New("pagecache: unknown method " + strconv.Quote(string(m)))
	}
	if err != nil {
		return Stat{}, err
	}
	return st, nil
}

// prepare fstats f, checks that it has a page cache and fills in the size
// and the page span of r.
func prepare(f *os.File, r Range) (Stat, *syscall.Stat_t, error) {
	if r.Offset < 0 || r.Length < 0 {
		return Stat{}, nil, &fs.PathError{Op: "stat", Path: f.Name(), Err: errNegativeRange}
	}
	fi, err := f.Stat()
	if err != nil {
		return Stat{}, nil, err
	}
	sys := fi.Sys().(*syscall.Stat_t)
	st := Stat{Path: f.Name(), Size: fi.Size(), PageSize: pageSize, Offset: r.Offset}
	switch mode := fi.Mode(); {
	case mode.IsRegular():
	case mode&fs.ModeDevice != 0 && mode&fs.ModeCharDevice == 0:
		// A block device has a page cache of its own; fstat says size 0.
		size, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
		if err != nil {
			return Stat{}, nil, &fs.PathError{Op: "ioctl BLKGETSIZE64", Path: f.Name(), Err: err}
		}
		st.Size = int64(size)
	default:
		return Stat{}, nil, &fs.PathError{Op: "stat", Path: f.Name(), Err: ErrNoPageCache}
	}
	end := st.Size
	if r.Length > 0 && r.Offset+r.Length < end {
		end = r.Offset + r.Length
	}
	if r.Offset >= end {
		return st, sys, nil
	}
	st.Length = end - r.Offset
	st.Pages = pageOf(end+int64(pageSize)-1) - pageOf(r.Offset)
	return st, sys, nil
}

var pageSize = os.Getpagesize()

func pageOf(off int64) int64 { return off / int64(pageSize) }

// statCachestat fills in st's counts with one cachestat(2) call over the
// pages of st's range. Its error matches unix.ENOSYS (errors.Is) when the
// kernel lacks the call.
func statCachestat(f *os.File, st *Stat) error {
	if st.Pages == 0 { // nothing to ask; all counts are zero
		st.Method, st.Extended = MethodCachestat, true
		return nil
	}
	cr := unix.CachestatRange{
		Off: uint64(pageOf(st.Offset) * int64(pageSize)),
		Len: uint64(st.Pages * int64(pageSize)),
	}
	var cs unix.Cachestat_t
	switch err := cachestat(uint(f.Fd()), &cr, &cs, 0); {
	case err == nil:
	case errors.Is(err, unix.EPERM):
		return &fs.PathError{Op: "cachestat", Path: f.Name(), Err: ErrNotPermitted}
	default:
		return &fs.PathError{Op: "cachestat", Path: f.Name(), Err: err}
	}
	st.Method, st.Extended = MethodCachestat, true
	st.Resident = int64(cs.Cache)
	st.Dirty = int64(cs.Dirty)
	st.Writeback = int64(cs.Writeback)
	st.Evicted = int64(cs.Evicted)
	st.RecentlyEvicted = int64(cs.Recently_evicted)
	return nil
}

// statMincore fills in st's resident count with mincore(2).
func statMincore(f *os.File, sys *syscall.Stat_t, st *Stat) error {
	st.Method = MethodMincore
	if st.Pages == 0 {
		return nil
	}
	if err := checkVisible(f, sys); err != nil {
		return err
	}
	var n int64
	err := mincoreWindows(f, pageOf(st.Offset), st.Pages, func(_ int64, vec []byte) {
		for _, b := range vec {
			n += int64(b & 1)
		}
	})
	st.Resident = n
	return err
}

// MapFile returns the page map of r of f, one bit per page, read with
// mincore(2) in bounded windows, and the Stat that its bits add up to
// (Method mincore, no extended counts).
func MapFile(f *os.File, r Range) (Stat, *PageMap, error) {
	st, sys, err := prepare(f, r)
	if err != nil {
		return Stat{}, nil, err
	}
	st.Method = MethodMincore
	m := NewPageMap(pageOf(st.Offset), st.Pages)
	if st.Pages == 0 {
		return st, m, nil
	}
	if err := checkVisible(f, sys); err != nil {
		return Stat{}, nil, err
	}
	err = mincoreWindows(f, m.First, st.Pages, func(page int64, vec []byte) {
		for i, b := range vec {
			if b&1 != 0 {
				m.Set(page - m.First + int64(i))
			}
		}
	})
	if err != nil {
		return Stat{}, nil, err
	}
	st.Resident = m.Count()
	return st, m, nil
}

// checkVisible refuses to run mincore where the kernel (5.2+) would report
// every page resident: when the caller neither owns the file nor could open
// it for writing. The test mirrors the kernel's can_do_mincore.
func checkVisible(f *os.File, sys *syscall.Stat_t) error {
	euid := os.Geteuid()
	if euid == 0 || uint32(euid) == sys.Uid {
		return nil
	}
	fd := int(f.Fd())
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_ACCMODE != unix.O_RDONLY {
		return nil
	}
	err := unix.Faccessat2(fd, "", unix.W_OK, unix.AT_EACCESS|unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOSYS) { // before Linux 5.8
		err = unix.Faccessat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.W_OK, unix.AT_EACCESS)
	}
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: "mincore", Path: f.Name(), Err: ErrNotPermitted}
}
