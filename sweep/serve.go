package sweep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/nbdserve"
)

// ServeCommand is the hidden subcommand of the program in Options.Exe
// (wbench) that runs the built-in server for one run: the sweep starts
// "EXE serve-nbd --policy=P FILE" with the listening Unix socket as file
// descriptor 3, so that the server is a process of its own (its CPU time
// its own, placeable in a memory cgroup) and is listening before it starts.
const ServeCommand = "serve-nbd"

// listenerFD is the descriptor the listening socket is passed on.
const listenerFD = 3

// Serve is the body of ServeCommand: it serves file with the evict policy
// named policy (evict.None: the kernel's default) on the inherited listener
// until ctx ends (wbench ends it on SIGTERM), then shuts the server down,
// closes the file and returns. With ringState, a window:auto policy
// publishes its ring size in the shared page inherited on descriptor 4,
// which the sweep's sampler reads.
func Serve(ctx context.Context, policy, file string, ringState bool) error {
	var pol evict.Policy
	if evict.Name(policy) != evict.None {
		p, err := evict.Parse(policy)
		if err != nil {
			return fmt.Errorf("%s: %w", ServeCommand, err)
		}
		pol = p
	}
	lf := os.NewFile(listenerFD, "listener")
	if lf == nil {
		return errors.New(ServeCommand + ": no listener on descriptor 3")
	}
	l, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return fmt.Errorf("%s: listener: %w", ServeCommand, err)
	}
	f, err := nbdserve.OpenFile(file, nbdserve.FileOptions{Policy: pol})
	if err != nil {
		l.Close()
		return fmt.Errorf("%s: %w", ServeCommand, err)
	}
	if ringState && pol != nil {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		if err := publishRingState(pctx, pol); err != nil {
			l.Close()
			f.Close()
			return fmt.Errorf("%s: %w", ServeCommand, err)
		}
	}
	srv := nbdserve.NewServer(f, nbdserve.Config{ExportName: "wbench"})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
	case err = <-done:
		f.Close()
		return fmt.Errorf("%s: %w", ServeCommand, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-done; serr != nil && !errors.Is(serr, nbdserve.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ServeCommand, err)
	}
	return nil
}
