package results

// Metric is one measured quantity of a Sample, as it appears in the
// benchmark format, the CSV and comparisons.
type Metric struct {
	Key  string // CSV column and JSON-free identifier
	Unit string // unit in the Go benchmark format (benchstat groups by it)
	// Better is +1 when larger values are better, -1 when smaller are.
	Better int
	// Threshold is the relative change of the median that counts as a
	// regression when it is also statistically significant.
	Threshold float64
	// Slack is an absolute change below which no verdict is given, in the
	// metric's unit (a residency of 3 pages against 1 is not a 200%
	// regression).
	Slack float64
	Value func(Sample) float64
}

// Metrics lists every metric of a sample in report order.
var Metrics = []Metric{
	{Key: "durable_sec", Unit: "sec/op", Better: -1, Threshold: 0.10, Slack: 0.005,
		Value: func(s Sample) float64 { return s.DurableSec }},
	{Key: "mbps", Unit: "MB/s", Better: +1, Threshold: 0.10, Slack: 1,
		Value: func(s Sample) float64 { return s.MBps }},
	{Key: "resident_end", Unit: "resident-pages", Better: -1, Threshold: 0.25, Slack: 256,
		Value: func(s Sample) float64 { return float64(s.ResidentEnd) }},
	{Key: "resident_peak", Unit: "peak-resident-pages", Better: -1, Threshold: 0.50, Slack: 4096,
		Value: func(s Sample) float64 { return float64(s.ResidentPeak) }},
	{Key: "dirty_wb_peak", Unit: "peak-dirty+writeback-B", Better: -1, Threshold: 0.50, Slack: 16 << 20,
		Value: func(s Sample) float64 { return float64(s.DirtyWBPeak) }},
	{Key: "server_cpu_sec", Unit: "server-cpu-sec/op", Better: -1, Threshold: 0.25, Slack: 0.02,
		Value: func(s Sample) float64 { return s.ServerCPUSec }},
}

// MetricByKey returns the metric with the given key.
func MetricByKey(key string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Key == key {
			return m, true
		}
	}
	return Metric{}, false
}

// Values extracts m from every sample.
func (m Metric) Values(ss []Sample) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = m.Value(s)
	}
	return v
}

// The metrics the recommendation and the figures use by name.
var (
	MetricDurable, _ = MetricByKey("durable_sec")
	MetricMBps, _    = MetricByKey("mbps")
)
