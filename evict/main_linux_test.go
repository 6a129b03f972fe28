//go:build linux

package evict

import (
	"os"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/benchlock"
)

// TestMain holds the suite's benchmark lock shared while the tests run, so
// that no benchmark drops the global cache under the residency assertions.
func TestMain(m *testing.M) {
	benchlock.Shared(os.Stderr, 90*time.Second)
	os.Exit(m.Run())
}
