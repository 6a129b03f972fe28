// Command cachestats reports how much of a file is in the Linux page cache.
// See "cachestats --help"; the code is in internal/cli.
//
// Interrupting a --watch (Ctrl-C) ends the process by the signal, as it
// does "watch" or "vmstat 1"; every sample is already written out. Not
// catching signals keeps the process small: peak RSS is compared with
// fincore's.
package main

import (
	"context"
	"os"

	"github.com/pagecache-suite/wcache/cmd/cachestats/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
