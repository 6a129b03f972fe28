package results

import (
	"math"
	"testing"
)

// TestSampleMinimums checks the sample sizes the help and the
// recommendation quote against benchmath: no interval below MinSamplesCI
// values, one at it; no significance at MinSamplesU-1 a side however far
// apart the samples are, significance at MinSamplesU.
func TestSampleMinimums(t *testing.T) {
	seq := func(n int, from float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = from + float64(i)
		}
		return v
	}
	if s := Summarize(seq(MinSamplesCI-1, 1)); s.CIOK() {
		t.Errorf("%d samples: interval [%v, %v], want none", MinSamplesCI-1, s.Lo, s.Hi)
	}
	if s := Summarize(seq(MinSamplesCI, 1)); !s.CIOK() || s.Lo > s.Median || s.Hi < s.Median {
		t.Errorf("%d samples: interval [%v, %v] around %v, want a finite one", MinSamplesCI, s.Lo, s.Hi, s.Median)
	}
	n := MinSamplesU - 1
	if u := MannWhitney(seq(n, 0), seq(n, 100), Alpha); u.Significant() || len(u.Warnings) == 0 {
		t.Errorf("%d+%d disjoint: %v, warnings %q; want not significant, with a warning", n, n, u, u.Warnings)
	}
	n = MinSamplesU
	if u := MannWhitney(seq(n, 0), seq(n, 100), Alpha); !u.Significant() {
		t.Errorf("%d+%d disjoint: %v, want significant", n, n, u)
	}
	if u := MannWhitney(nil, seq(3, 0), Alpha); u.P != 1 || u.Significant() {
		t.Errorf("empty sample: %v", u)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{5, 1, 4, 2, 3, 6, 7})
	if s.N != 7 || s.Median != 4 || s.Min != 1 || s.Max != 7 {
		t.Errorf("%+v", s)
	}
	if !s.CIOK() || s.Lo < 1 || s.Hi > 7 || math.IsNaN(s.RelHalfWidth()) {
		t.Errorf("interval [%v, %v]", s.Lo, s.Hi)
	}
	if z := Summarize(nil); z.N != 0 || z.Median != 0 {
		t.Errorf("empty: %+v", z)
	}
}
