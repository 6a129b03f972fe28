package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Version is the cgroup hierarchy a Group lives in.
type Version int

const (
	V1 Version = 1
	V2 Version = 2
)

func (v Version) String() string { return "v" + strconv.Itoa(int(v)) }

// Prefix starts the name of every group this package makes:
// Prefix + "<pid>-<n>".
const Prefix = "wcache-"

// ErrNoMemoryController is returned when neither hierarchy offers the memory
// controller.
var ErrNoMemoryController = errors.New("no memory cgroup controller: neither cgroup v2 with \"memory\" in cgroup.controllers nor a cgroup v1 memory hierarchy is mounted")

// Root is a memory-controller hierarchy: its mount point and version.
type Root struct {
	Path    string
	Version Version
}

// Detect finds the memory controller: cgroup v2 if a v2 mount lists memory
// among its controllers, else a v1 mount with the memory controller.
func Detect() (Root, error) {
	return detect("/proc/self/mountinfo")
}

func detect(mountinfo string) (Root, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return Root{}, err
	}
	defer f.Close()
	var v1 string
	var v2 []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// mountinfo: id parent dev root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		switch qf[0] {
		case "cgroup2":
			v2 = append(v2, pf[4])
		case "cgroup":
			for _, o := range strings.Split(qf[2], ",") {
				if o == "memory" && v1 == "" {
					v1 = pf[4]
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Root{}, fmt.Errorf("%s: %w", mountinfo, err)
	}
	for _, p := range v2 {
		b, err := os.ReadFile(filepath.Join(p, "cgroup.controllers"))
		if err == nil && contains(strings.Fields(string(b)), "memory") {
			return Root{Path: p, Version: V2}, nil
		}
	}
	if v1 != "" {
		return Root{Path: v1, Version: V1}, nil
	}
	return Root{}, ErrNoMemoryController
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Group is a memory cgroup made by New.
type Group struct {
	Root  Root
	Name  string // Prefix + "<pid>-<n>"
	Path  string // Root.Path/Name
	Limit int64  // bytes
}

var seq atomic.Int64

// New makes a memory cgroup limited to limit bytes in the detected
// hierarchy. On v2 it enables the memory controller for the root's children
// first if it is not yet enabled.
func New(limit int64) (*Group, error) {
	root, err := Detect()
	if err != nil {
		return nil, err
	}
	return NewIn(root, limit)
}

// NewIn is New in a given hierarchy.
func NewIn(root Root, limit int64) (*Group, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("cgroup: memory limit %d: must be positive", limit)
	}
	if root.Version == V2 {
		if err := enableMemory(root.Path); err != nil {
			return nil, err
		}
	}
	name := fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), seq.Add(1))
	g := &Group{Root: root, Name: name, Path: filepath.Join(root.Path, name), Limit: limit}
	if err := os.Mkdir(g.Path, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	file := "memory.limit_in_bytes"
	if root.Version == V2 {
		file = "memory.max"
	}
	if err := g.write(file, strconv.FormatInt(limit, 10)); err != nil {
		os.Remove(g.Path)
		return nil, err
	}
	return g, nil
}

func enableMemory(root string) error {
	p := filepath.Join(root, "cgroup.subtree_control")
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	if contains(strings.Fields(string(b)), "memory") {
		return nil
	}
	if err := os.WriteFile(p, []byte("+memory"), 0); err != nil {
		return fmt.Errorf("cgroup: enable memory controller in %s: %w", p, err)
	}
	return nil
}

func (g *Group) write(file, value string) error {
	p := filepath.Join(g.Path, file)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", value, p, err)
	}
	return nil
}

// Add moves a running process (all its threads) into the group.
func (g *Group) Add(pid int) error {
	return g.write("cgroup.procs", strconv.Itoa(pid))
}

// Start starts cmd inside the group, so that it never runs outside it (see
// the package comment for how, per version). On v2 it sets
// cmd.SysProcAttr.UseCgroupFD and CgroupFD.
func (g *Group) Start(cmd *exec.Cmd) error {
	if g.Root.Version == V2 {
		dir, err := os.Open(g.Path)
		if err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		defer dir.Close()
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(dir.Fd())
		return cmd.Start()
	}
	home, err := threadGroupV1()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		tid := strconv.Itoa(unix.Gettid())
		if err := g.write("tasks", tid); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		err := cmd.Start()
		// Back home before anything else runs on this thread. If that
		// fails the thread stays locked, and the runtime ends it when
		// this goroutine returns.
		if os.WriteFile(filepath.Join(g.Root.Path, home, "tasks"), []byte(tid), 0) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// threadGroupV1 returns the v1 memory cgroup of the calling thread, relative
// to the hierarchy's root.
func threadGroupV1() (string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controller-list:path
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && contains(strings.Split(f[1], ","), "memory") {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("cgroup: /proc/thread-self/cgroup names no memory cgroup: %w", ErrParse)
}

// Procs lists the processes in the group.
func (g *Group) Procs() ([]int, error) {
	return readPids(filepath.Join(g.Path, "cgroup.procs"))
}

func readPids(p string) ([]int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgroup: %s: %q: %w", p, f, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Remove kills the processes left in the group (SIGKILL), waits up to ten
// seconds for them to leave it and removes the group. Charges of page cache
// the group still holds move to its parent.
func (g *Group) Remove() error {
	return remove(g.Path)
}

func remove(path string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := readPids(filepath.Join(path, "cgroup.procs"))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if pid == os.Getpid() {
				return fmt.Errorf("cgroup: %s holds this process: move it out before removing the group", path)
			}
			// An exiting process may already be gone: ESRCH is fine.
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("cgroup: kill %d in %s: %w", pid, path, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: %s: processes %v still there after SIGKILL", path, pids)
		}
		// Killed processes leave the group when they are reaped; there is
		// no readiness signal for that on v1, so poll briefly.
		time.Sleep(10 * time.Millisecond)
	}
	// rmdir can fail with EBUSY while the last exiting task is being
	// detached; retry until the deadline.
	for {
		err := unix.Rmdir(path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("cgroup: rmdir %s: %w", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CleanStale removes the groups that a process of this package made and
// left behind: those whose creating pid (in the name) is no longer running.
// It writes a line per group it removes to w and returns their paths.
func CleanStale(w io.Writer) ([]string, error) {
	root, err := Detect()
	if err != nil {
		return nil, err
	}
	return CleanStaleIn(root, w)
}

// CleanStaleIn is CleanStale in a given hierarchy.
func CleanStaleIn(root Root, w io.Writer) ([]string, error) {
	ents, err := os.ReadDir(root.Path)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		pid, ok := creator(e.Name())
		if !e.IsDir() || !ok || alive(pid) {
			continue
		}
		p := filepath.Join(root.Path, e.Name())
		if err := remove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(w, "removed stale memory cgroup %s (its creator, pid %d, is gone)\n", p, pid)
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

// creator parses the pid out of a group name made by New.
func creator(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return 0, false
	}
	p, n, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return 0, false
	}
	if _, err := strconv.Atoi(n); err != nil {
		return 0, false
	}
	return pid, true
}

func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
