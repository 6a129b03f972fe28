package testbed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needRoot skips a test that makes devices when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making loop and zram devices, mounting and throttling need root")
	}
}

// skipIfMissing skips when err says a tool or kernel feature is absent.
func skipIfMissing(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrMissing) {
		t.Skip(err)
	}
}

// setup is Setup for a test: skips on a missing prerequisite, fails on any
// other error, and closes the Testbed at the end of the test.
func setup(t *testing.T, dev string, fs FS, size int64) *Testbed {
	t.Helper()
	tb, err := Setup(context.Background(), Options{Profile: Profile{mustDevice(t, dev), fs}, Workdir: diskDir(t), Size: size})
	skipIfMissing(t, err)
	if err != nil {
		t.Fatalf("Setup(%s, %q): %v", dev, fs, err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tb
}

// diskDir is a fresh directory on a disk for backing files: under
// /var/tmp, which unlike /tmp is not a tmpfs anywhere, so loop devices get
// direct I/O on it.
func diskDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "wcache-testbed-test-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func mustDevice(t *testing.T, s string) Device {
	t.Helper()
	d, err := ParseDevice(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// loopsOf lists, as losetup reports them, the loop devices backed by file.
func loopsOf(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("losetup", "--list", "--json", "--output", "NAME,BACK-FILE,DIO").Output()
	if err != nil {
		t.Fatalf("losetup --list: %v", err)
	}
	var l struct {
		Loops []struct {
			Name string `json:"name"`
			Back string `json:"back-file"`
		} `json:"loopdevices"`
	}
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &l); err != nil {
			t.Fatalf("losetup --json: %v\n%s", err, out)
		}
	}
	var devs []string
	for _, d := range l.Loops {
		if strings.TrimSuffix(d.Back, " (deleted)") == file {
			devs = append(devs, d.Name)
		}
	}
	return devs
}

// findmnt returns what findmnt says is mounted at dir, "" if nothing.
func findmnt(t *testing.T, dir string) (fstype, source string) {
	t.Helper()
	out, err := exec.Command("findmnt", "--noheadings", "--output", "FSTYPE,SOURCE", "--mountpoint", dir).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return "", ""
	}
	if err != nil {
		t.Fatalf("findmnt %s: %v", dir, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("findmnt %s: %q", dir, out)
	}
	return f[0], f[1]
}

// ruleLines returns the lines for mm in the throttle files.
func ruleLines(t *testing.T, mm string) []string {
	t.Helper()
	root, err := blkioRoot()
	if err != nil {
		return nil // no controller: no rules
	}
	var lines []string
	for _, f := range []string{readBPS, writeBPS} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, mm+" ") {
				lines = append(lines, f+": "+l)
			}
		}
	}
	return lines
}

// leftovers lists whatever of st still exists; empty means all clean.
func leftovers(t *testing.T, st state) []string {
	t.Helper()
	var left []string
	if st.Backing != "" {
		for _, d := range loopsOf(t, st.Backing) {
			left = append(left, "loop device "+d)
		}
		if _, err := os.Stat(st.Backing); err == nil {
			left = append(left, "backing file "+st.Backing)
		}
	}
	if st.MountDir != "" {
		if fs, src := findmnt(t, st.MountDir); fs != "" {
			left = append(left, fmt.Sprintf("mount of %s (%s) on %s", src, fs, st.MountDir))
		}
		if _, err := os.Stat(st.MountDir); err == nil {
			left = append(left, "directory "+st.MountDir)
		}
	}
	if st.MajMin != "" {
		left = append(left, ruleLines(t, st.MajMin)...)
	}
	if st.Zram != nil {
		if b, err := os.ReadFile(fmt.Sprintf("/sys/block/zram%d/disksize", *st.Zram)); err == nil && strings.TrimSpace(string(b)) != "0" {
			left = append(left, fmt.Sprintf("zram%d with disksize %s", *st.Zram, strings.TrimSpace(string(b))))
		}
	}
	if _, err := os.Stat(st.path); err == nil {
		left = append(left, "state file "+st.path)
	}
	return left
}

func TestSetupAndClose(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		dev string
		fs  FS
	}{
		{"native", NoFS},
		{"native", Ext4}, {"native", XFS},
		{"throttled:200M", Ext4}, {"throttled:200M", XFS}, {"throttled:200M", Btrfs},
		{"ram", Ext4}, {"ram", XFS}, {"ram", Btrfs},
		{"ram", NoFS},
	} {
		name := Profile{mustDevice(t, tc.dev), tc.fs}.String()
		if tc.fs == NoFS && tc.dev != "native" {
			name = tc.dev + "/default"
		}
		t.Run(name, func(t *testing.T) {
			tb := setup(t, tc.dev, tc.fs, 64<<20)
			t.Log(tb)
			want := tc.fs
			if want == NoFS && tc.dev != "native" {
				want = DefaultFS
			}
			if tc.dev == "native" && tc.fs == NoFS {
				if tb.st != nil || tb.Made {
					t.Errorf("bare native made something: %+v", tb)
				}
				var st unix.Stat_t
				if err := unix.Stat(tb.Dir, &st); err != nil {
					t.Fatal(err)
				}
				if mm := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)); tb.MajMin != mm {
					t.Errorf("MajMin = %s; stat of %s says %s", tb.MajMin, tb.Dir, mm)
				}
				if tb.Name() != "native" {
					t.Errorf("Name = %q", tb.Name())
				}
				out, err := exec.Command("findmnt", "--noheadings", "--output", "FSTYPE", "--target", tb.Dir).Output()
				if err != nil || strings.TrimSpace(string(out)) != string(tb.FS) {
					t.Errorf("FS = %q; findmnt --target %s says %q (%v)", tb.FS, tb.Dir, out, err)
				}
				return
			}
			if s := tb.String(); !strings.HasPrefix(s, tc.dev+"/"+string(want)+" on "+tb.Dev+" ("+tb.MajMin+"), read_ahead_kb ") {
				t.Errorf("String = %q", s)
			}
			if tb.FS != want || !tb.Made {
				t.Errorf("FS = %q, Made = %v; want %q made", tb.FS, tb.Made, want)
			}
			if fs, src := findmnt(t, tb.Dir); fs != string(want) || src != tb.Dev {
				t.Errorf("findmnt %s: %s on %s; want %s on %s", tb.Dir, fs, src, want, tb.Dev)
			}
			if tc.dev != "ram" {
				if devs := loopsOf(t, tb.st.Backing); len(devs) != 1 || devs[0] != tb.Dev {
					t.Errorf("losetup lists %v for %s; want [%s]", devs, tb.st.Backing, tb.Dev)
				}
				dio, err := os.ReadFile("/sys/block/" + filepath.Base(tb.Dev) + "/loop/dio")
				if err != nil || strings.TrimSpace(string(dio)) != "1" {
					t.Errorf("%s direct I/O = %q, %v; want 1", tb.Dev, dio, err)
				}
			}
			ra, err := os.ReadFile("/sys/block/" + filepath.Base(tb.Dev) + "/queue/read_ahead_kb")
			if err != nil || strings.TrimSpace(string(ra)) != strconv.Itoa(tb.ReadAheadKB) {
				t.Errorf("ReadAheadKB = %d; sysfs says %q (%v)", tb.ReadAheadKB, ra, err)
			}
			rules := ruleLines(t, tb.MajMin)
			if d := tb.Device; d.Kind == Throttled {
				if len(rules) != 2 || !strings.HasSuffix(rules[0], " "+strconv.FormatInt(d.Rate, 10)) || !strings.HasSuffix(rules[1], " "+strconv.FormatInt(d.Rate, 10)) {
					t.Errorf("throttle rules for %s: %q; want read and write at %d", tb.MajMin, rules, d.Rate)
				}
			} else if len(rules) != 0 {
				t.Errorf("unthrottled %s has rules %q", tb.MajMin, rules)
			}
			var fst unix.Statfs_t
			if err := unix.Statfs(tb.Dir, &fst); err != nil {
				t.Fatal(err)
			}
			if free := int64(fst.Bavail) * fst.Bsize; free < 64<<20 {
				t.Errorf("%s has %d bytes free; asked for %d", tb.Dir, free, 64<<20)
			}
			if tb.st.Backing != "" {
				var bst unix.Stat_t
				if err := unix.Stat(tb.st.Backing, &bst); err != nil {
					t.Fatal(err)
				}
				if bst.Blocks*512 >= bst.Size {
					t.Errorf("backing file %s: %d bytes allocated of %d; want it sparse", tb.st.Backing, bst.Blocks*512, bst.Size)
				}
			}
			// The filesystem takes the data the caller said it needs.
			f, err := os.Create(filepath.Join(tb.Dir, "data"))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(64 << 20); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, 1<<20), 63<<20); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			f.Close()

			st := *tb.st
			if err := tb.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if left := leftovers(t, st); len(left) > 0 {
				t.Errorf("left after Close: %q", left)
			}
			if err := tb.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := tb.SetRate(1 << 20); !errors.Is(err, ErrClosed) {
				t.Errorf("SetRate after Close: %v; want ErrClosed", err)
			}
		})
	}
}

// writeTimed writes n bytes to a new file in dir, with O_DIRECT or
// buffered followed by fsync, and returns how long until it was durable.
// progress, if not nil, is called with the bytes written after each MiB.
func writeTimed(dir string, n int, direct bool, progress func(int)) (time.Duration, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if direct {
		flags |= unix.O_DIRECT
	}
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("w%v", direct)), flags, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// An anonymous mapping is page-aligned, as O_DIRECT needs.
	buf, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	for off := 0; off < n; off += len(buf) {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if progress != nil {
			progress(off + len(buf))
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// unthrottledBaseline writes n bytes both ways with the limit lifted and
// skips the test unless both beat limit: on a disk slower than the limit a
// time bound says nothing about the throttle.
func unthrottledBaseline(t *testing.T, tb *Testbed, n int, limit time.Duration) {
	t.Helper()
	if err := tb.SetRate(0); err != nil {
		t.Fatal(err)
	}
	for _, direct := range []bool{false, true} {
		d, err := writeTimed(tb.Dir, n, direct, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("unthrottled, direct=%v: %d MiB in %v", direct, n>>20, d.Round(time.Millisecond))
		if d >= limit {
			t.Skipf("the disk itself needs %v for %d MiB (direct=%v), no less than the throttle would; it cannot show the limit", d, n>>20, direct)
		}
	}
}

// TestThrottleLimits checks that the limit holds for what goes through the
// mounted filesystem: buffered writes made durable by fsync (issued by the
// flusher) and direct writes. It checks a lower bound on time derived from
// the rate, with a quarter of slack for the throttle's time slices, after
// checking that the same writes without the limit beat that bound.
func TestThrottleLimits(t *testing.T) {
	needRoot(t)
	const rate, n = 32 << 20, 32 << 20
	tb := setup(t, "throttled:"+formatSize(rate), Ext4, 2*n)
	minTime := time.Duration(float64(n) / rate * 0.75 * float64(time.Second))
	unthrottledBaseline(t, tb, n, minTime)
	if err := tb.SetRate(rate); err != nil {
		t.Fatal(err)
	}
	for _, direct := range []bool{false, true} {
		d, err := writeTimed(tb.Dir, n, direct, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("direct=%v: %d MiB in %v = %.1f MiB/s at a limit of %d MiB/s", direct, n>>20, d.Round(time.Millisecond), float64(n)/(1<<20)/d.Seconds(), rate>>20)
		if d < minTime {
			t.Errorf("direct=%v: %d bytes durable in %v at throttled:%s; the limit allows no less than %v", direct, n, d, formatSize(rate), minTime)
		}
	}
}

// TestSetRateMidWrite lifts the limit while a direct write waits on it: the
// write must then finish well before the old limit would have let it.
func TestSetRateMidWrite(t *testing.T) {
	needRoot(t)
	const rate, n = 8 << 20, 32 << 20
	tb := setup(t, "throttled:"+formatSize(rate), Ext4, 2*n)
	atOldRate := time.Duration(float64(n) / rate * float64(time.Second))
	unthrottledBaseline(t, tb, n, atOldRate/4)
	if err := tb.SetRate(rate); err != nil {
		t.Fatal(err)
	}
	var throttled time.Duration
	started := make(chan struct{})
	type result struct {
		d   time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		begin := time.Now()
		d, err := writeTimed(tb.Dir, n, true, func(w int) {
			if w == 2<<20 {
				throttled = time.Since(begin)
				close(started)
			}
		})
		done <- result{d, err}
	}()
	<-started
	if err := tb.SetRate(0); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("%d MiB in %v with the limit of %s lifted after 2 MiB, which took %v (%v at the limit)", n>>20, r.d.Round(time.Millisecond), formatSize(rate), throttled.Round(time.Millisecond), atOldRate)
	if minFirst := time.Duration(float64(2<<20) / rate * 0.75 * float64(time.Second)); throttled < minFirst {
		t.Errorf("the first 2 MiB took %v; the limit allows no less than %v", throttled, minFirst)
	}
	if r.d > atOldRate*3/4 {
		t.Errorf("write took %v after the limit was lifted; at the old limit it takes %v", r.d, atOldRate)
	}
}

func TestSetRate(t *testing.T) {
	needRoot(t)
	tb := setup(t, "throttled:50M", Ext4, 0)
	for _, bps := range []int64{100 << 20, 1 << 20} {
		if err := tb.SetRate(bps); err != nil {
			t.Fatal(err)
		}
		want := []string{readBPS + ": " + tb.MajMin + " " + strconv.FormatInt(bps, 10), writeBPS + ": " + tb.MajMin + " " + strconv.FormatInt(bps, 10)}
		if got := ruleLines(t, tb.MajMin); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("after SetRate(%d): %q; want %q", bps, got, want)
		}
	}
	if err := tb.SetRate(0); err != nil {
		t.Fatal(err)
	}
	if got := ruleLines(t, tb.MajMin); len(got) != 0 {
		t.Errorf("after SetRate(0): %q; want no rule", got)
	}
	// A native loop device can be throttled too, and Close lifts it.
	nt := setup(t, "native", Ext4, 0)
	if err := nt.SetRate(10 << 20); err != nil {
		t.Fatal(err)
	}
	st := *nt.st
	if err := nt.Close(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, st); len(left) > 0 {
		t.Errorf("left after Close: %q", left)
	}
	bare := setup(t, "native", NoFS, 0)
	if err := bare.SetRate(10 << 20); err == nil {
		t.Error("SetRate on the bare work directory succeeded; it must refuse to throttle a shared disk")
	}
}

func TestSetupErrors(t *testing.T) {
	needRoot(t)
	_, err := Setup(context.Background(), Options{Profile: Profile{Device{Kind: Native}, Ext4}, Workdir: diskDir(t), Size: 1 << 62})
	if err == nil || !strings.Contains(err.Error(), "free") {
		t.Errorf("Setup with 4 EiB: %v; want a free-space error", err)
	}
	_, err = Setup(context.Background(), Options{Profile: Profile{Device: Device{Kind: RAM}}, Workdir: diskDir(t), Size: 1 << 62})
	skipIfMissing(t, err)
	if err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf("ram Setup with 4 EiB: %v; want a memory error", err)
	}
	_, err = Setup(context.Background(), Options{Profile: Profile{Device: Device{Kind: Native}}, Workdir: "/nonexistent/dir"})
	if err == nil {
		t.Error("Setup in a missing workdir succeeded")
	}
}

// childEnv names the device profile a re-executed test binary sets up
// before it waits to be killed.
const childEnv = "WCACHE_TESTBED_CHILD"

// TestStaleChild is the child of TestCleanStale; it does nothing unless
// re-executed by it.
func TestStaleChild(t *testing.T) {
	dev := os.Getenv(childEnv)
	if dev == "" {
		t.Skip("only runs as the child of TestCleanStale")
	}
	d, err := ParseDevice(dev)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Setup(context.Background(), Options{Profile: Profile{d, Ext4}, Workdir: os.Getenv(childEnv + "_DIR"), Size: 16 << 20})
	if err != nil {
		fmt.Printf("ERROR %v\n", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(tb.st)
	fmt.Printf("READY %s %s\n", tb.st.path, b)
	select {} // until killed
}

func TestCleanStale(t *testing.T) {
	needRoot(t)
	for _, dev := range []string{"throttled:50M", "ram"} {
		t.Run(dev, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestStaleChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+dev, childEnv+"_DIR="+diskDir(t))
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "READY ") {
				cmd.Process.Kill()
				cmd.Wait()
				if strings.Contains(line, ErrMissing.Error()) {
					t.Skip(line)
				}
				t.Fatalf("child: %q, %v", line, err)
			}
			path, js, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "READY "), " ")
			st := state{path: path}
			if err := json.Unmarshal([]byte(js), &st); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if left := leftovers(t, st); len(left) == 0 {
				t.Fatal("the killed child left nothing to clean; the test cannot tell CleanStale works")
			}

			var msg bytes.Buffer
			if err := CleanStale(context.Background(), &msg); err != nil {
				t.Fatalf("CleanStale: %v\n%s", err, msg.String())
			}
			t.Logf("CleanStale said:\n%s", msg.String())
			if left := leftovers(t, st); len(left) > 0 {
				t.Errorf("left after CleanStale: %q", left)
			}
			want := []string{"unmounted " + st.MountDir, "removed state file " + st.path}
			if st.Backing != "" {
				want = append(want, "detached loop device /dev/loop", "removed backing file "+st.Backing, "removed throttle rule for "+st.MajMin)
			}
			if st.Zram != nil {
				want = append(want, fmt.Sprintf("reset and removed /dev/zram%d", *st.Zram))
			}
			for _, w := range want {
				if !strings.Contains(msg.String(), fmt.Sprintf("stale set of pid %d: %s", st.PID, w)) {
					t.Errorf("CleanStale output lacks %q", w)
				}
			}
		})
	}
}

// TestCleanStaleSparesLive checks that the set of a running process (this
// one) is left alone.
func TestCleanStaleSparesLive(t *testing.T) {
	needRoot(t)
	tb := setup(t, "native", Ext4, 0)
	var msg bytes.Buffer
	if err := CleanStale(context.Background(), &msg); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg.String(), fmt.Sprintf("pid %d:", os.Getpid())) {
		t.Errorf("CleanStale touched a live set:\n%s", msg.String())
	}
	if fs, _ := findmnt(t, tb.Dir); fs != "ext4" {
		t.Errorf("%s no longer mounted after CleanStale", tb.Dir)
	}
}

// TestInheritedRuleCleared puts a rule on a free loop device, as a killed
// user whose set was cleaned late would leave it, and checks that a set-up
// getting that device starts unthrottled.
func TestInheritedRuleCleared(t *testing.T) {
	needRoot(t)
	root, err := blkioRoot()
	skipIfMissing(t, err)
	first := setup(t, "native", Ext4, 0)
	mm := first.MajMin
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Loop devices are shared with whatever else runs on the machine: put
	// the rule only on a device still free, and take back only our rule.
	const leftover = 1<<20 + 512
	if _, err := os.Stat("/sys/dev/block/" + mm + "/loop/backing_file"); err == nil {
		t.Skipf("%s was taken by another user before the test could mark it", mm)
	}
	if err := setThrottle(root, mm, leftover); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r, w, err := throttleRules(root, mm); err == nil && r == leftover && w == leftover {
			setThrottle(root, mm, 0)
		}
	})
	second := setup(t, "native", Ext4, 0)
	if second.MajMin != mm {
		t.Skipf("losetup chose %s, not the freed %s (another user took it)", second.MajMin, mm)
	}
	if rules := ruleLines(t, mm); len(rules) != 0 {
		t.Errorf("fresh native device %s inherited %q", mm, rules)
	}
}

// TestMissingTool checks that a missing mkfs or losetup names its package.
func TestMissingTool(t *testing.T) {
	needRoot(t)
	t.Setenv("PATH", t.TempDir())
	saved := sbinDirs
	sbinDirs = nil
	t.Cleanup(func() { sbinDirs = saved })
	for _, tc := range []struct {
		fs   FS
		want string
	}{{XFS, "mkfs.xfs not found: apt-get install xfsprogs"}, {Btrfs, "mkfs.btrfs not found: apt-get install btrfs-progs"}, {Ext4, "mkfs.ext4 not found: apt-get install e2fsprogs"}} {
		_, err := Setup(context.Background(), Options{Profile: Profile{Device{Kind: Throttled, Rate: 1 << 20}, tc.fs}, Workdir: diskDir(t)})
		if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Setup(%s) without tools: %v; want ErrMissing saying %q", tc.fs, err, tc.want)
		}
	}
}

// TestCleanStalePartial cleans the state of an owner killed half-way
// through Setup: a backing file made but no loop device yet, and a mount
// directory made but not mounted. The owner is this process under another
// start time, as a reused pid would be.
func TestCleanStalePartial(t *testing.T) {
	needRoot(t)
	st, err := newState()
	if err != nil {
		t.Fatal(err)
	}
	st.Start++
	st.Backing = filepath.Join(diskDir(t), ".wcache-testbed-partial.img")
	if err := os.WriteFile(st.Backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if st.MountDir, err = os.MkdirTemp("", "wcache-testbed-"); err != nil {
		t.Fatal(err)
	}
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	var msg bytes.Buffer
	if err := CleanStale(context.Background(), &msg); err != nil {
		t.Fatalf("CleanStale: %v\n%s", err, msg.String())
	}
	if left := leftovers(t, *st); len(left) > 0 {
		t.Errorf("left after CleanStale: %q", left)
	}
	for _, w := range []string{"removed backing file " + st.Backing, "removed directory " + st.MountDir, "removed state file " + st.path} {
		if !strings.Contains(msg.String(), w) {
			t.Errorf("CleanStale output lacks %q:\n%s", w, msg.String())
		}
	}
	if strings.Contains(msg.String(), "unmounted") || strings.Contains(msg.String(), "detached") {
		t.Errorf("CleanStale claims to have removed what never existed:\n%s", msg.String())
	}
}
