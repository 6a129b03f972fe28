//go:build linux

package evict

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/size"
	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
)

var (
	benchWritePolicies = flag.String("evict.write", "none flush-each window:8 window:8,per=stream window:8,merge window:8,drain window:bytes=16M window:bytes=16M,merge,drain window:auto window:auto,merge",
		"space-separated policies for BenchmarkWrite")
	benchReadPolicies = flag.String("evict.read", "none none:read=each none:read=fresh",
		"space-separated policies for BenchmarkRead")
	benchSize = flag.Int64("evict.size", 1<<30, "bytes each benchmark writes or reads")
	benchDir  = flag.String("evict.dir", "/var/tmp", "directory for the benchmark files (on a disk, not tmpfs)")
)

var benchReqs = []int{64 << 10, 256 << 10, 1 << 20}

// benchWriters is the number of concurrent writers of BenchmarkWriteParallel,
// as many as nbdcopy's connections.
const benchWriters = 4

// BenchmarkWrite writes -evict.size bytes sequentially through each policy
// and makes them durable (the final fdatasync is timed). It reports MB/s,
// the pages the file still has in the cache afterwards and the most it had
// at once (sampled every 5 ms). Drop the caches
// before each run (scripts/bench-evict does) so that runs do not share
// dirty memory.
func BenchmarkWrite(b *testing.B) { benchWriteEach(b, 1) }

// benchWriteEach runs benchWrite with writers writers for every policy of
// -evict.write and every request size.
func benchWriteEach(b *testing.B, writers int) {
	for _, text := range strings.Fields(*benchWritePolicies) {
		for _, req := range benchReqs {
			b.Run(fmt.Sprintf("policy=%s/req=%s", text, size.Format(int64(req))), func(b *testing.B) {
				pol, err := Parse(text)
				if err != nil {
					b.Fatal(err)
				}
				benchWrite(b, pol, req, writers)
			})
		}
	}
}

// BenchmarkWriteParallel is BenchmarkWrite with four writers, each on its
// own Stream and its own quarter of the file, as an NBD server sees
// nbdcopy's four connections.
func BenchmarkWriteParallel(b *testing.B) { benchWriteEach(b, benchWriters) }

// writeSpan writes [off, end) with req-sized writes through s.
func writeSpan(f *os.File, s Stream, buf []byte, off, end int64) error {
	for ; off < end; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
		if err := s.AfterWrite(off, len(buf)); err != nil {
			return err
		}
	}
	return s.Close()
}

func benchWrite(b *testing.B, pol Policy, req, writers int) {
	size := *benchSize
	buf := make([]byte, req)
	newPattern().fill(buf, 0)
	var elapsed time.Duration
	var st pagecache.Stat
	var peak int64
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		f, err := os.CreateTemp(*benchDir, "evict-bench-")
		if err != nil {
			b.Fatal(err)
		}
		stop, peakOut := make(chan struct{}), make(chan int64)
		go samplePeak(f, stop, peakOut)
		start := time.Now()
		b.StartTimer()
		h, err := pol.Attach(f)
		if err != nil {
			b.Fatal(err)
		}
		region := size / int64(writers) / int64(req) * int64(req)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				end := int64(i+1) * region
				if i == writers-1 {
					end = size
				}
				errs[i] = writeSpan(f, h.Stream(), buf, int64(i)*region, end)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		if err := h.Close(); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		elapsed += time.Since(start)
		close(stop)
		peak = max(peak, <-peakOut)
		st, err = pagecache.StatFile(f, pagecache.Range{})
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	b.ReportMetric(float64(size)*float64(b.N)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(st.Resident), "resident-pages")
	b.ReportMetric(st.Percent(), "resident-%")
	b.ReportMetric(float64(peak), "peak-resident-pages")
}

// samplePeak sends on out the most pages of f resident at once, sampled
// every 5 ms until stop is closed.
func samplePeak(f *os.File, stop <-chan struct{}, out chan<- int64) {
	var peak int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := pagecache.StatFile(f, pagecache.Range{}); err == nil {
			peak = max(peak, st.Resident)
		}
		select {
		case <-stop:
			out <- peak
			return
		case <-tick.C:
		}
	}
}

// BenchmarkRead reads a cold file of -evict.size bytes sequentially through
// each read policy and reports MB/s and the pages left in the cache.
func BenchmarkRead(b *testing.B) {
	for _, text := range strings.Fields(*benchReadPolicies) {
		for _, req := range benchReqs {
			b.Run(fmt.Sprintf("policy=%s/req=%s", text, size.Format(int64(req))), func(b *testing.B) {
				pol, err := Parse(text)
				if err != nil {
					b.Fatal(err)
				}
				benchRead(b, pol, req)
			})
		}
	}
}

func benchRead(b *testing.B, pol Policy, req int) {
	size := *benchSize
	f, err := os.CreateTemp(*benchDir, "evict-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4<<20)
	p := newPattern()
	for off := int64(0); off < size; off += int64(len(buf)) {
		p.fill(buf, off)
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), size-off)], off); err != nil {
			b.Fatal(err)
		}
	}
	buf = buf[:req]
	var elapsed time.Duration
	var st pagecache.Stat
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		testenv.Drop(b, f)
		start := time.Now()
		b.StartTimer()
		h, err := pol.Attach(f)
		if err != nil {
			b.Fatal(err)
		}
		s := h.Stream()
		for off := int64(0); off < size; off += int64(req) {
			n, err := f.ReadAt(buf, off)
			if n == 0 {
				b.Fatalf("read at %d: %v", off, err)
			}
			if err := s.AfterRead(off, n); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := h.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		elapsed += time.Since(start)
		if st, err = pagecache.StatFile(f, pagecache.Range{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(st.Resident), "resident-pages")
	b.ReportMetric(st.Percent(), "resident-%")
}
