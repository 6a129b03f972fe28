// Command cachestats reports how much of a file is in the Linux page cache.
// See "cachestats --help" or the cli package for the manual.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pagecache-suite/wcache/cmd/cachestats/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(code)
}
