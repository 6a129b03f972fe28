package testbed

import (
	"context"
	"os"
	"testing"
)

// BenchmarkThrottledWrite measures what a throttled profile delivers to a
// writer through the filesystem: 64 MiB made durable, buffered with fsync
// or direct. The "of-limit" metric is the throughput as a share of RATE.
// Run it under the suite's lock:
//
//	flock /tmp/wcache-bench.lock go test -run '^$' -bench ThrottledWrite -benchtime 3x ./testbed/
func BenchmarkThrottledWrite(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	const n = 64 << 20
	for _, dev := range []string{"throttled:200M", "throttled:50M"} {
		d, err := ParseDevice(dev)
		if err != nil {
			b.Fatal(err)
		}
		for _, fs := range []FS{Ext4, XFS} {
			tb, err := Setup(context.Background(), Options{Profile: Profile{d, fs}, Workdir: diskDir(b), Size: 2 * n})
			if err != nil {
				b.Fatal(err)
			}
			for _, direct := range []bool{false, true} {
				name := Profile{d, fs}.String() + "/buffered"
				if direct {
					name = Profile{d, fs}.String() + "/direct"
				}
				b.Run(name, func(b *testing.B) {
					b.SetBytes(n)
					var total float64
					for b.Loop() {
						dur, err := writeTimed(tb.Dir, n, direct, nil)
						if err != nil {
							b.Fatal(err)
						}
						total += dur.Seconds()
					}
					b.ReportMetric(float64(b.N)*n/total/float64(d.Rate), "of-limit")
				})
			}
			if err := tb.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
