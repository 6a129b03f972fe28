package sweep

import (
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/results"
)

// TestConverged: --count=auto stops when every throughput interval is
// within the tolerance, not before there is an interval, and names the
// widest when it goes on.
func TestConverged(t *testing.T) {
	mk := func(spread float64, n int) *results.Sweep {
		s := &results.Sweep{}
		for i, w := range []int{1, 8} {
			c := results.NewConfig(results.Builtin, evict.Window(w), w, results.RoleSweep)
			s.Configs = append(s.Configs, c)
			for rep := range n {
				f := 1 + spread*float64(rep-n/2)/float64(n) // window:8 spreads twice as much
				if i == 1 {
					f = 1 + 2*spread*float64(rep-n/2)/float64(n)
				}
				s.Samples = append(s.Samples, results.Sample{Config: c.Name, Rep: rep, MBps: 100 * f})
			}
		}
		s.Settings.Count = n
		return s
	}
	if ok, _ := converged(mk(0, results.MinSamplesCI-1), 0.05); ok {
		t.Error("converged without an interval")
	}
	ok, why := converged(mk(0.02, results.MinSamplesCI), 0.05)
	if !ok || !strings.Contains(why, "within 5% of its median after 6 rounds") {
		t.Errorf("narrow intervals: %v %q", ok, why)
	}
	s := mk(0.5, results.MinSamplesCI)
	if ok, _ := converged(s, 0.05); ok {
		t.Error("converged with intervals wider than the tolerance")
	}
	if w := widest(s); !strings.HasPrefix(w, "widest: builtin window:8 ±") {
		t.Errorf("widest: %q", w)
	}
}
