package results

import (
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/evict"
)

// synthetic is a sweep of the built-in server's window counts with the
// given throughput samples (MB/s) per count, and residency growing with
// the count.
func synthetic(mbps map[int][]float64) *Sweep {
	s := &Sweep{Version: FormatVersion, Env: Env{PageSize: 4096}, Settings: Settings{Tolerance: 0.01}}
	for _, w := range []int{1, 2, 4, 8, 16, 32} {
		v, ok := mbps[w]
		if !ok {
			continue
		}
		c := NewConfig(Builtin, evict.Window(w), w, RoleSweep)
		s.Configs = append(s.Configs, c)
		for rep, m := range v {
			s.Samples = append(s.Samples, Sample{Config: c.Name, Rep: rep, MBps: m, DurableSec: 100 / m,
				BytesWritten: 100e6, ResidentEnd: int64(64 * w), IntegrityOK: true})
		}
	}
	return s
}

// around returns six samples around m, 1% apart.
func around(m float64) []float64 {
	return []float64{m * 0.975, m * 0.985, m * 0.995, m * 1.005, m * 1.015, m * 1.025}
}

func TestRecommendationSentence(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mbps      map[int][]float64
		windows   int
		first     string
		mentions  []string
		forbidden []string
	}{
		{
			name: "clear winner",
			mbps: map[int][]float64{1: around(400), 2: around(600), 4: around(900)},
			// 4 is significantly faster than 1 and 2, by far more than 1%.
			windows:  4,
			first:    "Recommendation: NR_WINDOWS = 4.",
			mentions: []string{"builtin window:1: 400 MB/s [", "p=0.002, significant): excluded", "builtin window:2: 600 MB/s ["},
		},
		{
			name: "indistinguishable",
			// The same values in another order: no count differs.
			mbps:      map[int][]float64{1: around(800), 2: around(800), 8: around(800), 16: around(800)},
			windows:   1,
			first:     "Window count makes no measurable difference here; the smallest, 1, leaves the least in the cache.",
			mentions:  []string{"no count differs significantly from it (smallest p="},
			forbidden: []string{"Recommendation:", "more windows", "excluded"},
		},
		{
			name: "best count not the smallest",
			// 16 has the best median, 4 and 8 are not significantly
			// below it (overlapping samples), 1 and 2 are.
			mbps: map[int][]float64{
				1: around(300), 2: around(500),
				4: {790, 800, 805, 812, 818, 825}, 8: {795, 802, 808, 815, 820, 826}, 16: {796, 804, 810, 816, 822, 828},
			},
			windows:   4,
			first:     "Recommendation: NR_WINDOWS = 4.",
			mentions:  []string{"Best median: builtin window:16, 813 MB/s [", "builtin window:4: 808 MB/s [790, 825], 99.4% of the best (p=0.70, not significant).", "Against nbdkit's fixed 8: fewer windows do here (4)"},
			forbidden: []string{"more windows are needed"},
		},
		{
			name: "smallest not below the best, yet counts differ",
			// 1 and 8 are apart, but neither is significantly below the
			// wide 16: a winner is named, the smallest, with the claim
			// of no difference left out.
			mbps: map[int][]float64{
				1: {790, 792, 794, 796, 798, 800}, 8: {812, 814, 816, 818, 820, 822}, 16: {760, 790, 815, 825, 840, 870},
			},
			windows:   1,
			first:     "Recommendation: NR_WINDOWS = 1.",
			mentions:  []string{"Best median: builtin window:16, 820 MB/s", "not significant)."},
			forbidden: []string{"no measurable difference", "excluded"},
		},
		{
			name:      "too few samples",
			mbps:      map[int][]float64{1: {100, 101, 102}, 8: {900, 901, 902}},
			windows:   1,
			first:     "Window count makes no measurable difference here; the smallest, 1,",
			mentions:  []string{"With 3 sample(s) per count no difference can be significant", "(no 95% interval with n=3)"},
			forbidden: []string{"more windows"},
		},
		{
			name: "more than nbdkit's 8 only when significant",
			mbps: map[int][]float64{
				1: around(200), 8: around(500), 16: around(900), 32: around(905),
			},
			windows:  16,
			first:    "Recommendation: NR_WINDOWS = 16.",
			mentions: []string{"8 more windows are needed here; built-in window:8 is significantly below the best", "builtin window:8: 500 MB/s [", "p=0.002, significant): excluded"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synthetic(tc.mbps)
			rec := Recommend(s, s.Settings.Tolerance)
			text := rec.String()
			if rec.Windows != tc.windows {
				t.Errorf("recommended %d, want %d", rec.Windows, tc.windows)
			}
			if first, _, _ := strings.Cut(text, "\n"); !strings.HasPrefix(first, tc.first) {
				t.Errorf("first line %q, want %q", first, tc.first)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(text, m) {
					t.Errorf("lacks %q", m)
				}
			}
			for _, f := range tc.forbidden {
				if strings.Contains(text, f) {
					t.Errorf("says %q", f)
				}
			}
			if t.Failed() {
				t.Log("\n" + text)
			}
		})
	}
}

// TestRecommendToleranceAdmitsSmallSignificantLoss: a count significantly
// but less than the tolerance below the best is still recommended, and
// the sentence says both.
func TestRecommendToleranceAdmitsSmallSignificantLoss(t *testing.T) {
	s := synthetic(map[int][]float64{
		2: {960, 961, 962, 963, 964, 965}, 4: {990, 991, 992, 993, 994, 995},
	})
	rec := Recommend(s, 0.05)
	if rec.Windows != 2 || !rec.VsBest.Significant() || rec.Indistinguishable {
		t.Fatalf("recommended %d, %v, indistinguishable %v; want 2, significant, no", rec.Windows, rec.VsBest, rec.Indistinguishable)
	}
	if text := rec.String(); !strings.Contains(text, "p=0.002, significant), within 5%.") {
		t.Errorf("sentence:\n%s", text)
	}
}
