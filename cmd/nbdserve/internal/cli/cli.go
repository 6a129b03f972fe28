// Package cli is the nbdserve command: nbdkit's command line for the file
// plugin (args.go), its listeners (TCP, Unix, socket activation, stdin for
// -s), going into the background once listening (daemon.go), signals, and
// captive mode (--run). cmd/nbdserve is a thin main over Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/cliutil"
	"github.com/pagecache-suite/wcache/nbdserve"
)

const usage = `Usage: nbdserve [flags] [file] [file=]FILE [cache=default|none] [windows=N]
                [evict=NAME] [fadvise=normal|random|sequential] [--run 'CMD']

Serves FILE over NBD (the Network Block Device protocol), as ` + "`nbdkit file`" + ` does,
with nbdkit's command line: "nbdkit" can be replaced by "nbdserve" in a
command serving a file. Flags may come before or after FILE and the
key=value parameters, short ones bundled (-rv); "--" ends the flags. The
word "file" (nbdkit's plugin) may come first.

Like nbdkit, nbdserve goes into the background once it listens (the
command returns then, status 0, or the error if the server could not
start), unless -f, --run, -s, --exit-with-parent or socket activation.
With LISTEN_PID and LISTEN_FDS set (systemd, or libnbd's "[ CMD ]"), it
serves the sockets it was given.

Parameters:
  cache=default     leave the page cache to the kernel (the default)
  cache=none        keep FILE's pages out of the page cache: writes that
                    continue each other merge into windows of up to 4 MiB,
                    whose writeback starts when they are full or broken
                    off; past 32 MiB in the ring the oldest are waited for
                    and dropped; all are drained at exit. Reads drop the
                    pages they brought in, never those that were cached
                    before (policy ` + cacheNonePolicy + `)
  windows=N         cache=none with nbdkit's own ring of N windows instead:
                    after each write start its writeback, and drop the write
                    that leaves the ring (window:N,drain,read=fresh; nbdkit
                    has 8)
  evict=NAME        any eviction policy by name, for example flush-each,
                    window:8,per=stream or window:bytes=16M,merge,drain
                    (implies cache=none, so not with cache=default or
                    windows=; see below)
  fadvise=MODE      normal, random or sequential: access hint for FILE

Flags:
  -U, --unix PATH   listen on a Unix socket at PATH; -U - makes a private one
                    in a temporary directory (removed at exit)
  -i, --ipaddr ADDR TCP address to listen on (default 127.0.0.1, not all
                    interfaces as nbdkit: ask, e.g. -i 0.0.0.0)
  -p, --port PORT   TCP port (default 10809)
  -r, --readonly    export read-only; writes get EPERM. A FILE that cannot be
                    opened for writing (read-only mount, no permission) is
                    served read-only with a notice, as nbdkit does
  -f, --foreground  stay in the foreground
  -P, --pidfile PATH
                    write the server's process id to PATH once it listens
                    (left behind at exit, as nbdkit does)
  --exit-with-parent
                    exit (as at SIGTERM) when the parent process exits;
                    implies -f
  -s, --single      serve one connection on stdin and stdout (a socket, as
                    inetd or libnbd's connect_command give), then exit
  -e, --exportname NAME
                    the export's name, in $uri and $exportname for --run and
                    in the export list; clients asking for any name get FILE,
                    as from nbdkit's file plugin
  -t, --threads N   requests served at once per connection (default 8);
                    also --workers N
  --size SIZE       create FILE if missing and extend it to SIZE (as nbdkit:
                    K, M, G, T, P, E powers of 1024, optionally with B or iB;
                    S 512-byte sectors); a longer FILE is left as it is
  --descr TEXT      export description shown by nbdinfo
  --max-connections N
                    connections served at once; more are closed at once
                    (default: the open-file limit less an eighth, at
                    most 1024)
  --max-payload-memory SIZE
                    bytes of READ/WRITE payloads held at once by the whole
                    server; clients that do not read their replies are not
                    read meanwhile (default: 1/16 of the memory, or of the
                    memory cgroup's limit, at least 64M, at most 1G)
  --shutdown-timeout DURATION
                    after a signal, how long connections may take to
                    finish before they are closed (default 5s)
  --run 'CMD'       captive mode: run CMD with sh once the server listens,
                    with $uri, $nbd (same), $unixsocket, $port,
                    $exportname and $tls set; then drain, evict what is left, and
                    exit with CMD's status. Without -U, -i or -p, --run
                    listens on a private Unix socket (as -U -). Implies -f
  --tls=off|on|require
                    offer TLS (NBD_OPT_STARTTLS), or require it before any
                    other option (default off)
  --tls-certificates DIR
                    ca-cert.pem, server-cert.pem, server-key.pem (default
                    /etc/pki/nbdkit for root, else $HOME/.pki/nbdkit)
  --tls-verify-peer require client certificates signed by ca-cert.pem
  --tls-psk FILE    not supported (Go's crypto/tls has no TLS-PSK)
  -v, --verbose     log every connection to stderr, also in the background
                    (the server always says where it listens, unless in
                    captive mode, with -s or socket activation)
  -n, --newstyle    accepted: the fixed newstyle protocol is the only one
  -h, --help        this help
  -V, --version     print the module version and VCS revision of this build

nbdkit's other options (--filter, -D, --log, -o, --tls..., ...), other
plugins and the file plugin's dir= are refused with one line, status 2.

SIGINT, SIGTERM or SIGQUIT: stop accepting, finish requests in flight,
flush, and exit 0; connections still busy after --shutdown-timeout (or at
a second signal) are closed, with a notice. A failed final flush is
reported and exits 1. In captive mode the signal is passed on to CMD.

Examples:
  # Copy an image into out.img, keeping out.img out of the page cache:
  nbdserve --size 4G out.img cache=none --run 'nbdcopy --flush src.img $uri'

  # Serve disk.img read-only on a Unix socket in the background, inspect
  # it, stop it:
  nbdserve -r -P nbd.pid -U /tmp/nbd.sock file disk.img
  nbdinfo --map 'nbd+unix:///?socket=/tmp/nbd.sock'
  kill $(cat nbd.pid)

  # Let libnbd start it on a socket of its own (socket activation):
  nbdcopy -- [ nbdserve disk.img cache=none ] copy.img

  # nbdkit's old cache=none (fdatasync after every write) for comparison:
  nbdserve out.img evict=flush-each --run 'nbdcopy src.img $uri'

` + evict.Names

// Run runs nbdserve with args (without the program name) and returns the
// exit status: 0, CMD's status in captive mode, 1 on failure, 2 on bad
// usage or an nbdkit option nbdserve does not support. The end of ctx
// stops the server as SIGINT does. Unless told to stay in the foreground,
// Run starts the server again in the background (the executable with the
// same args) and returns 0 once that one listens.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if cliutil.Answer(err, "nbdserve", usage, stdout) {
		return 0
	}
	var unsupported *unsupportedError
	switch {
	case errors.As(err, &unsupported):
		fmt.Fprintf(stderr, "nbdserve: %v\n", err)
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "nbdserve: %v\nRun 'nbdserve --help' for usage.\n", err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "nbdserve: %v\n", err)
		return 1
	}
	if o.exitParent {
		if err := exitWithParent(); err != nil {
			fmt.Fprintf(stderr, "nbdserve: --exit-with-parent: %v\n", err)
			return 1
		}
	}
	var ready *os.File
	if o.detach() {
		if ready = readyPipe(); ready == nil {
			return startDetached(args, stderr)
		}
	}
	status, err := serve(ctx, stdout, stderr, o, ready)
	if err != nil {
		fmt.Fprintf(stderr, "nbdserve: %v\n", err)
		if status == 0 {
			status = 1
		}
	}
	return status
}

// endpoint is where the server takes its connections from.
type endpoint struct {
	listeners []net.Listener
	env       map[string]string // exported to --run
	where     string            // for people: a URI, or what else
	cleanup   func()
	// single is closed when the one connection of -s has ended; nil
	// otherwise.
	single chan struct{}
}

// endpoint opens the listeners the flags ask for, or takes over those
// systemd or a libnbd client passed (socket activation), or stdin (-s).
func (o *options) endpoint() (*endpoint, error) {
	ep := &endpoint{cleanup: func() {}}
	if o.single {
		nc, err := net.FileConn(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("-s: stdin is not a socket: %w", err)
		}
		// The connection holds a copy of the socket: stdin and stdout
		// let go of theirs, so that closing it ends the connection.
		if err := toDevNull(0, 1); err != nil {
			nc.Close()
			return nil, fmt.Errorf("-s: %w", err)
		}
		ep.single = make(chan struct{})
		ep.listeners = []net.Listener{newOneConnListener(nc)}
		ep.where = "stdin"
		return ep, nil
	}
	if ls, err := activationListeners(); ls != nil || err != nil {
		ep.listeners = ls
		ep.where = fmt.Sprintf("the %d socket(s) passed by socket activation", len(ls))
		return ep, err
	}
	sock := o.unixSock
	if sock == "" && o.run != "" && !o.tcpAsked {
		sock = "-"
	}
	if sock == "" {
		addr := net.JoinHostPort(o.ip, strconv.Itoa(o.port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		host, port, _ := net.SplitHostPort(l.Addr().String())
		uri := "nbd://" + net.JoinHostPort(host, port) + "/" + o.exportName
		ep.listeners = []net.Listener{l}
		ep.env = map[string]string{"uri": uri, "nbd": uri, "port": port, "unixsocket": "", "exportname": o.exportName}
		ep.where = uri
		return ep, nil
	}
	if sock == "-" {
		dir, err := os.MkdirTemp("", "nbdserve-")
		if err != nil {
			return nil, err
		}
		ep.cleanup = func() { os.RemoveAll(dir) }
		sock = filepath.Join(dir, "nbd.sock")
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		ep.cleanup()
		return nil, err
	}
	abs, _ := filepath.Abs(sock)
	uri := "nbd+unix:///" + o.exportName + "?socket=" + abs
	ep.listeners = []net.Listener{l}
	ep.env = map[string]string{"uri": uri, "nbd": uri, "port": "", "unixsocket": abs, "exportname": o.exportName}
	ep.where = uri
	return ep, nil
}

// backend is what serve serves: a File, or in tests a File with faults.
type backend interface {
	nbdserve.Backend
	Close() error
}

// openBackend opens FILE; tests replace it to inject storage faults.
var openBackend = func(path string, o nbdserve.FileOptions) (backend, error) {
	f, err := nbdserve.OpenFile(path, o)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// serve runs the server until a signal or the end of ctx, or until CMD
// exits in captive mode, or until the connection of -s ends.
//
// ready, if not nil, is the pipe to the process that started this one in
// the background (see startDetached): serve writes to it once it listens.
func serve(ctx context.Context, stdout, stderr io.Writer, o *options, ready *os.File) (int, error) {
	fo := nbdserve.FileOptions{Policy: o.pol, ReadOnly: o.readOnly, Fadvise: o.fadvise, Size: o.size}
	f, err := openBackend(o.file, fo)
	if err != nil && !o.readOnly && (errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES)) {
		// As nbdkit's file plugin does: serve what can be read. If
		// that fails too, the first error says why.
		var why syscall.Errno
		errors.As(err, &why)
		fo.ReadOnly = true
		if rf, rerr := openBackend(o.file, fo); rerr == nil {
			f, err = rf, nil
			o.readOnly = true
			fmt.Fprintf(stderr, "nbdserve: %s: %v: serving it read-only\n", o.file, why)
		}
	}
	if err != nil {
		return 1, err
	}
	tlsConfig, err := o.tls.config()
	if err != nil && !o.tls.require {
		// As nbdkit: --tls=on without certificates serves plaintext.
		fmt.Fprintf(stderr, "nbdserve: warning: --tls=on but %v: TLS is disabled\n", err)
		o.tls = tlsOptions{}
	} else if err != nil {
		f.Close()
		return 1, err
	}
	ep, err := o.endpoint()
	if err != nil {
		f.Close()
		return 1, err
	}
	defer ep.cleanup()
	if ep.env != nil {
		o.tls.setEnv(ep.env)
	}

	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := nbdserve.Config{
		ExportName:    o.exportName,
		AnyExportName: true, // as nbdkit's file plugin
		Description:   o.description,
		ReadOnly:      o.readOnly,
		Workers:       o.workers,
		Logger:        logger,
		TLS:           tlsConfig,
		RequireTLS:    o.tls.require,

		MaxConnections:   o.maxConns,
		MaxPayloadMemory: o.maxPayload,
	}
	if ep.single != nil {
		cfg.ConnState = func(_ net.Conn, state nbdserve.ConnState) {
			if state == nbdserve.StateClosed {
				close(ep.single)
			}
		}
	}
	srv := nbdserve.NewServer(f, cfg)
	served := make(chan error, len(ep.listeners))
	for _, l := range ep.listeners {
		go func() { served <- srv.Serve(l) }()
	}
	serving := len(ep.listeners)

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	// Listening: clients can connect from here on.
	var startErr error
	if o.pidFile != "" {
		startErr = writePidFile(o.pidFile)
	}
	status := 0
	var runErr, serveErr error
	switch {
	case startErr != nil:
	case o.run != "":
		status, runErr = captive(stdout, stderr, o.run, ep.env, sigs)
	default:
		// Say where (with -U - the socket's name is known only here),
		// unless stdout and stderr belong to a client (-s, socket
		// activation).
		if ep.env != nil || o.verbose {
			fmt.Fprintf(stderr, "nbdserve: serving %s at %s\n", o.file, ep.where)
		}
		if ready != nil {
			startErr = detached(ready, o.verbose)
			if startErr != nil {
				break
			}
		}
		select {
		case <-sigs:
		case <-ctx.Done():
		case <-ep.single:
		case serveErr = <-served:
			serving--
		}
	}

	// Drain for at most --shutdown-timeout; a second signal closes the
	// remaining connections at once.
	drainCtx, cancel := context.WithTimeout(context.Background(), o.shutTimeout)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-drainCtx.Done():
		}
	}()
	shutErr := srv.Shutdown(drainCtx)
	if drainCtx.Err() != nil {
		fmt.Fprintf(stderr, "nbdserve: closed the connections still open after %v\n", o.shutTimeout)
		shutErr = dropContextErrors(shutErr)
	}
	for ; serving > 0; serving-- {
		if err := <-served; serveErr == nil {
			serveErr = err
		}
	}
	if errors.Is(serveErr, nbdserve.ErrServerClosed) {
		serveErr = nil
	}
	closeErr := f.Close()
	return status, errors.Join(startErr, runErr, serveErr, shutErr, closeErr)
}

// dropContextErrors removes the context's own errors from what Shutdown
// returned, keeping the failures of final flushes.
func dropContextErrors(err error) error {
	var keep []error
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range u.Unwrap() {
			if !errors.Is(e, context.Canceled) && !errors.Is(e, context.DeadlineExceeded) {
				keep = append(keep, e)
			}
		}
	} else if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		keep = append(keep, err)
	}
	return errors.Join(keep...)
}

// captive runs CMD with sh and returns its exit status. Signals received
// meanwhile are passed on to it.
func captive(stdout, stderr io.Writer, command string, env map[string]string, sigs <-chan os.Signal) (int, error) {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.Stdin = os.Stdin
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("--run: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case err := <-done:
			var ee *exec.ExitError
			switch {
			case err == nil:
				return 0, nil
			case errors.As(err, &ee):
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return ee.ExitCode(), nil
			default:
				return 1, fmt.Errorf("--run: %w", err)
			}
		}
	}
}
