package results

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Row is the summary of one configuration of a sweep.
type Row struct {
	Config       Config
	N            int
	MBps         Summary
	Durable      Summary
	Resident     Summary // out-file pages left resident after the run
	ResidentFrac float64 // median resident pages as a fraction of the data pages written
	Peak         Summary // peak out-file residency during the run
	DirtyWB      Summary // peak system Dirty+Writeback, bytes
	CPU          Summary // server CPU seconds
	LatP99       Summary
	Ratio        float64 // median MB/s over the reference's, 0 without a reference
	IntegrityOK  bool    // every sample verified
}

// Rows summarises every configuration of s, in s.Configs order. Ratios are
// taken against the built-in server's cache=default, or against the first
// cache=default configuration when the built-in server was not measured.
func Rows(s *Sweep) []Row {
	ref, ok := s.Reference(Builtin)
	if !ok {
		for _, c := range s.Configs {
			if c.IsDefaultCache() {
				ref, ok = c, true
				break
			}
		}
	}
	var refMBps float64
	if ok {
		refMBps = Summarize(MetricMBps.Values(s.SamplesOf(ref.Name))).Median
	}
	ps := s.PageSize()
	var rows []Row
	for _, c := range s.Configs {
		ss := s.SamplesOf(c.Name)
		r := Row{Config: c, N: len(ss), IntegrityOK: len(ss) > 0}
		var durable, mbps, res, peak, dwb, cpu, p99, frac []float64
		for _, x := range ss {
			durable = append(durable, x.DurableSec)
			mbps = append(mbps, x.MBps)
			res = append(res, float64(x.ResidentEnd))
			peak = append(peak, float64(x.ResidentPeak))
			dwb = append(dwb, float64(x.DirtyWBPeak))
			cpu = append(cpu, x.ServerCPUSec)
			p99 = append(p99, x.LatP99)
			frac = append(frac, x.ResidentFraction(ps))
			r.IntegrityOK = r.IntegrityOK && x.IntegrityOK
		}
		r.Durable, r.MBps, r.Resident = Summarize(durable), Summarize(mbps), Summarize(res)
		r.Peak, r.DirtyWB, r.CPU, r.LatP99 = Summarize(peak), Summarize(dwb), Summarize(cpu), Summarize(p99)
		r.ResidentFrac = Summarize(frac).Median
		if refMBps > 0 {
			r.Ratio = r.MBps.Median / refMBps
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteTable prints the sweep's table: per configuration, the median and
// min-max of throughput and residency, the ratio to cache=default, peak
// residency, peak system dirty+writeback and server CPU time.
func WriteTable(w io.Writer, s *Sweep) error {
	return writeRows(w, s, false)
}

// WriteMarkdownTable prints the same table in GitHub markdown.
func WriteMarkdownTable(w io.Writer, s *Sweep) error {
	return writeRows(w, s, true)
}

func writeRows(w io.Writer, s *Sweep, markdown bool) error {
	rows := Rows(s)
	latency := false
	for _, r := range rows {
		latency = latency || r.LatP99.Max > 0
	}
	head := []string{"configuration", "n", "MB/s median ± CI", "x default",
		"durable s", "resident pages ± CI", "% of written", "peak resident", "peak dirty+wb MiB", "server CPU s"}
	if latency {
		head = append(head, "p99 latency ms")
	}
	var body [][]string
	for _, r := range rows {
		name := r.Config.Name
		switch {
		case r.N == 0:
			name += " (no run yet)"
		case !r.IntegrityOK:
			name += " (CORRUPT)"
		}
		ratio := "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		line := []string{
			name,
			strconv.Itoa(r.N),
			ciText(r.MBps),
			ratio,
			fmt.Sprintf("%.2f", r.Durable.Median),
			ciText(r.Resident),
			percent(r.ResidentFrac),
			fmt.Sprintf("%.0f", r.Peak.Median),
			fmt.Sprintf("%.0f", r.DirtyWB.Median/(1<<20)),
			fmt.Sprintf("%.2f", r.CPU.Median),
		}
		if latency {
			line = append(line, fmt.Sprintf("%.2f", r.LatP99.Median*1000))
		}
		body = append(body, line)
	}
	return renderTable(w, markdown, head, body)
}

// ciText is "median ± half-width" of the 95% confidence interval, "± ∞"
// when there were too few samples for one.
func ciText(s Summary) string {
	if s.N == 0 {
		return "-"
	}
	if !s.CIOK() {
		return fmt.Sprintf("%.0f ± ∞", s.Median)
	}
	return fmt.Sprintf("%.0f ± %.0f", s.Median, s.HalfWidth())
}

// TableNote explains the intervals of a table of s: what ± means and,
// when some row had too few samples for an interval, why it shows ∞.
func TableNote(s *Sweep) string {
	note := fmt.Sprintf("± is the half-width of the %.0f%% confidence interval of the median (distribution-free, as benchstat computes it).", 100*Confidence)
	for _, r := range Rows(s) {
		if r.N > 0 && r.N < MinSamplesCI {
			note += fmt.Sprintf(" ∞: fewer than %d samples, too few for an interval (--count=%d or more gives one).", MinSamplesCI, MinSamplesCI)
			break
		}
	}
	return note
}

// percent formats a fraction as a percentage with enough digits to tell
// 0.01% from 0.
func percent(f float64) string {
	switch p := 100 * f; {
	case p == 0:
		return "0%"
	case p < 0.01:
		return "<0.01%"
	case p < 10:
		return fmt.Sprintf("%.2f%%", p)
	default:
		return fmt.Sprintf("%.1f%%", p)
	}
}

// renderTable prints head and body with tablewriter: the first column
// left-aligned, the others right-aligned, headers as written.
func renderTable(w io.Writer, markdown bool, head []string, body [][]string) error {
	align := make([]tw.Align, len(head))
	for i := range align {
		align[i] = tw.AlignRight
	}
	align[0] = tw.AlignLeft
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignCenter),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
	}
	if markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(head)
	if err := t.Bulk(body); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}

// MarshalJSON writes a summary with null for the ends of an interval
// too few samples could not give (JSON has no infinity).
func (s Summary) MarshalJSON() ([]byte, error) {
	end := func(v float64) *float64 {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		N      int      `json:"n"`
		Median float64  `json:"median"`
		Lo     *float64 `json:"ci_lo"`
		Hi     *float64 `json:"ci_hi"`
		Min    float64  `json:"min"`
		Max    float64  `json:"max"`
	}{s.N, s.Median, end(s.Lo), end(s.Hi), s.Min, s.Max})
}

// WriteTableFormat prints the sweep's table in format (see Formats): text
// and markdown as WriteTable and WriteMarkdownTable; csv one row per
// configuration with the medians and interval ends; json the rows and the
// recommendation.
func WriteTableFormat(w io.Writer, s *Sweep, format string) error {
	switch format {
	case FormatText:
		return WriteTable(w, s)
	case FormatMarkdown:
		return WriteMarkdownTable(w, s)
	case FormatCSV:
		head := []string{"config", "server", "policy", "windows", "role", "n",
			"mbps_median", "mbps_ci_lo", "mbps_ci_hi", "ratio_default", "durable_sec_median",
			"resident_median", "resident_ci_lo", "resident_ci_hi", "resident_fraction",
			"peak_resident_median", "dirty_wb_peak_median", "server_cpu_sec_median", "integrity_ok"}
		f := func(v float64) string {
			if math.IsInf(v, 0) {
				return ""
			}
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		var body [][]string
		for _, r := range Rows(s) {
			c := r.Config
			body = append(body, []string{c.Name, string(c.Server), string(c.Policy), strconv.Itoa(c.Windows), c.Role, strconv.Itoa(r.N),
				f(r.MBps.Median), f(r.MBps.Lo), f(r.MBps.Hi), f(r.Ratio), f(r.Durable.Median),
				f(r.Resident.Median), f(r.Resident.Lo), f(r.Resident.Hi), f(r.ResidentFrac),
				f(r.Peak.Median), f(r.DirtyWB.Median), f(r.CPU.Median), strconv.FormatBool(r.IntegrityOK)})
		}
		return writeCSV(w, head, body)
	case FormatJSON:
		type row struct {
			Config       Config  `json:"config"`
			N            int     `json:"n"`
			MBps         Summary `json:"mbps"`
			Ratio        float64 `json:"ratio_default"`
			Durable      Summary `json:"durable_sec"`
			Resident     Summary `json:"resident_end"`
			ResidentFrac float64 `json:"resident_fraction"`
			Peak         Summary `json:"resident_peak"`
			DirtyWB      Summary `json:"dirty_wb_peak"`
			CPU          Summary `json:"server_cpu_sec"`
			IntegrityOK  bool    `json:"integrity_ok"`
		}
		rec := Recommend(s, s.Settings.Tolerance)
		out := struct {
			Partial        bool   `json:"partial"`
			Runs           int    `json:"runs"`
			Planned        int    `json:"planned"`
			Failed         int    `json:"failed"`
			Rows           []row  `json:"rows"`
			Recommended    int    `json:"recommended_windows,omitempty"`
			NoDifference   bool   `json:"window_count_makes_no_difference"`
			Recommendation string `json:"recommendation"`
		}{Partial: s.Partial, Runs: len(s.Samples), Planned: s.Planned(), Failed: len(s.Failures()),
			Recommended: rec.Windows, NoDifference: rec.Indistinguishable, Recommendation: rec.String()}
		for _, r := range Rows(s) {
			out.Rows = append(out.Rows, row{r.Config, r.N, r.MBps, r.Ratio, r.Durable, r.Resident, r.ResidentFrac, r.Peak, r.DirtyWB, r.CPU, r.IntegrityOK})
		}
		return writeJSON(w, out)
	}
	return fmt.Errorf("unknown format %q", format)
}

// writeReport writes a table in format: csv the table alone, json the
// value jsonValue returns, text and markdown the table and then the lines
// tail writes, each starting with bullet ("- " in markdown).
func writeReport(w io.Writer, format string, head []string, body [][]string, jsonValue func() any, tail func(bullet string)) error {
	switch format {
	case FormatCSV:
		return writeCSV(w, head, body)
	case FormatJSON:
		return writeJSON(w, jsonValue())
	case FormatText, FormatMarkdown:
	default:
		return fmt.Errorf("unknown format %q", format)
	}
	md := format == FormatMarkdown
	if err := renderTable(w, md, head, body); err != nil {
		return err
	}
	bullet := ""
	if md {
		bullet = "- "
		io.WriteString(w, "\n")
	}
	tail(bullet)
	return nil
}

func writeCSV(w io.Writer, head []string, body [][]string) error {
	cw := csv.NewWriter(w)
	cw.Write(head)
	cw.WriteAll(body)
	return cw.Error()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
