package sweep

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/results"
)

// fakeClock advances by step at every reading, so the ETA is the
// extrapolation of whole seconds.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false)
	p.now = fakeClock(time.Second)
	p.Start(4)
	p.Begin("builtin window:8", 0)
	p.Done("builtin window:8", 0, results.Sample{DurableSec: 0.5, MBps: 400, ResidentEnd: 512, ResidentPeak: 900, IntegrityOK: true})
	p.Done("builtin window:1", 0, results.Sample{DurableSec: 0.6, MBps: 300, IntegrityOK: false})
	p.End()
	want := "wbench: 4 runs\n" +
		"wbench: [1/4] builtin window:8 #1: 0.500 s, 400 MB/s, 512 pages left cached (peak 900), ok; ETA 3s\n" +
		"wbench: [2/4] builtin window:1 #1: 0.600 s, 300 MB/s, 0 pages left cached (peak 0), OUTPUT DIFFERS FROM SOURCE; ETA 2s\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true)
	p.now = fakeClock(time.Second)
	p.Start(2)
	p.Begin("builtin window:8", 0)
	p.Done("builtin window:8", 0, results.Sample{MBps: 400})
	p.Warn("careful")
	p.End()
	out := b.String()
	for _, want := range []string{
		"\r\033[K[..............................] 0/2 ETA ?  builtin window:8 #1",
		"\r\033[K[###############...............] 1/2 ETA 1s  builtin window:8 #1: 400 MB/s",
		"\r\033[Kwbench: WARNING: careful\n",
		"1/2 ETA 2s  done in 3s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%q", want, out)
		}
	}
}
