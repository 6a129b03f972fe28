package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/size"
	"github.com/pagecache-suite/wcache/pagecache"
	"github.com/pagecache-suite/wcache/results"
)

// Access patterns of the libnbd client.
const (
	PatternSequential = "sequential"
	PatternRandom     = "random"
)

// Defaults of a sweep: small enough that `wbench --windows=1..32` (35
// configurations, 3 repetitions, about 2 s a run with the cache drop and the
// verification) ends in a few minutes on 2 cores.
const (
	DefaultSize        = 256 << 20
	DefaultCount       = 3
	DefaultRequestSize = 256 << 10 // nbdcopy's
	DefaultInFlight    = 64        // nbdcopy's, per connection
)

// Options configure a sweep.
type Options struct {
	Windows     []int    // window counts of the built-in server, cache=none
	Count       int      // repetitions per configuration
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
	// Exe is the program that answers ServeCommand (wbench itself; the
	// tests' own binary); default os.Executable.
	Exe string
	// Progress receives progress; nil discards it.
	Progress Progress
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

// Run measures every configuration o.Count times in rotating order and
// returns the sweep. Integrity failures do not stop the sweep; Run returns
// the sweep and an error wrapping ErrIntegrity at the end.
func Run(ctx context.Context, o Options) (*results.Sweep, error) {
	o.setDefaults()
	configs, err := Configs(&o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	s := &results.Sweep{
		Version: results.FormatVersion,
		Started: time.Now().UTC(),
		Env:     results.CaptureEnv(o.WorkDir),
		Configs: configs,
	}
	if o.DropCaches && os.Geteuid() != 0 {
		o.DropCaches = false
		s.Warnings = append(s.Warnings, "not root: the page cache could NOT be dropped before runs, so the source image may be read from the cache and other files' dirty pages may add to write-back; only the sweep's own files were evicted")
	} else if !o.DropCaches {
		s.Warnings = append(s.Warnings, "page cache not dropped before runs (--drop-caches=false): only the sweep's own files were evicted")
	}
	for _, w := range s.Warnings {
		o.Progress.Warn(w)
	}

	var img Image
	if o.Image != "" {
		img, err = OpenImage(ctx, o.Image)
	} else {
		o.Progress.Note(fmt.Sprintf("preparing a %s source image in %s", size.Format(o.Size), o.WorkDir))
		img, err = GenerateImage(ctx, o.WorkDir, o.Size)
	}
	if err != nil {
		return nil, err
	}
	s.Settings = results.Settings{
		Args: o.Args, Windows: o.Windows, Count: o.Count, Servers: o.Servers, Policies: o.Policies,
		Client: o.Client, Image: img.Path, ImageBytes: img.Size, DataBytes: img.DataBytes,
		RequestSize: o.RequestSize, DropCaches: o.DropCaches, Tolerance: o.Tolerance,
	}
	if o.Client == ClientLibnbd {
		s.Settings.InFlight, s.Settings.Pattern = o.InFlight, o.Pattern
	} else if o.InFlight != DefaultInFlight {
		s.Settings.InFlight = o.InFlight
	}

	runDir, err := os.MkdirTemp(o.WorkDir, "run-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(runDir)

	order := Schedule(len(configs), o.Count)
	o.Progress.Start(len(order))
	var corrupt []string
	for seq, e := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := configs[e[0]]
		o.Progress.Begin(c.Name, e[1])
		x, err := runOne(ctx, &o, c, img, runDir)
		if err != nil {
			o.Progress.End()
			return nil, fmt.Errorf("%s, repetition %d: %w", c.Name, e[1]+1, err)
		}
		x.Rep, x.Seq = e[1], seq
		if !x.IntegrityOK {
			corrupt = append(corrupt, fmt.Sprintf("%s #%d", c.Name, e[1]+1))
		}
		s.Samples = append(s.Samples, x)
		o.Progress.Done(c.Name, e[1], x)
	}
	o.Progress.End()
	s.Finished = time.Now().UTC()
	if len(corrupt) > 0 {
		return s, fmt.Errorf("%w: %s", ErrIntegrity, strings.Join(corrupt, ", "))
	}
	return s, nil
}

func (o *Options) setDefaults() {
	if o.Count <= 0 {
		o.Count = DefaultCount
	}
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if len(o.Servers) == 0 {
		o.Servers = []string{string(results.Builtin)}
	}
	if o.Client == "" {
		o.Client = ClientNbdcopy
	}
	if o.Pattern == "" {
		o.Pattern = PatternSequential
	}
	if o.RequestSize <= 0 {
		o.RequestSize = DefaultRequestSize
	}
	if o.InFlight <= 0 {
		o.InFlight = DefaultInFlight
	}
	if o.WorkDir == "" {
		o.WorkDir = DefaultWorkDir
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Tolerance <= 0 {
		o.Tolerance = results.DefaultTolerance
	}
	if o.Progress == nil {
		o.Progress = discard{}
	}
	if o.Exe == "" {
		o.Exe, _ = os.Executable()
	}
}

// DefaultWorkDir holds the source image (kept between sweeps) and the
// output files (removed after each run). It must be on the disk under test,
// not on tmpfs.
const DefaultWorkDir = "/var/tmp/wbench"

// runOne makes one measured run of configuration c.
func runOne(ctx context.Context, o *Options, c results.Config, img Image, dir string) (results.Sample, error) {
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

	srv, err := startServer(ctx, c, o.Exe, dir, out, (*exec.Cmd).Start)
	if err != nil {
		return x, err
	}
	t0 := time.Now()
	smp := startSampler(f, t0, o.Interval)
	var res copyResult
	if o.Client == ClientLibnbd {
		res, err = runLibnbd(o, img.Path, srv.URI())
	} else {
		res, err = runNbdcopy(ctx, o, img.Path, srv.URI())
	}
	points, peakRes, peakDWB, serr := smp.finish()
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

	sum, _, err := checksum(ctx, f)
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
