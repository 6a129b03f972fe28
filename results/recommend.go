package results

import (
	"fmt"
	"strings"

	"github.com/pagecache-suite/wcache/evict"
)

// DefaultTolerance is how far below the best median throughput a window
// count may be and still be recommended.
const DefaultTolerance = 0.05

// Recommendation is the window count wbench recommends and why.
type Recommendation struct {
	OK        bool
	Windows   int     // recommended NR_WINDOWS
	Config    string  // its configuration
	MBps      float64 // its median throughput
	Best      string  // the configuration with the best median throughput
	BestMBps  float64
	Tolerance float64
	Resident  float64 // its median resident pages after the run
	Fraction  float64 // ... as a fraction of the data pages written
	RefMBps   float64 // built-in cache=default median throughput (0: not measured)

	// The anchors at NR_WINDOWS = 8: the built-in window:8 (when swept)
	// and nbdkit cache=none (when measured).
	Window8MBps, Window8Resident float64
	NbdkitMBps, NbdkitResident   float64
	HasWindow8, HasNbdkit        bool

	// P8 is the two-sided Mann-Whitney p-value of the recommended count's
	// throughput samples against window:8's (1 when either is missing or
	// they are the same configuration).
	P8 float64

	// Spread is the median, over the swept window counts, of the relative
	// min-max range of their throughput: the noise of one configuration.
	Spread float64
}

// Recommend applies the rule: among the built-in server's window counts,
// the smallest whose median throughput is within tol of the best median.
func Recommend(s *Sweep, tol float64) Recommendation {
	rec := Recommendation{Tolerance: tol}
	var sweep []Row
	for _, r := range Rows(s) {
		switch {
		case r.Config.Server == Builtin && r.Config.Role == RoleSweep && r.N > 0:
			sweep = append(sweep, r)
		case r.Config.Server == Builtin && r.Config.IsDefaultCache():
			rec.RefMBps = r.MBps.Median
		case r.Config.Server == Nbdkit && !r.Config.IsDefaultCache():
			rec.HasNbdkit, rec.NbdkitMBps, rec.NbdkitResident = true, r.MBps.Median, r.Resident.Median
		}
		if r.Config.Server == Builtin && r.Config.Role == RoleSweep && r.Config.Windows == evict.NbdkitWindows {
			rec.HasWindow8, rec.Window8MBps, rec.Window8Resident = true, r.MBps.Median, r.Resident.Median
		}
	}
	if len(sweep) == 0 {
		return rec
	}
	best := sweep[0]
	for _, r := range sweep[1:] {
		if r.MBps.Median > best.MBps.Median {
			best = r
		}
	}
	rec.Best, rec.BestMBps = best.Config.Name, best.MBps.Median
	var spreads []float64
	for _, r := range sweep {
		if r.MBps.Median > 0 {
			spreads = append(spreads, (r.MBps.Max-r.MBps.Min)/r.MBps.Median)
		}
	}
	rec.Spread = Summarize(spreads).Median
	var pick *Row
	for i := range sweep {
		r := &sweep[i]
		if r.MBps.Median >= (1-tol)*best.MBps.Median && (pick == nil || r.Config.Windows < pick.Config.Windows) {
			pick = r
		}
	}
	rec.OK = true
	rec.Windows, rec.Config, rec.MBps = pick.Config.Windows, pick.Config.Name, pick.MBps.Median
	rec.Resident, rec.Fraction = pick.Resident.Median, pick.ResidentFrac
	rec.P8 = 1
	if rec.HasWindow8 && pick.Config.Windows != evict.NbdkitWindows {
		rec.P8 = MannWhitney(MetricMBps.Values(s.SamplesOf(pick.Config.Name)), MetricMBps.Values(s.SamplesOf(builtinRing8)))
	}
	return rec
}

// String is the recommendation with its reason, as printed under the table.
func (r Recommendation) String() string {
	if !r.OK {
		return "No recommendation: no window count of the built-in server was measured.\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Recommendation: NR_WINDOWS = %d.\n", r.Windows)
	fmt.Fprintf(&b, "  Rule: the smallest window count whose median durable throughput is within %.0f%% of the best.\n", 100*r.Tolerance)
	if r.Config == r.Best {
		fmt.Fprintf(&b, "  %s has the best median throughput, %.0f MB/s", r.Config, r.MBps)
	} else {
		fmt.Fprintf(&b, "  %s reaches %.0f MB/s, %.1f%% of the best (%s, %.0f MB/s)",
			r.Config, r.MBps, 100*r.MBps/r.BestMBps, r.Best, r.BestMBps)
	}
	if r.RefMBps > 0 {
		fmt.Fprintf(&b, ", %.2fx cache=default", r.MBps/r.RefMBps)
	}
	fmt.Fprintf(&b, ",\n  and leaves %.0f pages of the output cached (%s of the data written).\n", r.Resident, percent(r.Fraction))
	fmt.Fprintf(&b, "  Noise: the runs of one window count spread by %.0f%% (median of min-max / median)", 100*r.Spread)
	if r.Spread > r.Tolerance {
		b.WriteString(", more than the tolerance: counts this close are not told apart; raise --count.\n")
	} else {
		b.WriteString(", within the tolerance.\n")
	}
	const k = evict.NbdkitWindows
	switch {
	case r.Windows == k:
		fmt.Fprintf(&b, "  Against nbdkit's fixed %d: the same window count.", k)
	case r.Windows < k:
		fmt.Fprintf(&b, "  Against nbdkit's fixed %d: %d fewer windows suffice on this machine.", k, k-r.Windows)
	default:
		fmt.Fprintf(&b, "  Against nbdkit's fixed %d: this machine needs %d more windows.", k, r.Windows-k)
	}
	if r.HasWindow8 && r.Window8MBps > 0 {
		fmt.Fprintf(&b, " Built-in %s: %.0f MB/s, %.0f pages left (recommended/%d = %.2f",
			evict.Window(k), r.Window8MBps, r.Window8Resident, k, r.MBps/r.Window8MBps)
		if r.Windows != k {
			verdict := "not a significant difference"
			if r.P8 <= 0.05 {
				verdict = "significant"
			}
			fmt.Fprintf(&b, "; U test p=%.2f, %s", r.P8, verdict)
		}
		b.WriteString(").")
	}
	if r.HasNbdkit && r.NbdkitMBps > 0 {
		fmt.Fprintf(&b, " %s: %.0f MB/s, %.0f pages left (recommended/nbdkit = %.2f).",
			nbdkitNone, r.NbdkitMBps, r.NbdkitResident, r.MBps/r.NbdkitMBps)
	}
	b.WriteString("\n")
	return b.String()
}
