package results

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
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
// (golang.org/design/14313-benchmark-data): configuration lines first, then
// one line per sample, iterations 1, one value-unit pair per Metric.
func WriteBench(w io.Writer, s *Sweep) error {
	bw := bufio.NewWriter(w)
	cfg := [][2]string{
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
		{"commit", s.Env.Commit},
	}
	for _, kv := range cfg {
		if kv[1] != "" {
			fmt.Fprintf(bw, "%s: %s\n", kv[0], oneLine(kv[1]))
		}
	}
	names := map[string]string{}
	for _, c := range s.Configs {
		names[c.Name] = BenchName(c)
	}
	for _, c := range s.Configs {
		for _, x := range s.SamplesOf(c.Name) {
			fmt.Fprintf(bw, "Benchmark%s 1", names[x.Config])
			for _, m := range Metrics {
				fmt.Fprintf(bw, " %s %s", strconv.FormatFloat(m.Value(x), 'g', 6, 64), m.Unit)
			}
			bw.WriteString("\n")
		}
	}
	return bw.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
