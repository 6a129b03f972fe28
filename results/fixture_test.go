package results

import (
	"math"
	"time"

	"github.com/pagecache-suite/wcache/evict"
)

// fixtureSweep is a deterministic sweep shaped like a real one: window
// counts 1, 2, 4, 8, 16, 32 with throughput rising to a plateau, the
// references, and nbdkit at its fixed 8.
func fixtureSweep() *Sweep {
	const (
		image = 256 << 20
		data  = 192 << 20
		req   = 256 << 10
		count = 6
	)
	s := &Sweep{
		Version:  FormatVersion,
		Started:  time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Finished: time.Date(2026, 11, 25, 12, 3, 0, 0, time.UTC),
		Env: Env{
			Hostname: "bench", Kernel: "6.18.0", GOOS: "linux", GOARCH: "amd64", CPU: "Test CPU",
			CPUs: 2, MemBytes: 24 << 30, PageSize: 4096, Root: true,
			Disk:      Disk{Dir: "/var/tmp/wbench", Device: "vda", Filesystem: "ext4", Queue: map[string]string{"scheduler": "[none] mq-deadline", "nr_requests": "256"}},
			VM:        map[string]string{"vm.dirty_ratio": "20", "vm.dirty_background_ratio": "10"},
			Tools:     map[string]string{"nbdcopy": "nbdcopy 1.14.2", "nbdkit": "nbdkit 1.32.5"},
			GoVersion: "go1.26", Commit: "0123456789ab",
		},
		Settings: Settings{
			Args: []string{"wbench", "--windows=1..32:x2", "--count=6", "--server=builtin,nbdkit"}, Windows: []int{1, 2, 4, 8, 16, 32},
			Count: count, Servers: []string{"builtin", "nbdkit"}, Client: "nbdcopy", Image: "/var/tmp/wbench/src.img",
			ImageBytes: image, DataBytes: data, RequestSize: req, DropCaches: true, Tolerance: DefaultTolerance,
		},
	}
	add := func(c Config, mbps, resident float64) {
		s.Configs = append(s.Configs, c)
		for rep := 0; rep < count; rep++ {
			// A fixed spread of -2%..+2% around the centre.
			f := 1 + 0.01*float64(rep-2)
			m := mbps * f
			sec := float64(data) / (m * 1e6)
			res := int64(resident * (1 + 0.05*float64(rep-2)))
			var tl []Point
			for i := 0; i <= 10; i++ {
				t := sec * float64(i) / 10
				tl = append(tl, Point{T: t, Resident: int64(math.Min(resident*4, float64(data/4096)*float64(i)/10)), DirtyWB: int64(i) << 22})
			}
			s.Samples = append(s.Samples, Sample{
				Config: c.Name, Rep: rep, Seq: rep*20 + len(s.Configs), DurableSec: sec, MBps: m,
				BytesWritten: data, Pages: image / 4096, ResidentEnd: res, ResidentPeak: res * 4,
				DirtyWBPeak: int64(64+rep) << 20, ServerCPUSec: 0.3 * f, IntegrityOK: true, CachesDropped: true,
				Timeline: tl,
			})
		}
	}
	add(NewConfig(Builtin, evict.None, 0, RoleReference), 900, data/4096)
	add(NewConfig(Builtin, evict.FlushEach, 0, RoleReference), 300, 0)
	for _, w := range []int{1, 2, 4, 8, 16, 32} {
		mbps := 880 - 400/float64(w*w)
		add(NewConfig(Builtin, evict.Window(w), w, RoleSweep), mbps, float64(w*64))
	}
	add(NewConfig(Nbdkit, evict.None, 0, RoleAnchor), 880, data/4096)
	add(NewConfig(Nbdkit, evict.Window(evict.NbdkitWindows), evict.NbdkitWindows, RoleAnchor), 820, 512)
	return s
}
