//go:build linux

package evict

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
	"github.com/pagecache-suite/wcache/testbed"
)

// sampleAuto reads p's AutoState every interval until stop is closed and
// returns the samples with their times since the start.
func sampleAuto(p Policy, interval time.Duration, stop <-chan struct{}) <-chan []autoSample {
	out := make(chan []autoSample, 1)
	go func() {
		var samples []autoSample
		start := time.Now()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			samples = append(samples, autoSample{time.Since(start), p.(AutoStater).AutoState()})
			select {
			case <-stop:
				out <- samples
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

type autoSample struct {
	at time.Duration
	AutoState
}

// TestAutoResidency writes through window:auto with one and four writers
// and checks, against window:8 on the same file system, that it leaves no
// more pages cached after Close, that the data is intact, that its ring
// never held more than its ceiling, and that its state shows what it
// measured.
func TestAutoResidency(t *testing.T) {
	const size = 128 << 20
	for _, tc := range []struct {
		auto    string
		writers int
	}{
		{"window:auto", 1},
		{"window:auto", 4},
		{"window:auto,max=4M,per=stream,merge", 4},
	} {
		t.Run(fmt.Sprintf("%s/writers=%d", tc.auto, tc.writers), func(t *testing.T) {
			dir := testenv.DiskDir(t)
			ref := writeThrough(t, "window:8", size, testReq, tc.writers)
			refSt := resident(t, ref, pagecache.Range{})
			testenv.Drop(t, ref)

			pol := mustParse(t, tc.auto)
			stop := make(chan struct{})
			samples := sampleAuto(pol, time.Millisecond, stop)
			f := writeFile(t, pol, dir+"/auto.img", size, testReq, tc.writers)
			close(stop)
			defer testenv.Drop(t, f)
			st := resident(t, f, pagecache.Range{})
			final := pol.(AutoStater).AutoState()
			t.Logf("window:8 left %d pages, %s %d; final state %+v", refSt.Resident, tc.auto, st.Resident, final)
			if st.Resident > refSt.Resident {
				t.Errorf("%s left %d pages cached after Close, window:8 %d", tc.auto, st.Resident, refSt.Resident)
			}
			verify(t, f, size)

			seen := <-samples
			// No min= given: once a write is in, the ring is at least
			// window:8's (8 windows of testReq bytes, or of the merged
			// windows, which are no smaller), within max.
			faithful := min(NbdkitWindows*int64(testReq), seen[len(seen)-1].Max)
			for _, s := range seen {
				if s.Resident > s.Max || s.Limit < s.Min || s.Limit > s.Max {
					t.Fatalf("at %v: ring holds %d bytes with limit %d, outside [%d, %d]", s.at, s.Resident, s.Limit, s.Min, s.Max)
				}
				if s.Samples > 0 && (s.Floor < faithful || s.Limit < s.Floor) {
					t.Fatalf("at %v: limit %d, floor %d: want the floor at least window:8's %d bytes and the limit no lower", s.at, s.Limit, s.Floor, faithful)
				}
			}
			if final.Samples == 0 || final.Bandwidth <= 0 || final.Latency <= 0 {
				t.Errorf("after %d MiB the controller has no estimates: %+v", size>>20, final)
			}
			if final.Resident != 0 || final.Windows != 0 || final.Rings != 0 {
				t.Errorf("after Close the state still counts a ring: %+v", final)
			}
			if got := final.Samples * testReq; got > size {
				t.Errorf("controller observed %d windows of %d bytes, more than the %d written", final.Samples, testReq, size)
			}
		})
	}
}

// throttledFS makes a fresh ext4 file system on a loop device (direct I/O
// on, backed by a sparse file on the disk under test) through testbed, for
// size bytes of data, and returns its directory and a function that sets the
// device's bandwidth limit through the root blkio cgroup (0 = none).
// Everything is undone when the test ends. It skips the test when not root
// or when a tool or the blkio controller is missing.
func throttledFS(t *testing.T, size int64) (string, func(bps int64)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop devices and blkio throttling need root")
	}
	tb, err := testbed.Setup(t.Context(), testbed.Options{
		Profile: testbed.Profile{Device: testbed.Device{Kind: testbed.Native}, FS: testbed.Ext4},
		Workdir: testenv.DiskDir(t),
		Size:    size,
	})
	if errors.Is(err, testbed.ErrMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("testbed: %v", err)
		}
	})
	setRate := func(bps int64) {
		if err := tb.SetRate(bps); err != nil {
			if errors.Is(err, testbed.ErrMissing) {
				t.Skip(err)
			}
			t.Fatal(err)
		}
	}
	return tb.Dir, setRate
}

// TestAutoFollowsThrottle writes through window:auto to a file system on a
// throttled loop device, lowers the throttle tenfold half-way, and checks
// that the ring the controller keeps during the slow half is smaller than
// during the fast half. It then raises the throttle again and checks that
// the ring grows back.
func TestAutoFollowsThrottle(t *testing.T) {
	if testing.Short() {
		t.Skip("writes for about ten seconds")
	}
	const (
		fast  = 200 << 20
		slow  = 20 << 20
		phase = 4 * time.Second
		req   = 64 << 10
	)
	mnt, setRate := throttledFS(t, 4<<30)
	pol := mustParse(t, "window:auto,min=4K")
	f, h := attachNew(t, pol, mnt+"/out.img")
	s := h.Stream()
	p := newPattern()
	buf := make([]byte, req)

	rates := []int64{fast, slow, fast}
	starts := make([]time.Duration, len(rates))
	stop := make(chan struct{})
	samples := sampleAuto(pol, 20*time.Millisecond, stop)
	begin := time.Now()
	var off int64
	var werr error
	for i, rate := range rates {
		setRate(rate)
		starts[i] = time.Since(begin)
		for time.Since(begin) < starts[i]+phase && werr == nil {
			p.fill(buf, off)
			if _, werr = f.WriteAt(buf, off); werr == nil {
				werr = s.AfterWrite(off, req)
			}
			off += req
		}
	}
	close(stop)
	seen := <-samples
	if err := errors.Join(werr, s.Close(), h.Close()); err != nil {
		t.Fatal(err)
	}
	setRate(0)
	verify(t, f, off)

	// The median ring size over the second half of each phase, once the
	// controller has had time to follow.
	medians := make([]int64, len(rates))
	for i := range rates {
		from, to := starts[i]+phase/2, starts[i]+phase
		var in []int64
		for _, sm := range seen {
			if sm.at >= from && sm.at < to {
				in = append(in, sm.Target)
			}
		}
		if len(in) == 0 {
			t.Fatalf("no state samples in phase %d", i)
		}
		slices.Sort(in)
		medians[i] = in[len(in)/2]
		last := seen[0]
		for _, sm := range seen {
			if sm.at < to {
				last = sm
			}
		}
		t.Logf("phase %d at %d MiB/s: median ring %d KiB; at its end %.0f MB/s, latency %v, %d windows observed",
			i, rates[i]>>20, medians[i]>>10, last.Bandwidth/1e6, last.Latency, last.Samples)
	}
	if medians[1] >= medians[0] {
		t.Errorf("ring %d KiB when the device was slowed tenfold, %d KiB before: it did not shrink", medians[1]>>10, medians[0]>>10)
	}
	if medians[2] <= medians[1] {
		t.Errorf("ring %d KiB when the device was sped up again, %d KiB before: it did not grow", medians[2]>>10, medians[1]>>10)
	}
}

// TestAutoConcurrentState writes three files at once, each with three
// writers on streams of their own, through one window:auto,per=stream
// policy, while the state is read, for the race detector and the shared
// ceiling.
func TestAutoConcurrentState(t *testing.T) {
	const size = 16 << 20
	pol := mustParse(t, "window:auto,per=stream,max=2M,min=64K,merge=128K")
	dir := testenv.DiskDir(t)
	files := make([]*os.File, 3)
	handles := make([]Handle, len(files))
	for i := range files {
		files[i], handles[i] = attachNew(t, pol, fmt.Sprintf("%s/f%d.img", dir, i))
	}
	stop := make(chan struct{})
	samples := sampleAuto(pol, 100*time.Microsecond, stop)
	p := newPattern()
	const writers = 3
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i := range files {
		wg.Go(func() {
			errs[i] = inRegions(size, 4096, writers, func(off, end int64) error {
				return writeRegion(files[i], handles[i].Stream(), p, off, end, 48<<10)
			})
		})
	}
	wg.Wait()
	for _, h := range handles {
		errs = append(errs, h.Close())
	}
	close(stop)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	seen := <-samples
	for _, s := range seen {
		if s.Resident > s.Max {
			t.Fatalf("at %v: %d bytes in the rings, above the ceiling %d", s.at, s.Resident, s.Max)
		}
	}
	if st := pol.(AutoStater).AutoState(); st.Resident != 0 || st.Rings != 0 || st.Samples == 0 {
		t.Errorf("after Close: %+v, want empty rings and some samples", st)
	}
	for _, f := range files {
		verify(t, f, size)
		testenv.Drop(t, f)
	}
}
