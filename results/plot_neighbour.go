package results

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// neighbourPlot draws the neighbour's p99 read latency during the copy
// against the window count, one line per scenario, with the scenario's
// built-in cache=default and qemu cache=none (O_DIRECT) as dashed and
// dotted references, nbdkit cache=none as a cross at its 8 windows and
// its idle p99 as a thin line. ok is false when no
// sweep had a neighbour.
func neighbourPlot(ss []*Sweep) (*plot.Plot, bool, error) {
	p := newPlot("Neighbour's p99 read latency during the copy (median over runs)",
		"write windows (NR_WINDOWS) of the built-in server, cache=none", "neighbour p99 (µs, log scale)")
	logAxis(&p.Y)
	drawn := false
	minW, maxW := math.Inf(1), math.Inf(-1)
	type ref struct {
		y      float64
		name   string
		dashes []vg.Length
	}
	var refs [][]ref
	var marks []struct {
		name string
		pts  errPoints
		col  int
	}
	for i, s := range ss {
		var pts errPoints
		var rs []ref
		idle := []float64{}
		for _, b := range BudgetRows(s) {
			if !b.Neighbour {
				continue
			}
			idle = append(idle, b.IdleP99.Median)
			c := b.Config
			us := func(v float64) float64 { return math.Max(v*1e6, 1) }
			switch {
			case c.Server == Builtin && c.Role == RoleSweep:
				y := us(b.CopyP99.Median)
				pts.XYs = append(pts.XYs, plotter.XY{X: float64(c.Windows), Y: y})
				pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{y - us(b.CopyP99.Min), us(b.CopyP99.Max) - y})
				minW, maxW = math.Min(minW, float64(c.Windows)), math.Max(maxW, float64(c.Windows))
			case c.Server == Builtin && c.IsDefaultCache():
				rs = append(rs, ref{us(b.CopyP99.Median), "cache=default", []vg.Length{vg.Points(6), vg.Points(3)}})
			case c.Server == Qemu && c.Policy == Direct:
				rs = append(rs, ref{us(b.CopyP99.Median), "qemu O_DIRECT", []vg.Length{vg.Points(2), vg.Points(2)}})
			case c.Server == Nbdkit && c.Windows > 0:
				y := us(b.CopyP99.Median)
				marks = append(marks, struct {
					name string
					pts  errPoints
					col  int
				}{scenarioPrefix(s) + c.Name, errPoints{XYs: plotter.XYs{{X: float64(c.Windows), Y: y}},
					YErrors: plotter.YErrors{{Low: y - us(b.CopyP99.Min), High: us(b.CopyP99.Max) - y}}}, i})
				minW, maxW = math.Min(minW, float64(c.Windows)), math.Max(maxW, float64(c.Windows))
			}
		}
		if len(idle) > 0 {
			rs = append(rs, ref{math.Max(Summarize(idle).Median*1e6, 1), "idle", []vg.Length{vg.Points(1), vg.Points(4)}})
		}
		refs = append(refs, rs)
		if len(pts.XYs) == 0 && len(rs) == 0 {
			continue
		}
		drawn = true
		col := colTimeline[i%len(colTimeline)]
		if len(pts.XYs) > 0 {
			if err := addSeries(p, scenarioPrefix(s)+"window:N", pts, col, true); err != nil {
				return nil, false, err
			}
		}
	}
	if !drawn {
		return nil, false, nil
	}
	switch {
	case math.IsInf(minW, 1):
		minW, maxW = 0.5, 2
	case minW == maxW: // one window count: references drawn around it
		minW, maxW = minW/2, maxW*2
	}
	for _, m := range marks {
		if err := addMarker(p, m.name, m.pts, colTimeline[m.col%len(colTimeline)]); err != nil {
			return nil, false, err
		}
	}
	for i, rs := range refs {
		col := colTimeline[i%len(colTimeline)]
		for _, r := range rs {
			l, err := plotter.NewLine(plotter.XYs{{X: minW, Y: r.y}, {X: maxW, Y: r.y}})
			if err != nil {
				return nil, false, fmt.Errorf("plot: %w", err)
			}
			l.Color, l.Dashes, l.Width = col, r.dashes, vg.Points(1.2)
			p.Add(l)
			p.Legend.Add(scenarioPrefix(ss[i])+r.name, l)
		}
	}
	p.Legend.Top, p.Legend.Left = true, false
	p.Y.Max *= 30 // head room for the legend
	return p, true, nil
}

// scenarioPrefix names a sweep's scenario in a legend, if it has one.
func scenarioPrefix(s *Sweep) string {
	if s.Scenario == "" {
		return ""
	}
	return s.Scenario + ": "
}

// writeMatrixPlots draws the heatmap and the neighbour plot of a matrix
// into dir as PNG and SVG and returns the base names written.
func writeMatrixPlots(dir string, ss []*Sweep) ([]string, error) {
	var names []string
	hm, ok, err := heatmapPlot(ss)
	if err != nil {
		return nil, err
	}
	if ok {
		h := vg.Length(4+2*len(ss)) * vg.Centimeter
		if err := saveGrid(dir, PlotHeatmap, [][]*plot.Plot{{hm}}, 22*vg.Centimeter, h); err != nil {
			return nil, err
		}
		names = append(names, PlotHeatmap)
	}
	np, ok, err := neighbourPlot(ss)
	if err != nil {
		return nil, err
	}
	if ok {
		if err := saveGrid(dir, PlotNeighbour, [][]*plot.Plot{{np}}, 22*vg.Centimeter, 16*vg.Centimeter); err != nil {
			return nil, err
		}
		names = append(names, PlotNeighbour)
	}
	return names, nil
}
