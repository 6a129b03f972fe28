package pagecache

import (
	"iter"
	"math/bits"
)

// PageMap records which pages of a file (or of a range of it) are in the
// page cache, one bit per page.
type PageMap struct {
	// First is the file page index (offset / page size) of map index 0.
	First int64
	n     int64
	words []uint64
}

// NewPageMap returns a map of n pages, none resident, whose index 0 is file
// page first.
func NewPageMap(first, n int64) *PageMap {
	return &PageMap{First: first, n: n, words: make([]uint64, (n+63)/64)}
}

// Len is the number of pages the map covers.
func (m *PageMap) Len() int64 { return m.n }

// Resident reports whether page i of the map (file page First+i) is in the
// page cache. It panics if i is outside [0, Len()).
func (m *PageMap) Resident(i int64) bool {
	m.check(i)
	return m.words[i/64]&(1<<(i%64)) != 0
}

// Set marks page i of the map resident.
func (m *PageMap) Set(i int64) {
	m.check(i)
	m.words[i/64] |= 1 << (i % 64)
}

func (m *PageMap) check(i int64) {
	if i < 0 || i >= m.n {
		panic("pagecache: page index out of range")
	}
}

// Count is the number of resident pages.
func (m *PageMap) Count() int64 {
	var n int
	for _, w := range m.words {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// ResidentPages yields the map index of every resident page, in order.
func (m *PageMap) ResidentPages() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for wi, w := range m.words {
			for w != 0 {
				i := int64(wi)*64 + int64(bits.TrailingZeros64(w))
				if !yield(i) {
					return
				}
				w &= w - 1
			}
		}
	}
}

// Run is a maximal stretch of pages that are all resident or all not.
type Run struct {
	Start    int64 // map index of the first page
	Len      int64
	Resident bool
}

// Runs yields the map as alternating runs of resident and absent pages.
func (m *PageMap) Runs() iter.Seq[Run] {
	return func(yield func(Run) bool) {
		var cur Run
		for i := int64(0); i < m.n; i++ {
			r := m.Resident(i)
			if cur.Len > 0 && r == cur.Resident {
				cur.Len++
				continue
			}
			if cur.Len > 0 && !yield(cur) {
				return
			}
			cur = Run{Start: i, Len: 1, Resident: r}
		}
		if cur.Len > 0 {
			yield(cur)
		}
	}
}
