package sweep

import (
	"runtime"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

// BenchmarkSamplerLoad runs the residency sampler for a second per
// iteration on a file whose pages are all cached (the worst case of
// cachestat's walk) and reports its thread's CPU and the whole process's
// as shares of a core: the harness's cost beside a copy.
func BenchmarkSamplerLoad(b *testing.B) {
	dir := testenv.DiskDir(b)
	f := testenv.ColdFile(b, dir, "out.img", testenv.RandomData(256<<20))
	buf := make([]byte, 1<<20)
	for off := int64(0); ; off += int64(len(buf)) {
		if n, _ := f.ReadAt(buf, off); n == 0 {
			break
		}
	}
	runtime.GC() // the file's data is garbage now, not the sampler's cost
	var sampler, process, wall time.Duration
	for b.Loop() {
		p0, t0 := processCPU(), time.Now()
		s := startSampler(f, nil, t0, DefaultInterval)
		time.Sleep(time.Second)
		s.finish()
		process += processCPU() - p0
		wall += time.Since(t0)
		sampler += s.cpu
	}
	b.ReportMetric(100*sampler.Seconds()/wall.Seconds(), "sampler-%core")
	b.ReportMetric(100*process.Seconds()/wall.Seconds(), "process-%core")
}
