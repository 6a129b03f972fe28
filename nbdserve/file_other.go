//go:build !linux

package nbdserve

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Outside Linux the file backend keeps to portable calls: fsync for
// flushes, written zeroes instead of hole punching, everything reported as
// data.

var errIO error = syscall.EIO

var errNotSupported = errors.New("not supported on this system")

// blockDeviceSize is where seeking to a block device's end lands.
func blockDeviceSize(f *os.File) (int64, error) {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("block device size: %w", err)
	}
	return end, nil
}

func fdatasync(fd int) error { return syscall.Fsync(fd) }

func punchHole(fd int, off, n int64) error { return errNotSupported }

func zeroRange(fd int, off, n int64) error { return errNotSupported }

func isNotSupported(err error) bool { return errors.Is(err, errNotSupported) }

func willNeed(fd int, off, n int64) error { return nil }

func fadviseMode(fd int, mode string) error {
	switch mode {
	case "", "normal", "random", "sequential":
		return nil // no posix_fadvise here; the hint is best-effort anyway
	}
	return errors.New("fadvise=" + mode + ": want normal, random or sequential")
}

func extents(fd int, size, off, n int64, max int) ([]Extent, error) {
	return []Extent{{Length: n}}, nil
}
