// Package benchlock is the suite's convention for not measuring the page
// cache while someone else drops it: whatever drops the global cache or
// times a benchmark holds /tmp/wcache-bench.lock exclusively (run it under
// `flock /tmp/wcache-bench.lock CMD`), and test binaries that assert
// residency hold it shared while they run.
package benchlock

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Path is the lock file shared by the suite's scripts, benchmarks and tests.
const Path = "/tmp/wcache-bench.lock"

// Shared takes the lock shared and holds it until the process exits. If it
// is not granted within wait (for instance because the tests themselves run
// under `flock` on the same file), Shared writes a warning to w and returns,
// so tests go on without it rather than hang.
func Shared(w io.Writer, wait time.Duration) {
	locked := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(Path, os.O_CREATE|os.O_RDONLY, 0o666)
		if err == nil {
			err = unix.Flock(int(f.Fd()), unix.LOCK_SH) // f stays open: held until exit
		}
		locked <- err
	}()
	select {
	case err := <-locked:
		if err != nil {
			fmt.Fprintf(w, "warning: %s: %v\n", Path, err)
		}
	case <-time.After(wait):
		fmt.Fprintf(w, "warning: %s still held by others after %v; testing without it\n", Path, wait)
	}
}
