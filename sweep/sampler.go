package sweep

import (
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/pagecache-suite/wcache/pagecache"
	"github.com/pagecache-suite/wcache/results"
)

// DefaultInterval is how often the sampler reads residency during a run,
// at most: one reading is a cachestat(2) call on the output file, which
// walks the file's page-cache index, and a read of /proc/meminfo, together
// up to a millisecond of CPU for a GiB-sized file. The sampler waits at
// least 1/maxDuty times as long as its last reading cost it in CPU, so
// that its readings stay under half a per cent of a core at any file size.
const DefaultInterval = 50 * time.Millisecond

// maxDuty is the share of a core the sampler's readings may take.
const maxDuty = 0.005

// sampler records the output file's residency and the system's
// Dirty+Writeback every interval while a run is in progress.
type sampler struct {
	f      *os.File
	ring   *ringState // window:auto's published state, or nil
	t0     time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	points []results.Point
	cpu    time.Duration // the sampler's own CPU time, all readings
	err    error         // first error reading residency
}

// startSampler takes a first reading at once, then one every interval (or
// less often, see maxDuty) and a last one when finished, with times
// relative to t0. It reads on a thread of its own, whose CPU time it
// measures. With ring, each point also takes the ring size published there.
func startSampler(f *os.File, ring *ringState, t0 time.Time, interval time.Duration) *sampler {
	s := &sampler{f: f, ring: ring, t0: t0, stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for {
			cost := s.read()
			t := time.NewTimer(max(interval, time.Duration(float64(cost)/maxDuty)))
			select {
			case <-s.stop:
				t.Stop()
				s.read()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// read takes one reading and returns the CPU time it cost.
func (s *sampler) read() time.Duration {
	c0 := threadCPU()
	defer func() { s.cpu += threadCPU() - c0 }()
	p := results.Point{T: time.Since(s.t0).Seconds()}
	st, err := pagecache.StatFile(s.f, pagecache.Range{})
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return threadCPU() - c0
	}
	p.Resident = st.Resident
	if m, err := pagecache.ReadMeminfo("/proc"); err == nil {
		p.DirtyWB = int64(m.Dirty + m.Writeback)
	}
	if s.ring != nil {
		p.RingBytes = s.ring.Limit()
	}
	s.points = append(s.points, p)
	return threadCPU() - c0
}

// finish stops the sampler after a last reading and returns the series
// with its peaks.
func (s *sampler) finish() (points []results.Point, peakRes, peakDWB int64, err error) {
	close(s.stop)
	s.wg.Wait()
	for _, p := range s.points {
		peakRes = max(peakRes, p.Resident)
		peakDWB = max(peakDWB, p.DirtyWB)
	}
	return s.points, peakRes, peakDWB, s.err
}
