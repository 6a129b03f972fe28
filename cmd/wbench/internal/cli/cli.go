// Package cli is the wbench command: flags, the subcommands compare,
// report and check, and the progress display. The sweep itself is package
// sweep; tables, plots and verdicts are package results.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/size"
	"github.com/pagecache-suite/wcache/internal/version"
	"github.com/pagecache-suite/wcache/neighbour"
	"github.com/pagecache-suite/wcache/results"
	"github.com/pagecache-suite/wcache/sweep"
	"github.com/pagecache-suite/wcache/testbed"
)

// Exit statuses of Run.
const (
	exitOK      = 0
	exitFailure = 1 // a run failed, an output was corrupt, or compare found a regression
	exitUsage   = 2
)

const usageText = `wbench measures how the number of write windows (NR_WINDOWS) of a
cache=none NBD server trades write throughput against page-cache pollution,
and recommends a window count for this machine.

Usage:
  wbench [flags]                 run a sweep, print the table and the recommendation
  wbench compare [flags] OLD NEW compare two stored sweeps; exit 1 on a significant regression
  wbench report DIR              print a stored sweep's table and redraw its plots and summary
  wbench check [flags] NEW       judge a sweep's machine-stable invariants (perf-regression job)

Each configuration copies a source image into an NBD server on a private
Unix socket with 'nbdcopy --flush' (timed until the flush returned), with the
page cache dropped first (as root). The built-in server runs with cache=none
and each window count; cache=default and flush-each (the pre-patch
behaviour) are always measured as references, and nbdkit's file plugin
(cache=none has 8 windows there) and qemu-nbd (--cache=writeback, and
--cache=none: O_DIRECT) are measured beside them when installed (--server
chooses). Every server is a process of its own. Runs are
repeated --count times in rotating order (A B C, B C A, ...). Every output
is verified against the source by SHA-256.

The default image crosses the write-back thresholds: twice the memory
limit, or twice the dirty-background threshold, capped by free space; the
table header says which regime a run is in. --memory-limit runs each
server in a memory cgroup of that size (the client outside it), and
--neighbour adds a co-tenant in the same cgroup whose read latency during
the copy is set against an idle stretch before it, with the share of its
file still cached afterwards. --device and --fs run the sweep once per
combination on a fresh filesystem (a loop device, throttled or not, or a
zram disk), removed at the end, on Ctrl-C, or by the next wbench after a
crash; several scenarios add a matrix table, a heatmap and a neighbour plot.

Results go to --out (default runs/local/YYYYMMDD-HHMMSS): sweep.json (every
sample and the environment), bench.txt (Go benchmark format, for benchstat),
samples.csv, summary.md and the plots as PNG and SVG.

Measurements disturb each other and dropping the cache disturbs everyone:
run sweeps under 'flock /tmp/wcache-bench.lock'.

Examples:
  flock /tmp/wcache-bench.lock wbench --windows=1..32
  wbench --windows=1,2,4,8,16,32 --server=builtin,nbdkit --count=5
  wbench --windows=1..32:x2 --policy='window:8,per=stream' --policy=window:bytes=2M
  wbench --client=libnbd --pattern=random --request-size=64K --in-flight=16 --windows=4,8,16
  wbench --image=/var/lib/images/fedora.img --windows=8 --count=5
  wbench --device=native,throttled:200M --fs=ext4,xfs --windows=1,8 --size=1G
  wbench --memory-limit=1G --neighbour=warm:512M,rate=500 --server=builtin,nbdkit,qemu --windows=8
  wbench compare runs/baseline runs/local/20261125-120000
  benchstat -col /policy runs/local/20261125-120000/bench.txt

Flags:
`

// Run runs wbench with args (without the program name) and returns the
// exit status. The end of ctx stops a sweep between runs.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return mainCompare(args[1:], stdout, stderr)
		case "report":
			return mainReport(args[1:], stdout, stderr)
		case "check":
			return mainCheck(args[1:], stdout, stderr)
		case sweep.ServeCommand: // hidden: the built-in server of one run
			if err := sweep.Serve(ctx, args[1:], stderr); err != nil {
				fmt.Fprintln(stderr, err)
				return exitFailure
			}
			return exitOK
		case sweep.NeighbourCommand: // hidden: the neighbour of a run under a memory budget
			if err := neighbour.Main(ctx, args[1:], os.Stdin, stdout); err != nil {
				fmt.Fprintln(stderr, err)
				return exitFailure
			}
			return exitOK
		}
	}
	return mainSweep(ctx, args, stdout, stderr)
}

// defaultServers is builtin, with nbdkit and qemu(-nbd) when they are
// installed: every table sets the windows beside nbdkit's ring and qemu's
// O_DIRECT.
func defaultServers() string {
	list := []string{string(results.Builtin)}
	for _, s := range []struct {
		name results.Server
		prog string
	}{{results.Nbdkit, "nbdkit"}, {results.Qemu, "qemu-nbd"}} {
		if _, err := exec.LookPath(s.prog); err == nil {
			list = append(list, string(s.name))
		}
	}
	return strings.Join(list, ",")
}

// sizeFlag is a byte count in the suite's size syntax (package size).
type sizeFlag int64

func (s *sizeFlag) String() string { return size.Format(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := size.Parse(v)
	if err != nil {
		return err
	}
	if n <= 0 {
		return errors.New("want a positive size")
	}
	*s = sizeFlag(n)
	return nil
}

// listFlag collects comma-separated or repeated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// newFlagSet returns a flag set whose errors parse reports.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args into fs. It returns -1 to go on, or the exit status:
// 0 after printing usage and fs's flags on stdout for -h or --help, 2
// after reporting a bad flag on stderr.
func parse(fs *flag.FlagSet, usage string, args []string, stdout, stderr io.Writer) int {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return -1
	case errors.Is(err, flag.ErrHelp):
		io.WriteString(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return exitOK
	}
	return usageError(stderr, fs.Name(), "%v", err)
}

// usageError reports a usage error of command name on stderr and returns
// the exit status.
func usageError(stderr io.Writer, name, format string, a ...any) int {
	fmt.Fprintf(stderr, name+": "+format+"\n", a...)
	fmt.Fprintln(stderr, "Run 'wbench --help' for usage.")
	return exitUsage
}

func mainSweep(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wbench")
	var (
		windows    = fs.String("windows", "1..32:x2", "window `counts` to sweep: 1..32, 1,2,4,8 or 1..32:x2")
		count      = fs.Int("count", sweep.DefaultCount, "repetitions of each configuration")
		imageSize  sizeFlag
		memLimit   sizeFlag
		devices    = fs.String("device", "", "device `profiles`, comma-separated: native, throttled:RATE (200M: bytes/s), ram; one sweep per device and --fs, each on a fresh filesystem")
		filesys    = fs.String("fs", "", "`filesystems` made on each --device, comma-separated: ext4, xfs, btrfs")
		nbSpec     = fs.String("neighbour", "", "co-tenant in the server's memory cgroup: warm:SIZE[,rate=IOPS] (random 4K reads at IOPS, default 500) or hot:SIZE (as fast as it can); needs --memory-limit")
		image      = fs.String("image", "", "copy this image `file` instead of a generated one")
		servers    = fs.String("server", "", "servers to measure, comma-separated: builtin, nbdkit, qemu (default: builtin, and nbdkit and qemu when installed)")
		client     = fs.String("client", sweep.ClientNbdcopy, "client: nbdcopy (a process, 4 connections) or libnbd (in-process, one connection, per-request latency)")
		pattern    = fs.String("pattern", sweep.PatternSequential, "libnbd client order: sequential or random")
		reqSize    = sizeFlag(sweep.DefaultRequestSize)
		inFlight   = fs.Int("in-flight", sweep.DefaultInFlight, "client requests in flight per connection")
		out        = fs.String("out", "", "results `directory` (default runs/local/YYYYMMDD-HHMMSS)")
		workDir    = fs.String("workdir", sweep.DefaultWorkDir, "`directory` for the source image and output files, on the disk under test")
		drop       = fs.Bool("drop-caches", true, "drop the system page cache before every run (needs root)")
		interval   = fs.Duration("interval", sweep.DefaultInterval, "residency sampling interval")
		tolerance  = fs.Float64("tolerance", results.DefaultTolerance, "recommend the smallest window count within this `fraction` of the best throughput")
		policies   listFlag
		showPolicy = fs.Bool("policies", false, "list the evict policy names --policy accepts, and exit")
		showVer    = fs.Bool("version", false, "print the module version and VCS revision of this build, and exit")
	)
	fs.Var(&imageSize, "size", "generated image `size` (nbdkit's syntax: 256M, 1G, 1T); a quarter of it is zeroes and holes (default: twice the memory limit, or twice the dirty-background threshold, capped by free space)")
	fs.Var(&memLimit, "memory-limit", "run each server in a memory cgroup of this `size` (the client stays outside)")
	fs.Var(&reqSize, "request-size", "client request `size` (64K, 1M)")
	fs.Var(&policies, "policy", "extra evict `policy` for the built-in server, repeatable or comma-free list (see --policies)")
	if st := parse(fs, usageText, args, stdout, stderr); st >= 0 {
		return st
	}
	if *showVer {
		io.WriteString(stdout, version.String("wbench"))
		return exitOK
	}
	if *showPolicy {
		fmt.Fprint(stdout, evict.Names)
		return exitOK
	}
	usage := func(format string, a ...any) int { return usageError(stderr, "wbench", format, a...) }
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	ws, err := sweep.ParseRange(*windows)
	if err != nil {
		return usage("--windows: %v", err)
	}
	if *count < 1 {
		return usage("--count %d: want at least 1", *count)
	}
	var srvs []string
	if *servers == "" {
		*servers = defaultServers()
	}
	for _, s := range strings.Split(*servers, ",") {
		s = strings.TrimSpace(s)
		if !sweep.ValidServer(s) {
			return usage("--server: unknown server %q; want builtin, nbdkit or qemu, comma-separated (builtin,nbdkit,qemu)", s)
		}
		srvs = append(srvs, s)
	}
	if *client != sweep.ClientNbdcopy && *client != sweep.ClientLibnbd {
		return usage("--client %q: want nbdcopy or libnbd", *client)
	}
	if *pattern != sweep.PatternSequential && *pattern != sweep.PatternRandom {
		return usage("--pattern %q: want sequential or random", *pattern)
	}
	if *pattern == sweep.PatternRandom && *client != sweep.ClientLibnbd {
		return usage("--pattern=random needs --client=libnbd")
	}
	if *inFlight < 1 {
		return usage("--in-flight %d: want at least 1", *inFlight)
	}
	if *tolerance <= 0 || *tolerance >= 1 {
		return usage("--tolerance %v: want a fraction between 0 and 1", *tolerance)
	}
	var profiles []testbed.Profile
	if *devices != "" || *filesys != "" {
		d := *devices
		if d == "" {
			d = "native"
		}
		if profiles, err = testbed.ParseProfiles(d, *filesys); err != nil {
			return usage("--device/--fs: %v", err)
		}
	}
	if *nbSpec != "" {
		if memLimit == 0 {
			return usage("--neighbour runs in the server's memory cgroup: give --memory-limit too")
		}
		if _, err := neighbour.ParseSpec(*nbSpec); err != nil {
			return usage("--neighbour: %v", err)
		}
	}
	if int64(imageSize)%4096 != 0 {
		return usage("--size %d: want a multiple of 4 KiB", int64(imageSize))
	}
	for _, p := range policies {
		if _, err := evict.Parse(p); err != nil {
			return usage("--policy: %v", err)
		}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", "local", time.Now().Format("20060102-150405"))
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	o := sweep.Options{
		Windows: ws, Count: *count, Size: int64(imageSize), Image: *image, Servers: srvs, Policies: policies,
		Client: *client, Pattern: *pattern, RequestSize: int(reqSize), InFlight: *inFlight,
		DropCaches: *drop, WorkDir: *workDir, Interval: *interval, Tolerance: *tolerance,
		Args: append([]string{"wbench"}, args...), Progress: newProgress(stderr, tty),
		MemoryLimit: int64(memLimit), Neighbour: *nbSpec, Profiles: profiles,
	}
	if err := sweep.Preflight(dir, o); err != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	ss, err := sweep.RunScenarios(ctx, o)
	if len(ss) == 0 {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	status := exitOK
	if err != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		status = exitFailure
	}
	if werr := store(dir, ss, len(profiles) > 0); werr != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", werr)
		return exitFailure
	}
	if err := printReports(stdout, ss, len(profiles) > 0); err != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "\nResults, plots and summary: %s\n", dir)
	return status
}

// store writes a sweep as today, or the sweeps of several scenarios as a
// matrix.
func store(dir string, ss []*results.Sweep, matrix bool) error {
	if !matrix {
		return results.WriteAll(dir, ss[0])
	}
	return results.WriteMatrix(dir, ss)
}

// printReports prints each scenario's report and, for a matrix, the
// matrix table after them.
func printReports(w io.Writer, ss []*results.Sweep, matrix bool) error {
	for i, s := range ss {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printReport(w, s); err != nil {
			return err
		}
	}
	if !matrix {
		return nil
	}
	fmt.Fprintln(w, "\nMatrix: the recommendation of every scenario")
	return results.WriteMatrixTable(w, ss)
}

func printReport(w io.Writer, s *results.Sweep) error {
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	if err := results.WriteScenarioHeader(w, s); err != nil {
		return err
	}
	if err := results.WriteTable(w, s); err != nil {
		return err
	}
	if len(results.BudgetRows(s)) > 0 {
		fmt.Fprintln(w, "\nUnder the memory budget: the neighbour's reads (nb) during the copy against its idle stretch before it, and the server's cgroup")
		if err := results.WriteBudgetTable(w, s); err != nil {
			return err
		}
	}
	if err := results.WriteHarnessLoad(w, s); err != nil {
		return err
	}
	fmt.Fprintln(w)
	_, err := io.WriteString(w, results.Recommend(s, s.Settings.Tolerance).String())
	return err
}

const reportUsage = `Usage: wbench report DIR

Prints the table and recommendation of the sweep stored in DIR and redraws
its plots, bench.txt, samples.csv and summary.md from sweep.json.

Example:
  wbench report runs/baseline
`

func mainReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wbench report")
	if st := parse(fs, reportUsage, args, stdout, stderr); st >= 0 {
		return st
	}
	if fs.NArg() != 1 {
		return usageError(stderr, "wbench report", "want one sweep directory")
	}
	if results.IsMatrix(fs.Arg(0)) {
		ss, err := results.LoadMatrix(fs.Arg(0))
		if err == nil {
			err = results.WriteMatrix(fs.Arg(0), ss)
		}
		if err == nil {
			err = printReports(stdout, ss, true)
		}
		if err != nil {
			fmt.Fprintf(stderr, "wbench report: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	s, err := results.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "wbench report: %v\n", err)
		return exitFailure
	}
	if err := results.WriteAll(fs.Arg(0), s); err != nil {
		fmt.Fprintf(stderr, "wbench report: %v\n", err)
		return exitFailure
	}
	if err := printReport(stdout, s); err != nil {
		fmt.Fprintf(stderr, "wbench report: %v\n", err)
		return exitFailure
	}
	return exitOK
}

const compareUsage = `Usage: wbench compare [flags] OLD NEW

Compares two stored sweeps (directories or sweep.json files) configuration
by configuration and metric by metric with a two-sided Mann-Whitney U test
over their repetitions. A change is reported as "~" unless it is
significant; it is a REGRESSION when it is also worse than the metric's
threshold (durable time and MB/s 10%, resident pages 25% and 256 pages, ...).
Exits 1 when there is a regression. At least 4 repetitions on each side are
needed for anything to be significant at alpha 0.05.

Examples:
  wbench compare runs/baseline runs/local/20261125-120000
  wbench compare --metrics=mbps,resident_end --alpha=0.01 OLD NEW

Flags:
`

func mainCompare(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wbench compare")
	alpha := fs.Float64("alpha", 0.05, "significance level of the U test")
	metrics := fs.String("metrics", "", "comma-separated metric keys to compare (default all: durable_sec, mbps, resident_end, resident_peak, dirty_wb_peak, server_cpu_sec)")
	if st := parse(fs, compareUsage, args, stdout, stderr); st >= 0 {
		return st
	}
	if fs.NArg() != 2 {
		return usageError(stderr, "wbench compare", "want two sweeps, OLD and NEW")
	}
	if *alpha <= 0 || *alpha >= 1 {
		return usageError(stderr, "wbench compare", "--alpha %v: want a probability between 0 and 1", *alpha)
	}
	opt := results.CompareOptions{Alpha: *alpha}
	if *metrics != "" {
		for _, m := range strings.Split(*metrics, ",") {
			if _, ok := results.MetricByKey(m); !ok {
				return usageError(stderr, "wbench compare", "unknown metric %q", m)
			}
			opt.Metrics = append(opt.Metrics, m)
		}
	}
	old, err := results.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "wbench compare: %v\n", err)
		return exitFailure
	}
	new, err := results.Load(fs.Arg(1))
	if err != nil {
		fmt.Fprintf(stderr, "wbench compare: %v\n", err)
		return exitFailure
	}
	c := results.Compare(old, new, opt)
	if err := c.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "wbench compare: %v\n", err)
		return exitFailure
	}
	if len(c.Regressions()) > 0 {
		return exitFailure
	}
	return exitOK
}

const checkUsage = `Usage: wbench check [flags] NEW

Judges the sweep stored in NEW by quantities that do not depend on the
machine's speed (the perf-regression job): every output identical to its
source; the built-in server with N windows leaving at most N x request size
(+ one 2 MiB folio) of the output cached; the files of a stored sweep
present. With --baseline it also requires the durable-time ratios
window:8 / cache=default and window:8 / nbdkit cache=none not to grow by
more than --tolerance over the baseline's. Exits 1 when a check fails.

Examples:
  wbench check --quick /tmp/quick-sweep
  wbench check --baseline runs/baseline runs/local/20261125-120000

Flags:
`

func mainCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wbench check")
	baseline := fs.String("baseline", "", "baseline sweep `directory` for the ratio checks")
	tol := fs.Float64("tolerance", results.DefaultRatioTolerance, "allowed relative growth of a ratio over the baseline")
	quick := fs.Bool("quick", false, "only the invariants that cannot flake (integrity, residency budget, files); refuses --baseline")
	if st := parse(fs, checkUsage, args, stdout, stderr); st >= 0 {
		return st
	}
	if fs.NArg() != 1 {
		return usageError(stderr, "wbench check", "want one sweep directory")
	}
	if *quick && *baseline != "" {
		return usageError(stderr, "wbench check", "--quick judges invariants only; drop --baseline")
	}
	s, err := results.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "wbench check: %v\n", err)
		return exitFailure
	}
	opt := results.CheckOptions{RatioTolerance: *tol}
	if *baseline != "" {
		if opt.Baseline, err = results.Load(*baseline); err != nil {
			fmt.Fprintf(stderr, "wbench check: %v\n", err)
			return exitFailure
		}
	}
	findings := append([]results.Finding{results.CheckFiles(fs.Arg(0))}, results.Check(s, opt)...)
	if failed := results.WriteFindings(stdout, findings); failed > 0 {
		fmt.Fprintf(stdout, "%d check(s) failed\n", failed)
		return exitFailure
	}
	fmt.Fprintln(stdout, "all checks passed")
	return exitOK
}
