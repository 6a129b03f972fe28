package results

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Files of a fleet view (wbench report --out DIR SWEEP...).
const (
	FleetSummaryFile = "fleet.md"
	PlotFleet        = "fleet"
)

// Fleet is the view of several sweeps, typically of the same workload on
// different machines (or scenarios): per sweep its recommendation, and
// every setting and machine property in which the sweeps differ.
type Fleet struct {
	Members []FleetMember
	// Differences lists, per field that is not the same in every sweep,
	// its value in each (in Members order).
	Differences []FleetDifference
}

// FleetMember is one sweep of a fleet.
type FleetMember struct {
	Label string // the sweep's directory name, or its host when not unique
	Dir   string
	Sweep *Sweep
	Rec   Recommendation
	Ref   Summary // the built-in server's cache=default throughput
}

// FleetDifference is one field that differs across a fleet.
type FleetDifference struct {
	Kind   string   `json:"kind"`
	Field  string   `json:"field"`
	Values []string `json:"values"`
}

// NewFleet builds the fleet view of sweeps loaded from dirs.
func NewFleet(dirs []string, sweeps []*Sweep) *Fleet {
	f := &Fleet{}
	labels := map[string]int{}
	for i, s := range sweeps {
		m := FleetMember{Dir: dirs[i], Sweep: s, Label: filepath.Base(filepath.Clean(dirs[i])), Rec: Recommend(s, s.Settings.Tolerance)}
		if ref, ok := s.Reference(Builtin); ok {
			m.Ref = Summarize(MetricMBps.Values(s.SamplesOf(ref.Name)))
		}
		labels[m.Label]++
		f.Members = append(f.Members, m)
	}
	for i := range f.Members {
		if labels[f.Members[i].Label] > 1 {
			f.Members[i].Label = fmt.Sprintf("%s (%s)", f.Members[i].Dir, f.Members[i].Sweep.Env.Hostname)
		}
	}
	fields := make([]map[string]string, len(sweeps))
	all := map[string]string{}
	for i, s := range sweeps {
		fields[i] = sweepFields(s)
		for k := range fields[i] {
			all[k] = ""
		}
	}
	for _, k := range union(all, nil) {
		kind, ok := fieldKind(k)
		if !ok {
			continue
		}
		d := FleetDifference{Kind: kind, Field: k}
		same := true
		for i := range sweeps {
			v, ok := fields[i][k]
			if !ok {
				v = notRecorded
			}
			d.Values = append(d.Values, v)
			same = same && v == d.Values[0]
		}
		if !same {
			f.Differences = append(f.Differences, d)
		}
	}
	sort.SliceStable(f.Differences, func(i, j int) bool { return f.Differences[i].Kind > f.Differences[j].Kind })
	return f
}

// recText is a member's recommendation in a table cell.
func (m FleetMember) recText() string {
	switch {
	case !m.Rec.OK:
		return "-"
	case m.Rec.Indistinguishable:
		return fmt.Sprintf("%d (no difference)", m.Rec.Windows)
	}
	return strconv.Itoa(m.Rec.Windows)
}

// Write prints the fleet in format (see Formats): the table of members,
// then the differences (text and markdown).
func (f *Fleet) Write(w io.Writer, format string) error {
	head := []string{"sweep", "machine", "kernel", "n", "recommended windows", "MB/s ± CI", "x default", "resident pages ± CI", "% of written"}
	var body [][]string
	for _, m := range f.Members {
		e := m.Sweep.Env
		ratio := "-"
		if m.Rec.RefMBps > 0 {
			ratio = fmt.Sprintf("%.2f", m.Rec.MBps/m.Rec.RefMBps)
		}
		name := m.Label
		if m.Sweep.Partial {
			name += " (PARTIAL)"
		}
		body = append(body, []string{name, fmt.Sprintf("%s, %d CPUs, %s", e.Hostname, e.CPUs, sizeLabel(e.MemBytes)), e.Kernel,
			strconv.Itoa(m.Rec.MinN), m.recText(), ciText(m.Rec.PickMBps), ratio, ciText(m.Rec.PickResident), percent(m.Rec.Fraction)})
	}
	return writeReport(w, format, head, body, f.jsonValue, func(bullet string) {
		if len(f.Differences) == 0 {
			fmt.Fprintf(w, "%sThe sweeps differ in nothing recorded but their results.\n", bullet)
			return
		}
		fmt.Fprintf(w, "%sWhat differs between the sweeps:\n", bullet)
		for _, d := range f.Differences {
			var vals []string
			for i, v := range d.Values {
				vals = append(vals, f.Members[i].Label+"="+v)
			}
			fmt.Fprintf(w, "%s%s %s: %s\n", bullet, d.Kind, d.Field, strings.Join(vals, ", "))
		}
	})
}

// jsonValue is the fleet as --format=json writes it.
func (f *Fleet) jsonValue() any {
	type member struct {
		Label          string  `json:"label"`
		Dir            string  `json:"dir"`
		Partial        bool    `json:"partial"`
		Env            Env     `json:"env"`
		Windows        int     `json:"recommended_windows"`
		NoDifference   bool    `json:"window_count_makes_no_difference"`
		MBps           Summary `json:"mbps"`
		Resident       Summary `json:"resident_end"`
		DefaultMBps    Summary `json:"default_mbps"`
		Recommendation string  `json:"recommendation"`
	}
	out := struct {
		Members     []member          `json:"members"`
		Differences []FleetDifference `json:"differences"`
	}{Differences: f.Differences}
	for _, m := range f.Members {
		out.Members = append(out.Members, member{m.Label, m.Dir, m.Sweep.Partial, m.Sweep.Env, m.Rec.Windows, m.Rec.Indistinguishable,
			m.Rec.PickMBps, m.Rec.PickResident, m.Ref, m.Rec.String()})
	}
	return out
}

// WriteAll writes fleet.md and the fleet plot (PNG and SVG) into dir.
func (f *Fleet) WriteAll(dir string) error {
	if err := CheckDir(dir); err != nil {
		return err
	}
	if err := f.plot(dir); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("# wbench fleet view\n\nPer sweep, the recommended window count and its median throughput and residency with 95% confidence intervals.\n\n")
	if err := f.Write(&b, FormatMarkdown); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\n![fleet](%s.png) ([SVG](%s.svg))\n", PlotFleet, PlotFleet)
	return writeFile(filepath.Join(dir, FleetSummaryFile), func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err })
}

// plot draws each member's recommended count as a point of throughput
// against residency, with its intervals (min-max without one), labelled.
func (f *Fleet) plot(dir string) error {
	p := newPlot("Recommended window count per sweep: throughput against page-cache residency",
		"output pages left in the page cache (log)", "durable throughput, MB/s")
	logAxis(&p.X)
	var pts errPoints
	var labels plotter.XYLabels
	for _, m := range f.Members {
		if !m.Rec.OK {
			continue
		}
		x, y := floor1(m.Rec.PickResident.Median), m.Rec.PickMBps.Median
		xs, ys := m.Rec.PickResident, m.Rec.PickMBps
		xlo, xhi, ylo, yhi := xs.Lo, xs.Hi, ys.Lo, ys.Hi
		if !xs.CIOK() {
			xlo, xhi = xs.Min, xs.Max
		}
		if !ys.CIOK() {
			ylo, yhi = ys.Min, ys.Max
		}
		pts.XYs = append(pts.XYs, plotter.XY{X: x, Y: y})
		pts.XErrors = append(pts.XErrors, struct{ Low, High float64 }{x - floor1(xlo), floor1(xhi) - x})
		pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{y - ylo, yhi - y})
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: y})
		labels.Labels = append(labels.Labels, fmt.Sprintf(" %s: %s windows", m.Label, m.recText()))
	}
	if len(pts.XYs) == 0 {
		return nil
	}
	if err := addMarker(p, "recommended count", pts, colSweep); err != nil {
		return err
	}
	xe, err := plotter.NewXErrorBars(pts)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	xe.LineStyle.Color = colSweep
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	p.Add(xe, lb)
	p.X.Min /= 2
	p.X.Max *= 8
	p.Y.Min = 0
	p.Y.Max *= 1.1
	return saveGrid(dir, PlotFleet, [][]*plot.Plot{{p}}, 22*vg.Centimeter, 14*vg.Centimeter)
}
