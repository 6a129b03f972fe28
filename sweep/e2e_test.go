//go:build linux

package sweep

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/results"
)

// TestSweepEndToEnd runs wbench as a user does, on a 32 MiB image with
// window counts 1 and 8, both servers and one repetition, without dropping
// the global cache, then reads everything it stored.
func TestSweepEndToEnd(t *testing.T) {
	testenv.NeedPrograms(t, "nbdcopy", "nbdkit")
	work, out := testenv.DiskDir(t), filepath.Join(t.TempDir(), "sweep")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{
		"--windows=1,8", "--count=1", "--size=32M", "--server=builtin,nbdkit",
		"--drop-caches=false", "--workdir=" + work, "--out=" + out,
	}, &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"builtin window:8", "nbdkit cache=none", "Recommendation: NR_WINDOWS =", "Against nbdkit's fixed 8"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "[6/6]") || !strings.Contains(stderr.String(), "WARNING: page cache not dropped") {
		t.Errorf("progress lines or warning missing:\n%s", stderr.String())
	}

	s, err := results.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Configs) != 6 || len(s.Samples) != 6 {
		t.Fatalf("%d configurations, %d samples; want 6 and 6", len(s.Configs), len(s.Samples))
	}
	for _, x := range s.Samples {
		if !x.IntegrityOK || x.DurableSec <= 0 || x.Pages != 32<<20/4096 || len(x.Timeline) == 0 {
			t.Errorf("%s: integrity %v, durable %v s, %d pages, %d timeline points", x.Config, x.IntegrityOK, x.DurableSec, x.Pages, len(x.Timeline))
		}
	}
	// What the configurations must do to the page cache: cache=default
	// keeps what it wrote, the windows keep at most N requests' worth.
	byName := map[string]results.Sample{}
	for _, x := range s.Samples {
		byName[x.Config] = x
	}
	data := s.Settings.DataBytes / 4096
	if r := byName["builtin cache=default"].ResidentEnd; r < data/2 {
		t.Errorf("cache=default left %d of %d data pages cached, want most", r, data)
	}
	for _, f := range results.Check(s, results.CheckOptions{}) {
		if !f.OK {
			t.Errorf("check %s: %s", f.Check, f.Detail)
		}
	}
	if f := results.CheckFiles(out); !f.OK {
		t.Error(f.Detail)
	}
	for _, name := range []string{results.PlotWindows + ".png", results.PlotTimeline + ".svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	// The other subcommands on the stored sweep.
	stdout.Reset()
	if code := Main(context.Background(), []string{"check", "--quick", out}, &stdout, &stderr); code != ExitOK {
		t.Errorf("check --quick: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"compare", out, out}, &stdout, &stderr); code != ExitOK {
		t.Errorf("compare with itself: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "no significant regression") {
		t.Errorf("compare output:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"report", out}, &stdout, &stderr); code != ExitOK || !strings.Contains(stdout.String(), "Recommendation") {
		t.Errorf("report: exit %d\n%s", code, stdout.String())
	}

	// compare exits 1 on a regression: five repetitions built from the
	// measured runs, then the same made 40% slower.
	oldDir, newDir := filepath.Join(t.TempDir(), "old"), filepath.Join(t.TempDir(), "new")
	if err := results.Save(oldDir, replicate(s, 1)); err != nil {
		t.Fatal(err)
	}
	if err := results.Save(newDir, replicate(s, 1.4)); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"compare", "--metrics=durable_sec,mbps", oldDir, newDir}, &stdout, &stderr); code != ExitFailure || !strings.Contains(stdout.String(), "REGRESSION") {
		t.Errorf("compare of a 40%% slowdown: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"compare", newDir, oldDir}, &stdout, &stderr); code != ExitOK {
		t.Errorf("compare of a speed-up: exit %d\n%s", code, stdout.String())
	}
}

// replicate returns s with five repetitions of every sample, 1% apart,
// durable times multiplied by f.
func replicate(s *results.Sweep, f float64) *results.Sweep {
	out := *s
	out.Samples = nil
	for _, x := range s.Samples {
		for r := range 5 {
			y := x
			y.Rep = r
			y.DurableSec = x.DurableSec * f * (1 + 0.01*float64(r))
			y.MBps = float64(y.BytesWritten) / 1e6 / y.DurableSec
			out.Samples = append(out.Samples, y)
		}
	}
	return &out
}

// TestSweepLibnbdClient runs the in-process libnbd client, random order,
// and checks that per-request latencies were recorded and the output is
// intact.
func TestSweepLibnbdClient(t *testing.T) {
	testenv.NeedPrograms(t, "nbdcopy")
	s, err := Run(context.Background(), Options{
		Windows: []int{4}, Count: 1, Size: 16 << 20, Servers: []string{"builtin"},
		Client: ClientLibnbd, Pattern: PatternRandom, RequestSize: 64 << 10, InFlight: 8,
		WorkDir: testenv.DiskDir(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range s.Samples {
		if !x.IntegrityOK {
			t.Errorf("%s: output differs from source", x.Config)
		}
		if x.LatP50 <= 0 || x.LatP99 < x.LatP50 || x.LatMax < x.LatP99 {
			t.Errorf("%s: latencies p50 %v p99 %v max %v", x.Config, x.LatP50, x.LatP99, x.LatMax)
		}
		if x.BytesWritten != s.Settings.DataBytes {
			t.Errorf("%s: %d data bytes written, image has %d", x.Config, x.BytesWritten, s.Settings.DataBytes)
		}
	}
	var b bytes.Buffer
	if err := results.WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "p99 latency ms") {
		t.Errorf("table lacks the latency column:\n%s", b.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--windows=0"},
		{"--windows=4..1"},
		{"--count=0"},
		{"--server=qemu"},
		{"--client=curl"},
		{"--pattern=random"},
		{"--policy=window:0"},
		{"--size=12345"},
		{"--tolerance=2"},
		{"stray"},
		{"compare", "onlyone"},
		{"compare", "--metrics=speed", "a", "b"},
		{"check", "--quick", "--baseline=x", "y"},
		{"report"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d; stderr:\n%s", args, code, ExitUsage, stderr.String())
		}
		if stderr.Len() == 0 {
			t.Errorf("%q: no message on stderr", args)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, &stdout, &stderr); code != ExitOK || !strings.Contains(stderr.String(), "Examples:") {
		t.Errorf("--help: exit %d\n%s", code, stderr.String())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "64K": 64 << 10, "256k": 256 << 10, "512M": 512 << 20, "1G": 1 << 30, "2MiB": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1M", "M", "1T", "1.5M"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}
