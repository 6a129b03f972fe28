package results

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

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

// TestBenchFormatParses reads bench.txt back with the rules of the Go
// benchmark format (golang.org/design/14313-benchmark-data) and checks that
// every sample and every metric comes back with its value.
func TestBenchFormatParses(t *testing.T) {
	s := fixtureSweep()
	var b bytes.Buffer
	if err := WriteBench(&b, s); err != nil {
		t.Fatal(err)
	}
	type result struct {
		name   string
		values map[string]float64
	}
	var got []result
	config := map[string]string{}
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.ContainsAny(k, " \t") && k == strings.ToLower(k) {
			config[k] = v
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "Benchmark") {
			t.Fatalf("line is neither configuration nor result: %q", line)
		}
		if len(f)%2 != 0 {
			t.Fatalf("odd number of fields (name, iterations, value-unit pairs): %q", line)
		}
		if n, err := strconv.Atoi(f[1]); err != nil || n != 1 {
			t.Fatalf("iterations %q: want 1", f[1])
		}
		r := result{name: f[0], values: map[string]float64{}}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				t.Fatalf("value %q in %q: %v", f[i], line, err)
			}
			r.values[f[i+1]] = v
		}
		got = append(got, r)
	}
	if config["goos"] != "linux" || config["kernel"] != "6.18.0" || config["image-bytes"] != "268435456" {
		t.Errorf("configuration lines: %v", config)
	}
	if len(got) != len(s.Samples) {
		t.Fatalf("%d results, want %d", len(got), len(s.Samples))
	}
	first := s.SamplesOf("builtin window:8")[0]
	for _, r := range got {
		if r.name != "BenchmarkCopy/server=builtin/cache=none/policy=window:8" {
			continue
		}
		for _, m := range Metrics {
			want := m.Value(first)
			if v, ok := r.values[m.Unit]; !ok || v != mustParse(strconv.FormatFloat(want, 'g', 6, 64)) {
				t.Errorf("%s: %v, want %v", m.Unit, v, want)
			}
		}
		return
	}
	t.Fatal("no result for window:8")
}

func mustParse(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return v
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
