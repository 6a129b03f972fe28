package results

import (
	"fmt"
	"image/color"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// heatmapPlot draws scenario (rows) against window count (columns), each
// cell coloured by the window count's median durable throughput relative
// to the best window count of its scenario and labelled with it, the
// recommended count ringed. ok is false when no scenario swept a window
// count.
func heatmapPlot(ss []*Sweep) (*plot.Plot, bool, error) {
	var windows []int
	for _, s := range ss {
		for _, r := range Rows(s) {
			if r.Config.Role == RoleSweep && r.Config.Server == Builtin && r.N > 0 && !slices.Contains(windows, r.Config.Windows) {
				windows = append(windows, r.Config.Windows)
			}
		}
	}
	if len(windows) == 0 {
		return nil, false, nil
	}
	slices.Sort(windows)
	col := map[int]int{}
	for i, w := range windows {
		col[w] = i
	}
	p := newPlot("Durable throughput relative to the scenario's best window count (median)",
		"write windows (NR_WINDOWS) of the built-in server, cache=none", "")
	var labels plotter.XYLabels
	var rings plotter.XYs
	var dark []bool
	for y, s := range ss {
		rec := Recommend(s, s.Settings.Tolerance)
		if !rec.OK {
			continue
		}
		for _, r := range Rows(s) {
			if r.Config.Role != RoleSweep || r.Config.Server != Builtin || r.N == 0 {
				continue
			}
			x := col[r.Config.Windows]
			rel := r.MBps.Median / rec.BestMBps
			cell, err := plotter.NewPolygon(plotter.XYs{
				{X: float64(x) - 0.5, Y: float64(y) - 0.5}, {X: float64(x) + 0.5, Y: float64(y) - 0.5},
				{X: float64(x) + 0.5, Y: float64(y) + 0.5}, {X: float64(x) - 0.5, Y: float64(y) + 0.5},
			})
			if err != nil {
				return nil, false, fmt.Errorf("plot: %w", err)
			}
			cell.Color, cell.LineStyle.Color = heat(rel), color.White
			p.Add(cell)
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(x), Y: float64(y)})
			labels.Labels = append(labels.Labels, fmt.Sprintf("%.2f\n%.0f MB/s", rel, r.MBps.Median))
			dark = append(dark, rel > 0.75)
			if r.Config.Windows == rec.Windows {
				rings = append(rings, plotter.XY{X: float64(x), Y: float64(y)})
			}
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, false, fmt.Errorf("plot: %w", err)
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
		if dark[i] {
			l.TextStyle[i].Color = color.White
		}
	}
	p.Add(l)
	for i, r := range rings {
		frame, err := plotter.NewPolygon(plotter.XYs{
			{X: r.X - 0.47, Y: r.Y - 0.45}, {X: r.X + 0.47, Y: r.Y - 0.45},
			{X: r.X + 0.47, Y: r.Y + 0.45}, {X: r.X - 0.47, Y: r.Y + 0.45},
		})
		if err != nil {
			return nil, false, fmt.Errorf("plot: %w", err)
		}
		frame.Color, frame.LineStyle.Color, frame.LineStyle.Width = nil, colFlush, vg.Points(3)
		p.Add(frame)
		if i == 0 {
			p.Legend.Add("recommended window count", frame)
			p.Legend.Top = true
		}
	}
	var xt, yt plot.ConstantTicks
	for i, w := range windows {
		xt = append(xt, plot.Tick{Value: float64(i), Label: strconv.Itoa(w)})
	}
	for i, s := range ss {
		yt = append(yt, plot.Tick{Value: float64(i), Label: s.Scenario})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Min, p.X.Max = -0.5, float64(len(windows))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(ss))-0.5+0.4 // room for the legend
	return p, true, nil
}

// heat maps a relative throughput to a colour: 1 (the best) dark blue,
// 0.5 and below pale yellow, linear in between.
func heat(rel float64) color.Color {
	t := min(max((rel-0.5)/0.5, 0), 1)
	lo := [3]float64{255, 237, 160}
	hi := [3]float64{8, 64, 129}
	var c [3]uint8
	for i := range c {
		c[i] = uint8(lo[i] + t*(hi[i]-lo[i]))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}
