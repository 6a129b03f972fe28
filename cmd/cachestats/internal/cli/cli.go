package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/cliutil"
	"github.com/pagecache-suite/wcache/pagecache"
)

const usage = `Usage: cachestats [flags] FILE...

Reports how many pages of each FILE are in the Linux page cache, with
cachestat(2) (Linux 6.5+) or else mincore(2). Page counts agree with
util-linux fincore; the line is that of nocache's cachestats.

Flags:
  -v              also draw a map of the cache: 32 pages a row, x = resident
  -q              print nothing; exit 0 only if every FILE is entirely cached
  -x              extended: also dirty, writeback, evicted and recently
                  evicted pages (cachestat only)
  -r              measure the regular files under directory operands
  --json          print JSON: an object per file, errors, and the total;
                  with -v each file also lists resident_runs, [first page, pages]
  --watch INTERVAL
                  sample every INTERVAL (e.g. 500ms, 2s), each sample stamped
                  with the time; waits for files that do not exist yet
  --count N       with --watch: stop after N samples
  --for DURATION  with --watch: stop after DURATION
  --method M      auto (default), cachestat or mincore
  -h, --help      show this help
  --version       print the module version and VCS revision of this build

Examples:
  cachestats disk.img
      pages in cache: 409/1572864 (0.0%)  [filesize=6291456.0K, pagesize=4K]
  cachestats -x disk.img                 # dirty and writeback pages too
  cachestats -v small.dat | less         # which pages are cached
  cachestats -r /var/lib/images          # every file under a directory, and a total
  cachestats -q big.db && echo cached    # scripting: fully cached or not
  cachestats --json a.img b.img | jq .total.percent
  cachestats -x --watch 1s --for 2m out.img &   # watch a copy as it runs
      nbdcopy nbd://server out.img
  cachestats --watch 200ms --count 50 --json out.img > samples.jsonl

Exit status: 0 success; 1 if a file could not be measured (reported on
stderr as "cachestats: PATH: reason", the others still measured) or, with
-q, is not entirely cached; 2 for usage errors.
`

// config is the parsed command line.
type config struct {
	verbose, quiet, extended, recursive, json bool
	watch, forDur                             time.Duration
	count                                     int
	method                                    pagecache.Method
	paths                                     []string
}

// usageError is a command-line error (exit status 2).
type usageError string

func (e usageError) Error() string { return string(e) }

// parse reads the command line as Go's flag package would (-x or --x,
// -watch 1s or --watch=1s, "--" ends the flags) except that flags may also
// follow the files, as in "cachestats big.img -x". It is written out rather
// than built on flag: flag and fmt bring reflection into the binary, and
// with it a tenth more peak RSS, in a command compared with fincore.
func parse(args []string) (config, error) {
	c := config{method: pagecache.MethodAuto}
	bools := map[string]*bool{"v": &c.verbose, "q": &c.quiet, "x": &c.extended, "r": &c.recursive, "json": &c.json}
	set := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			c.paths = append(c.paths, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			c.paths = append(c.paths, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		switch name {
		case "h", "help":
			return c, cliutil.ErrHelp
		case "version":
			return c, cliutil.ErrVersion
		}
		if p, ok := bools[name]; ok {
			b := true
			if hasValue {
				var err error
				if b, err = strconv.ParseBool(value); err != nil {
					return c, usageError("invalid boolean value " + strconv.Quote(value) + " for -" + name)
				}
			}
			*p, set[name] = b, true
			continue
		}
		switch name {
		case "watch", "for", "count", "method":
		default:
			return c, usageError("flag provided but not defined: -" + name)
		}
		if !hasValue {
			if i+1 == len(args) {
				return c, usageError("flag needs an argument: -" + name)
			}
			i++
			value = args[i]
		}
		set[name] = true
		var err error
		switch name {
		case "watch":
			c.watch, err = time.ParseDuration(value)
		case "for":
			c.forDur, err = time.ParseDuration(value)
		case "count":
			c.count, err = strconv.Atoi(value)
		case "method":
			switch value {
			case "auto":
				c.method = pagecache.MethodAuto
			case "cachestat", "mincore":
				c.method = pagecache.Method(value)
			default:
				err = errors.New("want auto, cachestat or mincore")
			}
		}
		if err != nil {
			return c, usageError("invalid value " + strconv.Quote(value) + " for flag -" + name + ": " + err.Error())
		}
	}
	switch {
	case len(c.paths) == 0:
		return c, usageError("no FILE given")
	case set["watch"] && c.watch <= 0:
		return c, usageError("--watch " + c.watch.String() + ": the interval must be positive")
	case (set["count"] || set["for"]) && !set["watch"]:
		return c, usageError("--count and --for need --watch INTERVAL")
	case set["count"] && set["for"]:
		return c, usageError("give --count or --for, not both")
	case set["count"] && c.count <= 0, set["for"] && c.forDur <= 0:
		return c, usageError("--count and --for must be positive")
	case c.quiet && (c.verbose || c.json || c.extended || set["watch"]):
		return c, usageError("-q prints nothing; it cannot be combined with -v, -x, --json or --watch")
	}
	return c, nil
}

// Run runs cachestats with the command-line arguments args (without the
// program name) and returns the exit status. ctx ends a --watch early.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parse(args)
	if cliutil.Answer(err, "cachestats", usage, stdout) {
		return 0
	}
	if err != nil {
		io.WriteString(stderr, "cachestats: "+err.Error()+"\nRun 'cachestats --help' for usage.\n")
		return 2
	}
	r := &runner{
		config: c,
		stdout: stdout,
		stderr: stderr,
		now:    time.Now,
		sleep:  sleep,
	}
	r.measure = r.measureFile
	return r.run(ctx)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runner carries one invocation; tests replace the clock and the
// measurement to produce golden output.
type runner struct {
	config
	stdout, stderr io.Writer
	now            func() time.Time
	sleep          func(context.Context, time.Duration) error
	measure        func(path string) (pagecache.Stat, *pagecache.PageMap, error)
}

// result is one file's measurement, or the reason it has none.
type result struct {
	stat pagecache.Stat
	pmap *pagecache.PageMap // with -v
	err  error
}

func (r *runner) run(ctx context.Context) int {
	if r.watch > 0 {
		return r.runWatch(ctx)
	}
	if r.quiet {
		return r.quietStatus()
	}
	return r.sample(false)
}

// sample measures and prints every operand once; stamped prefixes the
// time, as --watch does. It returns 1 if a file could not be measured.
func (r *runner) sample(stamped bool) int {
	ops, named := r.operands()
	p := r.newPrinter(r.now(), named, stamped)
	r.take(ops, p.add)
	return p.end()
}

// quietStatus is -q: 0 only if every file is entirely cached. It stops at
// the first file that is not.
func (r *runner) quietStatus() int {
	ops, _ := r.operands()
	status := 0
	r.take(ops, func(res result) bool {
		if res.err != nil || res.stat.Resident != res.stat.Pages {
			status = 1
		}
		return status == 0
	})
	return status
}

// operand is a command-line path and what stat said of it.
type operand struct {
	path string
	fi   fs.FileInfo
	err  error
}

// operands stats the command-line paths, and says whether each file must be
// named: when more than one may be reported.
func (r *runner) operands() ([]operand, bool) {
	ops := make([]operand, len(r.paths))
	named := len(r.paths) > 1
	for i, p := range r.paths {
		fi, err := os.Stat(p)
		ops[i] = operand{p, fi, err}
		named = named || err == nil && fi.IsDir() && r.recursive
	}
	return ops, named
}

// take measures every operand, walking directories with -r, and hands
// each result to visit as it is made; nothing is kept. It stops when visit
// returns false.
func (r *runner) take(ops []operand, visit func(result) bool) {
	for _, op := range ops {
		var ok bool
		switch {
		case op.err != nil:
			ok = visit(result{stat: pagecache.Stat{Path: op.path}, err: op.err})
		case op.fi.IsDir() && !r.recursive:
			ok = visit(result{stat: pagecache.Stat{Path: op.path}, err: errIsDir})
		case op.fi.IsDir():
			ok = r.walk(op.path, visit)
		default:
			ok = visit(r.one(op.path))
		}
		if !ok {
			return
		}
	}
}

var errIsDir = errors.New("is a directory (use -r to measure the files under it)")

func (r *runner) one(path string) result {
	st, m, err := r.measure(path)
	if err != nil {
		st = pagecache.Stat{Path: path}
	}
	st.Path = path
	return result{stat: st, pmap: m, err: err}
}

// walk measures the regular files under dir, depth first in lexical order
// as filepath.WalkDir would; symbolic links and special files are skipped,
// unreadable directories reported. Unlike WalkDir it keeps no fs.DirEntry
// per file, only the names of the directories on the current path, packed
// (see names). It returns false when visit did.
func (r *runner) walk(dir string, visit func(result) bool) bool {
	var ns names
	if err := ns.read(dir); err != nil {
		return visit(result{stat: pagecache.Stat{Path: dir}, err: err})
	}
	for i := range ns.ends {
		path := filepath.Join(dir, ns.name(i))
		var st unix.Stat_t
		ok := true
		switch err := unix.Lstat(path, &st); {
		case err != nil:
			ok = visit(result{stat: pagecache.Stat{Path: path}, err: &fs.PathError{Op: "lstat", Path: path, Err: err}})
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			ok = r.walk(path, visit)
		case st.Mode&unix.S_IFMT == unix.S_IFREG:
			ok = visit(r.one(path))
		}
		if !ok {
			return false
		}
	}
	return true
}

// names holds a directory's entry names in lexical order, packed into one
// buffer: about a dozen bytes a name beyond the name itself, where a
// []string costs two dozen and an fs.DirEntry a hundred. A directory of a
// million files costs some 20 MB as fs.DirEntry values, 2 MB here.
type names struct {
	buf    []byte
	starts []uint32
	ends   []uint32
}

func (ns *names) name(i int) string { return string(ns.buf[ns.starts[i]:ns.ends[i]]) }

// read reads the names in dir a batch at a time and sorts them.
func (ns *names) read(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		batch, err := f.Readdirnames(1024)
		for _, n := range batch {
			ns.starts = append(ns.starts, uint32(len(ns.buf)))
			ns.buf = append(ns.buf, n...)
			ns.ends = append(ns.ends, uint32(len(ns.buf)))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if len(ns.buf) > math.MaxUint32 {
		return &fs.PathError{Op: "readdir", Path: dir, Err: errors.New("names too long to hold")}
	}
	sort.Sort(ns)
	return nil
}

func (ns *names) Len() int { return len(ns.starts) }
func (ns *names) Less(i, j int) bool {
	return bytes.Compare(ns.buf[ns.starts[i]:ns.ends[i]], ns.buf[ns.starts[j]:ns.ends[j]]) < 0
}
func (ns *names) Swap(i, j int) {
	ns.starts[i], ns.starts[j] = ns.starts[j], ns.starts[i]
	ns.ends[i], ns.ends[j] = ns.ends[j], ns.ends[i]
}

// measureFile measures one file as the flags ask: with -v the counts come
// from the page map, so that the line and the map agree; -x then adds
// cachestat's extended counts.
func (r *runner) measureFile(path string) (pagecache.Stat, *pagecache.PageMap, error) {
	f, err := pagecache.Open(path)
	if err != nil {
		return pagecache.Stat{}, nil, err
	}
	defer f.Close()
	if !r.verbose {
		st, err := pagecache.StatFileUsing(f, pagecache.Range{}, r.method)
		return st, nil, err
	}
	st, m, err := pagecache.MapFile(f, pagecache.Range{})
	if err != nil || !r.extended || r.method == pagecache.MethodMincore {
		return st, m, err
	}
	cs, err := pagecache.StatFileUsing(f, pagecache.Range{}, pagecache.MethodCachestat)
	switch {
	case errors.Is(err, pagecache.ErrNoCachestat) && r.method == pagecache.MethodAuto:
		return st, m, nil
	case err != nil:
		return pagecache.Stat{}, nil, err
	}
	st.Extended = true
	st.Dirty, st.Writeback, st.Evicted, st.RecentlyEvicted = cs.Dirty, cs.Writeback, cs.Evicted, cs.RecentlyEvicted
	return st, m, nil
}

// reason is err without the path that "cachestats: PATH:" already names.
func reason(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
