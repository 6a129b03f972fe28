package sweep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/nbdserve"
	"github.com/pagecache-suite/wcache/results"
)

// server is an NBD server exporting one output file on a private Unix
// socket for the duration of one run.
type server interface {
	// URI is the NBD URI clients connect to.
	URI() string
	// Stop shuts the server down once the client is done, waits until the
	// output file is closed, and returns the server's CPU time.
	Stop() (time.Duration, error)
}

func unixURI(sock string) string { return "nbd+unix:///?socket=" + sock }

// startServer starts the server of configuration c on a socket in dir,
// exporting out.
func startServer(ctx context.Context, c results.Config, dir, out string) (server, error) {
	sock := filepath.Join(dir, "nbd.sock")
	os.Remove(sock)
	switch c.Server {
	case results.Builtin:
		return startBuiltin(c, sock, out)
	case results.Nbdkit:
		return startNbdkit(ctx, c, dir, sock, out)
	}
	return nil, fmt.Errorf("unknown server %q", c.Server)
}

// builtin is the suite's nbdserve, in this process.
type builtin struct {
	sock string
	file *nbdserve.File
	srv  *nbdserve.Server
	done chan error
	cpu0 time.Duration
}

func startBuiltin(c results.Config, sock, out string) (*builtin, error) {
	var pol evict.Policy
	if !c.IsDefaultCache() {
		p, err := evict.Parse(string(c.Policy))
		if err != nil {
			return nil, fmt.Errorf("builtin server: %w", err)
		}
		pol = p
	}
	b := &builtin{sock: sock, done: make(chan error, 1), cpu0: processCPU()}
	f, err := nbdserve.OpenFile(out, nbdserve.FileOptions{Policy: pol})
	if err != nil {
		return nil, fmt.Errorf("builtin server: %w", err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("builtin server: %w", err)
	}
	b.file = f
	b.srv = nbdserve.NewServer(f, nbdserve.Config{ExportName: "wbench"})
	go func() { b.done <- b.srv.Serve(l) }()
	return b, nil
}

func (b *builtin) URI() string { return unixURI(b.sock) }

func (b *builtin) Stop() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	if serr := <-b.done; serr != nil && !errors.Is(serr, nbdserve.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := b.file.Close(); cerr != nil && err == nil {
		err = cerr
	}
	os.Remove(b.sock)
	if err != nil {
		return 0, fmt.Errorf("builtin server: %w", err)
	}
	return processCPU() - b.cpu0, nil
}

// nbdkit is `nbdkit file`, a child process.
type nbdkit struct {
	sock    string
	cmd     *exec.Cmd
	errs    *strings.Builder
	exited  chan struct{} // closed when Wait returned
	waitErr error
}

// nbdkitCache maps a configuration to nbdkit's cache= parameter.
func nbdkitCache(c results.Config) string {
	if c.IsDefaultCache() {
		return "cache=default"
	}
	return "cache=none"
}

func startNbdkit(ctx context.Context, c results.Config, dir, sock, out string) (*nbdkit, error) {
	pidfile := filepath.Join(dir, "nbdkit.pid")
	os.Remove(pidfile)
	k := &nbdkit{sock: sock, errs: &strings.Builder{}, exited: make(chan struct{})}
	// -f: stay in the foreground as our child; -P: nbdkit writes the pid
	// file once it listens, which is the readiness signal polled below.
	k.cmd = exec.Command("nbdkit", "-U", sock, "-P", pidfile, "-f", "--exit-with-parent",
		"file", out, nbdkitCache(c))
	k.cmd.Stderr = k.errs
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("nbdkit: %w", err)
	}
	go func() {
		k.waitErr = k.cmd.Wait()
		close(k.exited)
	}()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-k.exited:
			return nil, fmt.Errorf("nbdkit exited before listening (%v): %s", k.waitErr, strings.TrimSpace(k.errs.String()))
		case <-deadline.C:
		case <-ctx.Done():
		case <-tick.C:
			if _, err := os.Stat(pidfile); err == nil {
				return k, nil
			}
			continue
		}
		k.cmd.Process.Kill()
		<-k.exited
		return nil, fmt.Errorf("nbdkit did not listen on %s in time: %s", sock, strings.TrimSpace(k.errs.String()))
	}
}

func (k *nbdkit) URI() string { return unixURI(k.sock) }

func (k *nbdkit) Stop() (time.Duration, error) {
	k.cmd.Process.Signal(syscall.SIGTERM)
	<-k.exited
	os.Remove(k.sock)
	if k.waitErr != nil {
		var ee *exec.ExitError
		ws, _ := k.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !errors.As(k.waitErr, &ee) || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			return 0, fmt.Errorf("nbdkit: %w: %s", k.waitErr, strings.TrimSpace(k.errs.String()))
		}
	}
	return childCPU(k.cmd), nil
}
