package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/cgroup"
	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/testbed"
)

// The blkio throttle files of cgroup v1, where throttled profiles put
// their limits.
const blkioRoot = "/sys/fs/cgroup/blkio"

// needTestbeds skips the test unless it can make throttled profiles and
// memory cgroups: root, mkfs.ext4 and losetup, the v1 blkio throttle and
// a memory controller.
func needTestbeds(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("test beds (loop devices, mounts, throttle rules) and cgroups need root")
	}
	testenv.NeedPrograms(t, "nbdcopy", "mkfs.ext4", "losetup")
	if _, err := os.Stat(filepath.Join(blkioRoot, "blkio.throttle.write_bps_device")); err != nil {
		t.Skipf("kernel without the cgroup v1 blkio throttle: %v", err)
	}
	if _, err := cgroup.Detect(); err != nil {
		t.Skipf("kernel without a memory cgroup controller: %v", err)
	}
}

// child is the test binary running as wbench in a process of its own.
type child struct {
	cmd   *exec.Cmd
	lines chan string // its stderr, line by line; closed at its end
	all   *bytes.Buffer
	out   bytes.Buffer
}

// startWbench starts wbench with args in a child process.
func startWbench(t *testing.T, args ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(exe, args...), lines: make(chan string, 1024), all: &bytes.Buffer{}}
	c.cmd.Env = append(os.Environ(), asWbench+"=1")
	c.cmd.Stdout = &c.out
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

// await reads the child's stderr until a line matches re and returns the
// submatches; it fails the test when the child ends first.
func (c *child) await(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	for line := range c.lines {
		fmt.Fprintln(c.all, line)
		if m := re.FindStringSubmatch(line); m != nil {
			return m
		}
	}
	t.Fatalf("wbench ended before printing a line matching %q; stderr:\n%s", re, c.all)
	return nil
}

// wait drains the child's stderr and returns its exit status.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	for line := range c.lines {
		fmt.Fprintln(c.all, line)
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return c.cmd.ProcessState.ExitCode()
}

var scenarioLine = regexp.MustCompile(`scenario \S+ on (/dev/loop\d+) \((\d+:\d+)\)`)

// leftovers lists what a wbench of pid left of its test beds and cgroups:
// loop devices backed by files in work, mounts of dev, throttle rules of
// majmin, memory cgroups and state files named after pid.
func leftovers(t *testing.T, pid int, work, dev, majmin string) []string {
	t.Helper()
	var left []string
	backing, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, b := range backing {
		if data, err := os.ReadFile(b); err == nil && strings.HasPrefix(strings.TrimSpace(string(data)), work) {
			left = append(left, "loop device "+b)
		}
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(mi), "\n") {
			if f := strings.Fields(line); dev != "" && len(f) > 4 && strings.Contains(line, " - ") && strings.Fields(strings.SplitN(line, " - ", 2)[1])[1] == dev {
				left = append(left, "mount "+f[4])
			}
		}
	}
	for _, name := range []string{"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device"} {
		data, _ := os.ReadFile(filepath.Join(blkioRoot, name))
		for _, line := range strings.Split(string(data), "\n") {
			if majmin != "" && strings.HasPrefix(line, majmin+" ") {
				left = append(left, name+": "+line)
			}
		}
	}
	if root, err := cgroup.Detect(); err == nil {
		groups, _ := filepath.Glob(filepath.Join(root.Path, fmt.Sprintf("%s%d-*", cgroup.Prefix, pid)))
		left = append(left, groups...)
	}
	states, _ := filepath.Glob(filepath.Join(testbed.StateDir, fmt.Sprintf("%d-*", pid)))
	return append(left, states...)
}

// TestScenariosLeaveNothing runs wbench on a throttled ext4 test bed
// with a memory budget and a neighbour to its end, then interrupts one
// half-way with SIGINT (Ctrl-C), and checks that neither left a loop
// device, a mount, a throttle rule, a cgroup or a state file behind.
func TestScenariosLeaveNothing(t *testing.T) {
	needTestbeds(t)
	work := testenv.DiskDir(t)
	t.Run("complete", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "m")
		c := startWbench(t, "--device=throttled:200M", "--fs=ext4", "--windows=8", "--size=32M", "--count=1",
			"--memory-limit=96M", "--neighbour=warm:16M", "--drop-caches=false", "--workdir="+work, "--out="+out)
		m := c.await(t, scenarioLine)
		if code := c.wait(t); code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, c.out.String(), c.all)
		}
		for _, want := range []string{"Scenario throttled:200M/ext4 on " + m[1], "Workload: image 32 MiB = ", "memory limit (96 MiB)",
			"nb idle p99 µs", "nb file cached", "Matrix: the recommendation of every scenario", "residency sampler"} {
			if !strings.Contains(c.out.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, c.out.String())
			}
		}
		for _, f := range []string{"matrix.json", "bench.txt", "samples.csv", "summary.md", "heatmap.png", "heatmap.svg",
			"throttled-200M-ext4/sweep.json", "throttled-200M-ext4/neighbour.png"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
		if left := leftovers(t, c.cmd.Process.Pid, work, m[1], m[2]); len(left) > 0 {
			t.Errorf("left behind: %q", left)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		c := startWbench(t, "--device=throttled:100M", "--fs=ext4", "--windows=1,8", "--size=64M", "--count=3",
			"--memory-limit=128M", "--drop-caches=false", "--workdir="+work, "--out="+filepath.Join(t.TempDir(), "m"))
		m := c.await(t, scenarioLine)
		c.await(t, regexp.MustCompile(`\[1/\d+\]`)) // a run has ended: the next is under way
		if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if code := c.wait(t); code == exitOK {
			t.Errorf("an interrupted sweep exited 0; stderr:\n%s", c.all)
		}
		if left := leftovers(t, c.cmd.Process.Pid, work, m[1], m[2]); len(left) > 0 {
			t.Errorf("left behind after SIGINT: %q\nstderr:\n%s", left, c.all)
		}
	})
}

// TestStaleSetCleaned kills wbench (SIGKILL, no clean-up) half-way
// through a sweep on a throttled test bed with a memory budget, checks
// that it left its set behind, and that the next wbench removes it before
// it starts, saying so.
func TestStaleSetCleaned(t *testing.T) {
	needTestbeds(t)
	work := testenv.DiskDir(t)
	c := startWbench(t, "--device=throttled:100M", "--fs=ext4", "--windows=8", "--size=64M", "--count=5",
		"--memory-limit=128M", "--drop-caches=false", "--workdir="+work, "--out="+filepath.Join(t.TempDir(), "m"))
	m := c.await(t, scenarioLine)
	c.await(t, regexp.MustCompile(`\[1/\d+\]`))
	// Kill it during a run, while its memory cgroup exists: the group is
	// made at a run's start, so wait for it to appear.
	root, err := cgroup.Detect()
	if err != nil {
		t.Fatal(err)
	}
	pattern := filepath.Join(root.Path, fmt.Sprintf("%s%d-*", cgroup.Prefix, c.cmd.Process.Pid))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if groups, _ := filepath.Glob(pattern); len(groups) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no memory cgroup %s appeared during the sweep", pattern)
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.wait(t)
	pid := c.cmd.Process.Pid
	if left := leftovers(t, pid, work, m[1], m[2]); len(left) == 0 {
		t.Fatal("a killed wbench left nothing behind: the test cannot see the clean-up")
	} else {
		t.Logf("left by the killed wbench: %q", left)
	}
	next := startWbench(t, "--windows=8", "--size=16M", "--count=1", "--drop-caches=false",
		"--workdir="+work, "--out="+filepath.Join(t.TempDir(), "n"))
	if code := next.wait(t); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, next.all)
	}
	if left := leftovers(t, pid, work, m[1], m[2]); len(left) > 0 {
		t.Errorf("still left behind after the next wbench: %q\nits stderr:\n%s", left, next.all)
	}
	for _, want := range []string{fmt.Sprintf("stale set of pid %d", pid), fmt.Sprintf("%s%d-", cgroup.Prefix, pid)} {
		if !strings.Contains(next.all.String(), want) {
			t.Errorf("the clean-up did not report %q; stderr:\n%s", want, next.all)
		}
	}
}
