// Package testenv holds the helpers the suite's tests share: skipping when
// a peer program is missing, files on the disk under test, dropping a file
// from the page cache, and the TestMain of packages that assert residency.
//
// It imports no package of the suite but internal/benchlock, so that any
// package's internal tests can use it without an import cycle.
package testenv

import (
	"crypto/rand"
	"flag"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/benchlock"
)

// LockWait is how long Main waits for the bench lock before testing
// without it.
const LockWait = 90 * time.Second

// Main runs the tests of a package that asserts page-cache residency while
// holding the bench lock shared (see internal/benchlock), so that no
// benchmark or cache drop runs under the assertions. The test binary exits
// with m.Run's status when TestMain returns:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// A run of benchmarks alone (-test.run='^$' with -test.bench) does not take
// it: the benchmark scripts hold it exclusively around such runs.
func Main(m *testing.M) {
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" || flag.Lookup("test.run").Value.String() != "^$" {
		benchlock.Shared(os.Stderr, LockWait)
	}
	m.Run()
}

// NeedPrograms skips the test when one of progs is not on PATH.
func NeedPrograms(t testing.TB, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (run scripts/setup): %v", p, err)
		}
	}
}

// Fincore runs util-linux fincore on path and returns its count of the
// file's resident pages, its size and its resident bytes. Call
// NeedPrograms(t, "fincore") first where fincore may be missing.
func Fincore(t testing.TB, path string) (pages, size, res int64) {
	t.Helper()
	out, err := exec.Command("fincore", "--bytes", "--noheadings", "--raw", "--output", "PAGES,SIZE,RES,FILE", path).Output()
	if err != nil {
		t.Fatalf("fincore %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 4 || f[3] != path {
		t.Fatalf("fincore output %q", out)
	}
	var v [3]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			t.Fatalf("fincore output %q: %v", out, err)
		}
	}
	return v[0], v[1], v[2]
}

// BuildCommand builds the command package pkg (an import path) into dir
// with go build and the given build flags and returns the binary's path,
// dir/ followed by the last element of pkg. It skips the test when the go
// command is not on PATH.
func BuildCommand(t testing.TB, dir, pkg string, flags ...string) string {
	t.Helper()
	NeedPrograms(t, "go")
	bin := filepath.Join(dir, path.Base(pkg))
	args := append(append([]string{"build"}, flags...), "-o", bin, pkg)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// Pipes returns a pipe to the standard input of cmd, a child the test
// starts next, and one from its standard output, or from its standard
// error if fromStderr; it ends the test if it cannot make them.
func Pipes(t testing.TB, cmd *exec.Cmd, fromStderr bool) (stdin io.WriteCloser, out io.ReadCloser) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if fromStderr {
		out, err = cmd.StderrPipe()
	} else {
		out, err = cmd.StdoutPipe()
	}
	if err != nil {
		t.Fatal(err)
	}
	return stdin, out
}

// LoopDevice attaches a loop device to the file backing, with losetup's
// extra options opts (such as --direct-io=on), and returns its node
// (/dev/loopN), detached when the test ends. It skips the test when
// losetup is missing or cannot make one (not root, or a container that
// forbids it).
func LoopDevice(t testing.TB, backing string, opts ...string) string {
	t.Helper()
	NeedPrograms(t, "losetup")
	args := append(append([]string{"--find", "--show"}, opts...), backing)
	out, err := exec.Command("losetup", args...).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: losetup %s: %v: %s", strings.Join(args, " "), err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v\n%s", dev, err, out)
		}
	})
	return dev
}

// DiskRoot is where DiskDir makes its directories: on the disk under test
// (the same place as wbench's work directory), not on a tmpfs /tmp.
const DiskRoot = "/var/tmp"

// DiskDir returns a new directory under DiskRoot, removed when the test
// ends. It skips the test when the directory is on tmpfs, which has no
// writeback and ignores POSIX_FADV_DONTNEED.
func DiskDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(DiskRoot, "wcache-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if isTmpfs(t, dir) {
		t.Skipf("%s is on tmpfs, which has no writeback to test", dir)
	}
	return dir
}

// ColdFile writes data to a new file dir/name, makes it durable, drops it
// from the page cache and returns it open for reading and writing, closed
// when the test ends. Dropping is advice: a test that depends on the file
// being cold checks its residency.
func ColdFile(t testing.TB, dir, name string, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	Drop(t, f)
	return f
}

// RandomData returns n random bytes.
func RandomData(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return b
}

// Drop writes f back (fdatasync) and asks the kernel to drop its pages
// from the page cache.
func Drop(t testing.TB, f *os.File) {
	t.Helper()
	if err := drop(f); err != nil {
		t.Fatalf("drop %s from the page cache: %v", f.Name(), err)
	}
}

// DropPath is Drop for the file at path.
func DropPath(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	Drop(t, f)
}

// DropWatch notices a global page-cache drop (a write to
// /proc/sys/vm/drop_caches) by any process while a test runs: such a drop
// empties the cache under the test's residency assertions, and on a shared
// machine another user's benchmark may do it without the bench lock (or
// while the tests run without it, see Main).
//
// The kernel counts a drop (drop_pagecache in /proc/vmstat) only once it
// has walked every file of every file system, which takes a while on a
// machine with much cached. A drop that has already emptied the test's
// file may therefore not be counted yet when the test checks; so
// SkipIfDropped also looks for a drop still in progress: a process that
// has /proc/sys/vm/drop_caches open (the writer holds it open until its
// write returns, after the count). It sees the processes of this PID
// namespace that this user may inspect: all of them for root, the only
// user that can drop the cache.
type DropWatch struct {
	start int64
	ok    bool
}

// WatchDrops starts a DropWatch.
func WatchDrops() DropWatch {
	n, ok := dropCount()
	return DropWatch{start: n, ok: ok}
}

// SkipIfDropped skips t, saying why, when the global page cache was dropped
// since w started or a drop is under way. Call it after measuring what must
// still be cached and before asserting it: a drop between the check and
// the measurement would go unnoticed.
func (w DropWatch) SkipIfDropped(t testing.TB) {
	t.Helper()
	// The scan comes before the count: a drop that ended between the two
	// was counted before its writer closed the file.
	if pid, ok := dropInProgress(); ok {
		t.Skipf("process %d is dropping the global page cache (it has %s open); the test's residency is void", pid, dropCachesPath)
	}
	if n, ok := dropCount(); w.ok && ok && n != w.start {
		t.Skipf("another process dropped the global page cache %d time(s) during the test (drop_pagecache in /proc/vmstat); its residency is void", n-w.start)
	}
}

// dropCachesPath is the file whose writes drop the global page cache.
const dropCachesPath = "/proc/sys/vm/drop_caches"

// dropInProgress returns a process that has dropCachesPath open, which it
// does for as long as its write (the drop) runs. Processes it may not
// inspect are passed over.
func dropInProgress() (pid int, ok bool) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not ours to inspect
		}
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == dropCachesPath {
				return pid, true
			}
		}
	}
	return 0, false
}

// dropCount reads drop_pagecache from /proc/vmstat; ok is false where the
// kernel does not count it.
func dropCount() (n int64, ok bool) {
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(line, "drop_pagecache "); found {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
