package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/cliutil"
	"github.com/pagecache-suite/wcache/internal/size"
	"github.com/pagecache-suite/wcache/nbdserve"
)

// errUsage marks errors that exit with status 2 after a pointer to --help.
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
	maxConns    int
	maxPayload  int64
	shutTimeout time.Duration
	run         string
	verbose     bool
	foreground  bool
	pidFile     string
	exitParent  bool
	single      bool
	pol         evict.Policy // from cache=, windows=, evict=
	tls         tlsOptions
}

// option is one command-line option, spelt as nbdkit spells it: a short
// letter, long names (--name VALUE or --name=VALUE), or both.
type option struct {
	short byte
	long  []string
	arg   bool // takes a value
	set   func(o *options, v string) error
	// why, if set, makes the option one nbdserve refuses, saying why.
	why string
}

// options lists every option nbdserve knows: its own, nbdkit's that it
// shares, and nbdkit's that it refuses with one line.
var optionTable = []option{
	{short: 'h', long: []string{"help"}, set: func(*options, string) error { return cliutil.ErrHelp }},
	{short: 'V', long: []string{"version"}, set: func(*options, string) error { return cliutil.ErrVersion }},
	{short: 'U', long: []string{"unix"}, arg: true, set: func(o *options, v string) error { o.unixSock = v; return nil }},
	{short: 'i', long: []string{"ipaddr", "ip-addr"}, arg: true, set: func(o *options, v string) error {
		o.ip, o.tcpAsked = v, true
		return nil
	}},
	{short: 'p', long: []string{"port"}, arg: true, set: func(o *options, v string) error {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return fmt.Errorf("%w: -p %q: want a TCP port number", errUsage, v)
		}
		o.port, o.tcpAsked = int(n), true
		return nil
	}},
	{short: 'r', long: []string{"readonly", "read-only"}, set: func(o *options, _ string) error { o.readOnly = true; return nil }},
	{short: 'e', long: []string{"exportname", "export-name", "export"}, arg: true, set: func(o *options, v string) error { o.exportName = v; return nil }},
	{short: 'f', long: []string{"foreground", "no-fork"}, set: func(o *options, _ string) error { o.foreground = true; return nil }},
	{short: 'P', long: []string{"pidfile", "pid-file"}, arg: true, set: func(o *options, v string) error { o.pidFile = v; return nil }},
	{short: 's', long: []string{"single", "stdin"}, set: func(o *options, _ string) error { o.single = true; return nil }},
	{short: 't', long: []string{"threads", "workers"}, arg: true, set: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: -t/--threads %q: want at least 1", errUsage, v)
		}
		o.workers = n
		return nil
	}},
	{short: 'v', long: []string{"verbose"}, set: func(o *options, _ string) error { o.verbose = true; return nil }},
	{short: 'n', long: []string{"newstyle", "new-style"}, set: func(*options, string) error { return nil }}, // the only protocol
	{long: []string{"exit-with-parent"}, set: func(o *options, _ string) error { o.exitParent = true; return nil }},
	{long: []string{"run"}, arg: true, set: func(o *options, v string) error { o.run = v; return nil }},
	{long: []string{"size"}, arg: true, set: func(o *options, v string) error {
		n, err := size.Parse(v)
		if err == nil && n == 0 {
			err = errors.New("want a positive size")
		}
		if err != nil {
			return fmt.Errorf("%w: --size: %v", errUsage, err)
		}
		o.size = n
		return nil
	}},
	{long: []string{"descr"}, arg: true, set: func(o *options, v string) error { o.description = v; return nil }},
	{long: []string{"max-connections"}, arg: true, set: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: --max-connections %q: want a positive number", errUsage, v)
		}
		o.maxConns = n
		return nil
	}},
	{long: []string{"max-payload-memory"}, arg: true, set: func(o *options, v string) error {
		n, err := size.Parse(v)
		if err != nil {
			return fmt.Errorf("%w: --max-payload-memory %q: %v", errUsage, v, err)
		}
		o.maxPayload = n
		return nil
	}},
	{long: []string{"shutdown-timeout"}, arg: true, set: func(o *options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%w: --shutdown-timeout %q: want a duration such as 5s", errUsage, v)
		}
		o.shutTimeout = d
		return nil
	}},

	// TLS (tls.go).
	{long: []string{"tls"}, arg: true, set: func(o *options, v string) error { o.tls.mode = v; return nil }},
	{long: []string{"tls-certificates"}, arg: true, set: func(o *options, v string) error { o.tls.dir = v; return nil }},
	{long: []string{"tls-verify-peer"}, set: func(o *options, _ string) error { o.tls.verifyPeer = true; return nil }},
	{long: []string{"tls-psk"}, arg: true, why: "Go's crypto/tls has no TLS-PSK; use --tls-certificates"},

	// nbdkit's options that nbdserve refuses.
	{long: []string{"filter"}, arg: true, why: "nbdserve has no filters"},
	{short: '4', long: []string{"ipv4-only"}, why: "give the address with -i"},
	{short: '6', long: []string{"ipv6-only"}, why: "give the address with -i"},
	{short: 'D', long: []string{"debug"}, arg: true, why: "use -v"},
	{short: 'g', long: []string{"group"}, arg: true, why: "start nbdserve as the group"},
	{short: 'u', long: []string{"user"}, arg: true, why: "start nbdserve as the user"},
	{short: 'o', long: []string{"oldstyle", "old-style"}, why: "nbdserve speaks the fixed newstyle protocol only"},
	{long: []string{"no-sr"}, why: "structured replies are always offered"},
	{long: []string{"log"}, arg: true, why: "messages go to stderr (discarded after detaching, unless -v)"},
	{long: []string{"mask-handshake"}, arg: true, why: "the handshake flags are fixed"},
	{long: []string{"selinux-label"}, arg: true, why: "label the socket with chcon"},
	{long: []string{"swap"}, why: "nbdserve does not lock itself into memory"},
	{long: []string{"vsock"}, why: "use -U or -i/-p"},
	{long: []string{"dump-config"}, why: "see nbdserve --help and --version"},
	{long: []string{"dump-plugin"}, why: "see nbdserve --help"},
}

// nbdkitPlugins are nbdkit's plugins other than file: a first word naming
// one, when no such file exists, is refused as the plugin it names.
var nbdkitPlugins = map[string]bool{
	"cc": true, "cdi": true, "curl": true, "data": true, "eval": true, "example1": true,
	"example2": true, "example3": true, "example4": true, "floppy": true, "full": true,
	"guestfs": true, "info": true, "iso": true, "libvirt": true, "linuxdisk": true,
	"lua": true, "memory": true, "nbd": true, "null": true, "ocaml": true, "ondemand": true,
	"partitioning": true, "pattern": true, "perl": true, "python": true, "random": true,
	"ruby": true, "S3": true, "sh": true, "sparse-random": true, "split": true, "ssh": true,
	"tcl": true, "tmpdisk": true, "torrent": true, "vddk": true, "zero": true,
}

// parseArgs parses nbdkit-style arguments: options (bundled short ones,
// --long=VALUE or --long VALUE) anywhere before "--", then an optional
// plugin word "file", then FILE or file=FILE and key=value parameters.
func parseArgs(args []string) (*options, error) {
	o := &options{cache: "default", tls: tlsOptions{mode: "off"}, ip: "127.0.0.1", port: 10809,
		workers: nbdserve.DefaultWorkers, shutTimeout: 5 * time.Second}
	byShort := map[byte]*option{}
	byLong := map[string]*option{}
	for i := range optionTable {
		opt := &optionTable[i]
		if opt.short != 0 {
			byShort[opt.short] = opt
		}
		for _, l := range opt.long {
			byLong[l] = opt
		}
	}
	apply := func(opt *option, name, v string) error {
		if opt.why != "" {
			return &unsupportedError{name, opt.why}
		}
		return opt.set(o, v)
	}

	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, v, hasValue := strings.Cut(a[2:], "=")
			opt := byLong[name]
			if opt == nil {
				return nil, fmt.Errorf("%w: unknown option --%s", errUsage, name)
			}
			switch {
			case opt.arg && !hasValue:
				if i+1 == len(args) && opt.why == "" {
					return nil, fmt.Errorf("%w: option --%s needs a value", errUsage, name)
				}
				if i+1 < len(args) {
					i++
					v = args[i]
				}
			case !opt.arg && hasValue:
				return nil, fmt.Errorf("%w: option --%s takes no value", errUsage, name)
			}
			if err := apply(opt, "--"+name, v); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			// A bundle of short options; one taking a value ends it,
			// with the rest of the word or the next word as the value.
			for j := 1; j < len(a); j++ {
				opt := byShort[a[j]]
				if opt == nil {
					return nil, fmt.Errorf("%w: unknown option -%c", errUsage, a[j])
				}
				v := ""
				if opt.arg {
					v = a[j+1:]
					if v == "" {
						if i+1 == len(args) && opt.why == "" {
							return nil, fmt.Errorf("%w: option -%c needs a value", errUsage, a[j])
						}
						if i+1 < len(args) {
							i++
							v = args[i]
						}
					}
					j = len(a)
				}
				if err := apply(opt, "-"+string(opt.short), v); err != nil {
					return nil, err
				}
			}
		default:
			positional = append(positional, a)
		}
	}
	if err := o.parameters(positional); err != nil {
		return nil, err
	}
	return o, o.check()
}

// parameters reads the plugin word, FILE and the key=value parameters.
func (o *options) parameters(positional []string) error {
	if len(positional) > 0 && !strings.Contains(positional[0], "=") {
		word := positional[0]
		switch {
		case word == "file" && len(positional) > 1:
			// nbdkit's plugin word; "nbdserve file" alone serves a
			// file named file.
			positional = positional[1:]
		case nbdkitPlugins[word] || strings.HasPrefix(word, "nbdkit-") && strings.HasSuffix(word, ".so"):
			if _, err := os.Stat(word); err != nil {
				return &unsupportedError{"the nbdkit plugin " + word, "nbdserve serves files, as the file plugin does"}
			}
		}
	}
	given := map[string]bool{}
	for _, p := range positional {
		key, val, ok := strings.Cut(p, "=")
		if !ok {
			key, val = "file", p
		}
		if given[key] && key != "file" {
			return fmt.Errorf("%w: %s= given twice", errUsage, key)
		}
		given[key] = true
		switch key {
		case "file":
			if o.file != "" {
				return fmt.Errorf("%w: more than one FILE (%q and %q)", errUsage, o.file, val)
			}
			if val == "" {
				return fmt.Errorf("%w: file= needs a file name", errUsage)
			}
			o.file = val
		case "dir":
			return &unsupportedError{"dir=", "nbdserve serves one file: FILE or file=FILE"}
		case "cache":
			if val != "default" && val != "none" {
				return fmt.Errorf("%w: cache=%q: want default or none", errUsage, val)
			}
			o.cache = val
		case "windows":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return fmt.Errorf("%w: windows=%q: want a positive number", errUsage, val)
			}
			o.windows = n
		case "evict":
			if val == "" {
				return fmt.Errorf("%w: evict= needs a policy name", errUsage)
			}
			o.evictName = val
		case "fadvise":
			if val != "normal" && val != "random" && val != "sequential" {
				return fmt.Errorf("%w: fadvise=%q: want normal, random or sequential", errUsage, val)
			}
			o.fadvise = val
		default:
			return fmt.Errorf("%w: unknown parameter %q", errUsage, p)
		}
	}
	if o.file == "" {
		return fmt.Errorf("%w: no FILE to serve", errUsage)
	}
	switch {
	case given["evict"] && given["cache"] && o.cache != "none":
		return fmt.Errorf("%w: evict=%s contradicts cache=%s (evict= implies cache=none)", errUsage, o.evictName, o.cache)
	case given["evict"] && given["windows"]:
		return fmt.Errorf("%w: windows= is for cache=none's own policy; with evict= give the size in the policy (e.g. evict=window:%d)", errUsage, o.windows)
	case given["windows"] && o.cache != "none":
		return fmt.Errorf("%w: windows= needs cache=none", errUsage)
	}
	var err error
	o.pol, err = o.policy()
	return err
}

// check rejects options that contradict each other, as nbdkit does.
func (o *options) check() error {
	if err := o.tls.check(); err != nil {
		return err
	}
	switch {
	case o.unixSock != "" && o.tcpAsked:
		return fmt.Errorf("%w: -U and -i/-p are exclusive", errUsage)
	case o.single && (o.unixSock != "" || o.tcpAsked || o.run != ""):
		return fmt.Errorf("%w: -s serves stdin: not with -U, -i, -p or --run", errUsage)
	}
	if socketActivated() {
		if o.single || o.run != "" || o.unixSock != "" || o.tcpAsked {
			return fmt.Errorf("%w: socket activation (LISTEN_FDS): not with -U, -i, -p, -s or --run", errUsage)
		}
	}
	return nil
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
		name = string(evict.CacheNone(o.windows)) // nbdkit's ring
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

// detach reports whether nbdserve forks into the background once it
// listens: as nbdkit, unless -f, or one of --run, -s, --exit-with-parent
// or socket activation, which imply it.
func (o *options) detach() bool {
	return !o.foreground && o.run == "" && !o.single && !o.exitParent && !socketActivated()
}
