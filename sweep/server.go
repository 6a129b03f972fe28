package sweep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pagecache-suite/wcache/results"
)

// server is an NBD server process exporting one output file on a private
// Unix socket for the duration of one run. Every server is a child
// process, started by a starter (cmd.Start, or a memory cgroup's Start), so
// that its CPU time comes from wait4's rusage and its memory can be
// limited.
type server struct {
	name    string
	sock    string
	cmd     *exec.Cmd
	errs    *strings.Builder
	exited  chan struct{} // closed when Wait returned
	waitErr error
	ring    *ringState // window:auto's published ring state, or nil
}

// starter starts a prepared command: (*exec.Cmd).Start, or a cgroup's.
type starter func(*exec.Cmd) error

func unixURI(sock string) string { return "nbd+unix:///?socket=" + sock }

// URI is the NBD URI clients connect to.
func (s *server) URI() string { return unixURI(s.sock) }

// startServer starts the server of configuration c on a socket in dir,
// exporting out, with start; exe is the program answering ServeCommand.
func startServer(ctx context.Context, c results.Config, exe, dir, out string, start starter) (*server, error) {
	sock := filepath.Join(dir, "nbd.sock")
	os.Remove(sock)
	pidfile := filepath.Join(dir, "server.pid")
	os.Remove(pidfile)
	s := &server{name: string(c.Server), sock: sock, errs: &strings.Builder{}, exited: make(chan struct{})}
	var listener *os.File
	switch c.Server {
	case results.Builtin:
		// The socket listens before the child starts: it is ready at once.
		l, err := net.Listen("unix", sock)
		if err != nil {
			return nil, fmt.Errorf("builtin server: %w", err)
		}
		ul := l.(*net.UnixListener)
		ul.SetUnlinkOnClose(false) // the child listens on it now
		listener, err = ul.File()
		ul.Close()
		if err != nil {
			return nil, fmt.Errorf("builtin server: %w", err)
		}
		defer listener.Close()
		s.cmd = exec.Command(exe, ServeCommand, "--policy="+string(c.Policy), out)
		s.cmd.ExtraFiles = []*os.File{listener} // descriptor 3
		if isAuto(c.Policy) {
			r, err := newRingState()
			if err != nil {
				return nil, fmt.Errorf("builtin server: %w", err)
			}
			s.ring = r
			s.cmd.Args = slices.Insert(s.cmd.Args, 2, "--ring-state")
			s.cmd.ExtraFiles = append(s.cmd.ExtraFiles, r.file()) // descriptor 4
		}
		pidfile = ""
	case results.Nbdkit:
		// -f: stay in the foreground as our child; -P: nbdkit writes the
		// pid file once it listens, the readiness signal polled below.
		s.cmd = exec.Command("nbdkit", "-U", sock, "-P", pidfile, "-f", "--exit-with-parent",
			"file", out, nbdkitCache(c))
	case results.Qemu:
		s.cmd = exec.Command("qemu-nbd", qemuArgs(c, sock, pidfile, out)...)
	default:
		return nil, fmt.Errorf("unknown server %q", c.Server)
	}
	s.cmd.Stderr = s.errs
	// A process group of its own: a Ctrl-C at the terminal reaches wbench
	// only, which stops the server in order; the parent's death kills it.
	s.cmd.SysProcAttr = childAttr()
	if err := start(s.cmd); err != nil {
		s.closeRing()
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if pidfile == "" {
		return s, nil
	}
	if err := s.awaitPidfile(ctx, pidfile); err != nil {
		s.closeRing()
		s.cmd.Process.Kill()
		<-s.exited
		os.Remove(sock)
		return nil, err
	}
	return s, nil
}

// awaitPidfile waits until the server wrote its pid file, which nbdkit and
// qemu-nbd do once they listen.
func (s *server) awaitPidfile(ctx context.Context, pidfile string) error {
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before listening (%v): %s", s.name, s.waitErr, strings.TrimSpace(s.errs.String()))
		case <-deadline.C:
			return fmt.Errorf("%s did not listen on %s in time: %s", s.name, s.sock, strings.TrimSpace(s.errs.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if _, err := os.Stat(pidfile); err == nil {
				return nil
			}
		}
	}
}

// Stop shuts the server down once the client is done (SIGTERM), waits
// until it exited, which closes the output file, and returns its CPU time.
func (s *server) Stop() (time.Duration, error) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.exited
	s.closeRing()
	os.Remove(s.sock)
	if s.waitErr != nil {
		var ee *exec.ExitError
		ws, _ := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !errors.As(s.waitErr, &ee) || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			return 0, fmt.Errorf("%s: %w: %s", s.name, s.waitErr, strings.TrimSpace(s.errs.String()))
		}
	}
	return childCPU(s.cmd), nil
}

// closeRing releases the ring state page, if any.
func (s *server) closeRing() {
	if s.ring != nil {
		s.ring.Close()
		s.ring = nil
	}
}

// nbdkitCache maps a configuration to nbdkit's cache= parameter.
func nbdkitCache(c results.Config) string {
	if c.IsDefaultCache() {
		return "cache=default"
	}
	return "cache=none"
}

// qemuArgs are qemu-nbd's arguments for configuration c: raw format on a
// Unix socket, persistent (nbdcopy's connections come and go) and shared
// by nbdcopy's connections; cache=none is O_DIRECT with Linux native AIO,
// cache=writeback the page cache with a thread pool. Discards punch holes,
// as the other servers' trims do.
func qemuArgs(c results.Config, sock, pidfile, out string) []string {
	cache, aio := "writeback", "threads"
	if c.Policy == results.Direct {
		cache, aio = "none", "native"
	}
	return []string{"-k", sock, "--pid-file=" + pidfile, "-f", "raw", "--persistent", "--shared=16",
		"--cache=" + cache, "--aio=" + aio, "--discard=unmap", out}
}
