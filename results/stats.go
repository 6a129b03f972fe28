package results

import (
	"math"
	"slices"
)

// Summary is the median and range of a set of values.
type Summary struct {
	N        int
	Median   float64
	Min, Max float64
}

// Summarize returns the median, minimum and maximum of v (all zero for an
// empty v).
func Summarize(v []float64) Summary {
	if len(v) == 0 {
		return Summary{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// exactLimit bounds the number of rank assignments MannWhitney enumerates
// before it falls back to the normal approximation.
const exactLimit = 200000

// MannWhitney returns the two-sided p-value of the Mann-Whitney U test
// (Wilcoxon rank-sum) of the null hypothesis that x and y come from the same
// distribution. Ties get mid-ranks. Small samples are tested exactly, by
// enumerating every assignment of the pooled ranks to the first sample, so
// ties are handled exactly too; larger ones use the normal approximation
// with a tie correction. Empty samples give p = 1.
func MannWhitney(x, y []float64) float64 {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return 1
	}
	ranks := midRanks(x, y) // doubled ranks, so they are integers
	var r1 int
	for _, r := range ranks[:n1] {
		r1 += r
	}
	n := n1 + n2
	mean2 := n1 * (n + 1) // expected doubled rank sum of x
	dev := abs(r1 - mean2)
	if binomial(n, n1) <= exactLimit {
		var extreme, total int
		var walk func(start, left, sum int)
		walk = func(start, left, sum int) {
			if left == 0 {
				total++
				if abs(sum-mean2) >= dev {
					extreme++
				}
				return
			}
			for i := start; i <= n-left; i++ {
				walk(i+1, left-1, sum+ranks[i])
			}
		}
		walk(0, n1, 0)
		return float64(extreme) / float64(total)
	}
	// Normal approximation with tie correction, on U = R1 - n1(n1+1)/2.
	u := float64(r1)/2 - float64(n1*(n1+1))/2
	mu := float64(n1*n2) / 2
	var tie float64
	counts := map[int]int{}
	for _, r := range ranks {
		counts[r]++
	}
	for _, t := range counts {
		tie += float64(t*t*t - t)
	}
	nf := float64(n)
	sigma := math.Sqrt(float64(n1*n2) / 12 * ((nf + 1) - tie/(nf*(nf-1))))
	if sigma == 0 {
		return 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma
	if z < 0 {
		z = 0
	}
	return math.Erfc(z / math.Sqrt2)
}

// MinP is the smallest two-sided p-value MannWhitney can return for samples
// of sizes n1 and n2 without ties.
func MinP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	return 2 / float64(binomial(n1+n2, n1))
}

// midRanks returns twice the mid-rank of every value of x then y in the
// pooled sample.
func midRanks(x, y []float64) []int {
	type item struct {
		v float64
		i int
	}
	all := make([]item, 0, len(x)+len(y))
	for i, v := range x {
		all = append(all, item{v, i})
	}
	for i, v := range y {
		all = append(all, item{v, len(x) + i})
	}
	slices.SortFunc(all, func(a, b item) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	ranks := make([]int, len(all))
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		// Ranks i+1..j share their mean (i+1+j)/2; doubled: i+1+j.
		for k := i; k < j; k++ {
			ranks[all[k].i] = i + 1 + j
		}
		i = j
	}
	return ranks
}

func binomial(n, k int) int {
	if k < 0 || k > n {
		return 0
	}
	if k > n-k {
		k = n - k
	}
	r := 1
	for i := 1; i <= k; i++ {
		r = r * (n - k + i) / i
		if r > math.MaxInt32 {
			return math.MaxInt32
		}
	}
	return r
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
