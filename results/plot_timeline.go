package results

import (
	"fmt"
	"math"

	"github.com/pagecache-suite/wcache/evict"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// timelinePlot: out-file residency over time during one run of a few
// configurations: the smallest, nbdkit's and the largest window count,
// window:auto with the ring size its controller chose (dashed, in pages),
// and the references.
func timelinePlot(s *Sweep, rows []Row) (*plot.Plot, bool, error) {
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
		if c.Server == Builtin && c.Policy == evict.WindowAuto {
			add(c)
		}
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
		if ring := ringLine(x.Timeline, s.PageSize()); ring != nil {
			ring.Color = l.Color
			ring.Width = vg.Points(1)
			ring.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(ring)
			p.Legend.Add(c.Name+" ring size", ring)
		}
		n++
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.X.Min = 0
	// Head room above the data for the legend.
	p.Y.Max = 30 * maxResident(rows)
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

// ringLine is the ring size window:auto chose during a run, in pages, or
// nil when the run published none.
func ringLine(tl []Point, pageSize int) *plotter.Line {
	var xys plotter.XYs
	for _, pt := range tl {
		if pt.RingBytes > 0 {
			xys = append(xys, plotter.XY{X: pt.T, Y: float64(pt.RingBytes) / float64(pageSize)})
		}
	}
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil
	}
	return l
}
