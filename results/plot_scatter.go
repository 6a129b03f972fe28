package results

import (
	"fmt"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// scatterPlot: throughput against resident pages, one point per
// configuration with min-max bars on both axes, labelled with its window
// count; references and anchors in their own colours and glyphs.
func scatterPlot(s *Sweep, rows []Row, rec Recommendation) (*plot.Plot, error) {
	p := newPlot(
		fmt.Sprintf("Throughput vs output pages left cached (%s copied, median of %d, bars: min-max)",
			sizeLabel(s.Settings.ImageBytes), s.Settings.Count),
		fmt.Sprintf("output-file pages cached after the run (%d KiB pages, log scale; 0 drawn at 1)", s.PageSize()>>10),
		"durable throughput (MB/s)")
	logAxis(&p.X)
	var groups [len(seriesStyle)]struct {
		pts errPoints
		lbl []string
	}
	nsweep := 0
	for _, r := range rows {
		if r.Config.Role == RoleSweep {
			nsweep++
		}
	}
	for _, r := range rows {
		if r.N == 0 {
			continue
		}
		sr := seriesOf(r.Config)
		g := &groups[sr]
		var label string
		switch sr {
		case seriesNbdkit:
			label = r.Config.Name
		case seriesSweep:
			label = strconv.Itoa(r.Config.Windows)
			if nsweep > 12 && !labelWindow(r.Config.Windows, rec.Windows) {
				label = ""
			}
		case seriesDefault:
			label = "cache=default"
		default:
			label = string(r.Config.Policy)
		}
		x := floor1(r.Resident.Median)
		g.pts.XYs = append(g.pts.XYs, plotter.XY{X: x, Y: r.MBps.Median})
		g.pts.XErrors = append(g.pts.XErrors, struct{ Low, High float64 }{x - floor1(r.Resident.Min), floor1(r.Resident.Max) - x})
		g.pts.YErrors = append(g.pts.YErrors, struct{ Low, High float64 }{r.MBps.Median - r.MBps.Min, r.MBps.Max - r.MBps.Median})
		g.lbl = append(g.lbl, label)
	}
	for i := range groups {
		g := &groups[i]
		if len(g.pts.XYs) == 0 {
			continue
		}
		st := seriesStyle[i]
		sc, err := plotter.NewScatter(g.pts)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: st.col, Radius: vg.Points(4), Shape: st.glyph}
		xe, err := plotter.NewXErrorBars(g.pts)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		ye, err := plotter.NewYErrorBars(g.pts)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		xe.LineStyle.Color, ye.LineStyle.Color = st.col, st.col
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: g.pts.XYs, Labels: g.lbl})
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Color = st.col
			lb.TextStyle[i].Font.Size = vg.Points(9)
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		if series(i) == seriesNbdkit {
			// Below the point, clear of the built-in labels above theirs.
			lb.Offset.Y = vg.Points(-13)
		}
		p.Add(xe, ye, sc, lb)
		p.Legend.Add(st.legend, sc)
	}
	if rec.OK {
		for _, r := range rows {
			if r.Config.Name == rec.Config {
				if err := addRing(p, fmt.Sprintf("recommended: %d windows", rec.Windows), r.Resident.Median, r.MBps.Median); err != nil {
					return nil, err
				}
			}
		}
	}
	p.Legend.Top = false
	p.Legend.Left = false
	// Room for the labels right of the points and above the highest.
	p.X.Min /= 1.5
	p.X.Max *= 4
	p.Y.Min = 0
	p.Y.Max *= 1.08
	return p, nil
}

// labelWindow reports whether a crowded plot labels window count w: powers
// of two, nbdkit's 8 and the recommended count.
func labelWindow(w, recommended int) bool {
	return w&(w-1) == 0 || w == recommended
}
