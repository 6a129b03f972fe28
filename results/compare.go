package results

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Verdicts of a Delta.
const (
	VerdictSame       = "~"          // not significant, or within Slack
	VerdictOK         = "ok"         // significant but within the threshold
	VerdictBetter     = "better"     // significant improvement beyond the threshold
	VerdictRegression = "REGRESSION" // significant regression beyond the threshold
)

// CompareOptions tune Compare. The zero value means alpha 0.05 and every
// metric.
type CompareOptions struct {
	Alpha   float64  // significance level of the U test
	Metrics []string // metric keys to compare; empty for all
}

// Delta is the comparison of one metric of one configuration.
type Delta struct {
	Config   string
	Metric   Metric
	Old, New Summary
	P        float64 // two-sided Mann-Whitney U p-value
	U        UTest   // the test behind P
	Change   float64 // (new - old) / old of the medians; NaN when old is 0
	Verdict  string
}

// Comparison is the result of comparing two sweeps.
type Comparison struct {
	Alpha    float64
	Deltas   []Delta
	Warnings []string
	// Differences are the workload and machine differences between the
	// sweeps (see CheckWorkload).
	Differences []Difference
}

// Regressions returns the deltas judged to be regressions.
func (c *Comparison) Regressions() []Delta {
	var out []Delta
	for _, d := range c.Deltas {
		if d.Verdict == VerdictRegression {
			out = append(out, d)
		}
	}
	return out
}

// Compare compares every configuration present in both sweeps, metric by
// metric. A metric's change counts only when the U test rejects "same
// distribution" at opt.Alpha and the medians differ by more than the
// metric's Slack; it is a regression when it also goes the wrong way by
// more than the metric's Threshold.
func Compare(old, new *Sweep, opt CompareOptions) *Comparison {
	alpha := opt.Alpha
	if alpha == 0 {
		alpha = 0.05
	}
	c := &Comparison{Alpha: alpha, Differences: Differences(old, new)}
	metrics := Metrics
	if len(opt.Metrics) > 0 {
		metrics = nil
		for _, k := range opt.Metrics {
			if m, ok := MetricByKey(k); ok {
				metrics = append(metrics, m)
			} else {
				c.Warnings = append(c.Warnings, fmt.Sprintf("unknown metric %q", k))
			}
		}
	}
	warnedSmall := false
	var onlyOld, onlyNew []string
	for _, oc := range old.Configs {
		if _, ok := new.Config(oc.Name); !ok {
			onlyOld = append(onlyOld, oc.Name)
			continue
		}
		olds, news := old.SamplesOf(oc.Name), new.SamplesOf(oc.Name)
		for _, m := range metrics {
			d := judge(oc.Name, m, m.Values(olds), m.Values(news), alpha)
			// benchmath's "need >= N samples to detect a difference";
			// its other warnings (all samples equal) are no news.
			if !warnedSmall && len(d.U.Warnings) > 0 && strings.HasPrefix(d.U.Warnings[0], "need") {
				warnedSmall = true
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %d+%d samples: %s (use --count)", oc.Name, len(olds), len(news), d.U.Warnings[0]))
			}
			c.Deltas = append(c.Deltas, d)
		}
	}
	for _, nc := range new.Configs {
		if _, ok := old.Config(nc.Name); !ok {
			onlyNew = append(onlyNew, nc.Name)
		}
	}
	if len(onlyOld) > 0 {
		c.Warnings = append(c.Warnings, "only in the old sweep: "+strings.Join(onlyOld, ", "))
	}
	if len(onlyNew) > 0 {
		c.Warnings = append(c.Warnings, "only in the new sweep: "+strings.Join(onlyNew, ", "))
	}
	return c
}

func judge(config string, m Metric, ov, nv []float64, alpha float64) Delta {
	d := Delta{Config: config, Metric: m, Old: Summarize(ov), New: Summarize(nv)}
	d.U = MannWhitney(ov, nv, alpha)
	d.P = d.U.P
	d.Change = math.NaN()
	if d.Old.Median != 0 {
		d.Change = (d.New.Median - d.Old.Median) / d.Old.Median
	}
	diff := d.New.Median - d.Old.Median
	switch {
	case !d.U.Significant() || math.Abs(diff) <= m.Slack:
		d.Verdict = VerdictSame
	case d.Old.Median == 0 || math.Abs(diff)/math.Abs(d.Old.Median) > m.Threshold:
		if diff*float64(m.Better) < 0 {
			d.Verdict = VerdictRegression
		} else {
			d.Verdict = VerdictBetter
		}
	default:
		d.Verdict = VerdictOK
	}
	return d
}

// Output formats of tables and comparisons (--format).
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatCSV      = "csv"
	FormatJSON     = "json"
)

// Formats lists the formats --format accepts.
var Formats = []string{FormatText, FormatMarkdown, FormatCSV, FormatJSON}

// WriteTable prints the comparison as text; see Write.
func (c *Comparison) WriteTable(w io.Writer) error { return c.Write(w, FormatText) }

// Write prints the comparison in format. Text and markdown show, per
// configuration and metric, the old and new medians, the change ("~" when
// not significant), p and n, and the verdict, then every difference of
// workload and machine, the warnings and the conclusion; csv is the table
// alone; json is everything.
func (c *Comparison) Write(w io.Writer, format string) error {
	head := []string{"configuration", "metric", "old median", "new median", "change", "p", "n", "verdict"}
	var body [][]string
	for _, d := range c.Deltas {
		body = append(body, []string{
			d.Config, d.Metric.Unit, formatValue(d.Old.Median), formatValue(d.New.Median),
			d.changeText(), fmt.Sprintf("%.3f", d.P), fmt.Sprintf("%d+%d", d.Old.N, d.New.N), d.Verdict,
		})
	}
	return writeReport(w, format, head, body, c.jsonValue, func(bullet string) {
		for _, d := range c.Differences {
			fmt.Fprintf(w, "%s%s differs: %s: %s -> %s\n", bullet, d.Kind, d.Field, d.Old, d.New)
		}
		for _, warn := range c.Warnings {
			fmt.Fprintf(w, "%swarning: %s\n", bullet, warn)
		}
		fmt.Fprintf(w, "%s%s\n", bullet, c.Conclusion())
	})
}

// Conclusion is the last line of a comparison.
func (c *Comparison) Conclusion() string {
	r := c.Regressions()
	if len(r) == 0 {
		return fmt.Sprintf("no significant regression beyond thresholds (alpha %.2f)", c.Alpha)
	}
	var names []string
	for _, d := range r {
		names = append(names, d.Config+" "+d.Metric.Unit)
	}
	return fmt.Sprintf("%d significant regression(s) beyond threshold: %s", len(r), strings.Join(names, ", "))
}

func (d Delta) changeText() string {
	switch {
	case d.Verdict == VerdictSame:
		return "~"
	case math.IsNaN(d.Change):
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", 100*d.Change)
}

// jsonValue is the comparison as --format=json writes it.
func (c *Comparison) jsonValue() any {
	type delta struct {
		Config  string   `json:"config"`
		Metric  string   `json:"metric"`
		Unit    string   `json:"unit"`
		Old     Summary  `json:"old"`
		New     Summary  `json:"new"`
		Change  *float64 `json:"change"` // relative change of the medians; null when old is 0
		P       float64  `json:"p"`
		Verdict string   `json:"verdict"`
	}
	out := struct {
		Alpha       float64      `json:"alpha"`
		Deltas      []delta      `json:"deltas"`
		Differences []Difference `json:"differences"`
		Warnings    []string     `json:"warnings"`
		Regressions int          `json:"regressions"`
		Conclusion  string       `json:"conclusion"`
	}{Alpha: c.Alpha, Differences: c.Differences, Warnings: c.Warnings, Regressions: len(c.Regressions()), Conclusion: c.Conclusion()}
	for _, d := range c.Deltas {
		x := delta{Config: d.Config, Metric: d.Metric.Key, Unit: d.Metric.Unit, Old: d.Old, New: d.New, P: d.P, Verdict: d.Verdict}
		if !math.IsNaN(d.Change) {
			x.Change = &d.Change
		}
		out.Deltas = append(out.Deltas, x)
	}
	return out
}

func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case v == math.Trunc(v) && a < 1e6:
		return fmt.Sprintf("%.0f", v)
	case a >= 1e6:
		return fmt.Sprintf("%.4g", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
