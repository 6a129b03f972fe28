// Command wbench sweeps the number of write windows of a cache=none NBD
// server and recommends one for this machine. See the wbench package, or
// run wbench --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pagecache-suite/wcache/sweep"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sweep.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
