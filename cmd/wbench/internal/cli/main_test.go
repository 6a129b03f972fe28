package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/pagecache-suite/wcache/sweep"
)

// TestMain answers wbench's hidden subcommands when a sweep under test
// re-executes the test binary as its built-in server or neighbour.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == sweep.ServeCommand || os.Args[1] == sweep.NeighbourCommand) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
