package results

import (
	"fmt"
	"io"

	"github.com/pagecache-suite/wcache/evict"
)

// AutoRow sets the self-tuning ring (window:auto) of one scenario beside
// the fixed rings swept there: the best window count and nbdkit's 8.
type AutoRow struct {
	Scenario string
	Auto     Row
	Best     Row // the swept count with the best median throughput
	Ring8    Row // builtin window:8 (N = 0 when it was not swept)
	// VsBest is the two-sided U test of window:auto's throughput against
	// the best count's.
	VsBest UTest
	// Tolerance is the sweep's: a throughput difference, as a fraction of
	// the best, that does not matter.
	Tolerance float64
}

// NotWorse reports whether window:auto's throughput is not worse than the
// best fixed count's by the rule that picks the recommended count: not
// significantly below it, or within the tolerance of it.
func (a AutoRow) NotWorse() bool {
	return !a.VsBest.Significant() || a.Auto.MBps.Median >= (1-a.Tolerance)*a.Best.MBps.Median
}

// NoMoreResident reports whether window:auto's median pages left and
// median peak residency are no more than window:8's.
func (a AutoRow) NoMoreResident() bool {
	return a.Ring8.N > 0 && a.Auto.Resident.Median <= a.Ring8.Resident.Median && a.Auto.Peak.Median <= a.Ring8.Peak.Median
}

// AutoRows gives one row per scenario that measured window:auto and at
// least one fixed count.
func AutoRows(ss []*Sweep) []AutoRow {
	var out []AutoRow
	for _, s := range ss {
		a := AutoRow{Scenario: s.Scenario, Tolerance: s.Settings.Tolerance}
		if a.Tolerance <= 0 {
			a.Tolerance = DefaultTolerance
		}
		var haveAuto, haveBest bool
		for _, r := range Rows(s) {
			switch {
			case r.N == 0 || r.Config.Server != Builtin:
			case r.Config.Policy == evict.WindowAuto:
				a.Auto, haveAuto = r, true
			case r.Config.Role == RoleSweep:
				if !haveBest || r.MBps.Median > a.Best.MBps.Median {
					a.Best, haveBest = r, true
				}
				if r.Config.Windows == evict.NbdkitWindows {
					a.Ring8 = r
				}
			}
		}
		if !haveAuto || !haveBest {
			continue
		}
		a.VsBest = MannWhitney(MetricMBps.Values(s.SamplesOf(a.Auto.Config.Name)), MetricMBps.Values(s.SamplesOf(a.Best.Config.Name)), Alpha)
		out = append(out, a)
	}
	return out
}

// WriteAutoTable prints, per scenario, window:auto's median throughput
// against the best fixed window count's (ratio, U test, and the verdict of
// NotWorse), window:8's median throughput, and window:auto's pages left and
// peak residency against window:8's. It
// prints nothing when no scenario measured window:auto.
func WriteAutoTable(w io.Writer, ss []*Sweep) error {
	return writeAuto(w, ss, false)
}

func writeAuto(w io.Writer, ss []*Sweep, markdown bool) error {
	rows := AutoRows(ss)
	if len(rows) == 0 {
		return nil
	}
	head := []string{"scenario", "auto MB/s", "best fixed", "best MB/s", "auto x best", "p", "throughput",
		"w8 MB/s", "pages left auto / w8", "peak auto / w8", "residency"}
	var body [][]string
	for _, a := range rows {
		verdict := "not worse"
		if !a.NotWorse() {
			verdict = "worse"
		}
		w8, left, peak, res := "-", "-", "-", "-"
		if a.Ring8.N > 0 {
			w8 = fmt.Sprintf("%.0f", a.Ring8.MBps.Median)
			left = fmt.Sprintf("%.0f / %.0f", a.Auto.Resident.Median, a.Ring8.Resident.Median)
			peak = fmt.Sprintf("%.0f / %.0f", a.Auto.Peak.Median, a.Ring8.Peak.Median)
			res = "more than w8"
			if a.NoMoreResident() {
				res = "no more than w8"
			}
		}
		ratio := "-"
		if a.Best.MBps.Median > 0 {
			ratio = fmt.Sprintf("%.2f", a.Auto.MBps.Median/a.Best.MBps.Median)
		}
		body = append(body, []string{a.Scenario, fmt.Sprintf("%.0f", a.Auto.MBps.Median), fmt.Sprint(a.Best.Config.Windows),
			fmt.Sprintf("%.0f", a.Best.MBps.Median), ratio, fmt.Sprintf("%.3f", a.VsBest.P), verdict, w8, left, peak, res})
	}
	return renderTable(w, markdown, head, body)
}
