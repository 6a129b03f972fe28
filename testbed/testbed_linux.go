package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Options says which profile to set up and for how much data.
type Options struct {
	// Profile is the device and the filesystem to make on it. NoFS on a
	// Native device means the work directory itself; on a Throttled or RAM
	// device it means DefaultFS.
	Profile
	// Workdir is a directory on the disk under test: the Native profile
	// without a filesystem works in it, and loop devices keep their backing
	// files in it.
	Workdir string
	// Size is how many bytes the caller will store on the filesystem (image
	// and outputs); the device is made large enough for it plus the
	// filesystem's own needs, and free space (or memory, for RAM) is checked.
	Size int64
}

// ErrClosed is returned by SetRate after Close.
var ErrClosed = errors.New("testbed closed")

// Testbed is one profile set up and ready: a directory to work in on a
// fresh filesystem, and the facts about its device. Close removes it all.
type Testbed struct {
	// Dir is where the caller works: the mount point, or the work directory
	// for Native without a filesystem.
	Dir string
	// Device and FS are the profile; FS is the filesystem actually under
	// Dir (for Native without a filesystem, the work directory's).
	Device Device
	FS     FS
	// Made is true when FS was made fresh for this Testbed.
	Made bool
	// Dev is the block device node (/dev/loopN, /dev/zramN) or, for the
	// bare work directory, the source of its mount.
	Dev string
	// MajMin is the device's "MAJ:MIN", the key of throttle rules and of
	// /sys/dev/block.
	MajMin string
	// ReadAheadKB is the device's read-ahead when set up.
	ReadAheadKB int

	mu     sync.Mutex
	st     *state // nil for the bare work directory
	closed bool
	err    error
}

// Name is the scenario name: "native" for the bare work directory,
// otherwise DEVICE/FS such as "throttled:50M/xfs" or "native/ext4".
func (t *Testbed) Name() string {
	if !t.Made {
		return t.Device.String()
	}
	return Profile{t.Device, t.FS}.String()
}

// String describes the regime in one line for a table header, for
// instance "throttled:50M/ext4 on /dev/loop3 (7:3), read_ahead_kb 128".
func (t *Testbed) String() string {
	return fmt.Sprintf("%s on %s (%s), read_ahead_kb %d", t.Name(), t.Dev, t.MajMin, t.ReadAheadKB)
}

// minImage is the smallest device made: mkfs.xfs refuses below 300 MiB.
const minImage = 512 << 20

// imageSize is the device size for size bytes of data: an eighth more and
// 64 MiB for the filesystem's metadata and journal, rounded up to 1 MiB.
func imageSize(size int64) int64 {
	n := max(size+size/8+64<<20, minImage)
	return (n + 1<<20 - 1) &^ (1<<20 - 1)
}

// Setup makes the profile o asks for: for anything but the bare work
// directory a block device, a fresh filesystem on it, mounted in a private
// directory. Every resource is recorded in a state file under StateDir
// before it is created, so that CleanStale can remove it after a crash.
// On error, whatever was made is removed again.
func Setup(ctx context.Context, o Options) (*Testbed, error) {
	// The real path: mounts are matched against it.
	wd, err := filepath.Abs(o.Workdir)
	if err == nil {
		wd, err = filepath.EvalSymlinks(wd)
	}
	if err != nil {
		return nil, fmt.Errorf("workdir %s: %w", o.Workdir, err)
	}
	if fi, err := os.Stat(wd); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("workdir %s: not a directory (%v)", wd, err)
	}
	t := &Testbed{Device: o.Device, FS: o.FS}
	if o.Device.Kind == Native && o.FS == NoFS {
		if err := t.bare(wd); err != nil {
			return nil, err
		}
		return t, nil
	}
	if t.FS == NoFS {
		t.FS = DefaultFS
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("profile %s needs root (loop or zram device, mount, throttle)", o.Profile)
	}
	if _, err := lookTool("mkfs." + string(t.FS)); err != nil {
		return nil, err
	}
	if o.Device.Kind != RAM {
		if _, err := lookTool("losetup"); err != nil {
			return nil, err
		}
	}
	var throttle string
	if o.Device.Kind == Throttled {
		if throttle, err = blkioRoot(); err != nil {
			return nil, err
		}
	}
	if t.st, err = newState(); err != nil {
		return nil, err
	}
	if err := t.make(ctx, wd, o, throttle); err != nil {
		return nil, errors.Join(err, t.Close())
	}
	return t, nil
}

// bare fills t from the work directory's own mount.
func (t *Testbed) bare(wd string) error {
	m, err := mountOf(wd)
	if err != nil {
		return err
	}
	t.Dir, t.FS, t.Dev, t.MajMin = wd, FS(m.fstype), m.source, m.majMin
	// A device-less filesystem (tmpfs, overlay) has no read-ahead to report.
	if ra, err := readAheadKB(m.majMin); err == nil {
		t.ReadAheadKB = ra
	}
	return nil
}

// make creates the device, the filesystem and the mount, recording each in
// the state file first.
func (t *Testbed) make(ctx context.Context, wd string, o Options, throttle string) error {
	st := t.st
	size := imageSize(o.Size)
	if o.Device.Kind == RAM {
		avail, err := memAvailable()
		if err != nil {
			return err
		}
		if o.Size > avail {
			return fmt.Errorf("ram device for %d bytes: only %d bytes of memory available", o.Size, avail)
		}
		if t.Dev, err = t.ram(ctx, size); err != nil {
			return err
		}
	} else {
		free, err := freeBytes(wd)
		if err != nil {
			return err
		}
		if size > free {
			return fmt.Errorf("backing file of %d bytes in %s: only %d bytes free", size, wd, free)
		}
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return err
		}
		st.Backing = filepath.Join(wd, ".wcache-testbed-"+hex.EncodeToString(rnd[:])+".img")
		if err := st.save(); err != nil {
			return err
		}
		f, err := os.OpenFile(st.Backing, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		err = f.Truncate(size) // sparse: blocks are allocated as the filesystem writes them
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if t.Dev, err = loopAttach(ctx, st.Backing); err != nil {
			return err
		}
		// losetup only warns when the backing filesystem refuses direct I/O;
		// the backing file would then be cached besides the filesystem on it.
		if dio, err := os.ReadFile("/sys/block/" + filepath.Base(t.Dev) + "/loop/dio"); err != nil || strings.TrimSpace(string(dio)) != "1" {
			return fmt.Errorf("%s: no direct I/O on its backing file in %s (dio %q, %v): the workdir's filesystem must support O_DIRECT", t.Dev, wd, dio, err)
		}
	}
	var err error
	if t.MajMin, err = majMin(t.Dev); err != nil {
		return err
	}
	// A rule left on this device number by an earlier user that died
	// would throttle a device meant to be free (the rate is set below).
	if root, err := blkioRoot(); err == nil {
		if r, w, err := throttleRules(root, t.MajMin); err == nil && (r != 0 || w != 0) {
			if err := setThrottle(root, t.MajMin, 0); err != nil {
				return err
			}
		}
	}
	if err := mkfs(ctx, t.FS, t.Dev); err != nil {
		return err
	}
	if st.MountDir, err = os.MkdirTemp("", "wcache-testbed-"); err != nil {
		return err
	}
	if err := st.save(); err != nil {
		return err
	}
	if err := unix.Mount(t.Dev, st.MountDir, string(t.FS), 0, ""); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", t.Dev, t.FS, st.MountDir, err)
	}
	t.Dir, t.Made = st.MountDir, true
	// The limit comes last so that mkfs and mount run at full speed.
	if o.Device.Kind == Throttled {
		st.Throttle, st.MajMin = throttle, t.MajMin
		if err := st.save(); err != nil {
			return err
		}
		if err := setThrottle(throttle, t.MajMin, o.Device.Rate); err != nil {
			return err
		}
	}
	t.ReadAheadKB, err = readAheadKB(t.MajMin)
	return err
}

// ram makes a RAM block device of size bytes: zram, or a brd RAM disk
// where the kernel has no zram.
func (t *Testbed) ram(ctx context.Context, size int64) (string, error) {
	st := t.st
	// The id is known only once the device exists; a crash in between
	// leaves an empty zram device that holds no memory.
	id, zerr := zramAdd(ctx)
	if zerr == nil {
		st.Zram = &id
		if err := st.save(); err != nil {
			return "", err
		}
		return fmt.Sprintf("/dev/zram%d", id), zramSize(id, size)
	}
	if !errors.Is(zerr, ErrMissing) {
		return "", zerr
	}
	if brdLoaded() {
		return "", fmt.Errorf("%w; brd is loaded already, by someone else: its disks are not ours to use", zerr)
	}
	st.Brd = true
	if err := st.save(); err != nil {
		return "", err
	}
	dev, err := brdLoad(ctx, size)
	if err != nil {
		return "", fmt.Errorf("%v; %w", zerr, err)
	}
	return dev, nil
}

// SetRate changes the read and write limit of the device to bps bytes/s
// while it is in use; 0 removes the limit. It works on any device the
// Testbed made (a native loop device too), not on the bare work directory,
// whose disk others share.
func (t *Testbed) SetRate(bps int64) error {
	if bps < 0 {
		return fmt.Errorf("rate %d: negative", bps)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.st == nil {
		return fmt.Errorf("%s: no device of its own to throttle", t.Name())
	}
	if t.st.Throttle == "" {
		root, err := blkioRoot()
		if err != nil {
			return err
		}
		t.st.Throttle, t.st.MajMin = root, t.MajMin
		if err := t.st.save(); err != nil {
			return err
		}
	}
	return setThrottle(t.st.Throttle, t.MajMin, bps)
}

// Close removes everything Setup made: throttle rules, the mount, the loop
// or zram device, the backing file, the mount directory and the state file.
// The caller must have stopped using Dir (stop the servers first): if a
// file in it is still open, the mount is detached lazily, Close says so in
// its error, and the kernel frees the loop device when the last file
// closes; the state file stays for the next CleanStale. Close may be
// called more than once and from several goroutines (a signal handler's
// and the main one); every call returns the first call's result.
func (t *Testbed) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.err
	}
	t.closed = true
	if t.st != nil {
		t.err = t.st.teardown(func(string) {})
	}
	return t.err
}
