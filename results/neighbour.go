package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BudgetRow summarises what the runs of one configuration under a memory
// limit measured: the server's cgroup and the neighbour beside it.
type BudgetRow struct {
	Config Config
	N      int // runs with a budget

	// The neighbour's reads (zero without a neighbour): p99 latency
	// during the idle stretch and during the copy, their ratio taken per
	// run, the copy's p50, max and rate, and the share of its file still
	// cached after the run.
	Neighbour                bool
	IdleP99, CopyP99, Ratio  Summary
	CopyP50, CopyMax, Rate   Summary
	IdleRate, Cached, Overhd Summary

	Peak, LimitHits, Stolen, Refaults Summary // cgroup counters; Stolen and Refaults have N 0 where the kernel does not report them
	OOMKills                          int64   // over all runs
}

// BudgetRows summarises every configuration of s that ran under a memory
// limit, in s.Configs order; nil when none did.
func BudgetRows(s *Sweep) []BudgetRow {
	var rows []BudgetRow
	for _, c := range s.Configs {
		r := BudgetRow{Config: c}
		var idle, cp, ratio, p50, mx, rate, irate, cached, ovh, peak, hits, stolen, refaults []float64
		for _, x := range s.SamplesOf(c.Name) {
			b := x.Budget
			if b == nil {
				continue
			}
			r.N++
			r.OOMKills += b.OOMKills
			peak = append(peak, float64(b.Peak))
			hits = append(hits, float64(b.LimitHits))
			if b.Stolen != nil {
				stolen = append(stolen, float64(*b.Stolen))
			}
			if b.Refaults != nil {
				refaults = append(refaults, float64(*b.Refaults))
			}
			if n := b.Neighbour; n != nil {
				r.Neighbour = true
				idle, cp = append(idle, n.Idle.P99), append(cp, n.Copy.P99)
				if n.Idle.P99 > 0 {
					ratio = append(ratio, n.Copy.P99/n.Idle.P99)
				}
				p50, mx, rate = append(p50, n.Copy.P50), append(mx, n.Copy.Max), append(rate, n.Copy.Rate)
				irate, cached, ovh = append(irate, n.Idle.Rate), append(cached, n.Cached), append(ovh, n.Overhead)
			}
		}
		if r.N == 0 {
			continue
		}
		r.IdleP99, r.CopyP99, r.Ratio = Summarize(idle), Summarize(cp), Summarize(ratio)
		r.CopyP50, r.CopyMax, r.Rate = Summarize(p50), Summarize(mx), Summarize(rate)
		r.IdleRate, r.Cached, r.Overhd = Summarize(irate), Summarize(cached), Summarize(ovh)
		r.Peak, r.LimitHits, r.Stolen, r.Refaults = Summarize(peak), Summarize(hits), Summarize(stolen), Summarize(refaults)
		rows = append(rows, r)
	}
	return rows
}

// WriteBudgetTable prints, for a sweep under a memory limit, the
// neighbour's read latency during the copy against its idle stretch, the
// share of its file still cached, and the server cgroup's counters. It
// prints nothing for a sweep without a budget.
func WriteBudgetTable(w io.Writer, s *Sweep) error {
	return writeBudget(w, s, false)
}

// WriteBudgetMarkdown is WriteBudgetTable in GitHub markdown.
func WriteBudgetMarkdown(w io.Writer, s *Sweep) error {
	return writeBudget(w, s, true)
}

func writeBudget(w io.Writer, s *Sweep, markdown bool) error {
	rows := BudgetRows(s)
	if len(rows) == 0 {
		return nil
	}
	head := []string{"configuration", "n"}
	nb := rows[0].Neighbour
	if nb {
		head = append(head, "nb idle p99 µs", "nb copy p99 µs (min-max)", "p99 x idle", "nb copy p50 µs", "nb copy max ms", "nb reads/s copy (idle)", "nb file cached")
	}
	head = append(head, "cgroup peak MiB", "limit hits", "reclaimed pages", "refaults")
	var body [][]string
	us := func(v float64) string { return fmt.Sprintf("%.0f", v*1e6) }
	opt := func(sm Summary) string {
		if sm.N == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", sm.Median)
	}
	for _, r := range rows {
		line := []string{r.Config.Name, strconv.Itoa(r.N)}
		if nb {
			line = append(line,
				us(r.IdleP99.Median),
				fmt.Sprintf("%s (%s-%s)", us(r.CopyP99.Median), us(r.CopyP99.Min), us(r.CopyP99.Max)),
				fmt.Sprintf("%.1f", r.Ratio.Median),
				us(r.CopyP50.Median),
				fmt.Sprintf("%.1f", r.CopyMax.Median*1e3),
				fmt.Sprintf("%.0f (%.0f)", r.Rate.Median, r.IdleRate.Median),
				percent(r.Cached.Median))
		}
		hits := fmt.Sprintf("%.0f", r.LimitHits.Median)
		if r.OOMKills > 0 {
			hits += fmt.Sprintf(" (%d OOM kills)", r.OOMKills)
		}
		line = append(line, fmt.Sprintf("%.0f", r.Peak.Median/(1<<20)), hits, opt(r.Stolen), opt(r.Refaults))
		body = append(body, line)
	}
	return renderTable(w, markdown, head, body)
}

// HarnessLoad is what measuring cost, as shares of a core during the
// copies: the residency sampler's thread, wbench as a whole (the sampler,
// the neighbour's control, the runtime; runs with the nbdcopy client
// only), and the neighbour's CPU beside its reads (pacing wake-ups and
// bookkeeping). N is 0 where not measured.
func HarnessLoad(s *Sweep) (sampler, harness, neighbour Summary) {
	var sm, h, n []float64
	for _, x := range s.Samples {
		if x.DurableSec <= 0 {
			continue
		}
		if x.SamplerCPUSec > 0 {
			sm = append(sm, x.SamplerCPUSec/x.DurableSec)
		}
		if x.HarnessCPUSec > 0 {
			h = append(h, x.HarnessCPUSec/x.DurableSec)
		}
		if x.Budget != nil && x.Budget.Neighbour != nil {
			n = append(n, x.Budget.Neighbour.Overhead)
		}
	}
	return Summarize(sm), Summarize(h), Summarize(n)
}

// WriteHarnessLoad prints HarnessLoad in a line or two.
func WriteHarnessLoad(w io.Writer, s *Sweep) error {
	sm, h, n := HarnessLoad(s)
	var b strings.Builder
	if sm.N > 0 {
		fmt.Fprintf(&b, "Harness, share of a core during the copies (median, min-max): residency sampler %.2f%% (%.2f-%.2f%%)", 100*sm.Median, 100*sm.Min, 100*sm.Max)
		if h.N > 0 {
			fmt.Fprintf(&b, ", all of wbench %.2f%% (%.2f-%.2f%%)", 100*h.Median, 100*h.Min, 100*h.Max)
		}
		b.WriteString(".\n")
	}
	if n.N > 0 {
		fmt.Fprintf(&b, "Neighbour: its CPU beside its reads (pacing wake-ups, bookkeeping) %.2f%% of a core (%.2f-%.2f%%).\n", 100*n.Median, 100*n.Min, 100*n.Max)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
