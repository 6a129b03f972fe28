//go:build linux

package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/sweep"
	"golang.org/x/sys/unix"
)

// wbench runs the wbench command line on a 4 MiB image with one window
// count, one repetition and the built-in server only: short if it does
// measure, but each test here expects it to stop before it measures.
func wbench(t *testing.T, work, out string, extra ...string) (code int, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	args := append([]string{"--windows=1", "--count=1", "--size=4M", "--server=builtin", "--drop-caches=false",
		"--workdir=" + work, "--out=" + out}, extra...)
	code = Run(context.Background(), args, &o, &e)
	return code, e.String()
}

// noImage fails the test if a source image was made in work: the sweep
// went on to prepare its measurements.
func noImage(t *testing.T, work string) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(work, "source-*")); len(left) > 0 {
		t.Errorf("an image was prepared before the check refused the sweep: %v", left)
	}
}

// mount mounts fstype (a tmpfs, or a bind of source) on a new directory
// and unmounts it when the test ends; it skips the test where mounting is
// not allowed.
func mount(t *testing.T, source, fstype string, flags uintptr, data string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount(source, dir, fstype, flags, data); err != nil {
		t.Skipf("mount %s: %v (needs root)", fstype, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// readOnlyDir is a read-only bind mount of a new directory: not writable
// even by root, which permission bits do not stop.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := mount(t, t.TempDir(), "", unix.MS_BIND, "")
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("remount read-only: %v", err)
	}
	return dir
}

// TestPreflightOutputDir gives wbench output directories it cannot make
// or write: under a regular file, and in a read-only mount. It must say so
// before it measures anything.
func TestPreflightOutputDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	outs := []string{filepath.Join(file, "results")}
	if os.Geteuid() == 0 {
		outs = append(outs, filepath.Join(readOnlyDir(t), "results"))
	}
	for _, out := range outs {
		work := t.TempDir()
		code, stderr := wbench(t, work, out)
		if code != exitFailure || !strings.Contains(stderr, "output directory") || !strings.Contains(stderr, "could not be saved") {
			t.Errorf("--out=%s: exit %d, stderr %q; want exit %d and the output directory named", out, code, stderr, exitFailure)
		}
		noImage(t, work)
	}
}

// TestPreflightLeavesNothing checks that a successful check removes the
// directories it made: a sweep that then fails leaves no empty results or
// work directory.
func TestPreflightLeavesNothing(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "a", "b", "results")
	if err := sweep.Preflight(out, sweep.Options{WorkDir: filepath.Join(base, "work"), Size: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(base); len(ents) > 0 {
		t.Errorf("Preflight left %v in %s", ents, base)
	}
}

// TestPreflightNoSpace asks for an image larger than the free space the
// work directory's filesystem reports: refused with both byte counts, and
// nothing written.
func TestPreflightNoSpace(t *testing.T) {
	work := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(work, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * st.Bsize
	size := (avail/2 + 1<<30) &^ 4095 // the image and an output of its size
	err := sweep.Preflight(filepath.Join(t.TempDir(), "out"), sweep.Options{WorkDir: work, Size: size})
	if !errors.Is(err, sweep.ErrNoSpace) || !strings.Contains(err.Error(), strconv.FormatInt(2*size, 10)+" bytes") ||
		!strings.Contains(err.Error(), "available") {
		t.Errorf("Preflight with %d bytes free and a %d-byte image: %v", avail, size, err)
	}
	noImage(t, work)
	// An existing image of that size is not counted again: it needs room
	// for one output only.
	img := filepath.Join(t.TempDir(), "given.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(avail + 1<<30); err != nil { // sparse
		t.Fatal(err)
	}
	err = sweep.Preflight(filepath.Join(t.TempDir(), "out"), sweep.Options{WorkDir: work, Image: img})
	if !errors.Is(err, sweep.ErrNoSpace) || strings.Contains(err.Error(), "source image") {
		t.Errorf("Preflight with a %d-byte --image: %v", avail+1<<30, err)
	}
}

// TestPreflightSmallDisk runs wbench on a 32 MiB ext4 filesystem (a loop
// device) with an image that cannot fit: it must refuse before writing.
func TestPreflightSmallDisk(t *testing.T) {
	testenv.NeedPrograms(t, "mkfs.ext4", "losetup")
	file := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, 32<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", file).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", file).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	work := mount(t, dev, "ext4", 0, "")
	code, stderr := wbench(t, work, filepath.Join(t.TempDir(), "out"), "--size=64M")
	if code != exitFailure || !strings.Contains(stderr, "not enough free space") || !strings.Contains(stderr, strconv.Itoa(2*64<<20)+" bytes") {
		t.Errorf("64 MiB image on a 32 MiB disk: exit %d, stderr %q", code, stderr)
	}
	noImage(t, work)
}

// TestPreflightTmpfs gives wbench a work directory on a tmpfs mounted for
// the test: refused, since no eviction can work there.
func TestPreflightTmpfs(t *testing.T) {
	work := mount(t, "tmpfs", "tmpfs", 0, "size=64m")
	code, stderr := wbench(t, work, filepath.Join(t.TempDir(), "out"))
	if code != exitFailure || !strings.Contains(stderr, "is on tmpfs") || !strings.Contains(stderr, "no eviction can work") {
		t.Errorf("tmpfs work directory: exit %d, stderr %q", code, stderr)
	}
	noImage(t, work)
}
