// Command nbdserve serves a file over NBD, as `nbdkit file` does and with
// its command line, with nbdkit's cache=none and other eviction policies.
// See nbdserve --help; the code is in internal/cli. nbdserve handles
// SIGINT, SIGTERM and SIGQUIT itself (drain, or pass them on to the --run
// command).
package main

import (
	"context"
	"os"

	"github.com/pagecache-suite/wcache/cmd/nbdserve/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
