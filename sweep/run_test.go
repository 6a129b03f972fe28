//go:build linux

package sweep

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/results"
)

// TestSweepLibnbdClient runs the in-process libnbd client, random order,
// and checks that per-request latencies were recorded and the output is
// intact.
func TestSweepLibnbdClient(t *testing.T) {
	testenv.NeedPrograms(t, "nbdcopy")
	s, err := Run(context.Background(), Options{
		Windows: []int{4}, Count: 1, Size: 16 << 20, Servers: []string{"builtin"},
		Client: ClientLibnbd, Pattern: PatternRandom, RequestSize: 64 << 10, InFlight: 8,
		WorkDir: testenv.DiskDir(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range s.Samples {
		if !x.IntegrityOK {
			t.Errorf("%s: output differs from source", x.Config)
		}
		if x.LatP50 <= 0 || x.LatP99 < x.LatP50 || x.LatMax < x.LatP99 {
			t.Errorf("%s: latencies p50 %v p99 %v max %v", x.Config, x.LatP50, x.LatP99, x.LatMax)
		}
		if x.BytesWritten != s.Settings.DataBytes {
			t.Errorf("%s: %d data bytes written, image has %d", x.Config, x.BytesWritten, s.Settings.DataBytes)
		}
	}
	var b bytes.Buffer
	if err := results.WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "p99 latency ms") {
		t.Errorf("table lacks the latency column:\n%s", b.String())
	}
}

func TestConfigs(t *testing.T) {
	o := Options{
		Servers:  []string{"builtin", "nbdkit"},
		Windows:  []int{1, 8},
		Policies: []string{"none", "window:8", "window:auto", "window:8,read=each,drain", string(evict.CacheNone(8))},
	}
	cs, err := Configs(&o)
	if err != nil {
		t.Fatal(err)
	}
	// Literal names: what a reader of the table sees for each policy.
	want := []results.Config{
		{Name: "builtin cache=default", Server: "builtin", Policy: "none", Role: "reference"},
		{Name: "builtin flush-each", Server: "builtin", Policy: "flush-each", Role: "reference"},
		{Name: "builtin window:1", Server: "builtin", Policy: "window:1", Windows: 1, Role: "sweep"},
		{Name: "builtin window:8", Server: "builtin", Policy: "window:8", Windows: 8, Role: "sweep"},
		{Name: "builtin window:auto", Server: "builtin", Policy: "window:auto", Role: "extra"},
		{Name: "builtin window:8,drain", Server: "builtin", Policy: "window:8,drain", Role: "extra"},
		{Name: "builtin window:8,drain,read=fresh", Server: "builtin", Policy: "window:8,drain,read=fresh", Role: "extra"},
		{Name: "nbdkit cache=default", Server: "nbdkit", Policy: "none", Role: "anchor"},
		{Name: "nbdkit cache=none", Server: "nbdkit", Policy: "window:8", Windows: 8, Role: "anchor"},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("configurations:\n%+v\nwant\n%+v", cs, want)
	}
	if _, err := Configs(&Options{Servers: []string{"qemu-nbd"}}); err == nil {
		t.Error("an unknown server was accepted")
	}
	if _, err := Configs(&Options{Servers: []string{"builtin"}, Policies: []string{"window:0x"}}); err == nil {
		t.Error("a bad policy was accepted")
	}
}

// TestAutoRingPublished runs window:auto beside a fixed count and checks
// that its timeline carries the ring size its controller chose, within the
// policy's ceiling, and that no other configuration's does.
func TestAutoRingPublished(t *testing.T) {
	testenv.NeedPrograms(t, "nbdcopy")
	p, err := evict.Parse(string(evict.WindowAuto))
	if err != nil {
		t.Fatal(err)
	}
	ceiling := p.(evict.AutoStater).AutoState().Max
	s, err := Run(context.Background(), Options{
		Windows: []int{1}, Count: 1, Size: 64 << 20, Servers: []string{"builtin"},
		Interval: 10 * time.Millisecond, WorkDir: testenv.DiskDir(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	var autoRuns int
	for _, x := range s.Samples {
		c, _ := s.Config(x.Config)
		var published int
		for _, pt := range x.Timeline {
			if pt.RingBytes != 0 {
				published++
			}
			if pt.RingBytes < 0 || pt.RingBytes > ceiling {
				t.Errorf("%s at %.3fs: ring size %d, outside [0, %d]", x.Config, pt.T, pt.RingBytes, ceiling)
			}
		}
		switch {
		case c.Policy == evict.WindowAuto:
			autoRuns++
			if published == 0 {
				t.Errorf("%s: none of %d points carries a ring size", x.Config, len(x.Timeline))
			}
		case published > 0:
			t.Errorf("%s: %d points carry a ring size; only window:auto publishes one", x.Config, published)
		}
	}
	if autoRuns != 1 {
		t.Errorf("%d window:auto runs, want 1", autoRuns)
	}
}
