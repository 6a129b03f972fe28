//go:build linux

package evict

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
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

			pol, err := Parse(tc.auto)
			if err != nil {
				t.Fatal(err)
			}
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
			for _, s := range seen {
				if s.Resident > s.Max || s.Limit < s.Min || s.Limit > s.Max {
					t.Fatalf("at %v: ring holds %d bytes with limit %d, outside [%d, %d]", s.at, s.Resident, s.Limit, s.Min, s.Max)
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

// Throttled loop device, for TestAutoFollowsThrottle.
const throttleFile = "/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device"

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// throttledFS makes an ext4 file system on a loop device (direct I/O on,
// backed by a sparse file in /var/tmp), mounted on a new directory, and
// returns the directory and a function that sets the device's write
// bandwidth limit through the root blkio cgroup (0 = none). Everything is
// undone when the test ends.
func throttledFS(t *testing.T, size int64) (string, func(bps int64)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop devices and blkio throttling need root")
	}
	if _, err := os.Stat(throttleFile); err != nil {
		t.Skipf("no cgroup v1 blkio throttle: %v", err)
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s: %v", tool, err)
		}
	}
	back := testenv.DiskDir(t) + "/loop.img"
	if err := os.WriteFile(back, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(back, size); err != nil {
		t.Fatal(err)
	}
	dev := run(t, "losetup", "--direct-io=on", "--find", "--show", back)
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	majmin, err := os.ReadFile("/sys/block/" + filepath.Base(dev) + "/dev")
	if err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", dev)
	mnt := t.TempDir()
	run(t, "mount", dev, mnt)
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	setRate := func(bps int64) {
		rule := fmt.Sprintf("%s %d", strings.TrimSpace(string(majmin)), bps)
		if err := os.WriteFile(throttleFile, []byte(rule), 0); err != nil {
			t.Fatalf("%s <- %q: %v", throttleFile, rule, err)
		}
	}
	t.Cleanup(func() { setRate(0) })
	return mnt, setRate
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
	pol, err := Parse("window:auto,min=4K")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(mnt+"/out.img", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := pol.Attach(f)
	if err != nil {
		t.Fatal(err)
	}
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
	pol, err := Parse("window:auto,per=stream,max=2M,min=64K,merge=128K")
	if err != nil {
		t.Fatal(err)
	}
	dir := testenv.DiskDir(t)
	files := make([]*os.File, 3)
	handles := make([]Handle, len(files))
	for i := range files {
		if files[i], err = os.Create(fmt.Sprintf("%s/f%d.img", dir, i)); err != nil {
			t.Fatal(err)
		}
		defer files[i].Close()
		if handles[i], err = pol.Attach(files[i]); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	samples := sampleAuto(pol, 100*time.Microsecond, stop)
	p := newPattern()
	const writers, region = 3, size / 3 &^ 4095
	errs := make([]error, len(files)*writers)
	var wg sync.WaitGroup
	for i := range files {
		for j := range writers {
			wg.Go(func() {
				end := int64(j+1) * region
				if j == writers-1 {
					end = size
				}
				errs[i*writers+j] = writeRegion(files[i], handles[i].Stream(), p, int64(j)*region, end, 48<<10)
			})
		}
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
