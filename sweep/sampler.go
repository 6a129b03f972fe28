package sweep

import (
	"os"
	"sync"
	"time"

	"github.com/pagecache-suite/wcache/pagecache"
	"github.com/pagecache-suite/wcache/results"
)

// DefaultInterval is how often the sampler reads residency during a run.
// One reading is a cachestat(2) call on the output file and a read of
// /proc/meminfo, a few tens of microseconds.
const DefaultInterval = 50 * time.Millisecond

// sampler records the output file's residency and the system's
// Dirty+Writeback every interval while a run is in progress.
type sampler struct {
	f      *os.File
	t0     time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	points []results.Point
	err    error // first error reading residency
}

// startSampler takes a first reading at once, then one every interval,
// with times relative to t0.
func startSampler(f *os.File, t0 time.Time, interval time.Duration) *sampler {
	s := &sampler{f: f, t0: t0, stop: make(chan struct{})}
	s.read()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.read()
			}
		}
	}()
	return s
}

func (s *sampler) read() {
	p := results.Point{T: time.Since(s.t0).Seconds()}
	st, err := pagecache.StatFile(s.f, pagecache.Range{})
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	p.Resident = st.Resident
	if m, err := pagecache.ReadMeminfo("/proc"); err == nil {
		p.DirtyWB = int64(m.Dirty + m.Writeback)
	}
	s.points = append(s.points, p)
}

// finish stops the sampler, takes a last reading and returns the series
// with its peaks.
func (s *sampler) finish() (points []results.Point, peakRes, peakDWB int64, err error) {
	close(s.stop)
	s.wg.Wait()
	s.read()
	for _, p := range s.points {
		peakRes = max(peakRes, p.Resident)
		peakDWB = max(peakDWB, p.DirtyWB)
	}
	return s.points, peakRes, peakDWB, s.err
}
