package cgroup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// root skips the test unless it runs as root on a kernel with a memory
// controller, and returns the hierarchy.
func root(t *testing.T) Root {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("memory cgroups need root")
	}
	r, err := Detect()
	if errors.Is(err, ErrNoMemoryController) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newGroup(t *testing.T, r Root, limit int64) *Group {
	t.Helper()
	g, err := NewIn(r, limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	})
	return g
}

// inGroup reports whether a /proc/.../cgroup text places its task in g.
func inGroup(text string, g *Group) bool {
	for _, line := range strings.Split(text, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[2] != "/"+g.Name {
			continue
		}
		if g.Root.Version == V2 && f[1] == "" || slices.Contains(strings.Split(f[1], ","), "memory") {
			return true
		}
	}
	return false
}

// TestStart checks that a child started with Start is in the group when it
// first runs, and that no thread of the caller stays behind in it.
func TestStart(t *testing.T) {
	r := root(t)
	g := newGroup(t, r, 64<<20)
	cmd := exec.Command("cat", "/proc/self/cgroup")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := g.Start(cmd); err != nil {
		t.Fatal(err)
	}
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(procs, os.Getpid()) {
		t.Errorf("the test process itself is in %s after Start", g.Path)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !inGroup(out.String(), g) {
		t.Fatalf("child's /proc/self/cgroup does not name %s:\n%s", g.Name, out.String())
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/cgroup")
	for _, p := range tasks {
		if b, err := os.ReadFile(p); err == nil && inGroup(string(b), g) {
			t.Errorf("%s: a thread of the test stayed in the group", p)
		}
	}
}

// TestAdd moves a running process in and checks Procs and Remove.
func TestAdd(t *testing.T) {
	r := root(t)
	g, err := NewIn(r, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(procs, []int{cmd.Process.Pid}) {
		t.Fatalf("Procs = %v, want [%d]", procs, cmd.Process.Pid)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	checkKilled(t, cmd)
	if _, err := os.Stat(g.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s after Remove: %v", g.Path, err)
	}
}

func checkKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%v: %v, want killed by SIGKILL", cmd.Args, err)
	}
}

// TestLimit reads a file of four times the limit inside the group: its page
// cache must stay within the limit, and the counters must show that it was
// held there. The file is clean, so reclaim can always make room: a writer
// can instead be OOM-killed under a small v1 limit (see the package
// comment).
func TestLimit(t *testing.T) {
	r := root(t)
	const limit = 32 << 20
	g := newGroup(t, r, limit)
	before, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if before.Limit != limit || before.Usage != 0 || before.LimitHits != 0 {
		t.Fatalf("new group: %+v", before)
	}
	path := cleanFile(t, 4*limit)
	cmd := exec.Command("dd", "if="+path, "of=/dev/null", "bs=1M", "status=none")
	if out, err := startWait(g, cmd); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	after, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after: usage %d peak %d hits %d file %d pgfault %d", after.Usage, *after.Peak, after.LimitHits, *after.File, *after.PgFault)
	if after.Peak == nil || *after.Peak > limit || *after.Peak <= limit/2 {
		t.Errorf("peak %v, want in (limit/2, limit=%d]", after.Peak, limit)
	}
	if after.Usage > limit {
		t.Errorf("usage %d > limit %d", after.Usage, limit)
	}
	if after.LimitHits == 0 {
		t.Error("limit never hit while reading four times the limit")
	}
	if after.File == nil || *after.File == 0 || *after.File > limit {
		t.Errorf("file %v, want in (0, limit]", after.File)
	}
	if after.PgFault == nil || *after.PgFault <= *before.PgFault {
		t.Errorf("pgfault %v, want more than %d", after.PgFault, *before.PgFault)
	}
	if r.Version == V2 && (after.PgScan == nil || *after.PgScan == 0) {
		t.Errorf("v2 pgscan %v, want reclaim scans", after.PgScan)
	}
	if after.OOMKills != nil && *after.OOMKills != 0 {
		t.Errorf("%d OOM kills reading clean page cache", *after.OOMKills)
	}
}

// cleanFile writes a file of size bytes on a disk-backed filesystem, makes
// it durable and drops it from the page cache (outside any test group).
func cleanFile(t *testing.T, size int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte{1}, size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	// Best-effort advice: the group's counters show what was read.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	return path
}

func startWait(g *Group, cmd *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := g.Start(cmd); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	return out.Bytes(), err
}

// TestCleanStale leaves a group named after a dead process, with a process
// in it, beside a live group, and checks that only the first goes.
func TestCleanStale(t *testing.T) {
	r := root(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := &Group{Root: r, Name: fmt.Sprintf("%s%d-1", Prefix, dead.Process.Pid)}
	stale.Path = filepath.Join(r.Path, stale.Name)
	if err := os.Mkdir(stale.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stale.Remove() })
	sleeper := exec.Command("sleep", "60")
	if err := stale.Start(sleeper); err != nil {
		t.Fatal(err)
	}
	live := newGroup(t, r, 64<<20)

	var msg bytes.Buffer
	removed, err := CleanStaleIn(r, &msg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(msg.String()))
	if !slices.Contains(removed, stale.Path) || !strings.Contains(msg.String(), stale.Path) {
		t.Errorf("removed %v, message %q: want %s", removed, msg.String(), stale.Path)
	}
	if slices.Contains(removed, live.Path) {
		t.Errorf("removed the live group %s", live.Path)
	}
	checkKilled(t, sleeper)
	if _, err := os.Stat(stale.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s after CleanStale: %v", stale.Path, err)
	}
	if _, err := os.Stat(live.Path); err != nil {
		t.Fatalf("live group: %v", err)
	}
}

// TestStatsFixtures reads counters saved from a v1 group (this package's
// TestLimit with a writer) and written in the v2 format, and checks that
// both come out under the same names.
func TestStatsFixtures(t *testing.T) {
	i := func(x int64) *int64 { return &x }
	for _, c := range []struct {
		v    Version
		want Stats
	}{
		{V1, Stats{Version: V1, Limit: 33554432, Usage: 32391168, Peak: i(33554432), LimitHits: 66, OOMKills: i(0),
			File: i(31457280), Anon: i(0), Dirty: i(6291456), Writeback: i(0), ActiveFile: i(0), InactiveFile: i(31457280),
			WorkingsetRefaultFile: i(0), PgFault: i(333), PgMajFault: i(0)}},
		{V2, Stats{Version: V2, Limit: 268435456, Usage: 201326592, Peak: i(268369920), LimitHits: 412, OOMKills: i(0),
			File: i(196608000), Anon: i(1245184), Dirty: i(54525952), Writeback: i(8388608), ActiveFile: i(45613056), InactiveFile: i(150994944),
			PgScan: i(98304), PgSteal: i(90112), WorkingsetRefaultFile: i(1207), PgFault: i(5821), PgMajFault: i(3)}},
	} {
		got, err := readStats(filepath.Join("testdata", c.v.String()), c.v)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Raw) == 0 {
			t.Errorf("%v: no raw memory.stat", c.v)
		}
		got.Raw = nil
		if g, w := fmt.Sprintf("%+v", deref(got)), fmt.Sprintf("%+v", deref(c.want)); g != w {
			t.Errorf("%v:\n got %s\nwant %s", c.v, g, w)
		}
	}
}

// deref turns the pointer fields of s into values (or nil) for printing.
func deref(s Stats) map[string]any {
	m := map[string]any{}
	b, _ := json.Marshal(s)
	json.Unmarshal(b, &m)
	return m
}

// TestDetect checks the choice between hierarchies on made-up mountinfo.
func TestDetect(t *testing.T) {
	dir := t.TempDir()
	v2mem, v2none := filepath.Join(dir, "v2mem"), filepath.Join(dir, "v2none")
	for p, ctl := range map[string]string{v2mem: "cpu io memory pids\n", v2none: "hugetlb\n"} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "cgroup.controllers"), []byte(ctl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v1 := "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
	v1cpu := "29 25 0:25 / /sys/fs/cgroup/cpu rw,relatime shared:8 - cgroup cgroup rw,cpu\n"
	mnt := func(p string) string { return "35 25 0:30 / " + p + " rw,relatime shared:14 - cgroup2 cgroup2 rw\n" }
	for _, c := range []struct {
		name, mountinfo string
		want            Root
		err             error
	}{
		{"v1 beside a v2 without memory", v1cpu + v1 + mnt(v2none), Root{"/sys/fs/cgroup/memory", V1}, nil},
		{"v2 with memory wins", v1 + mnt(v2mem), Root{v2mem, V2}, nil},
		{"v2 only", mnt(v2mem), Root{v2mem, V2}, nil},
		{"none", v1cpu + mnt(v2none), Root{}, ErrNoMemoryController},
	} {
		p := filepath.Join(dir, "mountinfo")
		if err := os.WriteFile(p, []byte(c.mountinfo), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := detect(p)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("%s: detect = %+v, %v; want %+v, %v", c.name, got, err, c.want, c.err)
		}
	}
}

func TestCreator(t *testing.T) {
	for _, c := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{"wcache-123-4", 123, true},
		{"wcache-123", 0, false},
		{"wcache-x-1", 0, false},
		{"wcache-0-1", 0, false},
		{"wcache-12-a", 0, false},
		{"other-12-1", 0, false},
	} {
		pid, ok := creator(c.name)
		if pid != c.pid || ok != c.ok {
			t.Errorf("creator(%q) = %d, %v; want %d, %v", c.name, pid, ok, c.pid, c.ok)
		}
	}
}

func TestParseKeyed(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]int64
		err  bool
	}{
		{"cache 4096\nrss 0\n", map[string]int64{"cache": 4096, "rss": 0}, false},
		{"low 0\nhigh 0\nmax 7\noom 0\noom_kill 1\n\n", map[string]int64{"low": 0, "high": 0, "max": 7, "oom": 0, "oom_kill": 1}, false},
		{"cache\n", nil, true},
		{"cache 1 2\n", nil, true},
		{"cache x\n", nil, true},
	} {
		got, err := ParseKeyed(strings.NewReader(c.in))
		if (err != nil) != c.err || !c.err && !maps.Equal(got, c.want) {
			t.Errorf("ParseKeyed(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, ErrParse) {
			t.Errorf("ParseKeyed(%q): %v does not wrap ErrParse", c.in, err)
		}
	}
}
