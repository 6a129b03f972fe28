package sweep

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pagecache-suite/wcache/cgroup"
	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/size"
	"github.com/pagecache-suite/wcache/neighbour"
	"github.com/pagecache-suite/wcache/pagecache"
	"github.com/pagecache-suite/wcache/results"
	"github.com/pagecache-suite/wcache/testbed"
)

// Access patterns of the libnbd client.
const (
	PatternSequential = "sequential"
	PatternRandom     = "random"
)

// Defaults of a sweep. DefaultCount is the smallest number of repetitions
// with which every statistic wbench quotes exists: a 95% confidence
// interval of a median needs 6 samples, and the U test needs 4 a side to
// reach p < 0.05 at all (benchmath; results.MinSamplesCI, MinSamplesU).
// The default sweep (8 configurations, about 2 s a run with the cache drop
// and the verification) takes a few minutes on 2 cores.
const (
	DefaultSize        = 256 << 20
	DefaultCount       = results.MinSamplesCI
	DefaultMaxCount    = 20        // --count=auto's bound
	DefaultRequestSize = 256 << 10 // nbdcopy's
	DefaultInFlight    = 64        // nbdcopy's, per connection
)

// Options configure a sweep.
type Options struct {
	Windows []int // window counts of the built-in server, cache=none
	Count   int   // repetitions per configuration
	// CountAuto repeats rounds until the throughput interval of every
	// configuration is within Tolerance of its median, or MaxCount rounds.
	CountAuto bool
	MaxCount  int
	FailFast  bool   // stop at the first failed run (else record it and go on)
	Out       string // results directory: sweep.json and samples.jsonl as runs end ("" = none)
	// Resume is an interrupted sweep to finish: its settings, image and
	// finished runs are kept and only the missing runs are made.
	Resume      *results.Sweep
	Size        int64    // generated image size; ignored with Image
	Image       string   // an existing source image instead of a generated one
	Servers     []string // results.Servers: "builtin", "nbdkit", "qemu"
	Policies    []string // extra evict policies for the built-in server
	Client      string   // ClientNbdcopy or ClientLibnbd
	Pattern     string   // libnbd client: PatternSequential or PatternRandom
	RequestSize int      // client request size, bytes
	InFlight    int      // client requests in flight (per connection)
	DropCaches  bool     // drop the system page cache before every run (root)
	WorkDir     string   // where the image and output files live
	Interval    time.Duration
	Tolerance   float64 // recommendation tolerance
	Args        []string
	// MemoryLimit runs each server in a memory cgroup of this many bytes
	// (0: none); the client stays outside it.
	MemoryLimit int64
	// Neighbour is a co-tenant in the server's cgroup, as
	// neighbour.ParseSpec reads it (warm:512M,rate=500, hot:1G); it needs
	// MemoryLimit.
	Neighbour string
	// Profiles are the devices and filesystems RunScenarios sweeps on.
	Profiles []testbed.Profile
	// Exe is the program that answers ServeCommand (wbench itself; the
	// tests' own binary); default os.Executable.
	Exe string
	// Progress receives progress; nil discards it.
	Progress Progress

	neighbour *neighbour.Spec // Neighbour parsed by validate
}

// Progress receives the events of a sweep as it runs (the wbench command
// draws them). Calls come from one goroutine.
type Progress interface {
	Start(runs int)                                // the sweep makes runs runs
	Begin(config string, rep int)                  // run rep (from 0) of config starts
	Done(config string, rep int, x results.Sample) // and ended with x
	End()                                          // the sweep ended, completed or not
	Note(msg string)                               // something worth saying
	Warn(msg string)                               // something that must not be missed
}

// discard is the Progress of a sweep without one.
type discard struct{}

func (discard) Start(int)                        {}
func (discard) Begin(string, int)                {}
func (discard) Done(string, int, results.Sample) {}
func (discard) End()                             {}
func (discard) Note(string)                      {}
func (discard) Warn(string)                      {}

// ErrIntegrity is returned by Run, with the sweep, when an output did not
// match its source.
var ErrIntegrity = errors.New("output differs from the source image")

// Configs lists the configurations a sweep measures, references first.
func Configs(o *Options) ([]results.Config, error) {
	var out []results.Config
	seen := map[string]bool{}
	add := func(c results.Config) {
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	for _, s := range o.Servers {
		switch srv := results.Server(s); srv {
		case results.Builtin:
			add(results.NewConfig(srv, evict.None, 0, results.RoleReference))
			add(results.NewConfig(srv, evict.FlushEach, 0, results.RoleReference))
			for _, w := range o.Windows {
				add(results.NewConfig(srv, evict.Window(w), w, results.RoleSweep))
			}
			if len(o.Windows) > 0 {
				// The self-tuning ring, judged against the counts swept.
				add(results.NewConfig(srv, evict.WindowAuto, 0, results.RoleExtra))
			}
			for _, p := range o.Policies {
				pol, err := evict.Parse(p)
				if err != nil {
					return nil, err
				}
				// The canonical spelling, so that a row names what ran
				// and the same policy spelled twice is measured once.
				add(results.NewConfig(srv, evict.Name(pol.String()), 0, results.RoleExtra))
			}
		case results.Nbdkit:
			add(results.NewConfig(srv, evict.None, 0, results.RoleAnchor))
			add(results.NewConfig(srv, evict.Window(evict.NbdkitWindows), evict.NbdkitWindows, results.RoleAnchor))
		case results.Qemu:
			add(results.NewConfig(srv, evict.None, 0, results.RoleAnchor))
			add(results.NewConfig(srv, results.Direct, 0, results.RoleAnchor))
		default:
			return nil, fmt.Errorf("unknown server %q: want %s", s, serverNames())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no configuration to measure")
	}
	return out, nil
}

// Run measures every configuration o.Count times in rotating order in the
// work directory and returns the sweep; RunScenarios runs it once per
// device and filesystem profile. With o.Out, the sweep is recorded as it
// goes (see results.Store): the environment first, then every run as it
// ends. A failed run is recorded with its error and the sweep goes on,
// unless o.FailFast. When ctx ends, Run returns the runs made so far with
// ctx's error. Integrity failures do not stop the sweep; Run returns the
// sweep and an error wrapping ErrIntegrity at the end.
func Run(ctx context.Context, o Options) (*results.Sweep, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	img, warnings, err := prepare(ctx, &o)
	if err != nil {
		return nil, err
	}
	return runScenario(ctx, &o, img, warnings, scenario{dir: o.WorkDir, out: o.Out})
}

// scenario is where the outputs of one sweep go: a test bed's directory,
// or the work directory itself (no name), and where its results are
// recorded as it goes (out, or nowhere).
type scenario struct {
	name, desc, dir, out string
	// unthrottled, when set, lifts a throttled device's limit until the
	// returned function puts it back: the output's verification reads it
	// at full speed, since it is not part of the measurement.
	unthrottled func() (restore func() error, err error)
}

// prepare does what every scenario of a sweep shares: the checks, the
// warnings about the cache drop, stale test beds and cgroups removed, and
// the source image.
func prepare(ctx context.Context, o *Options) (Image, []string, error) {
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return Image{}, nil, fmt.Errorf("work dir: %w", err)
	}
	if o.Out != "" {
		if err := results.CheckDir(o.Out); err != nil {
			return Image{}, nil, err
		}
	}
	var warnings []string
	switch {
	case o.Resume != nil:
		if o.DropCaches && os.Geteuid() != 0 {
			return Image{}, nil, errors.New("resume: the sweep dropped the page cache before every run, which needs root")
		}
		warnings = o.Resume.Warnings
	case o.DropCaches && os.Geteuid() != 0:
		o.DropCaches = false
		warnings = append(warnings, "not root: the page cache could NOT be dropped before runs, so the source image may be read from the cache and other files' dirty pages may add to write-back; only the sweep's own files were evicted")
	case !o.DropCaches:
		warnings = append(warnings, "page cache not dropped before runs (--drop-caches=false): only the sweep's own files were evicted")
	}
	for _, w := range warnings {
		o.Progress.Warn(w)
	}
	if err := cleanStale(ctx, o); err != nil {
		return Image{}, nil, err
	}
	var img Image
	var err error
	if o.Image != "" {
		img, err = OpenImage(ctx, o.Image)
	} else {
		o.Progress.Note(fmt.Sprintf("preparing a %s source image in %s", size.Format(o.Size), o.WorkDir))
		img, err = GenerateImage(ctx, o.WorkDir, o.Size)
	}
	if err != nil {
		return Image{}, nil, err
	}
	if o.Resume != nil {
		if want := o.Resume.Settings.ImageSHA256; want != "" && want != img.Sum {
			return Image{}, nil, fmt.Errorf("resume: source image %s has changed (SHA-256 %s, the sweep copied %s)", img.Path, img.Sum, want)
		}
	}
	return img, warnings, nil
}

// cleanStale removes, as root, what an earlier wbench that was killed or
// crashed left behind (test beds: throttle rules, mounts, loop and zram
// devices; memory cgroups), each item with a note.
func cleanStale(ctx context.Context, o *Options) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := testbed.CleanStale(ctx, noteWriter{o.Progress}); err != nil {
		return fmt.Errorf("stale test beds: %w", err)
	}
	if _, err := cgroup.CleanStale(noteWriter{o.Progress}); err != nil && !errors.Is(err, cgroup.ErrNoMemoryController) {
		return fmt.Errorf("stale cgroups: %w", err)
	}
	return nil
}

// runScenario measures every configuration in sc's directory.
func runScenario(ctx context.Context, o *Options, img Image, warnings []string, sc scenario) (*results.Sweep, error) {
	configs, err := Configs(o)
	if err != nil {
		return nil, err
	}
	s := o.Resume
	if s != nil {
		configs = s.Configs // as stored: the same configurations, in the same order
	} else {
		s = &results.Sweep{
			Version:  results.FormatVersion,
			Started:  time.Now().UTC(),
			Env:      results.CaptureEnv(sc.dir),
			Configs:  configs,
			Warnings: warnings,
			Scenario: sc.name,
			Testbed:  sc.desc,
		}
		s.Settings = results.Settings{
			Args: o.Args, Windows: o.Windows, Count: o.Count, Servers: o.Servers, Policies: o.Policies,
			Client: o.Client, Image: img.Path, ImageBytes: img.Size, DataBytes: img.DataBytes,
			RequestSize: o.RequestSize, DropCaches: o.DropCaches, Tolerance: o.Tolerance,
			ImageSHA256: img.Sum, Generated: o.Image == "", WorkDir: o.WorkDir,
			IntervalSec: o.Interval.Seconds(), FailFast: o.FailFast,
			MemoryLimit: o.MemoryLimit, Neighbour: o.Neighbour, Regime: Regime(img.Size, o.MemoryLimit),
		}
		if o.CountAuto {
			s.Settings.CountAuto, s.Settings.MaxCount, s.Settings.Count = true, o.MaxCount, 0
		}
		if o.Client == ClientLibnbd {
			s.Settings.InFlight, s.Settings.Pattern = o.InFlight, o.Pattern
		} else if o.InFlight != DefaultInFlight {
			s.Settings.InFlight = o.InFlight
		}
	}
	var store *results.Store
	if sc.out != "" {
		if store, err = results.CreateStore(sc.out, s); err != nil {
			return nil, err
		}
		defer store.Close()
	}

	runDir, err := os.MkdirTemp(sc.dir, "run-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(runDir)
	var nbFile string
	if o.neighbour != nil {
		o.Progress.Note(fmt.Sprintf("preparing the neighbour's %s file", size.Format(o.neighbour.Size)))
		if nbFile, err = prepareNeighbour(runDir, *o.neighbour); err != nil {
			return nil, err
		}
	}

	rounds := o.Count
	if o.CountAuto {
		rounds = o.MaxCount
	}
	todo := 0
	for _, e := range Schedule(len(configs), rounds) {
		if !s.Done(configs[e[0]].Name, e[1]) {
			todo++
		}
	}
	o.Progress.Start(todo)
	defer o.Progress.End()
	var corrupt []string
	seq := len(s.Samples)
	last := map[string]time.Duration{} // each configuration's last durable time: its next idle stretch
	prev := defaultIdle
	for r := 0; r < rounds; r++ {
		for _, e := range Schedule(len(configs), r+1)[r*len(configs):] {
			c := configs[e[0]]
			if s.Done(c.Name, e[1]) {
				continue // measured before the sweep was resumed
			}
			if err := ctx.Err(); err != nil {
				return s, err
			}
			idle, ok := last[c.Name]
			if !ok {
				idle = prev
			}
			o.Progress.Begin(c.Name, e[1])
			x, err := runOne(ctx, o, c, img, runDir, nbFile, min(max(idle, minIdle), maxIdle), sc.unthrottled)
			if err != nil && ctx.Err() != nil {
				return s, ctx.Err() // interrupted: the run is not a failure
			}
			x.Rep, x.Seq, x.Scenario = e[1], seq, sc.name
			seq++
			if err != nil {
				x = results.Sample{Config: c.Name, Rep: e[1], Seq: x.Seq, Scenario: sc.name, Error: err.Error()}
			} else {
				prev = time.Duration(x.DurableSec * float64(time.Second))
				last[c.Name] = prev
			}
			s.Samples = append(s.Samples, x)
			if store != nil {
				if serr := store.Append(x); serr != nil {
					return s, serr
				}
			}
			if err != nil && o.FailFast {
				return s, fmt.Errorf("%s, repetition %d: %w", c.Name, e[1]+1, err)
			}
			o.Progress.Done(c.Name, e[1], x)
			if err != nil {
				continue
			}
			if !x.IntegrityOK {
				corrupt = append(corrupt, fmt.Sprintf("%s #%d", c.Name, e[1]+1))
			}
			if x.Budget != nil && x.Budget.OOMKills > 0 {
				o.Progress.Warn(fmt.Sprintf("%s #%d: the memory cgroup's OOM killer killed %d process(es)", c.Name, e[1]+1, x.Budget.OOMKills))
			}
		}
		if o.CountAuto {
			s.Settings.Count = r + 1
			if stop, why := converged(s, o.Tolerance); stop {
				s.Settings.Stopped = why
				break
			}
			if r+1 == rounds {
				s.Settings.Stopped = fmt.Sprintf("--max-count=%d reached; %s", rounds, widest(s))
			}
		}
	}
	s.Finished = time.Now().UTC()
	s.Partial = false
	var failed error
	if n := len(s.Failures()); n > 0 {
		failed = fmt.Errorf("%d run(s) failed (recorded in the results)", n)
	}
	if len(corrupt) > 0 {
		return s, errors.Join(failed, fmt.Errorf("%w: %s", ErrIntegrity, strings.Join(corrupt, ", ")))
	}
	return s, failed
}

// noteWriter hands each line written to it to Progress.Note.
type noteWriter struct{ p Progress }

func (w noteWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w.p.Note(line)
		}
	}
	return len(b), nil
}

// converged reports whether every configuration has a throughput interval
// within tol of its median (after at least results.MinSamplesCI rounds),
// and says so.
func converged(s *results.Sweep, tol float64) (bool, string) {
	for _, c := range s.Configs {
		sum := results.Summarize(results.MetricMBps.Values(s.SamplesOf(c.Name)))
		if sum.RelHalfWidth() > tol {
			return false, ""
		}
	}
	return true, fmt.Sprintf("every throughput interval within %.0f%% of its median after %d rounds; %s", 100*tol, s.Settings.Count, widest(s))
}

// widest names the configuration with the widest throughput interval.
func widest(s *results.Sweep) string {
	name, w := "", -1.0
	for _, c := range s.Configs {
		sum := results.Summarize(results.MetricMBps.Values(s.SamplesOf(c.Name)))
		if rw := sum.RelHalfWidth(); rw > w {
			name, w = c.Name, rw
		}
	}
	if math.IsInf(w, 1) {
		return fmt.Sprintf("widest: %s, no interval yet", name)
	}
	return fmt.Sprintf("widest: %s ±%.1f%%", name, 100*w)
}

func (o *Options) setDefaults() {
	positiveOr(&o.Count, DefaultCount)
	positiveOr(&o.MaxCount, DefaultMaxCount)
	nonEmptyOr(&o.WorkDir, DefaultWorkDir) // before AutoSize, which reads its free space
	if o.Size <= 0 {
		var nb int64
		if spec, err := neighbour.ParseSpec(o.Neighbour); err == nil {
			nb = spec.Size
		}
		o.Size = AutoSize(o.WorkDir, o.MemoryLimit, nb)
	}
	if len(o.Servers) == 0 {
		o.Servers = []string{string(results.Builtin)}
	}
	nonEmptyOr(&o.Client, ClientNbdcopy)
	nonEmptyOr(&o.Pattern, PatternSequential)
	positiveOr(&o.RequestSize, DefaultRequestSize)
	positiveOr(&o.InFlight, DefaultInFlight)
	positiveOr(&o.Interval, DefaultInterval)
	positiveOr(&o.Tolerance, results.DefaultTolerance)
	if o.Progress == nil {
		o.Progress = discard{}
	}
	if o.Exe == "" {
		o.Exe, _ = os.Executable()
	}
}

// positiveOr sets *p to d unless *p is positive.
func positiveOr[T int | time.Duration | float64](p *T, d T) {
	if *p <= 0 {
		*p = d
	}
}

// nonEmptyOr sets *p to d when *p is empty.
func nonEmptyOr(p *string, d string) {
	if *p == "" {
		*p = d
	}
}

// validate checks what setDefaults cannot fill in, and parses the
// neighbour's spec.
func (o *Options) validate() error {
	if o.Neighbour == "" {
		o.neighbour = nil
		return nil
	}
	if o.MemoryLimit <= 0 {
		return errors.New("a neighbour runs in the server's memory cgroup: it needs a memory limit")
	}
	spec, err := neighbour.ParseSpec(o.Neighbour)
	if err != nil {
		return err
	}
	o.neighbour = &spec
	return nil
}

// DefaultWorkDir holds the source image (kept between sweeps) and the
// output files (removed after each run). It must be on the disk under test,
// not on tmpfs.
const DefaultWorkDir = "/var/tmp/wbench"

// runOne makes one measured run of configuration c.
// With a memory limit, the server runs in a fresh memory cgroup, beside
// the neighbour reading nbFile (when there is one), which first reads for
// an idle stretch of length idle.
func runOne(ctx context.Context, o *Options, c results.Config, img Image, dir, nbFile string, idle time.Duration,
	unthrottled func() (func() error, error)) (results.Sample, error) {
	x := results.Sample{Config: c.Name, BytesWritten: img.DataBytes}
	out := filepath.Join(dir, "out.img")
	os.Remove(out)
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return x, fmt.Errorf("output: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(out)
	}()
	if err := f.Truncate(img.Size); err != nil {
		return x, fmt.Errorf("output: %w", err)
	}
	if o.DropCaches {
		if err := dropCaches(); err != nil {
			return x, err
		}
		x.CachesDropped = true
	} else {
		dropPath(img.Path)
	}

	start := (*exec.Cmd).Start
	var bud *budget
	if o.MemoryLimit > 0 {
		if nbFile != "" {
			dropPath(nbFile) // its pages must be charged to this run's group
		}
		if bud, err = startBudget(ctx, o, nbFile, idle); err != nil {
			return x, err
		}
		defer bud.Close()
		start = bud.start
	}
	srv, err := startServer(ctx, c, o.Exe, dir, out, start)
	if err != nil {
		return x, err
	}
	if bud != nil {
		if err := bud.copyStarts(); err != nil {
			srv.Stop()
			return x, fmt.Errorf("neighbour: %w", err)
		}
	}
	cpu0, t0 := processCPU(), time.Now()
	smp := startSampler(f, srv.ring, t0, o.Interval)
	var res copyResult
	if o.Client == ClientLibnbd {
		res, err = runLibnbd(o, img.Path, srv.URI())
	} else {
		res, err = runNbdcopy(ctx, o, img.Path, srv.URI())
	}
	points, peakRes, peakDWB, serr := smp.finish()
	harness := processCPU() - cpu0
	cpu, stopErr := srv.Stop()
	if err != nil {
		return x, err
	}
	if stopErr != nil {
		return x, stopErr
	}
	if serr != nil {
		return x, fmt.Errorf("sampling residency: %w", serr)
	}
	if bud != nil {
		if x.Budget, err = bud.finish(); err != nil {
			return x, err
		}
	}
	st, err := pagecache.StatFile(f, pagecache.Range{})
	if err != nil {
		return x, fmt.Errorf("residency after the run: %w", err)
	}
	x.DurableSec = res.durable.Seconds()
	if res.bytes > 0 {
		x.BytesWritten = res.bytes
	}
	x.MBps = float64(x.BytesWritten) / 1e6 / x.DurableSec
	x.Pages = st.Pages
	x.ResidentEnd = st.Resident
	x.ResidentPeak = max(peakRes, st.Resident)
	x.DirtyWBPeak = peakDWB
	x.ServerCPUSec = cpu.Seconds()
	x.LatP50, x.LatP99, x.LatMax = res.latP50.Seconds(), res.latP99.Seconds(), res.latMax.Seconds()
	x.Timeline = points
	if o.Client == ClientNbdcopy {
		x.HarnessCPUSec = harness.Seconds()
	}
	x.SamplerCPUSec = smp.cpu.Seconds()

	restore := func() error { return nil }
	if unthrottled != nil {
		if restore, err = unthrottled(); err != nil {
			return x, err
		}
	}
	sum, _, err := checksum(ctx, f)
	if rerr := restore(); rerr != nil {
		return x, fmt.Errorf("put the device's limit back: %w", rerr)
	}
	if err != nil {
		return x, fmt.Errorf("verify output: %w", err)
	}
	dropFile(f)
	x.IntegrityOK = sum == img.Sum
	return x, nil
}

// ValidServer reports whether --server accepts s.
func ValidServer(s string) bool { return slices.Contains(results.Servers, results.Server(s)) }

// serverNames lists the servers --server accepts, for messages.
func serverNames() string {
	var names []string
	for _, s := range results.Servers {
		names = append(names, string(s))
	}
	return strings.Join(names, " or ")
}
