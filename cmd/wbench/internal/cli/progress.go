package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pagecache-suite/wcache/results"
)

// progress draws a sweep's progress (sweep.Progress): on a terminal a bar
// with the ETA redrawn in place, otherwise one plain line per run.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	total int
	start time.Time
	now   func() time.Time
	count int // runs completed
}

// newProgress writes progress to w; tty selects the redrawn bar.
func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, now: time.Now}
}

// Start announces total runs.
func (p *progress) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.start, p.count = total, p.now(), 0
	if !p.tty {
		fmt.Fprintf(p.w, "wbench: %d runs\n", total)
	}
}

// Begin shows the run about to start (terminal only).
func (p *progress) Begin(config string, rep int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s  %s #%d", p.bar(), config, rep+1)
	}
}

// Done reports a finished run.
func (p *progress) Done(config string, rep int, x results.Sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count++
	if x.Error != "" {
		if p.tty {
			fmt.Fprintf(p.w, "\r\033[K")
		}
		fmt.Fprintf(p.w, "wbench: [%d/%d] %s #%d FAILED (recorded; the sweep goes on): %s\n", p.count, p.total, config, rep+1, x.Error)
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s  %s #%d: %.0f MB/s", p.bar(), config, rep+1, x.MBps)
		return
	}
	status := "ok"
	if !x.IntegrityOK {
		status = "OUTPUT DIFFERS FROM SOURCE"
	}
	fmt.Fprintf(p.w, "wbench: [%d/%d] %s #%d: %.3f s, %.0f MB/s, %d pages left cached (peak %d), %s; ETA %s\n",
		p.count, p.total, config, rep+1, x.DurableSec, x.MBps, x.ResidentEnd, x.ResidentPeak, status, p.eta())
}

// End finishes the bar.
func (p *progress) End() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.total > 0 {
		fmt.Fprintf(p.w, "\r\033[K%s  done in %s\n", p.bar(), p.now().Sub(p.start).Round(time.Second))
	}
}

// Note prints an informational line.
func (p *progress) Note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "wbench: %s\n", msg)
}

// Warn prints a warning that must not be missed.
func (p *progress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "wbench: WARNING: %s\n", msg)
}

func (p *progress) bar() string {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = width * p.count / p.total
	}
	return fmt.Sprintf("[%s%s] %d/%d ETA %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.count, p.total, p.eta())
}

// eta extrapolates the mean time per completed run.
func (p *progress) eta() string {
	if p.count == 0 {
		return "?"
	}
	el := p.now().Sub(p.start)
	left := time.Duration(float64(el) / float64(p.count) * float64(p.total-p.count))
	return left.Round(time.Second).String()
}
