package sweep

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxWindows bounds a window count: beyond it a ring no longer bounds
// anything a sweep could measure.
const MaxWindows = 4096

// ErrRange is wrapped by every error ParseRange returns.
var ErrRange = errors.New("invalid window range")

// ParseRange parses a list of window counts: comma-separated items, each a
// number (8), an inclusive range (1..32), or a range with a step, either
// added (1..32:+4 gives 1 5 9 ... 29) or multiplied (1..32:x2 gives 1 2 4
// 8 16 32). The result is sorted and free of duplicates.
func ParseRange(text string) ([]int, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrRange, text, fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(text) == "" {
		return nil, bad("empty; want e.g. 1..32, 1,2,4,8 or 1..32:x2")
	}
	var out []int
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, bad("empty item between commas")
		}
		span, step, hasStep := strings.Cut(item, ":")
		lo, hi, isRange := strings.Cut(span, "..")
		if hasStep && !isRange {
			return nil, bad("step %q needs a range: A..B:%s", step, step)
		}
		a, err := count(lo)
		if err != nil {
			return nil, bad("%v", err)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := count(hi)
		if err != nil {
			return nil, bad("%v", err)
		}
		if a > b {
			return nil, bad("range %s runs backwards", span)
		}
		next := func(n int) int { return n + 1 }
		if hasStep {
			switch {
			case strings.HasPrefix(step, "x") || strings.HasPrefix(step, "*"):
				k, err := strconv.Atoi(step[1:])
				if err != nil || k < 2 {
					return nil, bad("multiplier %q: want x2 or more", step)
				}
				next = func(n int) int { return n * k }
			default:
				k, err := strconv.Atoi(strings.TrimPrefix(step, "+"))
				if err != nil || k < 1 {
					return nil, bad("step %q: want +N (N >= 1) or xN (N >= 2)", step)
				}
				next = func(n int) int { return n + k }
			}
		}
		for n := a; n <= b; n = next(n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func count(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a number", s)
	case n < 1:
		return 0, fmt.Errorf("window count %d: want at least 1", n)
	case n > MaxWindows:
		return 0, fmt.Errorf("window count %d: want at most %d", n, MaxWindows)
	}
	return n, nil
}

// Schedule returns the run order of count repetitions of n configurations:
// rounds in which every configuration runs once, each round rotated by one
// (A B C, B C A, C A B, A B C, ...), so that no configuration always runs
// first, after the same neighbour, or all in a row. Each entry is
// {configuration index, repetition}.
func Schedule(n, count int) [][2]int {
	var out [][2]int
	for r := 0; r < count; r++ {
		for i := 0; i < n; i++ {
			out = append(out, [2]int{(i + r) % n, r})
		}
	}
	return out
}
