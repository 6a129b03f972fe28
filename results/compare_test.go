package results

import (
	"strings"
	"testing"
)

// scaled returns a copy of s with every throughput multiplied by f (and
// durable times divided), and residency multiplied by r, the spread of each
// configuration's samples kept, shuffled by rotation so that sample order
// carries no information.
func scaled(s *Sweep, f, r float64, rot int) *Sweep {
	out := *s
	out.Samples = nil
	for _, c := range s.Configs {
		ss := s.SamplesOf(c.Name)
		for i := range ss {
			x := ss[(i+rot)%len(ss)]
			x.Rep = i
			x.MBps *= f
			x.DurableSec /= f
			x.ResidentEnd = int64(float64(x.ResidentEnd) * r)
			out.Samples = append(out.Samples, x)
		}
	}
	return &out
}

func TestCompareDetectsRegression(t *testing.T) {
	old := fixtureSweep()
	new := scaled(old, 0.8, 1, 0) // 20% slower everywhere
	c := Compare(old, new, CompareOptions{})
	reg := c.Regressions()
	if len(reg) == 0 {
		t.Fatal("a 20% throughput loss over 6+6 samples was not flagged")
	}
	found := map[string]bool{}
	for _, d := range reg {
		found[d.Metric.Key] = true
	}
	if !found["mbps"] || !found["durable_sec"] {
		t.Errorf("regressions %v: want mbps and durable_sec", found)
	}
	var b strings.Builder
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "REGRESSION") || !strings.Contains(b.String(), "-20.0%") {
		t.Errorf("table does not show the regression:\n%s", b.String())
	}
}

func TestCompareNoiseIsNotFlagged(t *testing.T) {
	old := fixtureSweep()
	// Same distribution, samples in another order, and a 1% shift that the
	// samples' own 4% spread swallows.
	for rot := 1; rot < 5; rot++ {
		new := scaled(old, 1.01, 1, rot)
		c := Compare(old, new, CompareOptions{})
		for _, d := range c.Deltas {
			if d.Verdict != VerdictSame {
				t.Errorf("rotation %d: %s %s: verdict %s (p=%.3f), want ~", rot, d.Config, d.Metric.Key, d.Verdict, d.P)
			}
		}
	}
}

func TestCompareSmallSignificantChangeIsWithinThreshold(t *testing.T) {
	old := fixtureSweep()
	new := scaled(old, 0.94, 1, 0) // 6% slower: significant but under the 10% threshold
	c := Compare(old, new, CompareOptions{Metrics: []string{"mbps"}})
	for _, d := range c.Deltas {
		if d.Verdict != VerdictOK {
			t.Errorf("%s: verdict %s (p=%.3f, change %.3f), want ok", d.Config, d.Verdict, d.P, d.Change)
		}
	}
	if len(c.Regressions()) != 0 {
		t.Error("change under the threshold counted as a regression")
	}
}

func TestCompareResidencySlack(t *testing.T) {
	old := fixtureSweep()
	new := scaled(old, 1, 3, 0) // three times the resident pages
	c := Compare(old, new, CompareOptions{Metrics: []string{"resident_end"}})
	verdict := map[string]string{}
	for _, d := range c.Deltas {
		verdict[d.Config] = d.Verdict
	}
	// 64 -> 192 pages is inside the 256-page slack; 2048 -> 6144 is not.
	if verdict["builtin window:1"] != VerdictSame {
		t.Errorf("window:1 residency 64->192 pages: %s, want ~", verdict["builtin window:1"])
	}
	if verdict["builtin window:32"] != VerdictRegression {
		t.Errorf("window:32 residency x3: %s, want REGRESSION", verdict["builtin window:32"])
	}
}

func TestCompareTooFewSamplesWarns(t *testing.T) {
	old := fixtureSweep()
	keep := func(s *Sweep) *Sweep {
		out := *s
		out.Samples = nil
		for _, x := range s.Samples {
			if x.Rep < 3 {
				out.Samples = append(out.Samples, x)
			}
		}
		return &out
	}
	c := Compare(keep(old), keep(scaled(old, 0.5, 1, 0)), CompareOptions{})
	if len(c.Regressions()) != 0 {
		t.Error("3+3 samples cannot be significant at 0.05, yet a regression was reported")
	}
	if len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0], "need >= 4 samples") {
		t.Errorf("warnings %q: want the sample-size warning", c.Warnings)
	}
}
