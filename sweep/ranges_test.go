package sweep

import (
	"errors"
	"slices"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"8", []int{8}},
		{"1..4", []int{1, 2, 3, 4}},
		{"1,2,4,8", []int{1, 2, 4, 8}},
		{"1..32:x2", []int{1, 2, 4, 8, 16, 32}},
		{"1..20:x3", []int{1, 3, 9}},
		{"1..16:+4", []int{1, 5, 9, 13}},
		{"2..10:4", []int{2, 6, 10}},
		{"8,1..3, 8 ,2", []int{1, 2, 3, 8}},
		{"3..3", []int{3}},
		{"1..4096:x2", []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}},
	} {
		got, err := ParseRange(tc.in)
		if err != nil {
			t.Errorf("ParseRange(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ParseRange(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got, _ := ParseRange("1..32"); len(got) != 32 || got[0] != 1 || got[31] != 32 {
		t.Errorf("1..32 = %v", got)
	}
}

func TestParseRangeErrors(t *testing.T) {
	for _, in := range []string{
		"", " ", "0", "-1", "a", "1..", "..4", "4..1", "1,,2", "1,", "1..8:x1", "1..8:x",
		"1..8:+0", "1..8:0", "8:x2", "1..5000", "99999999999999999999", "1...4", "1..4..8",
	} {
		got, err := ParseRange(in)
		if err == nil {
			t.Errorf("ParseRange(%q) = %v, want an error", in, got)
			continue
		}
		if !errors.Is(err, ErrRange) {
			t.Errorf("ParseRange(%q): %v does not wrap ErrRange", in, err)
		}
	}
}

func TestSchedule(t *testing.T) {
	got := Schedule(3, 4)
	var names []byte
	for _, e := range got {
		names = append(names, "ABC"[e[0]])
	}
	if string(names) != "ABCBCACABABC" {
		t.Errorf("order %s, want ABC BCA CAB ABC", names)
	}
	// Every configuration runs count times, each repetition once, and no
	// configuration runs twice in a row.
	seen := map[[2]int]bool{}
	for i, e := range got {
		if seen[e] {
			t.Errorf("%v twice", e)
		}
		seen[e] = true
		if i > 0 && got[i-1][0] == e[0] {
			t.Errorf("configuration %d twice in a row at %d", e[0], i)
		}
	}
	if len(seen) != 12 {
		t.Errorf("%d distinct runs, want 12", len(seen))
	}
	if n := len(Schedule(1, 3)); n != 3 {
		t.Errorf("one configuration: %d runs, want 3", n)
	}
}
