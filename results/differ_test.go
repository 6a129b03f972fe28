package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// variant returns a deep enough copy of the fixture for changing its
// settings and environment.
func variant(edit func(*Sweep)) *Sweep {
	s := fixtureSweep()
	edit(s)
	return s
}

func TestDifferencesAndWorkloadCheck(t *testing.T) {
	old := fixtureSweep()
	new := variant(func(s *Sweep) {
		s.Settings.ImageBytes = 64 << 20 // workload
		s.Settings.Args = []string{"wbench", "--size=64M"}
		s.Settings.Windows = []int{1, 8} // procedural: not a difference
		s.Env.Kernel = "6.19.1"          // machine
		s.Env.Disk.Queue["nr_requests"] = "64"
		s.Env.Tools["nbdkit"] = "nbdkit 1.40.0" // a server both ran
		s.Env.Commit = "fedcba987654"           // what compare is for
	})
	got := map[string]Difference{}
	for _, d := range Differences(old, new) {
		got[d.Field] = d
	}
	for field, kind := range map[string]string{
		"settings.image_bytes": KindWorkload, "env.tools.nbdkit": KindWorkload,
		"env.kernel": KindMachine, "env.disk.queue.nr_requests": KindMachine,
	} {
		if d, ok := got[field]; !ok || d.Kind != kind {
			t.Errorf("%s: %+v, want a %s difference", field, d, kind)
		}
	}
	for _, field := range []string{"settings.args", "settings.windows", "env.commit"} {
		if _, ok := got[field]; ok {
			t.Errorf("%s listed as a difference", field)
		}
	}
	err := CheckWorkload(Differences(old, new))
	var we *WorkloadError
	if !errors.As(err, &we) || !strings.Contains(err.Error(), "settings.image_bytes 268435456 vs 67108864") {
		t.Errorf("workload check: %v", err)
	}
	if strings.Contains(err.Error(), "kernel") {
		t.Errorf("a machine difference refused: %v", err)
	}
	// A field one sweep predates is listed, not refused.
	withSum := variant(func(s *Sweep) { s.Settings.ImageSHA256 = "abc" })
	diffs := Differences(old, withSum)
	if len(diffs) != 1 || diffs[0].Old != notRecorded || CheckWorkload(diffs) != nil {
		t.Errorf("field missing on one side: %+v, %v", diffs, CheckWorkload(diffs))
	}
	if d := Differences(old, fixtureSweep()); len(d) != 0 {
		t.Errorf("a sweep differs from its twin: %+v", d)
	}
}

func TestCompareFormats(t *testing.T) {
	old := fixtureSweep()
	c := Compare(old, scaled(old, 0.8, 1, 1), CompareOptions{Metrics: []string{"mbps"}})
	var b bytes.Buffer
	if err := c.Write(&b, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Deltas []struct {
			Config, Verdict string
			Old             struct{ Median float64 }
		}
		Regressions int
	}
	if err := json.Unmarshal(b.Bytes(), &j); err != nil || len(j.Deltas) != len(old.Configs) || j.Regressions != len(old.Configs) || j.Deltas[0].Old.Median == 0 {
		t.Errorf("json: %v %+v\n%s", err, j, b.String())
	}
	b.Reset()
	if err := c.Write(&b, FormatCSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 1+len(old.Configs) || rows[1][7] != VerdictRegression {
		t.Errorf("csv: %v %q", err, rows)
	}
	b.Reset()
	if err := c.Write(&b, FormatMarkdown); err != nil || !strings.Contains(b.String(), "|:--") || !strings.Contains(b.String(), "- 10 significant regression(s)") {
		t.Errorf("markdown: %v\n%s", err, b.String())
	}
	if err := c.Write(&b, "xml"); err == nil {
		t.Error("no error for an unknown format")
	}
}

func TestTableFormats(t *testing.T) {
	s := fixtureSweep()
	s.Samples = s.Samples[:len(s.Samples)-3] // nbdkit cache=none: 3 samples, no interval
	var b bytes.Buffer
	if err := WriteTableFormat(&b, s, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Rows []struct {
			N    int
			MBps struct {
				Median float64
				Lo     *float64 `json:"ci_lo"`
			}
		}
		Recommended int `json:"recommended_windows"`
	}
	if err := json.Unmarshal(b.Bytes(), &j); err != nil || len(j.Rows) != len(s.Configs) || j.Recommended != 4 {
		t.Fatalf("json: %v %+v", err, j)
	}
	if first, last := j.Rows[0], j.Rows[len(j.Rows)-1]; first.MBps.Lo == nil || last.N != 3 || last.MBps.Lo != nil {
		t.Errorf("interval ends: first %+v, last %+v; want a number, then null", first, last)
	}
	b.Reset()
	if err := WriteTableFormat(&b, s, FormatCSV); err != nil {
		t.Fatal(err)
	}
	if rows, err := csv.NewReader(&b).ReadAll(); err != nil || len(rows) != 1+len(s.Configs) {
		t.Errorf("csv: %v, %d rows", err, len(rows))
	}
	if !strings.Contains(TableNote(s), "∞: fewer than 6 samples") {
		t.Errorf("note: %s", TableNote(s))
	}
}

// TestStoredSweepsLoad: every sweep stored under runs/, written before
// schema_version existed, still loads and reports.
func TestStoredSweepsLoad(t *testing.T) {
	dirs, _ := filepath.Glob("../runs/*/" + JSONFile)
	if len(dirs) == 0 {
		t.Fatal("no stored sweeps under runs/")
	}
	for _, p := range dirs {
		s, err := Load(filepath.Dir(p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if s.Partial || len(s.Samples) == 0 || s.SchemaVersion != 0 {
			t.Errorf("%s: partial %v, %d samples, schema %d", p, s.Partial, len(s.Samples), s.SchemaVersion)
		}
		var b bytes.Buffer
		if err := WriteTableFormat(&b, s, FormatJSON); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestFleet(t *testing.T) {
	a := fixtureSweep()
	b := variant(func(s *Sweep) { s.Env.Hostname, s.Env.Kernel, s.Env.CPUs = "big", "6.19.1", 16 })
	b.Partial = true
	f := NewFleet([]string{"ci/ubuntu", "ci/arm"}, []*Sweep{a, b})
	var out bytes.Buffer
	if err := f.Write(&out, FormatText); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ubuntu", "arm (PARTIAL)", "big, 16 CPUs", "machine env.kernel: ubuntu=6.18.0, arm=6.19.1", "machine env.cpus: ubuntu=2, arm=16"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "settings.") {
		t.Errorf("a workload difference between equal workloads:\n%s", out.String())
	}
	dir := t.TempDir()
	if err := f.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FleetSummaryFile, PlotFleet + ".png", PlotFleet + ".svg"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	out.Reset()
	if err := f.Write(&out, FormatJSON); err != nil || !json.Valid(out.Bytes()) {
		t.Errorf("json: %v", err)
	}
}
