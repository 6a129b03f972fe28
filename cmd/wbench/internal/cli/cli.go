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
	"slices"
	"strconv"
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
  wbench report DIR [DIR...]     print a stored sweep's table and redraw its plots and summary
  wbench resume DIR              finish an interrupted sweep with its stored configuration
  wbench check [flags] NEW       judge a sweep's machine-stable invariants (perf-regression job)

Each configuration copies a source image into an NBD server on a private
Unix socket with 'nbdcopy --flush' (timed until the flush returned), with the
page cache dropped first (as root). The built-in server runs with cache=none
and each window count, and with window:auto (the ring that sizes itself);
cache=default and flush-each (the pre-patch behaviour) are always measured
as references, and nbdkit's file plugin
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

Statistics are benchstat's (golang.org/x/perf/benchmath): medians with 95%
confidence intervals, which need 6 repetitions (the default --count), and
the Mann-Whitney U test, which needs 4 a side to find anything significant
at alpha 0.05. --count=auto repeats until every throughput interval is
within --tolerance of its median, or --max-count. The recommendation is the
smallest window count whose throughput is not significantly below the
best's (or within --tolerance of it); when no count differs, it says so.

Results go to --out (default runs/local/YYYYMMDD-HHMMSS) as the sweep runs:
sweep.json (the environment and settings first, every sample at the end),
samples.jsonl (one line per run as it ends, so Ctrl-C or a crash loses
nothing finished; 'wbench resume DIR' completes the sweep), then bench.txt
(Go benchmark format, for benchstat), samples.csv, summary.md and the plots
as PNG and SVG. A failed run is recorded with its error and the sweep goes
on (--fail-fast stops it).

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
		case "resume":
			return mainResume(ctx, args[1:], stdout, stderr)
		case sweep.ServeCommand: // hidden: the built-in server of one run
			return mainServe(ctx, args[1:], stderr)
		case sweep.NeighbourCommand: // hidden: the neighbour of a run under a memory budget
			if err := neighbour.Main(ctx, args[1:], os.Stdin, stdout); err != nil {
				fmt.Fprintln(stderr, err)
				return exitFailure
			}
			return exitOK
		case "check":
			return mainCheck(args[1:], stdout, stderr)
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

// mainServe runs the hidden "serve-nbd [--policy=P] [--ring-state] FILE"
// that a sweep starts for the built-in server of one run (see
// sweep.ServeCommand).
func mainServe(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlagSet(sweep.ServeCommand)
	policy := fs.String("policy", string(evict.None), "")
	ring := fs.Bool("ring-state", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintf(stderr, "wbench %s: want [--policy=P] [--ring-state] FILE\n", sweep.ServeCommand)
		return exitUsage
	}
	if err := sweep.Serve(ctx, *policy, fs.Arg(0), *ring); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	return exitOK
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
		count      = fs.String("count", strconv.Itoa(sweep.DefaultCount), "repetitions of each configuration, or auto: repeat until every throughput interval is within --tolerance (at most --max-count)")
		maxCount   = fs.Int("max-count", sweep.DefaultMaxCount, "most repetitions of --count=auto")
		failFast   = fs.Bool("fail-fast", false, "stop at the first failed run (default: record its error and go on)")
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
		tolerance  = fs.Float64("tolerance", results.DefaultTolerance, "throughput difference, as a `fraction` of the best, that does not matter: the recommendation admits it, --count=auto resolves it")
		policies   listFlag
		showPolicy = fs.Bool("policies", false, "list the evict policy names --policy accepts, and exit")
		showVer    = fs.Bool("version", false, "print the module version and VCS revision of this build, and exit")
		format     = formatFlag(fs, "table")
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
	n, auto := 0, *count == "auto"
	if !auto {
		if n, err = strconv.Atoi(*count); err != nil || n < 1 {
			return usage("--count %q: want a number, at least 1, or auto", *count)
		}
	}
	if *maxCount < results.MinSamplesCI {
		return usage("--max-count %d: want at least %d (the fewest samples with a 95%% interval)", *maxCount, results.MinSamplesCI)
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
	if !validFormat(*format) {
		return usage("--format %q: want %s", *format, strings.Join(results.Formats, ", "))
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
	o := sweep.Options{
		Windows: ws, Count: n, CountAuto: auto, MaxCount: *maxCount, FailFast: *failFast, Out: dir, Size: int64(imageSize), Image: *image, Servers: srvs, Policies: policies,
		Client: *client, Pattern: *pattern, RequestSize: int(reqSize), InFlight: *inFlight,
		DropCaches: *drop, WorkDir: *workDir, Interval: *interval, Tolerance: *tolerance,
		Args: append([]string{"wbench"}, args...), Progress: newProgress(stderr, isTerminal(stderr)),
		MemoryLimit: int64(memLimit), Neighbour: *nbSpec, Profiles: profiles,
	}
	if err := sweep.Preflight(dir, o); err != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	return runSweep(ctx, o, *format, stdout, stderr)
}

// runSweep runs (or resumes) the sweep o, which records itself in o.Out,
// then writes the report files and prints the table. An interrupted
// sweep keeps every finished run and says how to finish it.
func runSweep(ctx context.Context, o sweep.Options, format string, stdout, stderr io.Writer) int {
	if len(o.Profiles) > 0 {
		return runMatrix(ctx, o, stdout, stderr)
	}
	s, err := sweep.Run(ctx, o)
	if s == nil {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	status := sweepStatus(err, stderr)
	if werr := results.WriteAll(o.Out, s); werr != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", werr)
		return exitFailure
	}
	if s.Partial {
		fmt.Fprintf(stderr, "wbench: stopped after %d of %d runs; every finished run is stored in %s; 'wbench resume %s' finishes the sweep\n",
			len(s.Samples), s.Planned(), o.Out, o.Out)
		return exitFailure
	}
	if err := printReport(stdout, s, format); err != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	if format == results.FormatText || format == results.FormatMarkdown {
		fmt.Fprintf(stdout, "\nResults, plots and summary: %s\n", o.Out)
	} else {
		fmt.Fprintf(stderr, "wbench: results, plots and summary: %s\n", o.Out)
	}
	return status
}

// sweepStatus reports err, the error of a finished or interrupted sweep,
// on stderr and returns the exit status it calls for.
func sweepStatus(err error, stderr io.Writer) int {
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "wbench: interrupted")
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// runMatrix runs the sweep once per scenario of o.Profiles, each recorded
// in its own directory under o.Out as it goes, then writes the matrix and
// prints every scenario's table and the matrix table.
func runMatrix(ctx context.Context, o sweep.Options, stdout, stderr io.Writer) int {
	ss, err := sweep.RunScenarios(ctx, o)
	status := sweepStatus(err, stderr)
	if len(ss) == 0 {
		return exitFailure
	}
	if werr := results.WriteMatrix(o.Out, ss); werr != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", werr)
		return exitFailure
	}
	if err := printMatrix(stdout, ss); err != nil {
		fmt.Fprintf(stderr, "wbench: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "\nResults, plots and summary: %s\n", o.Out)
	return status
}

// printMatrix prints each scenario's report, then the matrix table.
func printMatrix(w io.Writer, ss []*results.Sweep) error {
	for i, s := range ss {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printReport(w, s, results.FormatText); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nMatrix: the recommendation of every scenario")
	if err := results.WriteMatrixTable(w, ss); err != nil {
		return err
	}
	if len(results.AutoRows(ss)) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nwindow:auto against the best fixed count (worse: significantly below it, U test, and by more than the tolerance) and window:8 (median throughput, pages left and peak residency)")
	return results.WriteAutoTable(w, ss)
}

const resumeUsage = `Usage: wbench resume DIR

Finishes the sweep stored in DIR that was interrupted (Ctrl-C, a crash,
--fail-fast): the same configurations, repetitions, image and options as
stored in DIR/sweep.json; only the runs missing from DIR/samples.jsonl are
made, in the same rotating order. The image must still have the content the
sweep copied (a generated image is made again if it was removed).

Example:
  flock /tmp/wcache-bench.lock wbench resume runs/local/20261125-120000
`

func mainResume(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wbench resume")
	if st := parse(fs, resumeUsage, args, stdout, stderr); st >= 0 {
		return st
	}
	if fs.NArg() != 1 {
		return usageError(stderr, "wbench resume", "want one sweep directory")
	}
	dir := fs.Arg(0)
	s, err := results.Load(dir)
	if err != nil {
		fmt.Fprintf(stderr, "wbench resume: %v\n", err)
		return exitFailure
	}
	if !s.Partial {
		fmt.Fprintf(stderr, "wbench resume: %s is complete; nothing to resume\n", dir)
		return exitFailure
	}
	st := s.Settings
	o := sweep.Options{
		Windows: st.Windows, Count: st.Count, CountAuto: st.CountAuto, MaxCount: st.MaxCount, FailFast: st.FailFast,
		Size: st.ImageBytes, Servers: st.Servers, Policies: st.Policies, Client: st.Client, Pattern: st.Pattern,
		RequestSize: st.RequestSize, InFlight: st.InFlight, DropCaches: st.DropCaches, WorkDir: st.WorkDir,
		Interval: time.Duration(st.IntervalSec * float64(time.Second)), Tolerance: st.Tolerance,
		Args: st.Args, Out: dir, Resume: s, Progress: newProgress(stderr, isTerminal(stderr)),
		MemoryLimit: st.MemoryLimit, Neighbour: st.Neighbour,
	}
	if !st.Generated {
		o.Image = st.Image
	}
	fmt.Fprintf(stderr, "wbench: resuming %s: %d of %d runs stored\n", dir, len(s.Samples), s.Planned())
	return runSweep(ctx, o, results.FormatText, stdout, stderr)
}

// printReport prints the sweep's table and recommendation in format (see
// results.Formats): csv and json are the table alone (json with the
// recommendation), for programs.
func printReport(w io.Writer, s *results.Sweep, format string) error {
	if format == results.FormatCSV || format == results.FormatJSON {
		return results.WriteTableFormat(w, s, format)
	}
	if s.Partial {
		fmt.Fprintf(w, "PARTIAL SWEEP: %d of %d runs stored (interrupted or still running); 'wbench resume DIR' finishes it.\n", len(s.Samples), s.Planned())
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	for _, x := range s.Failures() {
		fmt.Fprintf(w, "FAILED RUN: %s #%d: %s\n", x.Config, x.Rep+1, x.Error)
	}
	if st := s.Settings; st.CountAuto {
		fmt.Fprintf(w, "--count=auto: %d rounds; stopped: %s.\n", st.Count, st.Stopped)
	}
	if err := results.WriteScenarioHeader(w, s); err != nil {
		return err
	}
	if err := results.WriteTableFormat(w, s, format); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\n", results.TableNote(s))
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

// isTerminal reports whether w is a terminal (the progress bar redraws
// one line there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// formatFlag adds --format to fs.
func formatFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("format", results.FormatText, what+" `format`: "+strings.Join(results.Formats, ", "))
}

// validFormat reports whether --format accepts f.
func validFormat(f string) bool { return slices.Contains(results.Formats, f) }

const reportUsage = `Usage: wbench report [flags] DIR [DIR...]

With one DIR, prints the table and recommendation of the sweep stored in
DIR and redraws its plots, bench.txt, samples.csv and summary.md from
sweep.json (and samples.jsonl). A partial sweep (interrupted, still
running) is reported as far as it got, and says so.

With several (or with --out), the fleet view: one row per sweep (machine or scenario) with
its recommended window count, that count's throughput and residency with
their intervals and the cache=default reference, then every setting and
property of the machine in which the sweeps differ, and with --out a plot
of each sweep's trade-off (fleet.png, fleet.svg) and fleet.md.

Examples:
  wbench report runs/baseline
  wbench report --format=json runs/baseline
  wbench report --out=fleet runs/ci/*/

Flags:
`

func mainReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wbench report")
	format := formatFlag(fs, "table")
	out := fs.String("out", "", "fleet view: `directory` for fleet.md and the plot")
	if st := parse(fs, reportUsage, args, stdout, stderr); st >= 0 {
		return st
	}
	if fs.NArg() < 1 {
		return usageError(stderr, "wbench report", "want a sweep directory (or several)")
	}
	if !validFormat(*format) {
		return usageError(stderr, "wbench report", "--format %q: want %s", *format, strings.Join(results.Formats, ", "))
	}
	if fs.NArg() == 1 && results.IsMatrix(fs.Arg(0)) {
		ss, err := results.LoadMatrix(fs.Arg(0))
		if err == nil {
			err = results.WriteMatrix(fs.Arg(0), ss)
		}
		if err == nil {
			err = printMatrix(stdout, ss)
		}
		if err != nil {
			fmt.Fprintf(stderr, "wbench report: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	var sweeps []*results.Sweep
	for _, dir := range fs.Args() {
		s, err := results.Load(dir)
		if err != nil {
			fmt.Fprintf(stderr, "wbench report: %v\n", err)
			return exitFailure
		}
		sweeps = append(sweeps, s)
	}
	if len(sweeps) > 1 || *out != "" {
		f := results.NewFleet(fs.Args(), sweeps)
		if *out != "" {
			if err := f.WriteAll(*out); err != nil {
				fmt.Fprintf(stderr, "wbench report: %v\n", err)
				return exitFailure
			}
		}
		if err := f.Write(stdout, *format); err != nil {
			fmt.Fprintf(stderr, "wbench report: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	if err := results.WriteAll(fs.Arg(0), sweeps[0]); err != nil {
		fmt.Fprintf(stderr, "wbench report: %v\n", err)
		return exitFailure
	}
	if err := printReport(stdout, sweeps[0], *format); err != nil {
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
needed for anything to be significant at alpha 0.05 (benchmath's U test,
the one benchstat makes on bench.txt).

compare first checks that both sweeps measured the same workload (image
size and content, request size, client, in-flight depth, cache drops, any
scenario setting, and the versions of the servers and client both ran) and
prints every difference of workload and machine (kernel, CPU, memory, disk,
write-back sysctls). A workload difference is refused (exit 1, the
difference named) unless --force.

Examples:
  wbench compare runs/baseline runs/local/20261125-120000
  wbench compare --metrics=mbps,resident_end --alpha=0.01 OLD NEW
  wbench compare --format=json --force runs/baseline runs/local/other-size

Flags:
`

func mainCompare(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wbench compare")
	alpha := fs.Float64("alpha", 0.05, "significance level of the U test")
	format := formatFlag(fs, "output")
	force := fs.Bool("force", false, "compare even when the workloads differ")
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
	if !validFormat(*format) {
		return usageError(stderr, "wbench compare", "--format %q: want %s", *format, strings.Join(results.Formats, ", "))
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
	if err := results.CheckWorkload(c.Differences); err != nil && !*force {
		for _, d := range c.Differences {
			fmt.Fprintf(stderr, "wbench compare: %s differs: %s: %s -> %s\n", d.Kind, d.Field, d.Old, d.New)
		}
		fmt.Fprintf(stderr, "wbench compare: %v; --force compares them anyway\n", err)
		return exitFailure
	}
	if err := c.Write(stdout, *format); err != nil {
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
