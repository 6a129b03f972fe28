package results

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// WriteSummary writes the sweep's markdown summary: what ran where, the
// table, the recommendation and links to the plots named in plots.
func WriteSummary(w io.Writer, s *Sweep, plots []string) error {
	var b bytes.Buffer
	st := s.Settings
	fmt.Fprintf(&b, "# wbench sweep of %s\n\n", s.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "`%s`\n\n", strings.Join(st.Args, " "))
	fmt.Fprintf(&b, "- Workload: %s copies %s (%s of data; the rest written zeroes and holes), %s requests",
		st.Client, sizeLabel(st.ImageBytes), sizeLabel(st.DataBytes), sizeLabel(int64(st.RequestSize)))
	if st.InFlight > 0 {
		fmt.Fprintf(&b, ", %d in flight, %s", st.InFlight, st.Pattern)
	}
	fmt.Fprintf(&b, "; %d repetitions per configuration, interleaved in rotating order.\n", st.Count)
	if s.Testbed != "" {
		fmt.Fprintf(&b, "- Scenario: %s.\n", s.Testbed)
	}
	if st.Regime != "" {
		fmt.Fprintf(&b, "- Regime: %s.\n", st.Regime)
	}
	if st.DropCaches {
		b.WriteString("- Page cache dropped before every run.\n")
	} else {
		b.WriteString("- Page cache NOT dropped between runs (only the sweep's own files were evicted).\n")
	}
	e := s.Env
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs (%s), %s RAM, kernel %s.\n", e.Hostname, e.CPUs, e.CPU, sizeLabel(e.MemBytes), e.Kernel)
	fmt.Fprintf(&b, "- Disk: %s %s (%s)%s.\n", e.Disk.Device, e.Disk.Model, e.Disk.Filesystem, queueText(e.Disk.Queue))
	if len(e.VM) > 0 {
		fmt.Fprintf(&b, "- %s.\n", mapText(e.VM))
	}
	if len(e.Tools) > 0 {
		fmt.Fprintf(&b, "- Tools: %s; suite commit %s.\n", mapText(e.Tools), e.Commit)
	}
	if st.CountAuto {
		fmt.Fprintf(&b, "- --count=auto: %d rounds; stopped: %s.\n", st.Count, st.Stopped)
	}
	if s.Partial {
		fmt.Fprintf(&b, "\n**Partial sweep:** %d of %d runs stored (interrupted or still running); `wbench resume DIR` finishes it.\n", len(s.Samples), s.Planned())
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(&b, "\n**Warning:** %s\n", warn)
	}
	for _, x := range s.Failures() {
		fmt.Fprintf(&b, "\n**Failed run:** %s #%d: %s\n", x.Config, x.Rep+1, x.Error)
	}
	b.WriteString("\n## Results\n\nMedians; `x default` is throughput relative to the built-in server's cache=default in this sweep; resident pages are the output file's pages still cached after the server closed it, `% of written` relates them to the data written.\n\n")
	if err := WriteMarkdownTable(&b, s); err != nil {
		return err
	}
	b.WriteString("\n" + TableNote(s) + "\n")
	if len(BudgetRows(s)) > 0 {
		b.WriteString("\n### Under the memory budget\n\nThe neighbour's (nb) random 4 KiB reads during the copy against its idle stretch before it, the share of its file still cached after the run, and the server cgroup's counters (medians).\n\n")
		if err := WriteBudgetMarkdown(&b, s); err != nil {
			return err
		}
	}
	b.WriteString("\n## Recommendation\n\n")
	for _, line := range strings.Split(strings.TrimRight(Recommend(s, st.Tolerance).String(), "\n"), "\n") {
		b.WriteString(strings.TrimSpace(line) + "\n")
	}
	return writeWithPlots(w, &b, plots)
}

// writeWithPlots writes the markdown document b to w, ending it with a
// Plots section that links each plot named in plots (PNG with its SVG).
func writeWithPlots(w io.Writer, b *bytes.Buffer, plots []string) error {
	if len(plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(b, "![%s](%s.png) ([SVG](%s.svg))\n\n", p, p, p)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func queueText(q map[string]string) string {
	if len(q) == 0 {
		return ""
	}
	return ", queue: " + mapText(q)
}

func mapText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%s", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// WriteAll stores the sweep in dir: sweep.json, bench.txt, samples.csv, the
// plots and summary.md.
func WriteAll(dir string, s *Sweep) error {
	if err := Save(dir, s); err != nil {
		return err
	}
	for _, out := range []struct {
		name  string
		write func(io.Writer, *Sweep) error
	}{{BenchFile, WriteBench}, {CSVFile, WriteCSV}} {
		if err := writeFile(filepath.Join(dir, out.name), func(w io.Writer) error { return out.write(w, s) }); err != nil {
			return err
		}
	}
	plots, err := WritePlots(dir, s)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, SummaryFile), func(w io.Writer) error { return WriteSummary(w, s, plots) })
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
