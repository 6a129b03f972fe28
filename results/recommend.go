package results

import (
	"fmt"
	"math"
	"strings"

	"github.com/pagecache-suite/wcache/evict"
)

// DefaultTolerance is the throughput difference, as a fraction of the best
// median, that does not matter: a window count this close to the best may
// be recommended even when the U test tells the two apart, and
// --count=auto stops once every interval is this narrow.
const DefaultTolerance = 0.05

// Recommendation is the window count wbench recommends and the statistics
// behind it.
type Recommendation struct {
	OK        bool
	Windows   int     // recommended NR_WINDOWS
	Config    string  // its configuration
	MBps      float64 // its median throughput
	Best      string  // the configuration with the best median throughput
	BestMBps  float64
	Tolerance float64
	Alpha     float64
	Resident  float64 // its median resident pages after the run
	Fraction  float64 // ... as a fraction of the data pages written
	RefMBps   float64 // built-in cache=default median throughput (0: not measured)

	// PickMBps, BestSum and PickResident are the summaries (with
	// intervals) behind MBps, BestMBps and Resident.
	PickMBps, BestSum, PickResident Summary
	// VsBest is the U test of the recommended count's throughput against
	// the best's (p = 1 when they are the same configuration).
	VsBest UTest
	// Indistinguishable is set when no two swept counts' throughputs
	// differ significantly: the window count makes no measurable
	// difference and the smallest is recommended.
	Indistinguishable bool
	// MinP is the smallest p-value of any count against the best.
	MinP float64
	// Excluded are the counts smaller than the recommended one, each
	// significantly and more than Tolerance below the best.
	Excluded []Candidate
	// MinN is the smallest number of samples of a swept count.
	MinN int

	// The anchors at NR_WINDOWS = 8: the built-in window:8 (when swept)
	// and nbdkit cache=none (when measured).
	Window8MBps, Window8Resident float64
	NbdkitMBps, NbdkitResident   float64
	HasWindow8, HasNbdkit        bool
	// P8 is the U test of the recommended count's throughput against
	// window:8's (p = 1 when either is missing or they are the same).
	P8 UTest
}

// Candidate is one swept window count as the rule judged it.
type Candidate struct {
	Config  string
	Windows int
	MBps    Summary
	VsBest  UTest
}

// Recommend applies the rule: among the built-in server's window counts
// whose throughput is not significantly below the best median's (two-sided
// Mann-Whitney U test at Alpha) or within tol of it, the smallest. The
// smallest count leaves the least of the output in the page cache. When no
// two counts differ significantly, the recommendation says so rather than
// naming a winner.
func Recommend(s *Sweep, tol float64) Recommendation {
	rec := Recommendation{Tolerance: tol, Alpha: Alpha, MinP: 1}
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
		if r.Config.Server == Builtin && r.Config.Role == RoleSweep && r.Config.Windows == evict.NbdkitWindows && r.N > 0 {
			rec.HasWindow8, rec.Window8MBps, rec.Window8Resident = true, r.MBps.Median, r.Resident.Median
		}
	}
	if len(sweep) == 0 {
		return rec
	}
	best := sweep[0]
	rec.MinN = sweep[0].N
	for _, r := range sweep[1:] {
		if r.MBps.Median > best.MBps.Median {
			best = r
		}
		rec.MinN = min(rec.MinN, r.N)
	}
	rec.Best, rec.BestMBps, rec.BestSum = best.Config.Name, best.MBps.Median, best.MBps
	bestV := MetricMBps.Values(s.SamplesOf(best.Config.Name))
	var pick *Row
	rec.Indistinguishable = len(sweep) > 1
	for i := range sweep {
		r := &sweep[i]
		u := UTest{P: 1, N1: r.N, N2: r.N, Alpha: Alpha}
		if r.Config.Name != best.Config.Name {
			u = MannWhitney(MetricMBps.Values(s.SamplesOf(r.Config.Name)), bestV, Alpha)
		}
		rec.MinP = math.Min(rec.MinP, u.P)
		if u.Significant() {
			rec.Indistinguishable = false
		}
		ok := !u.Significant() || r.MBps.Median >= (1-tol)*best.MBps.Median
		if ok && (pick == nil || r.Config.Windows < pick.Config.Windows) {
			pick = r
			rec.VsBest = u
		}
	}
	for i := 0; i < len(sweep) && rec.Indistinguishable; i++ {
		for j := i + 1; j < len(sweep) && rec.Indistinguishable; j++ {
			u := MannWhitney(MetricMBps.Values(s.SamplesOf(sweep[i].Config.Name)), MetricMBps.Values(s.SamplesOf(sweep[j].Config.Name)), Alpha)
			rec.Indistinguishable = !u.Significant()
		}
	}
	for _, r := range sweep {
		if r.Config.Windows < pick.Config.Windows {
			u := MannWhitney(MetricMBps.Values(s.SamplesOf(r.Config.Name)), bestV, Alpha)
			rec.Excluded = append(rec.Excluded, Candidate{Config: r.Config.Name, Windows: r.Config.Windows, MBps: r.MBps, VsBest: u})
		}
	}
	rec.OK = true
	rec.Windows, rec.Config, rec.MBps, rec.PickMBps = pick.Config.Windows, pick.Config.Name, pick.MBps.Median, pick.MBps
	rec.Resident, rec.PickResident, rec.Fraction = pick.Resident.Median, pick.Resident, pick.ResidentFrac
	rec.P8 = UTest{P: 1, Alpha: Alpha}
	if rec.HasWindow8 && pick.Config.Windows != evict.NbdkitWindows {
		rec.P8 = MannWhitney(MetricMBps.Values(s.SamplesOf(pick.Config.Name)), MetricMBps.Values(s.SamplesOf(builtinRing8)), Alpha)
	}
	return rec
}

// intervalText is "870 MB/s [860, 880]" with the 95% confidence interval
// of the median, or "(no interval: n=3)" when there were too few samples.
func intervalText(s Summary, unit string) string {
	if !s.CIOK() {
		return fmt.Sprintf("%.0f %s (no %.0f%% interval with n=%d)", s.Median, unit, 100*Confidence, s.N)
	}
	return fmt.Sprintf("%.0f %s [%.0f, %.0f]", s.Median, unit, s.Lo, s.Hi)
}

// verdict is "p=0.008, significant" or "p=0.42, not significant".
func verdict(u UTest) string {
	if u.Significant() {
		return fmt.Sprintf("p=%.3f, significant", u.P)
	}
	return fmt.Sprintf("p=%.2f, not significant", u.P)
}

// String is the recommendation with its reason, as printed under the
// table. Its first line is the verdict.
func (r Recommendation) String() string {
	if !r.OK {
		return "No recommendation: no window count of the built-in server was measured.\n"
	}
	var b strings.Builder
	if r.Indistinguishable {
		fmt.Fprintf(&b, "Window count makes no measurable difference here; the smallest, %d, leaves the least in the cache.\n", r.Windows)
	} else {
		fmt.Fprintf(&b, "Recommendation: NR_WINDOWS = %d.\n", r.Windows)
	}
	fmt.Fprintf(&b, "  Rule: the smallest window count whose durable throughput is not significantly below the best's\n"+
		"  (two-sided Mann-Whitney U test, alpha %.2f) or is within %.0f%% of it; intervals are %.0f%% confidence intervals of the median.\n",
		r.Alpha, 100*r.Tolerance, 100*Confidence)
	fmt.Fprintf(&b, "  Best median: %s, %s", r.Best, intervalText(r.BestSum, "MB/s"))
	if r.Indistinguishable {
		fmt.Fprintf(&b, "; no count differs significantly from it (smallest p=%.2f).\n", r.MinP)
	} else {
		b.WriteString(".\n")
	}
	if r.Config != r.Best {
		fmt.Fprintf(&b, "  %s: %s, %.1f%% of the best (%s)", r.Config, intervalText(r.PickMBps, "MB/s"), 100*r.MBps/r.BestMBps, verdict(r.VsBest))
		if r.VsBest.Significant() {
			fmt.Fprintf(&b, ", within %.0f%%", 100*r.Tolerance)
		}
		b.WriteString(".\n")
	}
	for _, c := range r.Excluded {
		fmt.Fprintf(&b, "  %s: %s, %.1f%% of the best (%s): excluded.\n", c.Config, intervalText(c.MBps, "MB/s"), 100*c.MBps.Median/r.BestMBps, verdict(c.VsBest))
	}
	fmt.Fprintf(&b, "  %s leaves %s of the output cached (%s of the data written)", r.Config, intervalText(r.PickResident, "pages"), percent(r.Fraction))
	if r.RefMBps > 0 {
		fmt.Fprintf(&b, " at %.2fx the throughput of cache=default", r.MBps/r.RefMBps)
	}
	b.WriteString(".\n")
	if r.MinN < MinSamplesU {
		fmt.Fprintf(&b, "  With %d sample(s) per count no difference can be significant (the U test needs at least %d a side at alpha %.2f): raise --count.\n",
			r.MinN, MinSamplesU, r.Alpha)
	}
	const k = evict.NbdkitWindows
	switch {
	case !r.HasWindow8:
		fmt.Fprintf(&b, "  Against nbdkit's fixed %d: %s was not swept.", k, evict.Window(k))
	case r.Windows == k:
		fmt.Fprintf(&b, "  Against nbdkit's fixed %d: the same window count (%.0f MB/s, %.0f pages left).", k, r.Window8MBps, r.Window8Resident)
	case r.Windows < k:
		fmt.Fprintf(&b, "  Against nbdkit's fixed %d: fewer windows do here (%d); built-in %s: %.0f MB/s, %.0f pages left (%s against the recommended).",
			k, r.Windows, evict.Window(k), r.Window8MBps, r.Window8Resident, verdict(r.P8))
	default:
		// Only reached when window:8 was excluded: significantly and
		// more than the tolerance below the best.
		fmt.Fprintf(&b, "  Against nbdkit's fixed %d: %d more windows are needed here; built-in %s is significantly below the best (excluded above), %.0f MB/s, %.0f pages left (%s against the recommended).",
			k, r.Windows-k, evict.Window(k), r.Window8MBps, r.Window8Resident, verdict(r.P8))
	}
	if r.HasNbdkit && r.NbdkitMBps > 0 {
		fmt.Fprintf(&b, " %s: %.0f MB/s, %.0f pages left (recommended/nbdkit = %.2f).",
			nbdkitNone, r.NbdkitMBps, r.NbdkitResident, r.MBps/r.NbdkitMBps)
	}
	b.WriteString("\n")
	return b.String()
}
