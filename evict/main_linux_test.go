//go:build linux

package evict

import (
	"flag"
	"os"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/benchlock"
)

// TestMain holds the suite's benchmark lock shared while the tests run, so
// that no benchmark drops the global cache under the residency assertions.
// A run of benchmarks only does not: scripts/bench-evict runs them under
// the lock held exclusively.
func TestMain(m *testing.M) {
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" || flag.Lookup("test.run").Value.String() != "^$" {
		benchlock.Shared(os.Stderr, 90*time.Second)
	}
	os.Exit(m.Run())
}
