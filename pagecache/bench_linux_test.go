//go:build linux

package pagecache

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkStat measures one sample of a 256 MiB cached file, the wbench
// sampler's cost: cachestat (one fstat and one cachestat call) against the
// mincore fallback and a full page map.
func BenchmarkStat(b *testing.B) {
	path := filepath.Join(b.TempDir(), "data")
	if err := os.WriteFile(path, make([]byte, 256<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil { // clean pages: the steady state
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		stat func() (Stat, error)
	}{
		{"method=cachestat", func() (Stat, error) { return StatFileUsing(f, Range{}, MethodCachestat) }},
		{"method=mincore", func() (Stat, error) { return StatFileUsing(f, Range{}, MethodMincore) }},
		{"method=map", func() (Stat, error) { st, _, err := MapFile(f, Range{}); return st, err }},
		{"method=path", func() (Stat, error) { return StatPath(path) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				st, err := bc.stat()
				if err != nil || st.Pages != 65536 {
					b.Fatalf("%+v, %v", st, err)
				}
			}
		})
	}
}
