// Command wbench sweeps the number of write windows of a cache=none NBD
// server and recommends one for this machine. See wbench --help; the code
// is in internal/cli, the sweep in package sweep, the tables, plots and
// verdicts in package results.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pagecache-suite/wcache/cmd/wbench/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
