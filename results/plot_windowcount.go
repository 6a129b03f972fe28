package results

import (
	"fmt"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// windowPlots: throughput (top) and residency (bottom) against the window
// count, with the references as horizontal lines.
func windowPlots(s *Sweep, rows []Row, rec Recommendation) (*plot.Plot, *plot.Plot, bool, error) {
	var sweep []Row
	for _, r := range rows {
		if r.Config.Role == RoleSweep && r.Config.Server == Builtin && r.N > 0 {
			sweep = append(sweep, r)
		}
	}
	if len(sweep) == 0 {
		return nil, nil, false, nil
	}
	xlabel := "write windows (NR_WINDOWS) of the built-in server, cache=none"
	tp := newPlot("Durable throughput against window count (median, bars: min-max)", xlabel, "durable throughput (MB/s)")
	rp := newPlot(fmt.Sprintf("Output pages left cached against window count (%d KiB pages; 0 drawn at 1)", s.PageSize()>>10),
		xlabel, "resident pages (log scale)")
	logAxis(&rp.Y)

	var thr, res, peak errPoints
	for _, r := range sweep {
		w := float64(r.Config.Windows)
		thr.XYs = append(thr.XYs, plotter.XY{X: w, Y: r.MBps.Median})
		thr.YErrors = append(thr.YErrors, struct{ Low, High float64 }{r.MBps.Median - r.MBps.Min, r.MBps.Max - r.MBps.Median})
		y := floor1(r.Resident.Median)
		res.XYs = append(res.XYs, plotter.XY{X: w, Y: y})
		res.YErrors = append(res.YErrors, struct{ Low, High float64 }{y - floor1(r.Resident.Min), floor1(r.Resident.Max) - y})
		peak.XYs = append(peak.XYs, plotter.XY{X: w, Y: floor1(r.Peak.Median)})
	}
	minW, maxW := thr.XYs[0].X, thr.XYs[len(thr.XYs)-1].X
	if err := addSeries(tp, "built-in window:N", thr, colSweep, true); err != nil {
		return nil, nil, false, err
	}
	if err := addSeries(rp, "after the run (median, bars: min-max)", res, colSweep, true); err != nil {
		return nil, nil, false, err
	}
	if err := addSeries(rp, "peak during the run (median)", peak, colExtra, false); err != nil {
		return nil, nil, false, err
	}
	if rq := s.Settings.RequestSize; rq > 0 {
		var budget plotter.XYs
		for _, r := range sweep {
			w := float64(r.Config.Windows)
			budget = append(budget, plotter.XY{X: w, Y: w * float64(rq) / float64(s.PageSize())})
		}
		l, err := plotter.NewLine(budget)
		if err != nil {
			return nil, nil, false, fmt.Errorf("plot: %w", err)
		}
		l.Color, l.Dashes, l.Width = colBudget, []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1.5)
		rp.Add(l)
		rp.Legend.Add(fmt.Sprintf("budget: N x %s request", sizeLabel(int64(rq))), l)
	}
	for _, r := range rows {
		if r.Config.Role == RoleSweep || r.N == 0 {
			continue
		}
		col, name := seriesStyle[seriesOf(r.Config)].col, r.Config.Name
		dashes := []vg.Length{vg.Points(6), vg.Points(3)}
		if r.Config.Server == Nbdkit && r.Config.Windows > 0 {
			// nbdkit's ring is fixed: a point at its window count.
			pt := errPoints{XYs: plotter.XYs{{X: float64(r.Config.Windows), Y: r.MBps.Median}},
				YErrors: plotter.YErrors{{Low: r.MBps.Median - r.MBps.Min, High: r.MBps.Max - r.MBps.Median}}}
			if err := addMarker(tp, name, pt, col); err != nil {
				return nil, nil, false, err
			}
			y := floor1(r.Resident.Median)
			pr := errPoints{XYs: plotter.XYs{{X: float64(r.Config.Windows), Y: y}},
				YErrors: plotter.YErrors{{Low: y - floor1(r.Resident.Min), High: floor1(r.Resident.Max) - y}}}
			if err := addMarker(rp, name, pr, col); err != nil {
				return nil, nil, false, err
			}
			continue
		}
		for _, side := range []struct {
			p *plot.Plot
			y float64
		}{{tp, r.MBps.Median}, {rp, floor1(r.Resident.Median)}} {
			l, err := plotter.NewLine(plotter.XYs{{X: minW, Y: side.y}, {X: maxW, Y: side.y}})
			if err != nil {
				return nil, nil, false, fmt.Errorf("plot: %w", err)
			}
			l.Color, l.Dashes, l.Width = col, dashes, vg.Points(1.5)
			side.p.Add(l)
			side.p.Legend.Add(name+" (median)", l)
		}
	}
	if rec.OK {
		l, err := plotter.NewLine(plotter.XYs{{X: minW, Y: (1 - rec.Tolerance) * rec.BestMBps}, {X: maxW, Y: (1 - rec.Tolerance) * rec.BestMBps}})
		if err != nil {
			return nil, nil, false, fmt.Errorf("plot: %w", err)
		}
		l.Color, l.Dashes, l.Width = colExtra, []vg.Length{vg.Points(2), vg.Points(2)}, vg.Points(1)
		tp.Add(l)
		tp.Legend.Add(fmt.Sprintf("%.0f%% below the best median", 100*rec.Tolerance), l)
		if err := addRing(tp, fmt.Sprintf("recommended: %d windows", rec.Windows), float64(rec.Windows), rec.MBps); err != nil {
			return nil, nil, false, err
		}
	}
	tp.Y.Min = 0
	tp.Y.Max *= 1.05
	for _, p := range []*plot.Plot{tp, rp} {
		p.X.Tick.Marker = windowTicks(sweep)
		p.Legend.Top = false
		p.Legend.Left = false
	}
	// Head room above the data for the legend.
	rp.Y.Max = 30 * maxResident(rows)
	rp.Legend.Top = true
	return tp, rp, true, nil
}

// windowTicks marks every swept window count and labels them all, or, when
// there are many, the powers of two and the multiples of four.
func windowTicks(rows []Row) plot.Ticker {
	var ticks plot.ConstantTicks
	for _, r := range rows {
		w := r.Config.Windows
		t := plot.Tick{Value: float64(w)}
		if len(rows) <= 12 || w&(w-1) == 0 || w%4 == 0 {
			t.Label = strconv.Itoa(w)
		}
		ticks = append(ticks, t)
	}
	return ticks
}
