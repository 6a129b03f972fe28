//go:build linux

package evict

import (
	"bytes"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"golang.org/x/sys/unix"
)

// loopDevice is an ext4 file system on a loop device made for one test.
type loopDevice struct {
	dev string // /dev/loopN
	mnt string // where it is mounted
}

// newLoopDevice makes a loop device of size bytes over a sparse file in a
// scratch directory on disk, with direct I/O so that its reads reach the
// disk, puts ext4 on it and mounts it. Everything is undone when the test
// ends, failed or not. It skips the test when not root or when losetup,
// mkfs.ext4, mount or umount are missing.
func newLoopDevice(t *testing.T, size int64) loopDevice {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create, format and mount a loop device")
	}
	for _, p := range []string{"losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := osexec.LookPath(p); err != nil {
			t.Skipf("%s not installed: %v", p, err)
		}
	}
	backing := filepath.Join(testenv.DiskDir(t), "backing.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(command(t, "losetup", "--find", "--show", "--direct-io=on", backing))
	t.Cleanup(func() {
		if out, err := osexec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v\n%s", dev, err, out)
		}
	})
	command(t, "mkfs.ext4", "-q", "-F", dev)
	mnt := t.TempDir()
	command(t, "mount", dev, mnt)
	t.Cleanup(func() {
		if out, err := osexec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	return loopDevice{dev: dev, mnt: mnt}
}

// setReadahead sets the device's read_ahead_kb. A file opened afterwards
// takes it as its readahead window.
func (d loopDevice) setReadahead(t *testing.T, kb int) {
	t.Helper()
	p := "/sys/block/" + filepath.Base(d.dev) + "/queue/read_ahead_kb"
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != strconv.Itoa(kb) {
		t.Fatalf("%s reads %q after writing %d", p, got, kb)
	}
}

// command runs a command and fails the test with its output if it fails.
func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := osexec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// throttleReads limits this process's reads from dev to bps bytes a second
// until the test ends, with a cgroup v1 blkio throttle: the readahead the
// test's reads start then stays in flight, its folios locked, for as long
// as a slow disk would keep it. Where there is no blkio hierarchy (cgroup
// v2 only) it says so in the log and leaves the device at full speed.
func throttleReads(t *testing.T, dev string, bps int64) {
	t.Helper()
	const root = "/sys/fs/cgroup/blkio"
	if _, err := os.Stat(root + "/blkio.throttle.read_bps_device"); err != nil {
		t.Logf("no cgroup v1 blkio throttle, reading at full speed: %v", err)
		return
	}
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	orig := root + blkioCgroup(t)
	cg, err := os.MkdirTemp(root, "wcache-evict-test-")
	if err != nil {
		t.Fatal(err)
	}
	rule := fmt.Sprintf("%d:%d %d", unix.Major(st.Rdev), unix.Minor(st.Rdev), bps)
	if err := os.WriteFile(cg+"/blkio.throttle.read_bps_device", []byte(rule), 0o644); err != nil {
		os.Remove(cg)
		t.Fatal(err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(cg+"/cgroup.procs", pid, 0o644); err != nil {
		os.Remove(cg)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(orig+"/cgroup.procs", pid, 0o644); err != nil {
			t.Errorf("moving back to %s: %v", orig, err)
		}
		if err := os.Remove(cg); err != nil {
			t.Errorf("removing %s: %v", cg, err)
		}
	})
}

// blkioCgroup is this process's cgroup in the v1 blkio hierarchy.
func blkioCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "blkio") {
			return f[2]
		}
	}
	t.Fatal("/proc/self/cgroup names no blkio cgroup although the hierarchy is mounted")
	return ""
}

// TestReadFreshReadahead runs TestReadFreshPartial's reads on a file
// system whose device has a readahead window of 128 KiB, 2 MiB, 8 MiB (the
// fresh machine of issue 9) and 16 MiB, its reads throttled to 16 MiB/s so
// that the readahead past each run is still being read when the tracker
// drops it at Close. read=fresh must leave only the pages cached before:
// it may assume no window, and must wait for the readahead I/O rather
// than let the pages arrive after its DONTNEED.
func TestReadFreshReadahead(t *testing.T) {
	d := newLoopDevice(t, 512<<20)
	for _, kb := range []int{128, 2 << 10, 8 << 10, 16 << 10} {
		t.Run(fmt.Sprintf("read_ahead_kb=%d", kb), func(t *testing.T) {
			d.setReadahead(t, kb)
			f := coldFileIn(t, d.mnt, 128<<20) // opened after the change
			throttleReads(t, d.dev, 16<<20)
			readFreshPartial(t, f)
		})
	}
}
