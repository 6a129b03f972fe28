package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A matrix is the sweeps of one wbench run over several scenarios (devices
// and filesystems, package testbed), one Sweep per scenario. It is stored
// as a directory holding one sweep directory per scenario (ScenarioDir)
// and, across them, matrix.json (the scenarios' directories), bench.txt
// with the scenario as a benchmark key, samples.csv with a scenario
// column, summary.md with the matrix table, and the heatmap and neighbour
// plots.

// MatrixFile lists the scenarios of a stored matrix.
const MatrixFile = "matrix.json"

// Plot file names of a matrix.
const (
	PlotHeatmap   = "heatmap"
	PlotNeighbour = "neighbour"
)

// ScenarioDir is the directory name of a scenario inside a matrix
// directory: its name with "/" and ":" made "-" ("throttled-200M-xfs").
func ScenarioDir(name string) string {
	if name == "" {
		return "default"
	}
	return strings.NewReplacer("/", "-", ":", "-").Replace(name)
}

// matrixIndex is the content of matrix.json.
type matrixIndex struct {
	Version   int       `json:"version"`
	Started   time.Time `json:"started"`
	Scenarios []struct {
		Name string `json:"name"`
		Dir  string `json:"dir"`
	} `json:"scenarios"`
}

// WriteMatrix stores the sweeps of a matrix in dir (see MatrixFile).
func WriteMatrix(dir string, ss []*Sweep) error {
	var idx matrixIndex
	idx.Version = FormatVersion
	for _, s := range ss {
		d := ScenarioDir(s.Scenario)
		if err := WriteAll(filepath.Join(dir, d), s); err != nil {
			return err
		}
		idx.Scenarios = append(idx.Scenarios, struct {
			Name string `json:"name"`
			Dir  string `json:"dir"`
		}{s.Scenario, d})
	}
	if len(ss) > 0 {
		idx.Started = ss[0].Started
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("save matrix: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, MatrixFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save matrix: %w", err)
	}
	if err := writeFile(filepath.Join(dir, BenchFile), func(w io.Writer) error { return writeMatrixBench(w, ss) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, CSVFile), func(w io.Writer) error { return writeMatrixCSV(w, ss) }); err != nil {
		return err
	}
	plots, err := writeMatrixPlots(dir, ss)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, SummaryFile), func(w io.Writer) error { return writeMatrixSummary(w, ss, plots) })
}

// IsMatrix reports whether dir holds a stored matrix.
func IsMatrix(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, MatrixFile))
	return err == nil
}

// LoadMatrix reads the sweeps of a matrix stored by WriteMatrix.
func LoadMatrix(dir string) ([]*Sweep, error) {
	b, err := os.ReadFile(filepath.Join(dir, MatrixFile))
	if err != nil {
		return nil, fmt.Errorf("load matrix: %w", err)
	}
	var idx matrixIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("load matrix %s: %w", dir, err)
	}
	var ss []*Sweep
	for _, sc := range idx.Scenarios {
		s, err := Load(filepath.Join(dir, sc.Dir))
		if err != nil {
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// writeMatrixBench writes every scenario's samples in the Go benchmark
// format with the scenario as the first key of the benchmark name
// (Copy/scenario=throttled:200M-xfs/server=builtin/...), so that
// `benchstat -col /scenario` slices by it.
func writeMatrixBench(w io.Writer, ss []*Sweep) error {
	bw := bufio.NewWriter(w)
	for _, s := range ss {
		var b bytes.Buffer
		if err := WriteBench(&b, s); err != nil {
			return err
		}
		key := "scenario=" + strings.ReplaceAll(s.Scenario, "/", "-")
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			switch {
			case strings.HasPrefix(line, "BenchmarkCopy/"):
				bw.WriteString("BenchmarkCopy/" + key + "/" + strings.TrimPrefix(line, "BenchmarkCopy/"))
			default: // configuration lines hold until changed: each scenario's own
				bw.WriteString(line)
			}
		}
	}
	return bw.Flush()
}

// writeMatrixCSV writes every scenario's samples.csv with a scenario
// column in front, under one header.
func writeMatrixCSV(w io.Writer, ss []*Sweep) error {
	for i, s := range ss {
		var b bytes.Buffer
		if err := WriteCSV(&b, s); err != nil {
			return err
		}
		lines := strings.SplitAfter(b.String(), "\n")
		for j, line := range lines {
			if line == "" || (j == 0 && i > 0) {
				continue
			}
			field := s.Scenario
			if j == 0 {
				field = "scenario"
			}
			if _, err := io.WriteString(w, csvField(field)+","+line); err != nil {
				return err
			}
		}
	}
	return nil
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// MatrixRow is the answer of one scenario: the recommended window count,
// its throughput against the scenario's best and against cache=default,
// what it leaves cached, and what it and cache=default cost a neighbour.
type MatrixRow struct {
	Scenario string
	Rec      Recommendation
	// RatioBest and RatioDefault are the recommended count's median
	// throughput over the best window count's and over the built-in
	// cache=default's (0 when not measured).
	RatioBest, RatioDefault float64
	// NbRatio and NbDefaultRatio are the median, over runs, of the
	// neighbour's p99 latency during the copy over its idle p99, for the
	// recommended count and for cache=default (0 without a neighbour).
	NbRatio, NbDefaultRatio float64
	Regime                  string
}

// MatrixRows gives one row per scenario.
func MatrixRows(ss []*Sweep) []MatrixRow {
	var rows []MatrixRow
	for _, s := range ss {
		r := MatrixRow{Scenario: s.Scenario, Rec: Recommend(s, s.Settings.Tolerance), Regime: s.Settings.Regime}
		if r.Rec.OK && r.Rec.BestMBps > 0 {
			r.RatioBest = r.Rec.MBps / r.Rec.BestMBps
		}
		if r.Rec.OK && r.Rec.RefMBps > 0 {
			r.RatioDefault = r.Rec.MBps / r.Rec.RefMBps
		}
		for _, b := range BudgetRows(s) {
			switch {
			case !b.Neighbour:
			case b.Config.Name == r.Rec.Config:
				r.NbRatio = b.Ratio.Median
			case b.Config.Server == Builtin && b.Config.IsDefaultCache():
				r.NbDefaultRatio = b.Ratio.Median
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteMatrixTable prints the matrix: per scenario, the recommended window
// count, its throughput ratios, its residency and the neighbour's p99
// ratio to idle (the recommended count's, and cache=default's).
func WriteMatrixTable(w io.Writer, ss []*Sweep) error {
	return writeMatrix(w, ss, false)
}

func writeMatrix(w io.Writer, ss []*Sweep, markdown bool) error {
	rows := MatrixRows(ss)
	nb := false
	for _, r := range rows {
		nb = nb || r.NbRatio > 0 || r.NbDefaultRatio > 0
	}
	head := []string{"scenario", "recommended windows", "MB/s", "x best", "x cache=default", "resident pages", "% of written"}
	if nb {
		head = append(head, "nb p99 x idle", "nb p99 x idle, cache=default")
	}
	ratio := func(v float64, f string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(f, v)
	}
	var body [][]string
	for _, r := range rows {
		if !r.Rec.OK {
			body = append(body, append([]string{r.Scenario, "-"}, make([]string, len(head)-2)...))
			continue
		}
		line := []string{r.Scenario, fmt.Sprint(r.Rec.Windows), fmt.Sprintf("%.0f", r.Rec.MBps),
			ratio(r.RatioBest, "%.2f"), ratio(r.RatioDefault, "%.2f"), fmt.Sprintf("%.0f", r.Rec.Resident), percent(r.Rec.Fraction)}
		if nb {
			line = append(line, ratio(r.NbRatio, "%.1f"), ratio(r.NbDefaultRatio, "%.1f"))
		}
		body = append(body, line)
	}
	return renderTable(w, markdown, head, body)
}

// WriteScenarioHeader prints the lines above a scenario's table: which
// scenario, on what device, and the write-back regime of its image size.
func WriteScenarioHeader(w io.Writer, s *Sweep) error {
	var b strings.Builder
	if s.Testbed != "" {
		fmt.Fprintf(&b, "Scenario %s\n", s.Testbed)
	} else if s.Scenario != "" {
		fmt.Fprintf(&b, "Scenario %s\n", s.Scenario)
	}
	if r := s.Settings.Regime; r != "" {
		fmt.Fprintf(&b, "Workload: %s\n", r)
	}
	if s.Settings.MemoryLimit > 0 {
		fmt.Fprintf(&b, "Memory budget: each server in a memory cgroup of %s", sizeLabel(s.Settings.MemoryLimit))
		if s.Settings.Neighbour != "" {
			fmt.Fprintf(&b, " beside a neighbour %s", s.Settings.Neighbour)
		}
		b.WriteString("; the client outside it\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMatrixSummary(w io.Writer, ss []*Sweep, plots []string) error {
	var b bytes.Buffer
	if len(ss) > 0 {
		fmt.Fprintf(&b, "# wbench matrix of %s\n\n`%s`\n\n", ss[0].Started.UTC().Format(time.RFC3339), strings.Join(ss[0].Settings.Args, " "))
	}
	b.WriteString("## Answer per scenario\n\nThe recommended window count of each scenario (the smallest not significantly below the scenario's best median throughput, two-sided U test at alpha 0.05, or within the tolerance of it), its median throughput relative to the best and to the built-in cache=default, the output pages it leaves cached, and, with a neighbour, the neighbour's p99 read latency during the copy relative to its idle stretch (median over runs).\n\n")
	if err := writeMatrix(&b, ss, true); err != nil {
		return err
	}
	if len(AutoRows(ss)) > 0 {
		b.WriteString("\n## window:auto against the fixed ring\n\nPer scenario, the self-tuning ring's median throughput against the best fixed window count's (ratio, and the two-sided Mann-Whitney U test: \"worse\" only when significantly below at alpha 0.05 and by more than the tolerance, the rule that picks the recommended count), window:8's median throughput (nbdkit's NR_WINDOWS), and window:auto's median pages left after the run and peak residency during it against window:8's.\n\n")
		if err := writeAuto(&b, ss, true); err != nil {
			return err
		}
	}
	b.WriteString("\n## Scenarios\n\n")
	for _, s := range ss {
		fmt.Fprintf(&b, "- [%s](%s/summary.md): %s; %s\n", s.Scenario, ScenarioDir(s.Scenario), s.Testbed, s.Settings.Regime)
	}
	return writeWithPlots(w, &b, plots)
}
