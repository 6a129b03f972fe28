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
	rec := Recommend(s, s.Settings.Tolerance)
	var names []string
	scatter, err := scatterPlot(s, rows, rec)
	if err != nil {
		return nil, err
	}
	if err := saveGrid(dir, PlotScatter, [][]*plot.Plot{{scatter}}, 22*vg.Centimeter, 14*vg.Centimeter); err != nil {
		return nil, err
	}
	names = append(names, PlotScatter)
	if tp, rp, ok, err := windowPlots(s, rows, rec); err != nil {
		return nil, err
	} else if ok {
		if err := saveGrid(dir, PlotWindows, [][]*plot.Plot{{tp}, {rp}}, 22*vg.Centimeter, 22*vg.Centimeter); err != nil {
			return nil, err
		}
		names = append(names, PlotWindows)
	}
	if tl, ok, err := timelinePlot(s, rows); err != nil {
		return nil, err
	} else if ok {
		if err := saveGrid(dir, PlotTimeline, [][]*plot.Plot{{tl}}, 22*vg.Centimeter, 14*vg.Centimeter); err != nil {
			return nil, err
		}
		names = append(names, PlotTimeline)
	}
	if np, ok, err := neighbourPlot([]*Sweep{s}); err != nil {
		return nil, err
	} else if ok {
		if err := saveGrid(dir, PlotNeighbour, [][]*plot.Plot{{np}}, 22*vg.Centimeter, 16*vg.Centimeter); err != nil {
			return nil, err
		}
		names = append(names, PlotNeighbour)
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

// series is how the figures draw one kind of configuration.
type series int

const (
	seriesSweep   series = iota // the built-in server's window:N sweep
	seriesDefault               // cache=default
	seriesFlush                 // flush-each
	seriesExtra                 // a policy added with --policy
	seriesNbdkit                // nbdkit file
)

// seriesStyle is the legend, colour and glyph of each series.
var seriesStyle = [...]struct {
	legend string
	col    color.Color
	glyph  draw.GlyphDrawer
}{
	seriesSweep:   {"built-in, cache=none, window:N (label N)", colSweep, draw.CircleGlyph{}},
	seriesDefault: {"built-in cache=default", colDefault, draw.TriangleGlyph{}},
	seriesFlush:   {"built-in flush-each (pre-patch)", colFlush, draw.SquareGlyph{}},
	seriesExtra:   {"other policies", colExtra, draw.PyramidGlyph{}},
	seriesNbdkit:  {fmt.Sprintf("nbdkit file (cache=none: %d windows)", evict.NbdkitWindows), colNbdkit, draw.CrossGlyph{}},
}

// seriesOf is the series configuration c is drawn in.
func seriesOf(c Config) series {
	switch {
	case c.Server == Nbdkit:
		return seriesNbdkit
	case c.Role == RoleSweep:
		return seriesSweep
	case c.IsDefaultCache():
		return seriesDefault
	case c.Policy == evict.FlushEach:
		return seriesFlush
	}
	return seriesExtra
}

// maxResident is the largest residency any configuration reached.
func maxResident(rows []Row) float64 {
	m := 1.0
	for _, r := range rows {
		m = math.Max(m, math.Max(r.Resident.Max, r.Peak.Max))
	}
	return m
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
