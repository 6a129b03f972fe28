// Package cli is the nbdserve command: flags and key=value parameters in
// the manner of `nbdkit file`, a listener, signals, and captive mode
// (--run). cmd/nbdserve is a thin main over Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/size"
	"github.com/pagecache-suite/wcache/internal/version"
	"github.com/pagecache-suite/wcache/nbdserve"
)

const usage = `Usage: nbdserve [flags] FILE [cache=default|none] [windows=N] [evict=NAME]
                [fadvise=normal|random|sequential] [--run 'CMD']

Serves FILE over NBD (the Network Block Device protocol), as ` + "`nbdkit file`" + ` does.
Flags may come before or after FILE and the key=value parameters.

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
  -U PATH           listen on a Unix socket at PATH; -U - makes a private one
                    in a temporary directory (removed at exit)
  -i ADDR           TCP address to listen on (default 127.0.0.1; never all
                    interfaces unless asked, e.g. -i 0.0.0.0)
  -p PORT           TCP port (default 10809)
  -r, --readonly    export read-only; writes get EPERM. A FILE that cannot be
                    opened for writing (read-only mount, no permission) is
                    served read-only with a notice, as nbdkit does
  --size SIZE       create FILE if missing and extend it to SIZE (as nbdkit:
                    K, M, G, T, P, E powers of 1024, optionally with B or iB;
                    S 512-byte sectors); a longer FILE is left as it is
  -e NAME           export name (clients may also ask for "", the default)
  --descr TEXT      export description shown by nbdinfo
  --workers N       requests served at once per connection (default 8)
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
                    after SIGINT/SIGTERM, how long connections may take to
                    finish before they are closed (default 5s)
  --run 'CMD'       captive mode: run CMD with sh once the server listens,
                    with $uri, $nbd (same), $unixsocket, $port,
                    $exportname and $tls set; then drain, evict what is
                    left, and exit with CMD's status. Without -U, -i or
                    -p, --run listens on a private Unix socket (as -U -).
  --tls=off|on|require
                    offer TLS (NBD_OPT_STARTTLS), or require it before any
                    other option (default off)
  --tls-certificates DIR
                    ca-cert.pem, server-cert.pem, server-key.pem (default
                    /etc/pki/nbdkit for root, else $HOME/.pki/nbdkit)
  --tls-verify-peer require client certificates signed by ca-cert.pem
  --tls-psk FILE    not supported (Go's crypto/tls has no TLS-PSK)
  -v                log every connection to stderr (the server always says
                    where it listens, unless in captive mode)
  -h, --help        this help
  --version         print the module version and VCS revision of this build

SIGINT or SIGTERM: stop accepting, finish requests in flight, flush, and
exit 0; connections still busy after --shutdown-timeout (or at a second
signal) are closed, with a notice. A failed final flush is reported and
exits 1. In captive mode the signal is passed on to CMD.

Examples:
  # Copy an image into out.img, keeping out.img out of the page cache:
  nbdserve --size 4G out.img cache=none --run 'nbdcopy --flush src.img $uri'

  # Serve disk.img read-only on a Unix socket and inspect it:
  nbdserve -r -U /tmp/nbd.sock disk.img &
  nbdinfo --map 'nbd+unix:///?socket=/tmp/nbd.sock'

  # nbdkit's old cache=none (fdatasync after every write) for comparison:
  nbdserve out.img evict=flush-each --run 'nbdcopy src.img $uri'

` + evict.Names

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

// errVersion asks for the build's version.
var errVersion = errors.New("version requested")

type options struct {
	file        string
	cache       string
	windows     int
	evictName   string
	fadvise     string
	unixSock    string
	ip          string
	port        int
	tcpAsked    bool
	readOnly    bool
	size        int64
	exportName  string
	description string
	workers     int
	maxConns    int
	maxPayload  int64
	shutTimeout time.Duration
	run         string
	verbose     bool
	pol         evict.Policy // from cache=, windows=, evict=
	tls         tlsOptions
}

// Run runs nbdserve with args (without the program name) and returns the
// exit status: 0, CMD's status in captive mode, 1 on failure, 2 on bad
// usage. The end of ctx stops the server as SIGINT does.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if errors.Is(err, errVersion) {
		fmt.Fprint(stdout, version.String("nbdserve"))
		return 0
	}
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "nbdserve: %v\nRun nbdserve --help for usage.\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "nbdserve: %v\n", err)
		return 1
	}
	status, err := serve(ctx, stdout, stderr, o)
	if err != nil {
		fmt.Fprintf(stderr, "nbdserve: %v\n", err)
		if status == 0 {
			status = 1
		}
	}
	return status
}

func parseArgs(args []string) (*options, error) {
	o := &options{cache: "default"}
	fs := flag.NewFlagSet("nbdserve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed by Main, help by --help
	fs.StringVar(&o.unixSock, "U", "", "")
	fs.StringVar(&o.ip, "i", "127.0.0.1", "")
	fs.IntVar(&o.port, "p", 10809, "")
	fs.BoolVar(&o.readOnly, "r", false, "")
	fs.BoolVar(&o.readOnly, "readonly", false, "")
	sizeText := fs.String("size", "", "")
	fs.StringVar(&o.exportName, "e", "", "")
	fs.StringVar(&o.exportName, "exportname", "", "")
	fs.StringVar(&o.description, "descr", "", "")
	fs.IntVar(&o.workers, "workers", nbdserve.DefaultWorkers, "")
	fs.IntVar(&o.maxConns, "max-connections", 0, "")
	maxPayload := fs.String("max-payload-memory", "", "")
	fs.DurationVar(&o.shutTimeout, "shutdown-timeout", 5*time.Second, "")
	fs.StringVar(&o.run, "run", "", "")
	fs.BoolVar(&o.verbose, "v", false, "")
	showVersion := fs.Bool("version", false, "")
	// TLS (tls.go).
	fs.StringVar(&o.tls.mode, "tls", "off", "")
	fs.StringVar(&o.tls.dir, "tls-certificates", "", "")
	fs.BoolVar(&o.tls.verifyPeer, "tls-verify-peer", false, "")
	fs.StringVar(&o.tls.psk, "tls-psk", "", "")

	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *showVersion {
		return nil, errVersion
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "i" || f.Name == "p" {
			o.tcpAsked = true
		}
	})
	if *sizeText != "" {
		n, err := size.Parse(*sizeText)
		if err == nil && n == 0 {
			err = errors.New("want a positive size")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: --size: %v", errUsage, err)
		}
		o.size = n
	}
	if *maxPayload != "" {
		n, err := size.Parse(*maxPayload)
		if err != nil {
			return nil, fmt.Errorf("%w: --max-payload-memory %q: %v", errUsage, *maxPayload, err)
		}
		o.maxPayload = n
	}
	if o.maxConns < 0 {
		return nil, fmt.Errorf("%w: --max-connections must be positive", errUsage)
	}
	if o.shutTimeout < 0 {
		return nil, fmt.Errorf("%w: --shutdown-timeout must not be negative", errUsage)
	}
	if o.workers < 1 {
		return nil, fmt.Errorf("%w: --workers must be at least 1", errUsage)
	}
	if err := o.tls.check(); err != nil {
		return nil, err
	}
	if o.unixSock != "" && o.tcpAsked {
		return nil, fmt.Errorf("%w: -U and -i/-p are exclusive", errUsage)
	}
	given := map[string]bool{}
	for _, p := range positional {
		key, val, ok := strings.Cut(p, "=")
		if !ok {
			key, val = "file", p
		}
		if given[key] && key != "file" {
			return nil, fmt.Errorf("%w: %s= given twice", errUsage, key)
		}
		given[key] = true
		switch key {
		case "file":
			if o.file != "" {
				return nil, fmt.Errorf("%w: more than one FILE (%q and %q)", errUsage, o.file, val)
			}
			o.file = val
		case "cache":
			if val != "default" && val != "none" {
				return nil, fmt.Errorf("%w: cache=%q: want default or none", errUsage, val)
			}
			o.cache = val
		case "windows":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w: windows=%q: want a positive number", errUsage, val)
			}
			o.windows = n
		case "evict":
			if val == "" {
				return nil, fmt.Errorf("%w: evict= needs a policy name", errUsage)
			}
			o.evictName = val
		case "fadvise":
			if val != "normal" && val != "random" && val != "sequential" {
				return nil, fmt.Errorf("%w: fadvise=%q: want normal, random or sequential", errUsage, val)
			}
			o.fadvise = val
		default:
			return nil, fmt.Errorf("%w: unknown parameter %q", errUsage, p)
		}
	}
	if o.file == "" {
		return nil, fmt.Errorf("%w: no FILE to serve", errUsage)
	}
	switch {
	case given["evict"] && given["cache"] && o.cache != "none":
		return nil, fmt.Errorf("%w: evict=%s contradicts cache=%s (evict= implies cache=none)", errUsage, o.evictName, o.cache)
	case given["evict"] && given["windows"]:
		return nil, fmt.Errorf("%w: windows= is for cache=none's own policy; with evict= give the size in the policy (e.g. evict=window:%d)", errUsage, o.windows)
	case given["windows"] && o.cache != "none":
		return nil, fmt.Errorf("%w: windows= needs cache=none", errUsage)
	}
	var err error
	if o.pol, err = o.policy(); err != nil {
		return nil, err
	}
	return o, nil
}

// cacheNonePolicy is what cache=none means without windows=: on the
// seed's workload (scripts/seed-experiment, issue 12) nbdkit's ring of
// 256 KiB windows keeps too little writeback in flight and starts it in
// too many small pieces; byte-bounded merged windows do neither.
const cacheNonePolicy = "window:bytes=32M,merge=4M,drain,read=fresh"

// policy returns the eviction policy the parameters ask for (nil for the
// kernel's default).
func (o *options) policy() (evict.Policy, error) {
	name := o.evictName
	switch {
	case name == "" && o.cache == "none" && o.windows > 0:
		name = fmt.Sprintf("window:%d,drain,read=fresh", o.windows) // nbdkit's ring
	case name == "" && o.cache == "none":
		name = cacheNonePolicy
	case name == "":
		return nil, nil
	}
	p, err := evict.Parse(name)
	if err != nil {
		if errors.Is(err, evict.ErrSyntax) {
			return nil, fmt.Errorf("%w: evict=%s: %v", errUsage, name, err)
		}
		return nil, err
	}
	return p, nil
}

// listen opens the listener the flags ask for and returns it with the
// values exported to --run.
func (o *options) listen() (l net.Listener, env map[string]string, cleanup func(), err error) {
	cleanup = func() {}
	sock := o.unixSock
	if sock == "" && o.run != "" && !o.tcpAsked {
		sock = "-"
	}
	if sock == "" {
		addr := net.JoinHostPort(o.ip, strconv.Itoa(o.port))
		l, err = net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, cleanup, err
		}
		host, port, _ := net.SplitHostPort(l.Addr().String())
		uri := "nbd://" + net.JoinHostPort(host, port) + "/" + o.exportName
		return l, map[string]string{"uri": uri, "nbd": uri, "port": port, "unixsocket": "", "exportname": o.exportName}, cleanup, nil
	}
	if sock == "-" {
		dir, err := os.MkdirTemp("", "nbdserve-")
		if err != nil {
			return nil, nil, cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		sock = filepath.Join(dir, "nbd.sock")
	}
	l, err = net.Listen("unix", sock)
	if err != nil {
		cleanup()
		return nil, nil, func() {}, err
	}
	abs, _ := filepath.Abs(sock)
	uri := "nbd+unix:///" + o.exportName + "?socket=" + abs
	return l, map[string]string{"uri": uri, "nbd": uri, "port": "", "unixsocket": abs, "exportname": o.exportName}, cleanup, nil
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
// exits in captive mode.
func serve(ctx context.Context, stdout, stderr io.Writer, o *options) (int, error) {
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
	l, env, cleanup, err := o.listen()
	if err != nil {
		f.Close()
		return 1, err
	}
	defer cleanup()
	o.tls.setEnv(env)

	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv := nbdserve.NewServer(f, nbdserve.Config{
		ExportName:  o.exportName,
		Description: o.description,
		ReadOnly:    o.readOnly,
		Workers:     o.workers,
		Logger:      logger,
		TLS:         tlsConfig,
		RequireTLS:  o.tls.require,

		MaxConnections:   o.maxConns,
		MaxPayloadMemory: o.maxPayload,
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	status := 0
	var runErr, serveErr error
	serveDone := false
	if o.run != "" {
		status, runErr = captive(stdout, stderr, o.run, env, sigs)
	} else {
		// Say where: with -U - the socket's name is known only here.
		fmt.Fprintf(stderr, "nbdserve: serving %s at %s\n", o.file, env["uri"])
		select {
		case <-sigs:
		case <-ctx.Done():
		case serveErr = <-served:
			serveDone = true
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
	if !serveDone {
		serveErr = <-served
	}
	if errors.Is(serveErr, nbdserve.ErrServerClosed) {
		serveErr = nil
	}
	closeErr := f.Close()
	return status, errors.Join(runErr, serveErr, shutErr, closeErr)
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
