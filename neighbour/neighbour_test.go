package neighbour

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/cgroup"
	"github.com/pagecache-suite/wcache/internal/benchlock"
)

// TestMain doubles as the neighbour child: the tests start their own binary
// with "neighbour SPEC FILE", as wbench starts itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "neighbour" {
		if err := Main(context.Background(), os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	benchlock.Shared(os.Stderr, 90*time.Second)
	os.Exit(m.Run())
}

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Spec
		err  bool
	}{
		{"warm:256M", Spec{Warm, 256 << 20, DefaultRate}, false},
		{"warm:1G,rate=100", Spec{Warm, 1 << 30, 100}, false},
		{"warm:64KiB,rate=1", Spec{Warm, 64 << 10, 1}, false},
		{"hot:8192", Spec{Hot, 8192, 0}, false},
		{"hot:2Mi", Spec{Hot, 2 << 20, 0}, false},
		{"hot:1M,rate=5", Spec{}, true},
		{"warm:1M,rate=0", Spec{}, true},
		{"warm:1M,rate=x", Spec{}, true},
		{"warm:1M,iops=5", Spec{}, true},
		{"warm:1000", Spec{}, true}, // not a multiple of 4 KiB
		{"warm:0", Spec{}, true},
		{"warm:1X", Spec{}, true},
		{"warm:-4096", Spec{}, true},
		{"cold:1M", Spec{}, true},
		{"warm", Spec{}, true},
	} {
		got, err := ParseSpec(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.err)
		}
		if err != nil && !errors.Is(err, ErrSpec) {
			t.Errorf("ParseSpec(%q): %v does not wrap ErrSpec", c.in, err)
		}
		if err == nil {
			if back, err := ParseSpec(got.String()); err != nil || back != got {
				t.Errorf("ParseSpec(%q.String() = %q) = %+v, %v", c.in, got.String(), back, err)
			}
		}
	}
}

// file prepares a neighbour file of size bytes on a disk-backed
// filesystem.
func file(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err == nil && sfs.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is tmpfs: its pages cannot be evicted to disk", dir)
	}
	path := filepath.Join(dir, "neighbour")
	cached, err := Prepare(path, size)
	if err != nil {
		t.Fatal(err)
	}
	if cached != 0 {
		t.Logf("%d pages of %s still cached after Prepare", cached, path)
	}
	return path
}

// start runs a neighbour child, in g when g is not nil, and waits for its
// warm-up.
func start(t testing.TB, spec, path string, g *cgroup.Group) (*Client, WarmUp) {
	t.Helper()
	sp, err := ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := Command(t.Context(), os.Args[0], sp, path)
	cmd.Stderr = os.Stderr
	c, err := NewClient(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if g != nil {
		err = g.Start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Warm()
	if err != nil {
		t.Fatal(err)
	}
	if w.Bytes != sp.Size {
		t.Fatalf("warm-up read %d bytes, want %d", w.Bytes, sp.Size)
	}
	return c, w
}

// fincore returns util-linux fincore's count of path's resident pages.
func fincore(t testing.TB, path string) int64 {
	t.Helper()
	out, err := exec.Command("fincore", "--bytes", "--noheadings", "--raw", "--output", "PAGES,FILE", path).Output()
	if err != nil {
		t.Fatalf("fincore %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[1] != path {
		t.Fatalf("fincore output %q", out)
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatalf("fincore output %q: %v", out, err)
	}
	return n
}

// agree checks a neighbour's count of resident pages against fincore's,
// within two pages.
func agree(t testing.TB, what string, resident int64, path string) {
	t.Helper()
	fc := fincore(t, path)
	t.Logf("%s: neighbour %d pages resident, fincore %d", what, resident, fc)
	if d := resident - fc; d < -2 || d > 2 {
		t.Errorf("%s: neighbour counts %d pages resident, fincore %d", what, resident, fc)
	}
}

// TestCachedAgreesWithFincore drops half of the neighbour's file behind its
// back and checks its reports against fincore before and after.
func TestCachedAgreesWithFincore(t *testing.T) {
	const size = 16 << 20
	path := file(t, size)
	c, w := start(t, "warm:16M,rate=200", path, nil)
	agree(t, "after warm-up", w.Cached.Resident, path)
	if w.Cached.Pages != size/int64(w.Cached.PageSize) {
		t.Fatalf("warm-up measured %d pages, want %d", w.Cached.Pages, size/w.Cached.PageSize)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Best-effort advice; the assertions below read the result.
	if err := unix.Fadvise(int(f.Fd()), size/2, size/2, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	fin, err := c.Close()
	if err != nil {
		t.Fatal(err)
	}
	agree(t, "at the end", fin.Cached.Resident, path)
	if half := fin.Cached.Pages / 2; fin.Cached.Resident > half+2 {
		t.Errorf("%d of %d pages resident after dropping the second half", fin.Cached.Resident, fin.Cached.Pages)
	}
}

// TestIdleRate checks a paced phase: about the requested number of reads,
// never more than the schedule allows, and sane latencies.
func TestIdleRate(t *testing.T) {
	const rate = 500
	path := file(t, 4<<20)
	c, _ := start(t, fmt.Sprintf("warm:4M,rate=%d", rate), path, nil)
	if err := c.Start("idle"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the phase's length, not a synchronisation
	p, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p)
	due := p.Elapsed.Seconds() * rate
	if float64(p.Reads) > due+1 || float64(p.Reads) < due/2 {
		t.Errorf("%d reads in %v at %d/s: want at most %.0f and at least half", p.Reads, p.Elapsed, rate, due+1)
	}
	if float64(p.Reads+p.Missed) > due+1 {
		t.Errorf("%d reads + %d missed exceed the %.0f slots of the schedule", p.Reads, p.Missed, due+1)
	}
	checkLatencies(t, p)
}

func checkLatencies(t *testing.T, p Phase) {
	t.Helper()
	if p.Reads == 0 || !(0 < p.P50 && p.P50 <= p.P99 && p.P99 <= p.Max) || p.Mean > p.Max {
		t.Errorf("phase %s: %d reads, p50 %v p99 %v max %v mean %v", p.Name, p.Reads, p.P50, p.P99, p.Max, p.Mean)
	}
	if p.Read > p.Elapsed || p.Read < time.Duration(p.Reads)*p.P50/2 {
		t.Errorf("phase %s: %v inside pread of %v, %d reads with p50 %v", p.Name, p.Read, p.Elapsed, p.Reads, p.P50)
	}
}

// TestHot checks a hot neighbour's phase, and that closing it during a
// phase still ends it cleanly.
func TestHot(t *testing.T) {
	path := file(t, 4<<20)
	c, _ := start(t, "hot:4M", path, nil)
	if err := c.Start("hot"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the phase's length
	p, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start("unfinished"); err != nil {
		t.Fatal(err)
	}
	if fin, err := c.Close(); err != nil || fin.Cached.Pages == 0 {
		t.Fatalf("Close during a phase: %+v, %v", fin, err)
	}
	t.Logf("%+v", p)
	checkLatencies(t, p)
	if p.Missed != 0 {
		t.Errorf("hot neighbour missed %d reads", p.Missed)
	}
}

// TestShortFile checks that the child's own error reaches the caller.
func TestShortFile(t *testing.T) {
	path := file(t, 8192)
	cmd := Command(t.Context(), os.Args[0], Spec{Kind: Hot, Size: 16384}, path)
	c, err := NewClient(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Warm(); err == nil || !strings.Contains(err.Error(), "holds 8192 bytes") {
		t.Errorf("Warm on a short file: %v", err)
	}
	if _, err := c.Close(); err == nil {
		t.Error("Close after the child failed: no error")
	}
}

// TestWarmUnderPressure runs a warm neighbour in a memory cgroup with a
// writer that pushes twice the limit through the page cache in the same
// group. Only what must hold is asserted: the neighbour keeps no more than
// it had, its counts agree with fincore, the group stays within its limit.
func TestWarmUnderPressure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("memory cgroups need root")
	}
	const limit, size, write = 256 << 20, 128 << 20, 512 << 20
	g, err := cgroup.New(limit)
	if errors.Is(err, cgroup.ErrNoMemoryController) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	})
	path := file(t, size)
	c, w := start(t, "warm:128M,rate=500", path, g)
	agree(t, "after warm-up", w.Cached.Resident, path)

	if err := c.Start("copy"); err != nil {
		t.Fatal(err)
	}
	dd := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(t.TempDir(), "writer"), "bs=1M",
		fmt.Sprintf("count=%d", write>>20), "status=none")
	dd.Stderr = os.Stderr
	if err := g.Start(dd); err != nil {
		t.Fatal(err)
	}
	if err := dd.Wait(); err != nil {
		if st, serr := g.Stats(); serr == nil && st.OOMKills != nil && *st.OOMKills > 0 {
			t.Fatalf("writer: %v: the group's OOM killer struck (%d kills; see package cgroup on v1 and dirty pages)", err, *st.OOMKills)
		}
		t.Fatal(err)
	}
	p, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	fin, err := c.Close()
	if err != nil {
		t.Fatal(err)
	}
	agree(t, "at the end", fin.Cached.Resident, path)
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copy phase: %d reads in %v (%.0f/s, %d missed), p50 %v p99 %v max %v",
		p.Reads, p.Elapsed, p.Rate, p.Missed, p.P50, p.P99, p.Max)
	t.Logf("cached %.1f%% after warm-up, %.1f%% at the end; group peak %d of %d, limit hits %d, refaults %v",
		w.Cached.Percent(), fin.Cached.Percent(), *st.Peak, st.Limit, st.LimitHits, deref(st.WorkingsetRefaultFile))
	if fin.Cached.Resident > w.Cached.Resident {
		t.Errorf("neighbour gained cache under pressure: %d pages, %d before", fin.Cached.Resident, w.Cached.Resident)
	}
	if *st.Peak > st.Limit {
		t.Errorf("group peak %d over its limit %d", *st.Peak, st.Limit)
	}
	if st.LimitHits == 0 {
		t.Errorf("writing %d bytes in a group of %d never hit the limit", write, limit)
	}
	checkLatencies(t, p)
}

func deref(p *int64) any {
	if p == nil {
		return "n/a"
	}
	return *p
}

// BenchmarkIdleOverhead measures what a warm neighbour at 500 reads/s costs
// in CPU, against fio doing the same (psync random 4 KiB reads of a cached
// file at rate_iops=500) for the same time in the same iteration. cpu-% is
// the neighbour's whole CPU time (all threads) per second of phase,
// overhead-% the part of it outside pread; fio-cpu-% is usr_cpu+sys_cpu of
// fio's job thread. Both pay the kernel's cost of waking up 500 times a
// second, which dominates on a virtual machine; BenchmarkBookkeeping
// isolates what the neighbour adds per read.
func BenchmarkIdleOverhead(b *testing.B) {
	const rate, size = 500, 4 << 20
	path := file(b, size)
	c, _ := start(b, fmt.Sprintf("warm:%d,rate=%d", size, rate), path, nil)
	_, fioErr := exec.LookPath("fio")
	var over, cpu, reads, fioCPU float64
	for b.Loop() {
		if err := c.Start("idle"); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Second) // the phase's length
		p, err := c.Stop()
		if err != nil {
			b.Fatal(err)
		}
		over += p.Overhead
		cpu += p.CPU.Seconds() / p.Elapsed.Seconds()
		reads += p.Rate
		if fioErr == nil {
			fioCPU += fio(b, path, rate, time.Second)
		}
	}
	if _, err := c.Close(); err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(100*over/n, "overhead-%")
	b.ReportMetric(100*cpu/n, "cpu-%")
	b.ReportMetric(reads/n, "reads/s")
	if fioErr == nil {
		b.ReportMetric(fioCPU/n, "fio-cpu-%")
	} else {
		b.Log("fio not installed: no reference")
	}
}

// fio runs fio's equivalent of a warm neighbour on path for d and returns
// the CPU time of its job thread in percent of d.
func fio(b *testing.B, path string, rate int, d time.Duration) float64 {
	b.Helper()
	out, err := exec.Command("fio", "--name=neighbour", "--filename="+path, "--rw=randread", "--bs=4k",
		"--ioengine=psync", "--invalidate=0", fmt.Sprintf("--rate_iops=%d", rate), "--time_based",
		fmt.Sprintf("--runtime=%dms", d.Milliseconds()), "--output-format=json").Output()
	if err != nil {
		b.Fatalf("fio: %v", err)
	}
	var r struct {
		Jobs []struct {
			UsrCPU float64 `json:"usr_cpu"`
			SysCPU float64 `json:"sys_cpu"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &r); err != nil || len(r.Jobs) != 1 {
		b.Fatalf("fio output: %v\n%s", err, out)
	}
	return r.Jobs[0].UsrCPU + r.Jobs[0].SysCPU
}

// BenchmarkBookkeeping measures what the neighbour adds to each read: the
// random offset, the two clock readings around pread and the recorder.
// core-%@500 is that cost at 500 reads per second in percent of a core.
func BenchmarkBookkeeping(b *testing.B) {
	r := &reader{blocks: 1 << 16}
	var sink int64
	for b.Loop() {
		sink += rand.Int64N(r.blocks)
		t := time.Now()
		r.rec.add(time.Since(t))
	}
	if sink < 0 {
		b.Fatal("negative offset")
	}
	perRead := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(100*perRead*500, "core-%@500")
}
