package results

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/golden"
)

// fixtureMatrix is two scenarios: the fixture sweep as native/ext4, and a
// slower device where one window is enough and a neighbour in the
// server's cgroup suffers from cache=default.
func fixtureMatrix() []*Sweep {
	a := fixtureSweep()
	a.Scenario, a.Testbed = "native/ext4", "native/ext4 on /dev/loop0 (7:0), read_ahead_kb 128"
	a.Settings.Regime = "image 256 MiB = 0.1x dirty_background (2.3 GiB): below it, cache=default buffers the copy until the flush"
	b := fixtureSweep()
	b.Scenario, b.Testbed = "throttled:200M/xfs", "throttled:200M/xfs on /dev/loop1 (7:1), read_ahead_kb 128"
	b.Settings.MemoryLimit, b.Settings.Neighbour = 128<<20, "warm:64M,rate=500"
	b.Settings.Regime = "image 256 MiB = 2.0x the memory limit (128 MiB): the server's cgroup must reclaim"
	for i := range b.Samples {
		x := &b.Samples[i]
		c, _ := b.Config(x.Config)
		if c.Role == RoleSweep {
			x.MBps = 200 * (1 - 0.001*float64(c.Windows)) * (1 + 0.01*float64(x.Rep-2))
		}
		idle := 60e-6 * (1 + 0.1*float64(x.Rep))
		copyP99, cached := 2*idle, 1.0
		if c.IsDefaultCache() {
			copyP99, cached = 40*idle, 0.5+0.05*float64(x.Rep)
		}
		stolen := int64(1000 * (x.Rep + 1))
		x.Budget = &Budget{Limit: 128 << 20, Peak: 120 << 20, LimitHits: int64(10 * x.Rep), Stolen: &stolen,
			Neighbour: &Neighbour{Spec: "warm:64M,rate=500", Cached: cached, Overhead: 0.05,
				Idle: NeighbourPhase{Sec: 1, Reads: 500, Rate: 500, P50: idle / 2, P99: idle, Max: 3 * idle},
				Copy: NeighbourPhase{Sec: 1, Reads: 490, Rate: 490, P50: idle / 2, P99: copyP99, Max: 3 * copyP99}}}
		x.Scenario = b.Scenario
	}
	for i := range a.Samples {
		a.Samples[i].Scenario = a.Scenario
	}
	return []*Sweep{a, b}
}

func TestMatrixTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMatrixTable(&b, fixtureMatrix()); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/matrix.golden", b.Bytes())
}

func TestBudgetTable(t *testing.T) {
	ss := fixtureMatrix()
	var b bytes.Buffer
	if err := WriteScenarioHeader(&b, ss[1]); err != nil {
		t.Fatal(err)
	}
	if err := WriteBudgetTable(&b, ss[1]); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/budget.golden", b.Bytes())
	b.Reset()
	if err := WriteBudgetTable(&b, ss[0]); err != nil || b.Len() != 0 {
		t.Errorf("a sweep without a budget printed %q (%v)", b.String(), err)
	}
}

// TestWriteMatrix stores a matrix and reads everything back: the sweeps,
// bench.txt through benchfmt with the scenario as a key, the CSV with a
// scenario column, the plots.
func TestWriteMatrix(t *testing.T) {
	ss := fixtureMatrix()
	dir := t.TempDir()
	if err := WriteMatrix(dir, ss); err != nil {
		t.Fatal(err)
	}
	if !IsMatrix(dir) {
		t.Fatal("IsMatrix: false for a stored matrix")
	}
	back, err := LoadMatrix(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(ss) || !reflect.DeepEqual(back[1].Samples[0].Budget, ss[1].Samples[0].Budget) || back[1].Scenario != ss[1].Scenario {
		t.Errorf("LoadMatrix did not give back the sweeps stored")
	}
	bench, err := os.ReadFile(filepath.Join(dir, BenchFile))
	if err != nil {
		t.Fatal(err)
	}
	perScenario := map[string]int{}
	for _, line := range strings.Split(string(bench), "\n") {
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		name := strings.Fields(line)[0]
		for _, part := range strings.Split(name, "/")[1:] {
			if k, v, ok := strings.Cut(part, "="); ok && k == "scenario" {
				perScenario[v]++
			}
		}
	}
	for _, s := range ss {
		if key := strings.ReplaceAll(s.Scenario, "/", "-"); perScenario[key] != len(s.Samples) {
			t.Errorf("bench.txt: %d results with scenario=%s, want %d", perScenario[key], key, len(s.Samples))
		}
	}
	cf, err := os.Open(filepath.Join(dir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	rows, err := csv.NewReader(cf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "scenario" || len(rows) != 1+len(ss[0].Samples)+len(ss[1].Samples) || rows[len(rows)-1][0] != ss[1].Scenario {
		t.Errorf("samples.csv: header %q, %d rows", rows[0], len(rows))
	}
	for _, name := range []string{PlotHeatmap + ".png", PlotHeatmap + ".svg", PlotNeighbour + ".png", SummaryFile,
		filepath.Join(ScenarioDir(ss[1].Scenario), JSONFile), filepath.Join(ScenarioDir(ss[1].Scenario), PlotNeighbour+".svg")} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// withAuto adds window:auto to a scenario: its samples are those of the
// swept count named from, with throughput scaled by f and every residency
// figure halved.
func withAuto(s *Sweep, from string, f float64) {
	c := NewConfig(Builtin, "window:auto", 0, RoleExtra)
	s.Configs = append(s.Configs, c)
	for _, x := range s.SamplesOf(from) {
		x.Config, x.MBps = c.Name, x.MBps*f
		x.ResidentEnd, x.ResidentPeak = x.ResidentEnd/2, x.ResidentPeak/2
		s.Samples = append(s.Samples, x)
	}
}

func TestAutoRows(t *testing.T) {
	ss := fixtureMatrix()
	if rows := AutoRows(ss); len(rows) != 0 {
		t.Fatalf("rows without window:auto: %+v", rows)
	}
	// As fast as the best count (window:32) on the first device, half as
	// fast as the best (window:1) on the second: only the second is
	// significantly worse (6 samples a side).
	for i, f := range []float64{1, 0.5} {
		var top Row
		for _, r := range Rows(ss[i]) {
			if r.Config.Role == RoleSweep && r.MBps.Median > top.MBps.Median {
				top = r
			}
		}
		withAuto(ss[i], top.Config.Name, f)
	}
	rows := AutoRows(ss)
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	if !rows[0].NotWorse() || rows[1].NotWorse() {
		t.Errorf("verdicts: %s not worse=%v (p=%.3f), %s not worse=%v (p=%.3f); want true, false",
			rows[0].Scenario, rows[0].NotWorse(), rows[0].VsBest.P, rows[1].Scenario, rows[1].NotWorse(), rows[1].VsBest.P)
	}
	// Half of window:32's residency is more than window:8's; half of
	// window:1's is less.
	for i, want := range []bool{false, true} {
		a := rows[i]
		if a.Ring8.Config.Windows != 8 || a.NoMoreResident() != want {
			t.Errorf("%s: window:8 row %q, no more resident = %v, want %v", a.Scenario, a.Ring8.Config.Name, a.NoMoreResident(), want)
		}
	}
	var b bytes.Buffer
	if err := WriteAutoTable(&b, ss); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/auto.golden", b.Bytes())
}
