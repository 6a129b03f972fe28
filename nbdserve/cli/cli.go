// Package cli is the nbdserve command: flags and key=value parameters in
// the manner of `nbdkit file`, a listener, signals, and captive mode
// (--run). cmd/nbdserve is a thin main over Main.
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

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/nbdserve"
)

const usage = `Usage: nbdserve [flags] FILE [cache=default|none] [windows=N] [evict=NAME]
                [fadvise=normal|random|sequential] [--run 'CMD']

Serves FILE over NBD (the Network Block Device protocol), as ` + "`nbdkit file`" + ` does.
Flags may come before or after FILE and the key=value parameters.

Parameters:
  cache=default     leave the page cache to the kernel (the default)
  cache=none        keep FILE's pages out of the page cache: after each write
                    start its writeback and drop the write that leaves a ring
                    of N windows (nbdkit's cache=none), drained at exit; reads
                    drop the pages they brought in, never those that were
                    cached before (policy window:N,drain,read=fresh)
  windows=N         ring size for cache=none (default 8)
  evict=NAME        any eviction policy by name, for example flush-each,
                    window:8,per=stream or window:bytes=16M,merge,drain
                    (implies cache=none; see below)
  fadvise=MODE      normal, random or sequential: access hint for FILE

Flags:
  -U PATH           listen on a Unix socket at PATH; -U - makes a private one
                    in a temporary directory (removed at exit)
  -i ADDR           TCP address to listen on (default 127.0.0.1; never all
                    interfaces unless asked, e.g. -i 0.0.0.0)
  -p PORT           TCP port (default 10809)
  -r, --readonly    export read-only; writes get EPERM
  --size SIZE       create FILE if missing and extend it to SIZE (K, M, G, T:
                    powers of 1024); a longer FILE is left as it is
  -e NAME           export name (clients may also ask for "", the default)
  --descr TEXT      export description shown by nbdinfo
  --workers N       requests served at once per connection (default 8)
  --run 'CMD'       captive mode: run CMD with sh once the server listens,
                    with $uri, $nbd (same), $unixsocket, $port and
                    $exportname set; then drain, evict what is left, and
                    exit with CMD's status. Without -U, -i or -p, --run
                    listens on a private Unix socket (as -U -).
  -v                log every connection to stderr (the server always says
                    where it listens, unless in captive mode)
  -h, --help        this help

SIGINT or SIGTERM: stop accepting, finish requests in flight, flush, and
exit 0 (a second signal closes connections at once). In captive mode the
signal is passed on to CMD.

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
	run         string
	verbose     bool
	pol         evict.Policy // from cache=, windows=, evict=
}

// Main runs nbdserve with args (without the program name) and returns the
// exit status: 0, CMD's status in captive mode, 1 on failure, 2 on bad
// usage.
func Main(stdout, stderr io.Writer, args []string) int {
	o, err := parseArgs(stderr, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
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
	status, err := serve(stdout, stderr, o)
	if err != nil {
		fmt.Fprintf(stderr, "nbdserve: %v\n", err)
		if status == 0 {
			status = 1
		}
	}
	return status
}

func parseArgs(stderr io.Writer, args []string) (*options, error) {
	o := &options{cache: "default", windows: 8}
	fs := flag.NewFlagSet("nbdserve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed by Main, help by --help
	fs.StringVar(&o.unixSock, "U", "", "")
	fs.StringVar(&o.ip, "i", "127.0.0.1", "")
	fs.IntVar(&o.port, "p", 10809, "")
	fs.BoolVar(&o.readOnly, "r", false, "")
	fs.BoolVar(&o.readOnly, "readonly", false, "")
	size := fs.String("size", "", "")
	fs.StringVar(&o.exportName, "e", "", "")
	fs.StringVar(&o.exportName, "exportname", "", "")
	fs.StringVar(&o.description, "descr", "", "")
	fs.IntVar(&o.workers, "workers", nbdserve.DefaultWorkers, "")
	fs.StringVar(&o.run, "run", "", "")
	fs.BoolVar(&o.verbose, "v", false, "")

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
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "i" || f.Name == "p" {
			o.tcpAsked = true
		}
	})
	if *size != "" {
		n, err := parseSize(*size)
		if err != nil {
			return nil, fmt.Errorf("%w: --size %q: %v", errUsage, *size, err)
		}
		o.size = n
	}
	if o.workers < 1 {
		return nil, fmt.Errorf("%w: --workers must be at least 1", errUsage)
	}
	if o.unixSock != "" && o.tcpAsked {
		return nil, fmt.Errorf("%w: -U and -i/-p are exclusive", errUsage)
	}
	for _, p := range positional {
		key, val, ok := strings.Cut(p, "=")
		if !ok {
			key, val = "file", p
		}
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
	var err error
	if o.pol, err = o.policy(); err != nil {
		return nil, err
	}
	return o, nil
}

// policy returns the eviction policy the parameters ask for (nil for the
// kernel's default).
func (o *options) policy() (evict.Policy, error) {
	name := o.evictName
	switch {
	case name == "" && o.cache == "none":
		name = string(evict.CacheNone(o.windows))
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

// parseSize reads a byte count with an optional K, M, G or T suffix
// (powers of 1024, "KiB" and "KB" spellings accepted).
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift != 0 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("want a positive size such as 1048576, 64M or 4G")
	}
	return n << shift, nil
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

// serve runs the server until a signal, or until CMD exits in captive mode.
func serve(stdout, stderr io.Writer, o *options) (int, error) {
	f, err := nbdserve.OpenFile(o.file, nbdserve.FileOptions{Policy: o.pol, ReadOnly: o.readOnly, Fadvise: o.fadvise, Size: o.size})
	if err != nil {
		return 1, err
	}
	l, env, cleanup, err := o.listen()
	if err != nil {
		f.Close()
		return 1, err
	}
	defer cleanup()

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
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	status := 0
	var runErr error
	if o.run != "" {
		status, runErr = captive(stdout, stderr, o.run, env, sigs)
	} else {
		// Say where: with -U - the socket's name is known only here.
		fmt.Fprintf(stderr, "nbdserve: serving %s at %s\n", o.file, env["uri"])
		select {
		case <-sigs:
		case err := <-served:
			runErr = err
		}
	}

	// Drain: a second signal closes the remaining connections at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	shutErr := srv.Shutdown(ctx)
	if err := <-served; !errors.Is(err, nbdserve.ErrServerClosed) && runErr == nil {
		runErr = err
	}
	closeErr := f.Close()
	return status, errors.Join(runErr, shutErr, closeErr)
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
