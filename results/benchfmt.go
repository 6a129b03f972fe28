package results

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// BenchName is the Go benchmark name of a configuration, with its
// parameters as key=value parts so that benchstat can slice by them
// (for example `benchstat -col /policy bench.txt`):
//
//	Copy/server=builtin/cache=default
//	Copy/server=builtin/cache=none/policy=window:8
//	Copy/server=nbdkit/cache=none
func BenchName(c Config) string {
	var b strings.Builder
	b.WriteString("Copy/server=" + string(c.Server))
	if c.IsDefaultCache() {
		b.WriteString("/cache=default")
		return b.String()
	}
	b.WriteString("/cache=none")
	if c.Server != Nbdkit {
		b.WriteString("/policy=" + string(c.Policy))
	}
	return b.String()
}

// WriteBench writes every sample of s in the Go benchmark format
// (golang.org/design/14313-benchmark-data) with golang.org/x/perf/benchfmt,
// the package benchstat reads it with: a `Unit UNIT better=higher|lower`
// line per metric, so that benchstat judges improvements as wbench does,
// the configuration lines (machine and workload, so that benchstat keeps
// sweeps of different workloads or machines apart), then one line per sample, iterations 1, one
// value-unit pair per Metric. Failed runs have no line.
func WriteBench(w io.Writer, s *Sweep) error {
	bw := bufio.NewWriter(w)
	out := benchfmt.NewWriter(bw)
	for _, m := range Metrics {
		better := "higher"
		if m.Better < 0 {
			better = "lower"
		}
		if err := out.Write(&benchfmt.UnitMetadata{UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: m.Unit, Key: "better"}, OrigUnit: m.Unit, Value: better}); err != nil {
			return err
		}
	}
	bw.WriteString("\n")
	var cfg []benchfmt.Config
	for _, kv := range [][2]string{
		{"goos", s.Env.GOOS},
		{"goarch", s.Env.GOARCH},
		{"cpu", s.Env.CPU},
		{"kernel", s.Env.Kernel},
		{"disk", s.Env.Disk.Device},
		{"client", s.Settings.Client},
		{"image-bytes", strconv.FormatInt(s.Settings.ImageBytes, 10)},
		{"data-bytes", strconv.FormatInt(s.Settings.DataBytes, 10)},
		{"request-bytes", strconv.Itoa(s.Settings.RequestSize)},
		{"caches-dropped", strconv.FormatBool(s.Settings.DropCaches)},
		// Not the suite's commit: benchstat puts results of different
		// file configurations in different tables, and comparing commits
		// is what it is for (sweep.json has the commit).
	} {
		if kv[1] != "" {
			cfg = append(cfg, benchfmt.Config{Key: kv[0], Value: []byte(oneLine(kv[1])), File: true})
		}
	}
	for _, c := range s.Configs {
		name := benchfmt.Name(BenchName(c))
		for _, x := range s.SamplesOf(c.Name) {
			r := &benchfmt.Result{Config: cfg, Name: name, Iters: 1}
			for _, m := range Metrics {
				r.Values = append(r.Values, benchfmt.Value{Value: m.Value(x), Unit: m.Unit})
			}
			if err := out.Write(r); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
