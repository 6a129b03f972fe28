package results

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pagecache-suite/wcache/evict"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot file names (without extension) inside a sweep directory.
const (
	PlotScatter  = "throughput-vs-residency"
	PlotWindows  = "windows"
	PlotTimeline = "residency-over-time"
)

// Colours of the series, chosen to stay apart in print and for the
// colour-blind (Okabe-Ito).
var (
	colSweep    = color.RGBA{0, 114, 178, 255}   // blue
	colDefault  = color.RGBA{213, 94, 0, 255}    // vermillion
	colFlush    = color.RGBA{230, 159, 0, 255}   // orange
	colExtra    = color.RGBA{0, 158, 115, 255}   // green
	colNbdkit   = color.RGBA{0, 0, 0, 255}       // black
	colBudget   = color.RGBA{128, 128, 128, 255} // grey
	colTimeline = []color.Color{
		color.RGBA{0, 114, 178, 255}, color.RGBA{0, 158, 115, 255}, color.RGBA{204, 121, 167, 255},
		color.RGBA{86, 180, 233, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{230, 159, 0, 255},
		color.RGBA{0, 0, 0, 255},
	}
)

// WritePlots draws the sweep's plots into dir as PNG and SVG and returns the
// base names written.
func WritePlots(dir string, s *Sweep) ([]string, error) {
	rows := Rows(s)
	var names []string
	scatter, err := scatterPlot(s, rows)
	if err != nil {
		return nil, err
	}
	if err := saveGrid(dir, PlotScatter, [][]*plot.Plot{{scatter}}, 22*vg.Centimeter, 14*vg.Centimeter); err != nil {
		return nil, err
	}
	names = append(names, PlotScatter)
	if tp, rp, ok, err := windowPlots(s, rows); err != nil {
		return nil, err
	} else if ok {
		if err := saveGrid(dir, PlotWindows, [][]*plot.Plot{{tp}, {rp}}, 22*vg.Centimeter, 22*vg.Centimeter); err != nil {
			return nil, err
		}
		names = append(names, PlotWindows)
	}
	if tl, ok, err := timelinePlot(s); err != nil {
		return nil, err
	} else if ok {
		if err := saveGrid(dir, PlotTimeline, [][]*plot.Plot{{tl}}, 22*vg.Centimeter, 14*vg.Centimeter); err != nil {
			return nil, err
		}
		names = append(names, PlotTimeline)
	}
	return names, nil
}

// errPoints carries points with asymmetric error bars on both axes.
type errPoints struct {
	plotter.XYs
	plotter.XErrors
	plotter.YErrors
}

// floor1 keeps values positive for log axes: 0 pages are drawn at 1.
func floor1(v float64) float64 { return math.Max(v, 1) }

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = plainTicks{}
	return p
}

// plainTicks are gonum's default ticks labelled without trailing zeroes
// (250, not 250.00) and without float noise (0.3, not 0.30000000000000004).
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(math.Round(ts[i].Value*1e9)/1e9, 'f', -1, 64)
		}
	}
	return ts
}

func logAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = logTicks{}
}

// logTicks marks powers of ten with short labels (1, 10, 100, 1k, ...).
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(math.Max(min, 1e-9))); e <= math.Ceil(math.Log10(max)); e++ {
		v := math.Pow(10, e)
		ticks = append(ticks, plot.Tick{Value: v, Label: shortNumber(v)})
		for i := 2; i < 10; i++ {
			ticks = append(ticks, plot.Tick{Value: v * float64(i)})
		}
	}
	return ticks
}

// shortNumber writes 1000 as 1k and 1000000 as 1M.
func shortNumber(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'g', -1, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func sizeLabel(bytes int64) string {
	switch {
	case bytes >= 1<<30 && bytes%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", bytes>>30)
	case bytes >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(bytes)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", bytes>>10)
	}
}

// scatterPlot: throughput against resident pages, one point per
// configuration with min-max bars on both axes, labelled with its window
// count; references and anchors in their own colours and glyphs.
func scatterPlot(s *Sweep, rows []Row) (*plot.Plot, error) {
	p := newPlot(
		fmt.Sprintf("Throughput vs output pages left cached (%s copied, median of %d, bars: min-max)",
			sizeLabel(s.Settings.ImageBytes), s.Settings.Count),
		fmt.Sprintf("output-file pages cached after the run (%d KiB pages, log scale; 0 drawn at 1)", s.PageSize()>>10),
		"durable throughput (MB/s)")
	logAxis(&p.X)
	type group struct {
		name  string
		col   color.Color
		glyph draw.GlyphDrawer
		pts   errPoints
		lbl   []string
	}
	groups := []*group{
		{name: "built-in, cache=none, window:N (label N)", col: colSweep, glyph: draw.CircleGlyph{}},
		{name: "built-in cache=default", col: colDefault, glyph: draw.TriangleGlyph{}},
		{name: "built-in flush-each (pre-patch)", col: colFlush, glyph: draw.SquareGlyph{}},
		{name: "other policies", col: colExtra, glyph: draw.PyramidGlyph{}},
		{name: fmt.Sprintf("nbdkit file (cache=none: %d windows)", evict.NbdkitWindows), col: colNbdkit, glyph: draw.CrossGlyph{}},
	}
	rec := Recommend(s, s.Settings.Tolerance)
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
		var g *group
		label := string(r.Config.Policy)
		switch {
		case r.Config.Server == Nbdkit:
			g, label = groups[4], r.Config.Name
		case r.Config.Role == RoleSweep:
			g, label = groups[0], strconv.Itoa(r.Config.Windows)
			if nsweep > 12 && !labelWindow(r.Config.Windows, rec.Windows) {
				label = ""
			}
		case r.Config.IsDefaultCache():
			g, label = groups[1], "cache=default"
		case r.Config.Policy == evict.FlushEach:
			g = groups[2]
		default:
			g = groups[3]
		}
		x := floor1(r.Resident.Median)
		g.pts.XYs = append(g.pts.XYs, plotter.XY{X: x, Y: r.MBps.Median})
		g.pts.XErrors = append(g.pts.XErrors, struct{ Low, High float64 }{x - floor1(r.Resident.Min), floor1(r.Resident.Max) - x})
		g.pts.YErrors = append(g.pts.YErrors, struct{ Low, High float64 }{r.MBps.Median - r.MBps.Min, r.MBps.Max - r.MBps.Median})
		g.lbl = append(g.lbl, label)
	}
	for _, g := range groups {
		if len(g.pts.XYs) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(g.pts)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: g.col, Radius: vg.Points(4), Shape: g.glyph}
		xe, err := plotter.NewXErrorBars(g.pts)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		ye, err := plotter.NewYErrorBars(g.pts)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		xe.LineStyle.Color, ye.LineStyle.Color = g.col, g.col
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: g.pts.XYs, Labels: g.lbl})
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Color = g.col
			lb.TextStyle[i].Font.Size = vg.Points(9)
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		if g.col == colNbdkit {
			// Below the point, clear of the built-in labels above theirs.
			lb.Offset.Y = vg.Points(-13)
		}
		p.Add(xe, ye, sc, lb)
		p.Legend.Add(g.name, sc)
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

// windowPlots: throughput (top) and residency (bottom) against the window
// count, with the references as horizontal lines.
func windowPlots(s *Sweep, rows []Row) (*plot.Plot, *plot.Plot, bool, error) {
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
		col, name := colExtra, r.Config.Name
		switch {
		case r.Config.Server == Nbdkit:
			col = colNbdkit
		case r.Config.IsDefaultCache():
			col = colDefault
		case r.Config.Policy == evict.FlushEach:
			col = colFlush
		}
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
	if rec := Recommend(s, s.Settings.Tolerance); rec.OK {
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

// maxResident is the largest residency any configuration reached.
func maxResident(rows []Row) float64 {
	m := 1.0
	for _, r := range rows {
		m = math.Max(m, math.Max(r.Resident.Max, r.Peak.Max))
	}
	return m
}

// labelWindow reports whether a crowded plot labels window count w: powers
// of two, nbdkit's 8 and the recommended count.
func labelWindow(w, recommended int) bool {
	return w&(w-1) == 0 || w == recommended
}

// addRing circles the point (x, y) to mark the recommendation.
func addRing(p *plot.Plot, name string, x, y float64) error {
	sc, err := plotter.NewScatter(plotter.XYs{{X: floor1(x), Y: y}})
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: colExtra, Radius: vg.Points(9), Shape: draw.RingGlyph{}}
	p.Add(sc)
	p.Legend.Add(name, sc)
	return nil
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

func addSeries(p *plot.Plot, name string, pts errPoints, col color.Color, bars bool) error {
	l, sc, err := plotter.NewLinePoints(pts.XYs)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	l.Color, l.Width = col, vg.Points(1.5)
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
	p.Add(l, sc)
	if bars {
		ye, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		ye.LineStyle.Color = col
		p.Add(ye)
	}
	p.Legend.Add(name, l, sc)
	return nil
}

func addMarker(p *plot.Plot, name string, pts errPoints, col color.Color) error {
	sc, err := plotter.NewScatter(pts.XYs)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(5), Shape: draw.CrossGlyph{}}
	ye, err := plotter.NewYErrorBars(pts)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	ye.LineStyle.Color = col
	p.Add(ye, sc)
	p.Legend.Add(name+" (median)", sc)
	return nil
}

// timelinePlot: out-file residency over time during one run of a few
// configurations: the smallest, nbdkit's and the largest window count, and the
// references.
func timelinePlot(s *Sweep) (*plot.Plot, bool, error) {
	var pick []Config
	var sweep []Config
	for _, c := range s.Configs {
		if c.Role == RoleSweep && c.Server == Builtin {
			sweep = append(sweep, c)
		}
	}
	seen := map[string]bool{}
	add := func(c Config) {
		if !seen[c.Name] {
			seen[c.Name] = true
			pick = append(pick, c)
		}
	}
	if len(sweep) > 0 {
		add(sweep[0])
		for _, c := range sweep {
			if c.Windows == evict.NbdkitWindows {
				add(c)
			}
		}
		add(sweep[len(sweep)-1])
	}
	for _, c := range s.Configs {
		if c.Role == RoleReference || c.Role == RoleAnchor {
			add(c)
		}
	}
	p := newPlot(fmt.Sprintf("Output pages in the page cache during one run (median-time repetition; %d KiB pages, 0 drawn at 1)", s.PageSize()>>10),
		"time since the client started (s)", "resident pages (log scale)")
	logAxis(&p.Y)
	n := 0
	for _, c := range pick {
		x, ok := medianRun(s.SamplesOf(c.Name))
		if !ok || len(x.Timeline) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(x.Timeline))
		for i, pt := range x.Timeline {
			xys[i] = plotter.XY{X: pt.T, Y: floor1(float64(pt.Resident))}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, false, fmt.Errorf("plot: %w", err)
		}
		l.Color = colTimeline[n%len(colTimeline)]
		l.Width = vg.Points(1.5)
		if n >= len(colTimeline) {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(c.Name, l)
		n++
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.X.Min = 0
	// Head room above the data for the legend.
	p.Y.Max = 30 * maxResident(Rows(s))
	return p, n > 0, nil
}

// medianRun returns the sample with the median durable time.
func medianRun(ss []Sample) (Sample, bool) {
	if len(ss) == 0 {
		return Sample{}, false
	}
	med := Summarize(MetricDurable.Values(ss)).Median
	best := ss[0]
	for _, x := range ss[1:] {
		if math.Abs(x.DurableSec-med) < math.Abs(best.DurableSec-med) {
			best = x
		}
	}
	return best, true
}

// MetricDurable is the durable-time metric.
var MetricDurable, _ = MetricByKey("durable_sec")

// saveGrid draws plots in a grid of rows and columns and writes base.png
// (at 150 dpi) and base.svg into dir.
func saveGrid(dir, base string, grid [][]*plot.Plot, w, h vg.Length) error {
	canvases := []struct {
		ext string
		c   interface {
			vg.CanvasSizer
			io.WriterTo
		}
	}{
		{".png", vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(150))}},
		{".svg", vgsvg.New(w, h)},
	}
	for _, cv := range canvases {
		dc := draw.New(cv.c)
		tiles := draw.Tiles{Rows: len(grid), Cols: len(grid[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 6,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
		cells := plot.Align(grid, tiles, dc)
		for i := range grid {
			for j := range grid[i] {
				grid[i][j].Draw(cells[i][j])
			}
		}
		path := filepath.Join(dir, base+cv.ext)
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		if _, err := cv.c.WriteTo(f); err != nil {
			f.Close()
			return fmt.Errorf("plot %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
	}
	return nil
}
