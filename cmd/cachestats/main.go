// Command cachestats reports how much of a file is in the Linux page cache.
// See "cachestats --help"; the code is in internal/cli.
//
// Interrupting a --watch (Ctrl-C) ends the process by the signal, as it
// does "watch" or "vmstat 1"; every sample is already written out. Not
// catching signals keeps the process small: peak RSS is compared with
// fincore's. For the same reason the garbage collector runs once the heap
// has grown by a quarter of what is live, not the default doubling: a
// walk over many files makes short-lived garbage and keeps about a
// megabyte, so the runtime's 4 MB minimum heap would be most of the peak.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/pagecache-suite/wcache/cmd/cachestats/internal/cli"
)

func main() {
	debug.SetGCPercent(25)
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
