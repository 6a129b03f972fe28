package results

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"

	"github.com/pagecache-suite/wcache/internal/golden"
	"github.com/pagecache-suite/wcache/internal/testenv"
)

func TestTableGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, fixtureSweep()); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n")
	b.WriteString(Recommend(fixtureSweep(), DefaultTolerance).String())
	golden.Check(t, "testdata/table.golden", b.Bytes())
}

func TestBenchGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteBench(&b, fixtureSweep()); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/bench.golden", b.Bytes())
}

func TestSummaryGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummary(&b, fixtureSweep(), []string{PlotScatter, PlotWindows}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/summary.golden", b.Bytes())
}

// TestBenchFormatParses reads bench.txt back with benchfmt.Reader, as
// benchstat does, and checks that every sample and every metric comes back
// with its value, the configuration lines, and which way each unit is
// better.
func TestBenchFormatParses(t *testing.T) {
	s := fixtureSweep()
	var b bytes.Buffer
	if err := WriteBench(&b, s); err != nil {
		t.Fatal(err)
	}
	r := benchfmt.NewReader(&b, "bench.txt")
	var results []*benchfmt.Result
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Fatal(rec)
		case *benchfmt.Result:
			results = append(results, rec.Clone())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, m := range Metrics {
		if got := r.Units().GetBetter(m.Unit); got != m.Better {
			t.Errorf("%s: benchfmt reads better=%d, want %d", m.Unit, got, m.Better)
		}
	}
	if len(results) != len(s.Samples) {
		t.Fatalf("%d results, want %d", len(results), len(s.Samples))
	}
	first := results[0]
	if first.GetConfig("goos") != "linux" || first.GetConfig("kernel") != "6.18.0" || first.GetConfig("image-bytes") != "268435456" {
		t.Errorf("configuration: %v", first.Config)
	}
	want := s.SamplesOf("builtin window:8")
	var got []*benchfmt.Result
	for _, res := range results {
		if string(res.Name) == "Copy/server=builtin/cache=none/policy=window:8" {
			got = append(got, res)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d results for window:8, want %d", len(got), len(want))
	}
	for i, res := range got {
		for _, m := range Metrics {
			// benchfmt tidies units (MB/s becomes B/s, scaled by 1e6).
			_, tidy := benchunit.Tidy(1, m.Unit)
			v, ok := res.Value(tidy)
			scale, _ := benchunit.Tidy(1, m.Unit)
			if w := m.Value(want[i]) * scale; !ok || math.Abs(v-w) > 1e-9*math.Abs(w) {
				t.Errorf("sample %d %s: %v (%v), want %v", i, m.Unit, v, ok, w)
			}
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := fixtureSweep()
	if err := WriteAll(dir, s); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{JSONFile, BenchFile, CSVFile, SummaryFile,
		PlotScatter + ".png", PlotScatter + ".svg", PlotWindows + ".png", PlotWindows + ".svg",
		PlotTimeline + ".png", PlotTimeline + ".svg"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", name, err)
		}
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Samples) != len(s.Samples) || len(got.Configs) != len(s.Configs) {
		t.Fatalf("loaded %d samples, %d configs; want %d, %d", len(got.Samples), len(got.Configs), len(s.Samples), len(s.Configs))
	}
	if got.Samples[7].MBps != s.Samples[7].MBps || got.Env.Disk.Queue["nr_requests"] != "256" {
		t.Errorf("round trip changed values")
	}
	if dump := os.Getenv("WBENCH_PLOT_DIR"); dump != "" {
		if err := WriteAll(dump, s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadRejectsOtherJSON(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, JSONFile), []byte(`{"hello": 1}`), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), ErrNotSweep.Error()) {
		t.Fatalf("Load of foreign JSON: %v, want ErrNotSweep", err)
	}
}

// TestLoadOldPolicySpelling loads a sweep stored before policies were
// typed, when nbdkit's configurations carried cache=default and cache=none
// as their policy, and expects the policies nbdkit ran.
func TestLoadOldPolicySpelling(t *testing.T) {
	dir := t.TempDir()
	want := fixtureSweep()
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, JSONFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(b), `"server": "nbdkit",
      "policy": "none"`, `"server": "nbdkit",
      "policy": "cache=default"`, 1)
	old = strings.Replace(old, `"server": "nbdkit",
      "policy": "window:8"`, `"server": "nbdkit",
      "policy": "cache=none"`, 1)
	if old == string(b) || strings.Count(old, `"cache=`) != 2 {
		t.Fatalf("fixture JSON not shaped as expected:\n%s", b)
	}
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Configs, want.Configs) {
		t.Errorf("configurations loaded as\n%+v\nwant\n%+v", got.Configs, want.Configs)
	}
	if ref, ok := got.Reference(Nbdkit); !ok || ref.Name != "nbdkit cache=default" {
		t.Errorf("nbdkit reference = %+v, %v", ref, ok)
	}
}

// TestCaptureEnv describes this machine and checks what every Linux
// system tells: the memory size (from /proc/meminfo), the page size and
// the filesystem of the work directory.
func TestCaptureEnv(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the environment is read from Linux /proc and /sys")
	}
	e := CaptureEnv(testenv.DiskDir(t))
	if e.MemBytes <= 0 || e.MemBytes%1024 != 0 {
		t.Errorf("memory %d bytes", e.MemBytes)
	}
	if e.PageSize != os.Getpagesize() || e.Kernel == "" || e.CPUs < 1 {
		t.Errorf("page size %d, kernel %q, %d CPUs", e.PageSize, e.Kernel, e.CPUs)
	}
	if e.Disk.Filesystem == "" {
		t.Errorf("disk %+v", e.Disk)
	}
}
