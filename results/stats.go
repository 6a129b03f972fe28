package results

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// Confidence is the confidence level of every interval wbench reports.
const Confidence = 0.95

// Alpha is the significance level of every U test wbench makes: the
// recommendation's and compare's default.
const Alpha = 0.05

// Summary is the median of a set of values with its distribution-free
// confidence interval (benchmath.AssumeNothing) and its range.
type Summary struct {
	N        int
	Median   float64
	Min, Max float64
	// Lo and Hi bound the Confidence interval of the median; they are
	// infinite when N is too small for one (see CIOK).
	Lo, Hi float64
}

// CIOK reports whether the sample was large enough for a finite
// confidence interval of its median.
func (s Summary) CIOK() bool { return !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0) }

// HalfWidth is the larger distance from the median to an end of its
// confidence interval (+Inf without one).
func (s Summary) HalfWidth() float64 { return max(s.Median-s.Lo, s.Hi-s.Median) }

// RelHalfWidth is HalfWidth relative to the median (+Inf without an
// interval or with a zero median).
func (s Summary) RelHalfWidth() float64 {
	if s.Median == 0 || !s.CIOK() {
		return math.Inf(1)
	}
	return s.HalfWidth() / math.Abs(s.Median)
}

// thresholds are benchmath's, with wbench's alpha.
var thresholds = benchmath.Thresholds{CompareAlpha: Alpha}

// Summarize returns the median of v, its 95% confidence interval and its
// range, as benchstat computes them (all zero for an empty v).
func Summarize(v []float64) Summary {
	if len(v) == 0 {
		return Summary{}
	}
	smp := benchmath.NewSample(slices.Clone(v), &thresholds)
	sum := benchmath.AssumeNothing.Summary(smp, Confidence)
	return Summary{
		N: len(v), Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi,
		Min: smp.Values[0], Max: smp.Values[len(smp.Values)-1],
	}
}

// UTest is the two-sided Mann-Whitney U test of x against y at alpha, as
// benchstat makes it (benchmath.AssumeNothing). Empty samples give p = 1.
type UTest struct {
	P        float64
	N1, N2   int
	Alpha    float64
	Warnings []string // from benchmath, e.g. too few samples to detect a difference
}

// Significant reports whether the test rejects "same distribution" at
// Alpha.
func (u UTest) Significant() bool { return u.P <= u.Alpha } // as benchstat: "~" only when p > alpha

// String is "p=0.008 n=5+5".
func (u UTest) String() string { return fmt.Sprintf("p=%.3f n=%d+%d", u.P, u.N1, u.N2) }

// MannWhitney tests x against y at alpha (0: Alpha).
func MannWhitney(x, y []float64, alpha float64) UTest {
	if alpha == 0 {
		alpha = Alpha
	}
	u := UTest{P: 1, N1: len(x), N2: len(y), Alpha: alpha}
	if len(x) == 0 || len(y) == 0 {
		return u
	}
	th := benchmath.Thresholds{CompareAlpha: alpha}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(x), &th), benchmath.NewSample(slices.Clone(y), &th))
	u.P = c.P
	for _, w := range c.Warnings {
		u.Warnings = append(u.Warnings, w.Error())
	}
	return u
}

// MinSamplesCI is the smallest sample whose median has a finite 95%
// confidence interval: with n values the widest interval, from the
// smallest to the largest, covers the median with probability 1-2/2^n,
// which first reaches 0.95 at n = 6.
const MinSamplesCI = 6

// MinSamplesU is the smallest number of samples on each side with which
// the U test can reach p < 0.05: the smallest p of n+n samples is
// 2/C(2n,n), 0.1 at 3+3 and 0.029 at 4+4.
const MinSamplesU = 4
