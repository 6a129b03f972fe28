//go:build linux

package sweep

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/results"
)

// TestSweepLibnbdClient runs the in-process libnbd client, random order,
// and checks that per-request latencies were recorded and the output is
// intact.
func TestSweepLibnbdClient(t *testing.T) {
	if _, err := exec.LookPath("nbdcopy"); err != nil {
		t.Skip("nbdcopy not installed (run scripts/setup)")
	}
	s, err := Run(context.Background(), Options{
		Windows: []int{4}, Count: 1, Size: 16 << 20, Servers: []string{"builtin"},
		Client: ClientLibnbd, Pattern: PatternRandom, RequestSize: 64 << 10, InFlight: 8,
		WorkDir: t.TempDir(),
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
