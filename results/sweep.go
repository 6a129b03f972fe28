package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/pagecache-suite/wcache/evict"
)

// FormatVersion is the version of the sweep.json layout written by Save.
// Sweeps of version 1 (no schema_version, no partial sweeps) still load.
const FormatVersion = 1

// SchemaVersion is the version of the JSON Schema (schema/sweep.schema.json)
// sweep.json follows, written as schema_version. Fields are only added
// within a version; a change that breaks readers raises it.
const SchemaVersion = 2

// ErrNotSweep is returned by Load for a file or directory that holds no
// sweep.
var ErrNotSweep = errors.New("not a wbench sweep")

// Roles of a configuration in a sweep.
const (
	RoleSweep     = "sweep"     // built-in server, cache=none, one window count
	RoleReference = "reference" // cache=default and flush-each, always measured
	RoleExtra     = "extra"     // a policy added with --policy
	RoleAnchor    = "anchor"    // nbdkit, measured beside the suite
)

// Server is the NBD server a configuration ran.
type Server string

// The servers a sweep measures.
const (
	Builtin Server = "builtin" // the suite's nbdserve, a re-executed wbench
	Nbdkit  Server = "nbdkit"  // nbdkit's file plugin, a child process
	Qemu    Server = "qemu"    // qemu-nbd, a child process
)

// Servers lists every Server, in the order tables show them.
var Servers = []Server{Builtin, Nbdkit, Qemu}

// Direct is the policy of qemu-nbd --cache=none: the output opened with
// O_DIRECT, so the copy never enters the page cache at all (the other way
// of keeping it out, beside the windows). qemu-nbd --cache=writeback runs
// evict.None.
const Direct evict.Name = "o_direct"

// Config is one measured configuration: a server running an evict policy.
type Config struct {
	// Name identifies the configuration in tables, plots and comparisons;
	// it is ConfigName(Server, Policy), for example "builtin window:8",
	// "builtin cache=default", "nbdkit cache=none".
	Name   string `json:"name"`
	Server Server `json:"server"`
	// Policy is what the server did with the page cache. nbdkit runs
	// evict.None (cache=default) or evict.Window(evict.NbdkitWindows)
	// (cache=none).
	Policy evict.Name `json:"policy"`
	// Windows is the number of write windows when the policy has a fixed
	// ring (nbdkit cache=none: evict.NbdkitWindows), 0 otherwise.
	Windows int    `json:"windows,omitempty"`
	Role    string `json:"role"`
}

// NewConfig returns the configuration of server running policy, named by
// ConfigName.
func NewConfig(server Server, policy evict.Name, windows int, role string) Config {
	return Config{Name: ConfigName(server, policy), Server: server, Policy: policy, Windows: windows, Role: role}
}

// ConfigName is the name tables give server running policy: "SERVER
// cache=default" for evict.None, "nbdkit cache=none" for nbdkit's ring (its
// only other mode), qemu-nbd's own --cache spellings ("qemu
// cache=writeback", "qemu cache=none") and "SERVER POLICY" otherwise, so
// the policy a row of the built-in server ran is spelled out as evict.Parse
// reads it.
func ConfigName(server Server, policy evict.Name) string {
	switch {
	case server == Qemu && policy == evict.None:
		return string(server) + " cache=writeback"
	case server == Qemu && policy == Direct:
		return string(server) + " cache=none"
	case policy == evict.None:
		return string(server) + " cache=default"
	case server == Nbdkit:
		return string(server) + " cache=none"
	}
	return string(server) + " " + string(policy)
}

// The configurations the checks and the recommendation compare by name.
var (
	builtinDefault = ConfigName(Builtin, evict.None)
	builtinRing8   = ConfigName(Builtin, evict.Window(evict.NbdkitWindows)) // nbdkit's ring in the built-in server
	nbdkitNone     = ConfigName(Nbdkit, evict.Window(evict.NbdkitWindows))
)

// IsDefaultCache reports whether c leaves the page cache alone
// (cache=default), the reference every ratio is taken against.
func (c Config) IsDefaultCache() bool { return c.Policy == evict.None }

// upgrade maps the spellings of sweeps stored before policies were typed
// (nbdkit's "cache=default" and "cache=none") to the policies they ran.
func (c *Config) upgrade() {
	if c.Server != Nbdkit {
		return
	}
	switch c.Policy {
	case "cache=default":
		c.Policy = evict.None
	case "cache=none":
		c.Policy = evict.Window(evict.NbdkitWindows)
	}
}

// Point is one residency sample taken while a run was in progress.
type Point struct {
	T        float64 `json:"t"`        // seconds since the client started
	Resident int64   `json:"resident"` // out-file pages in the page cache
	DirtyWB  int64   `json:"dirty_wb"` // system Dirty+Writeback, bytes
	// RingBytes is, for window:auto, the ring size its controller chose
	// (AutoState.Limit) when the point was taken; 0 for other policies.
	RingBytes int64 `json:"ring_bytes,omitempty"`
}

// Sample is one run of one configuration.
type Sample struct {
	Config string `json:"config"` // Config.Name
	Rep    int    `json:"rep"`    // repetition, from 0
	Seq    int    `json:"seq"`    // position in the sweep's run order, from 0

	DurableSec float64 `json:"durable_sec"` // client start to durable (flush returned)
	MBps       float64 `json:"mbps"`        // BytesWritten / DurableSec, 10^6 bytes/s
	// BytesWritten counts the data bytes the client wrote (zeroes and holes
	// travel as WRITE_ZEROES and are not counted).
	BytesWritten int64 `json:"bytes_written"`
	Pages        int64 `json:"pages"` // pages of the output file

	ResidentEnd  int64   `json:"resident_end"`  // out-file resident pages after the server closed it
	ResidentPeak int64   `json:"resident_peak"` // highest sampled out-file residency during the run
	DirtyWBPeak  int64   `json:"dirty_wb_peak"` // highest sampled system Dirty+Writeback, bytes
	ServerCPUSec float64 `json:"server_cpu_sec"`

	// Per-request write latency for the in-process libnbd client, seconds.
	LatP50 float64 `json:"lat_p50,omitempty"`
	LatP99 float64 `json:"lat_p99,omitempty"`
	LatMax float64 `json:"lat_max,omitempty"`

	// Error is why the run failed; a failed run has no measurements and
	// no place in the statistics (see Sweep.Failures).
	Error string `json:"error,omitempty"`

	IntegrityOK   bool    `json:"integrity_ok"`
	CachesDropped bool    `json:"caches_dropped"`
	Timeline      []Point `json:"timeline,omitempty"`

	// Scenario names the device and filesystem the run wrote to
	// (Sweep.Scenario); empty for the work directory of a plain sweep.
	Scenario string `json:"scenario,omitempty"`
	// Budget holds what a run under --memory-limit measured: the server's
	// memory cgroup and the neighbour beside it; nil without a budget.
	Budget *Budget `json:"budget,omitempty"`
	// HarnessCPUSec is wbench's own CPU time from the client's start to the
	// durable end (the residency sampler and the neighbour's control), with
	// the nbdcopy client only (the libnbd client runs in wbench).
	HarnessCPUSec float64 `json:"harness_cpu_sec,omitempty"`
	// SamplerCPUSec is the residency sampler's own CPU time (its thread's).
	SamplerCPUSec float64 `json:"sampler_cpu_sec,omitempty"`
}

// Budget is what a run under a memory limit measured: the server's memory
// cgroup counters once the server had exited, and the neighbour's reads.
type Budget struct {
	Limit     int64      `json:"limit"`              // bytes, as the kernel rounded it
	Peak      int64      `json:"peak,omitempty"`     // highest usage of the group, bytes (0: not reported)
	LimitHits int64      `json:"limit_hits"`         // charges that hit the limit
	OOMKills  int64      `json:"oom_kills"`          // processes the group's OOM killer killed
	Scanned   *int64     `json:"pgscan,omitempty"`   // pages scanned by reclaim (cgroup v2)
	Stolen    *int64     `json:"pgsteal,omitempty"`  // pages reclaimed (cgroup v2)
	Refaults  *int64     `json:"refaults,omitempty"` // workingset_refault_file
	Neighbour *Neighbour `json:"neighbour,omitempty"`
}

// Neighbour is what the co-tenant in the server's cgroup saw in one run:
// its random 4 KiB reads during an idle stretch before the copy and during
// the copy, and the share of its file still cached afterwards.
type Neighbour struct {
	Spec   string         `json:"spec"` // warm:512M,rate=500 or hot:1G
	Idle   NeighbourPhase `json:"idle"`
	Copy   NeighbourPhase `json:"copy"`
	Cached float64        `json:"cached"` // share of its file's pages cached at the end
	// Overhead is the share of a core the neighbour spent on anything but
	// its reads during the copy (bookkeeping, pacing wake-ups).
	Overhead float64 `json:"overhead"`
}

// NeighbourPhase is the neighbour's reads during one stretch.
type NeighbourPhase struct {
	Sec    float64 `json:"sec"` // length of the stretch
	Reads  int64   `json:"reads"`
	Rate   float64 `json:"rate"` // reads per second achieved
	Missed int64   `json:"missed,omitempty"`
	P50    float64 `json:"p50"` // seconds
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

// ResidentFraction is the resident pages left at the end as a fraction of
// the pages of data written.
func (s Sample) ResidentFraction(pageSize int) float64 {
	if s.BytesWritten == 0 || pageSize == 0 {
		return 0
	}
	return float64(s.ResidentEnd) * float64(pageSize) / float64(s.BytesWritten)
}

// Settings are the parameters a sweep ran with.
type Settings struct {
	Args        []string `json:"args"`         // the command line
	Windows     []int    `json:"windows"`      // window counts swept
	Count       int      `json:"count"`        // repetitions per configuration
	Servers     []string `json:"servers"`      // builtin, nbdkit
	Policies    []string `json:"policies"`     // extra policies
	Client      string   `json:"client"`       // nbdcopy or libnbd
	Image       string   `json:"image"`        // source image path
	ImageBytes  int64    `json:"image_bytes"`  // its size
	DataBytes   int64    `json:"data_bytes"`   // bytes of non-zero data in it
	RequestSize int      `json:"request_size"` // client request size, bytes
	InFlight    int      `json:"in_flight,omitempty"`
	Pattern     string   `json:"pattern,omitempty"` // libnbd client: sequential or random
	DropCaches  bool     `json:"drop_caches"`
	Tolerance   float64  `json:"tolerance"` // recommendation tolerance, fraction of the best

	// MemoryLimit is the server's memory cgroup limit, bytes (0: none).
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	// Neighbour is the co-tenant's spec (warm:512M,rate=500), if any.
	Neighbour string `json:"neighbour,omitempty"`
	// Regime says which write-back regime the image size puts a run in,
	// for the table header.
	Regime string `json:"regime,omitempty"`
	// What resume needs to finish an interrupted sweep as it began.
	ImageSHA256 string  `json:"image_sha256,omitempty"` // the source image's content
	Generated   bool    `json:"generated,omitempty"`    // the image was generated (else --image)
	WorkDir     string  `json:"work_dir,omitempty"`
	IntervalSec float64 `json:"interval_sec,omitempty"` // residency sampling interval
	FailFast    bool    `json:"fail_fast,omitempty"`
	// CountAuto: repeat until every throughput interval is within
	// Tolerance or MaxCount rounds; Count is then the rounds made and
	// Stopped says why they stopped.
	CountAuto bool   `json:"count_auto,omitempty"`
	MaxCount  int    `json:"max_count,omitempty"`
	Stopped   string `json:"stopped,omitempty"`
}

// Sweep is everything one wbench run measured.
type Sweep struct {
	Version  int       `json:"version"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Env      Env       `json:"env"`
	Settings Settings  `json:"settings"`
	Warnings []string  `json:"warnings,omitempty"`
	Configs  []Config  `json:"configs"`
	Samples  []Sample  `json:"samples"`

	// Scenario names the device and filesystem of this sweep
	// ("throttled:200M/xfs"; empty for the plain work directory), and
	// Testbed describes it in one line.
	Scenario string `json:"scenario,omitempty"`
	Testbed  string `json:"testbed,omitempty"`
	// SchemaVersion is the version of results/schema/sweep.schema.json
	// the file follows (absent in sweeps stored before it existed).
	SchemaVersion int `json:"schema_version,omitempty"`
	// Partial marks a sweep still running, interrupted or crashed: its
	// samples are in samples.jsonl, and `wbench resume` finishes it.
	Partial bool `json:"partial,omitempty"`
}

// Config returns the configuration called name.
func (s *Sweep) Config(name string) (Config, bool) {
	for _, c := range s.Configs {
		if c.Name == name {
			return c, true
		}
	}
	return Config{}, false
}

// SamplesOf returns the measured samples of the configuration called name,
// in repetition order; failed runs are left out.
func (s *Sweep) SamplesOf(name string) []Sample {
	var out []Sample
	for _, x := range s.Samples {
		if x.Config == name && x.Error == "" {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rep < out[j].Rep })
	return out
}

// Failures returns the runs that failed, in run order, leaving out those
// a resumed sweep made again with success.
func (s *Sweep) Failures() []Sample {
	var out []Sample
	for _, x := range s.Samples {
		if x.Error != "" && !s.Done(x.Config, x.Rep) {
			out = append(out, x)
		}
	}
	return out
}

// Planned is the number of runs the sweep's settings ask for: every
// configuration Count times (--max-count times with --count=auto).
func (s *Sweep) Planned() int {
	n := s.Settings.Count
	if s.Settings.CountAuto && s.Settings.MaxCount > 0 {
		n = s.Settings.MaxCount
	}
	return n * len(s.Configs)
}

// Done reports whether repetition rep of config has a measured sample.
func (s *Sweep) Done(config string, rep int) bool {
	for _, x := range s.Samples {
		if x.Config == config && x.Rep == rep && x.Error == "" {
			return true
		}
	}
	return false
}

// Reference returns the cache=default configuration of server, the
// denominator of every ratio in the table.
func (s *Sweep) Reference(server Server) (Config, bool) {
	for _, c := range s.Configs {
		if c.Server == server && c.IsDefaultCache() {
			return c, true
		}
	}
	return Config{}, false
}

// PageSize is the page size of the machine the sweep ran on.
func (s *Sweep) PageSize() int {
	if s.Env.PageSize > 0 {
		return s.Env.PageSize
	}
	return 4096
}

// File names inside a sweep directory.
const (
	JSONFile    = "sweep.json"
	BenchFile   = "bench.txt"
	CSVFile     = "samples.csv"
	SummaryFile = "summary.md"
)

// Save writes sweep.json into dir, creating dir.
func Save(dir string, s *Sweep) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save sweep: %w", err)
	}
	s.Version, s.SchemaVersion = FormatVersion, SchemaVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save sweep: %w", err)
	}
	path := filepath.Join(dir, JSONFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save sweep: %w", err)
	}
	return nil
}

// Load reads a sweep from a directory written by Save, or from a
// sweep.json path.
func Load(path string) (*Sweep, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load sweep: %w", err)
	}
	if fi.IsDir() {
		path = filepath.Join(path, JSONFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load sweep: %w", err)
	}
	var s Sweep
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("load sweep %s: %w: %w", path, ErrNotSweep, err)
	}
	if s.Version == 0 || len(s.Configs) == 0 {
		return nil, fmt.Errorf("load sweep %s: %w: no version or configurations", path, ErrNotSweep)
	}
	if s.Version > FormatVersion || s.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("load sweep %s: format version %d, schema %d is newer than this wbench (%d, %d)", path, s.Version, s.SchemaVersion, FormatVersion, SchemaVersion)
	}
	if s.Partial {
		if s.Samples, err = readSamples(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("load sweep %s: %w", path, err)
		}
	}
	for i := range s.Configs {
		s.Configs[i].upgrade()
	}
	return &s, nil
}
