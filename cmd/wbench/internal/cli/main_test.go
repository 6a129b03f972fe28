package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/sweep"
)

// asWbench, set in the environment, makes the test binary run as wbench
// itself: the tests start it as a child to interrupt or kill it.
const asWbench = "WCACHE_TEST_AS_WBENCH"

// TestMain answers wbench's hidden subcommands when a sweep under test
// re-executes the test binary as its built-in server or neighbour, and
// runs as wbench when asWbench is set.
func TestMain(m *testing.M) {
	if os.Getenv(asWbench) != "" || len(os.Args) > 1 && (os.Args[1] == sweep.ServeCommand || os.Args[1] == sweep.NeighbourCommand) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	testenv.Main(m)
}
