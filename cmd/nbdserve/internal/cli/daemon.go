package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// unsupportedError is an nbdkit option, parameter or plugin that nbdserve
// refuses: one line, exit status 2.
type unsupportedError struct{ what, why string }

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("%s is not supported (%s)", e.what, e.why)
}

// Socket activation (sd_listen_fds(3)): the listening sockets start at
// file descriptor 3.
const listenFdsStart = 3

// socketActivated reports whether LISTEN_PID and LISTEN_FDS pass this
// process listening sockets, as systemd and libnbd's "[ CMD ]" do.
func socketActivated() bool {
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	return os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && err == nil && n >= 1
}

// activationListeners returns the listeners passed by socket activation,
// or nil without it. The variables are removed, so that children do not
// take them for theirs.
func activationListeners() ([]net.Listener, error) {
	if !socketActivated() {
		return nil, nil
	}
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	var ls []net.Listener
	for fd := listenFdsStart; fd < listenFdsStart+n; fd++ {
		f := os.NewFile(uintptr(fd), "LISTEN_FDS:"+strconv.Itoa(fd))
		l, err := net.FileListener(f) // a dup; f is closed below
		f.Close()
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("socket activation: file descriptor %d: %w", fd, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// oneConnListener hands out one connection (stdin for -s), then blocks
// until closed.
type oneConnListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func newOneConnListener(nc net.Conn) *oneConnListener {
	l := &oneConnListener{conns: make(chan net.Conn, 1), closed: make(chan struct{}), addr: nc.LocalAddr()}
	l.conns <- nc
	close(l.conns)
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if nc, ok := <-l.conns; ok {
		return nc, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.addr }

// writePidFile writes this process's id to path, as nbdkit's -P does,
// through a temporary file renamed over path, so that a reader never sees
// it empty. Like nbdkit, nbdserve leaves it behind at exit.
func writePidFile(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("-P: %w", err)
	}
	_, err = fmt.Fprintf(f, "%d\n", os.Getpid())
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("-P %s: %w", path, err)
	}
	return nil
}

// readyEnv names the environment variable through which a background
// nbdserve learns that the file descriptor it gives is the pipe to the
// process that started it.
const readyEnv = "NBDSERVE_READY_FD"

// readyPipe returns the pipe to the process that started this one in the
// background, or nil if this one was not started so.
func readyPipe() *os.File {
	fd, err := strconv.Atoi(os.Getenv(readyEnv))
	if err != nil {
		return nil
	}
	os.Unsetenv(readyEnv)
	return os.NewFile(uintptr(fd), "ready pipe")
}

// startDetached runs this executable again with args, in a new session
// with stdin and stdout on /dev/null, and waits until it listens (it
// writes a byte to the ready pipe): then it returns 0 and leaves it
// running, as nbdkit forks into the background once it listens. If it
// exits first, its exit status is returned; it said why on stderr.
func startDetached(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "nbdserve: starting in the background: %v\n", err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "nbdserve: starting in the background: %v\n", err)
		return 1
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), readyEnv+"="+strconv.Itoa(listenFdsStart))
	cmd.ExtraFiles = []*os.File{w} // file descriptor 3
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		fmt.Fprintf(stderr, "nbdserve: starting in the background: %v\n", err)
		return 1
	}
	if n, _ := r.Read(make([]byte, 1)); n == 1 {
		cmd.Process.Release()
		return 0
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return ee.ExitCode()
	}
	fmt.Fprintf(stderr, "nbdserve: the server in the background ended before listening: %v\n", err)
	return 1
}

// detached tells the process that started this one that it listens,
// after sending stderr to /dev/null unless verbose (nbdkit sends its
// messages to syslog once in the background).
func detached(ready *os.File, verbose bool) error {
	defer ready.Close()
	if !verbose {
		if err := toDevNull(2); err != nil {
			return fmt.Errorf("detaching: %w", err)
		}
	}
	_, err := ready.Write([]byte{1})
	return err
}
