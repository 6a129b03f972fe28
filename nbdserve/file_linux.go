//go:build linux

package nbdserve

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// errIO is EIO for errors.Is and ErrnoOf.
var errIO error = syscall.EIO

// blockDeviceSize is the size of a block device, from BLKGETSIZE64 (fstat
// reports 0 for one).
func blockDeviceSize(f *os.File) (int64, error) {
	n, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		return 0, fmt.Errorf("ioctl BLKGETSIZE64: %w", err)
	}
	return int64(n), nil
}

func fdatasync(fd int) error {
	return ignoringEINTR(func() error { return unix.Fdatasync(fd) })
}

func punchHole(fd int, off, n int64) error {
	return ignoringEINTR(func() error {
		return unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	})
}

func zeroRange(fd int, off, n int64) error {
	return ignoringEINTR(func() error {
		return unix.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	})
}

// isNotSupported reports the errors fallocate gives when a file system or
// file type cannot do the operation asked.
func isNotSupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENODEV)
}

// willNeed starts readahead of a range. Advisory: a failure does not fail
// NBD_CMD_CACHE's semantics, but it is reported.
func willNeed(fd int, off, n int64) error {
	if err := unix.Fadvise(fd, off, n, unix.FADV_WILLNEED); err != nil {
		return fmt.Errorf("fadvise WILLNEED: %w", err)
	}
	return nil
}

// fadviseMode gives the whole-file access pattern hint. Best-effort: the
// kernel may ignore it, so only an unknown name is an error.
func fadviseMode(fd int, mode string) error {
	var advice int
	switch mode {
	case "", "normal":
		advice = unix.FADV_NORMAL
	case "random":
		advice = unix.FADV_RANDOM
	case "sequential":
		advice = unix.FADV_SEQUENTIAL
	default:
		return fmt.Errorf("fadvise=%q: want normal, random or sequential", mode)
	}
	_ = unix.Fadvise(fd, 0, 0, advice) // best-effort hint
	return nil
}

// extents walks [off, off+n) with SEEK_DATA and SEEK_HOLE. Holes read as
// zeroes. A file system without SEEK_DATA reports everything as data.
func extents(fd int, size, off, n int64, max int) ([]Extent, error) {
	end := off + n
	var out []Extent
	for pos := off; pos < end && len(out) < max; {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO):
			data = size // only a hole from pos to the end of the file
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP):
			return append(out, Extent{Length: end - pos}), nil
		case err != nil:
			return nil, fmt.Errorf("lseek SEEK_DATA at %d: %w", pos, err)
		}
		if data > pos {
			next := min(data, end)
			out = append(out, Extent{Length: next - pos, Hole: true, Zero: true})
			pos = next
			continue
		}
		hole, err := unix.Seek(fd, pos, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("lseek SEEK_HOLE at %d: %w", pos, err)
		}
		next := min(hole, end)
		if next <= pos { // cannot happen on a sane file system; make progress
			next = end
		}
		out = append(out, Extent{Length: next - pos})
		pos = next
	}
	return out, nil
}

func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if err != unix.EINTR {
			return err
		}
	}
}
