package sweep

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/neighbour"
)

// TestMain answers ServeCommand and NeighbourCommand, as wbench does,
// when the sweep re-executes the test binary as its built-in server or
// neighbour; otherwise it runs the tests, which time copies and assert the
// residency they leave.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == ServeCommand || os.Args[1] == NeighbourCommand) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		var err error
		if os.Args[1] == ServeCommand {
			fs := flag.NewFlagSet(ServeCommand, flag.ExitOnError)
			policy := fs.String("policy", string(evict.None), "")
			ring := fs.Bool("ring-state", false, "")
			fs.Parse(os.Args[2:])
			err = Serve(ctx, *policy, fs.Arg(0), *ring)
		} else {
			err = neighbour.Main(ctx, os.Args[2:], os.Stdin, os.Stdout)
		}
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testenv.Main(m)
}
