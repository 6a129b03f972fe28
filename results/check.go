package results

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pagecache-suite/wcache/evict"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Baseline, when set, is the sweep the machine-stable ratios are
	// compared with.
	Baseline *Sweep
	// RatioTolerance is how much worse (relative) a ratio may get than in
	// the baseline before it fails; 0 means DefaultRatioTolerance.
	RatioTolerance float64
	// BudgetSlackPages is added to every residency budget: a large folio
	// straddling the boundary of the oldest window may outlive it.
	// 0 means DefaultBudgetSlackPages.
	BudgetSlackPages int64
}

// Defaults of CheckOptions.
const (
	DefaultRatioTolerance   = 0.25
	DefaultBudgetSlackPages = 512 // one 2 MiB folio
)

// Finding is the outcome of one check.
type Finding struct {
	Check  string
	OK     bool
	Detail string
}

// Check judges a sweep by quantities that do not depend on how fast the
// machine is:
//
//   - integrity: every output matched its source;
//   - budget: every run of the built-in server with N windows left at most
//     N x request size (plus a folio of slack) of the output cached, and
//     flush-each left nothing beyond the slack;
//
// and, with a baseline:
//
//   - cache=none cost: the durable-time ratio window:8 / cache=default
//     (median over repetitions of the ratio within each repetition) did
//     not grow by more than the tolerance;
//   - against nbdkit: the ratio builtin window:8 / nbdkit cache=none did not
//     grow by more than the tolerance;
//   - cache=default still caches: its resident fraction stayed above half
//     of the baseline's.
func Check(s *Sweep, opt CheckOptions) []Finding {
	if opt.RatioTolerance <= 0 {
		opt.RatioTolerance = DefaultRatioTolerance
	}
	if opt.BudgetSlackPages <= 0 {
		opt.BudgetSlackPages = DefaultBudgetSlackPages
	}
	var out []Finding
	bad, total := 0, 0
	for _, x := range s.Samples {
		total++
		if !x.IntegrityOK {
			bad++
			out = append(out, Finding{"integrity", false, fmt.Sprintf("%s #%d: output differs from the source", x.Config, x.Rep+1)})
		}
	}
	if total == 0 {
		out = append(out, Finding{"integrity", false, "no samples"})
	} else if bad == 0 {
		out = append(out, Finding{"integrity", true, fmt.Sprintf("%d outputs identical to the source", total)})
	}

	reqPages := int64(s.Settings.RequestSize / s.PageSize())
	for _, c := range s.Configs {
		if c.Server != Builtin {
			continue
		}
		var budget int64
		switch {
		case c.Role == RoleSweep:
			budget = int64(c.Windows)*reqPages + opt.BudgetSlackPages
		case c.Policy == evict.FlushEach:
			budget = opt.BudgetSlackPages
		default:
			continue
		}
		worst := int64(-1)
		for _, x := range s.SamplesOf(c.Name) {
			worst = max(worst, x.ResidentEnd)
		}
		if worst < 0 {
			continue
		}
		f := Finding{Check: "budget", OK: worst <= budget,
			Detail: fmt.Sprintf("%s: at most %d pages left cached, budget %d", c.Name, worst, budget)}
		out = append(out, f)
	}

	if b := opt.Baseline; b != nil {
		tol := opt.RatioTolerance
		// The median of per-repetition ratios: the two runs of one
		// repetition ran in the same round, close in time, so a slow
		// drift of the machine's load cancels out of each ratio.
		ratio := func(sw *Sweep, num, den string) (float64, bool) {
			ns, ds := sw.SamplesOf(num), sw.SamplesOf(den)
			var v []float64
			for i := range min(len(ns), len(ds)) {
				if ns[i].DurableSec > 0 && ds[i].DurableSec > 0 {
					v = append(v, ns[i].DurableSec/ds[i].DurableSec)
				}
			}
			if len(v) == 0 {
				return 0, false
			}
			return Summarize(v).Median, true
		}
		for _, pair := range []struct{ check, num, den string }{
			{"cache=none cost", builtinRing8, builtinDefault},
			{"against nbdkit", builtinRing8, nbdkitNone},
		} {
			nr, ok1 := ratio(s, pair.num, pair.den)
			br, ok2 := ratio(b, pair.num, pair.den)
			if !ok1 || !ok2 {
				out = append(out, Finding{pair.check, false, fmt.Sprintf("durable time %s / %s: not measured in both sweeps", pair.num, pair.den)})
				continue
			}
			out = append(out, Finding{pair.check, nr <= br*(1+tol),
				fmt.Sprintf("durable time %s / %s = %.3f, baseline %.3f, limit %.3f", pair.num, pair.den, nr, br, br*(1+tol))})
		}
		frac := func(sw *Sweep) float64 {
			var v []float64
			for _, x := range sw.SamplesOf(builtinDefault) {
				v = append(v, x.ResidentFraction(sw.PageSize()))
			}
			return Summarize(v).Median
		}
		nf, bf := frac(s), frac(b)
		out = append(out, Finding{"cache=default caches", nf >= bf/2,
			fmt.Sprintf("%s leaves %s of the data cached, baseline %s", builtinDefault, percent(nf), percent(bf))})
	}
	return out
}

// CheckFiles reports whether dir holds every file WriteAll produces.
func CheckFiles(dir string) Finding {
	var missing []string
	for _, name := range []string{JSONFile, BenchFile, CSVFile, SummaryFile, PlotScatter + ".png", PlotScatter + ".svg"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Finding{"files", false, fmt.Sprintf("%s: missing or empty: %s", dir, strings.Join(missing, ", "))}
	}
	return Finding{"files", true, dir + ": sweep.json, bench.txt, samples.csv, summary.md and plots present"}
}

// WriteFindings prints one line per finding and returns how many failed.
func WriteFindings(w io.Writer, fs []Finding) int {
	failed := 0
	for _, f := range fs {
		mark := "ok  "
		if !f.OK {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "%s %-20s %s\n", mark, f.Check, f.Detail)
	}
	return failed
}
