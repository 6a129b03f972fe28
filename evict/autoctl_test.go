package evict

import (
	"fmt"
	"testing"
	"time"
)

// simDevice is a write-back path with a bandwidth and an unqueued latency:
// windows are served in order at bw bytes per second, and none completes
// sooner than lat after its writeback started, so it takes bw × lat bytes
// in flight to keep it busy. A phase with bw 0 is a stalled device.
type simDevice struct {
	done time.Time // when the last started window completes
}

type simPhase struct {
	until time.Duration // simulated time at which the phase ends
	bw    float64       // device bandwidth, bytes/s; 0 = stalled
	lat   time.Duration // unqueued latency
}

// simRun is what a simulation measured.
type simRun struct {
	written     int64
	elapsed     time.Duration
	maxResident int64           // most bytes ever in the ring after a push
	limitAt     []int64         // the controller's target at the end of each phase
	blocked     time.Duration   // time the writer waited
	minLimit    int64           // least limit after the first write
	trace       []simTracePoint // limit over time, for failure messages
}

type simTracePoint struct {
	at    time.Duration
	limit int64
}

// simulate writes req-sized windows at writerBW bytes per second through a
// ring that evicts as ring.push does under window:auto (down to the
// controller's limit, at most two windows per push unless above the
// ceiling), on a device that goes through phases. fixed > 0 bounds the
// ring by that many bytes instead, as window:bytes=fixed does.
func simulate(p autoParams, fixed int64, req int64, writerBW float64, phases []simPhase) simRun {
	ctl := newAutoCtl(p)
	epoch := time.Unix(0, 0)
	now := epoch
	var dev simDevice
	type simWindow struct {
		n      int64
		t0     time.Time
		mark   autoMark
		doneAt time.Time
	}
	var q []simWindow
	var bytes int64
	var run simRun
	phase := 0
	nextTrace := time.Duration(0)
	for phase < len(phases) {
		ph := phases[phase]
		// The writer copies req bytes, then starts their writeback.
		now = now.Add(time.Duration(float64(req) / writerBW * float64(time.Second)))
		begin := now
		if dev.done.After(begin) {
			begin = dev.done
		}
		var done time.Time
		if ph.bw == 0 {
			// Stalled until the phase ends, then served by the next.
			next := phases[min(phase+1, len(phases)-1)]
			done = epoch.Add(ph.until).Add(time.Duration(float64(req) / next.bw * float64(time.Second)))
		} else {
			done = begin.Add(time.Duration(float64(req) / ph.bw * float64(time.Second)))
		}
		if early := now.Add(ph.lat); done.Before(early) {
			done = early
		}
		dev.done = done
		q = append(q, simWindow{n: req, t0: now, mark: ctl.started(req), doneAt: done})
		bytes += req
		limit, out := ctl.limit(), 0
		if fixed > 0 {
			limit = fixed
		}
		for len(q) > 0 && bytes > limit && (fixed > 0 || out < 2 && len(q) > 1 || bytes > p.max) {
			w := q[0]
			q = q[1:]
			bytes -= w.n
			out++
			wait := now
			if w.doneAt.After(now) {
				run.blocked += w.doneAt.Sub(now)
				now = w.doneAt
			}
			ctl.observe(autoObs{bytes: w.n, start: w.t0, wait: wait, end: now, at: w.mark})
		}
		run.maxResident = max(run.maxResident, bytes)
		if run.minLimit == 0 || limit < run.minLimit {
			run.minLimit = limit
		}
		run.written += req
		if t := now.Sub(epoch); t >= nextTrace {
			run.trace = append(run.trace, simTracePoint{t, ctl.limit()})
			nextTrace = t + 500*time.Millisecond
		}
		if now.Sub(epoch) >= ph.until {
			run.limitAt = append(run.limitAt, ctl.target)
			phase++
		}
	}
	run.elapsed = now.Sub(epoch)
	return run
}

func (r simRun) String() string {
	s := fmt.Sprintf("%d MiB in %v, blocked %v, max resident %d KiB; limit over time:", r.written>>20, r.elapsed, r.blocked, r.maxResident>>10)
	for _, p := range r.trace {
		s += fmt.Sprintf(" %v:%dK", p.at.Round(time.Millisecond), p.limit>>10)
	}
	return s
}

const (
	mbps = 1e6 // bytes per second
	ms   = time.Millisecond
)

// TestAutoSteadyDevice: on a device of constant speed, with the default
// floor and ceiling, the writer gets nearly the throughput of a ring at the
// ceiling (start-up included), and the ring settles no higher than the
// floor or a few times the bandwidth-latency product.
func TestAutoSteadyDevice(t *testing.T) {
	for _, tc := range []struct {
		bw       float64
		lat      time.Duration
		writerBW float64
	}{
		{1000 * mbps, 2 * ms, 4000 * mbps}, // BDP 2 MB
		{200 * mbps, 5 * ms, 4000 * mbps},  // BDP 1 MB
		{50 * mbps, 20 * ms, 4000 * mbps},  // BDP 1 MB
		{3000 * mbps, 1 * ms, 2000 * mbps}, // writer-limited: needs 2 MB
	} {
		t.Run(fmt.Sprintf("bw=%gMB/s/lat=%v", tc.bw/mbps, tc.lat), func(t *testing.T) {
			p := defaultAutoParams(DefaultAutoMin, DefaultAutoMax)
			p.floorWindows = NbdkitWindows
			phases := []simPhase{{10 * time.Second, tc.bw, tc.lat}}
			auto := simulate(p, 0, 256<<10, tc.writerBW, phases)
			full := simulate(p, p.max, 256<<10, tc.writerBW, phases)
			need := min(tc.bw, tc.writerBW) * tc.lat.Seconds()
			got := auto.limitAt[0]
			t.Logf("auto: %v", auto)
			t.Logf("need %.0f KiB in flight; auto limit %d KiB; throughput auto/ceiling %.3f",
				need/1024, got>>10, float64(auto.written)/float64(full.written))
			if auto.maxResident > p.max {
				t.Errorf("ring held %d bytes, above the ceiling %d", auto.maxResident, p.max)
			}
			if float64(got) > max(4*need+float64(256<<10), float64(p.min)) {
				t.Errorf("limit %d KiB, want no more than the floor or 4 times the %.0f KiB needed", got>>10, need/1024)
			}
			// Both ran for the same simulated time: compare the bytes.
			if r := float64(auto.written) / float64(full.written); r < 0.95 {
				t.Errorf("auto wrote at %.3f of the throughput of a ring at the ceiling", r)
			}
		})
	}
}

// TestAutoFollowsDevice: when the device slows down the ring shrinks, and
// when it speeds up again the ring grows back, never to more than a few
// times what the device needs; the writer loses little to it; residency
// never goes above the ceiling.
func TestAutoFollowsDevice(t *testing.T) {
	p := defaultAutoParams(64<<10, 16<<20)
	fast := func(until time.Duration) simPhase { return simPhase{until, 1000 * mbps, 4 * ms} }
	slow := func(until time.Duration) simPhase { return simPhase{until, 100 * mbps, 4 * ms} }
	for _, tc := range []struct {
		name   string
		phases []simPhase
		grow   bool // the limit at the end of phase 2 is above that of phase 1
	}{
		{"down", []simPhase{fast(5 * time.Second), slow(10 * time.Second)}, false},
		{"up", []simPhase{slow(5 * time.Second), fast(10 * time.Second)}, true},
		{"down-up", []simPhase{fast(5 * time.Second), slow(10 * time.Second), fast(15 * time.Second)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := simulate(p, 0, 256<<10, 4000*mbps, tc.phases)
			full := simulate(p, p.max, 256<<10, 4000*mbps, tc.phases)
			t.Log(run)
			if r := float64(run.written) / float64(full.written); r < 0.9 {
				t.Errorf("auto wrote at %.3f of the throughput of a ring at the ceiling", r)
			}
			if run.maxResident > p.max {
				t.Errorf("ring held %d bytes, above the ceiling %d", run.maxResident, p.max)
			}
			before, after := run.limitAt[0], run.limitAt[1]
			if tc.grow && after < 2*before || !tc.grow && before < 2*after {
				t.Errorf("limit %d KiB before the change and %d KiB after: want a factor of 2 or more toward the device's need", before>>10, after>>10)
			}
			for i, ph := range tc.phases {
				need := ph.bw * ph.lat.Seconds()
				if got := float64(run.limitAt[i]); got > 4*need+float64(256<<10) {
					t.Errorf("phase %d: limit %.0f KiB, want no more than 4 times the %.0f KiB needed", i, got/1024, need/1024)
				}
			}
		})
	}
}

// TestAutoStalledDevice: a device that stops for two seconds blocks the
// writer (as any ring would) without the ring growing past the ceiling or
// shrinking below the floor, and the ring returns to the device's need
// once it runs again.
func TestAutoStalledDevice(t *testing.T) {
	p := defaultAutoParams(256<<10, 8<<20)
	phases := []simPhase{
		{3 * time.Second, 1000 * mbps, 2 * ms},
		{5 * time.Second, 0, 2 * ms},
		{12 * time.Second, 1000 * mbps, 2 * ms},
	}
	run := simulate(p, 0, 256<<10, 4000*mbps, phases)
	t.Log(run)
	if run.maxResident > p.max {
		t.Errorf("ring held %d bytes, above the ceiling %d", run.maxResident, p.max)
	}
	for _, tp := range run.trace {
		if tp.limit < p.min || tp.limit > p.max {
			t.Errorf("limit %d at %v outside [%d, %d]", tp.limit, tp.at, p.min, p.max)
		}
	}
	need := 1000 * mbps * (2 * ms).Seconds()
	if got := float64(run.limitAt[2]); got > 4*need+float64(256<<10) {
		t.Errorf("after the stall: limit %.0f KiB, want no more than 4 times the %.0f KiB needed", got/1024, need/1024)
	}
	if run.limitAt[2] < 2*run.limitAt[1] {
		t.Errorf("limit %d KiB at the end of the stall and %d KiB after it: it did not grow back", run.limitAt[1]>>10, run.limitAt[2]>>10)
	}
	if run.blocked < 2*time.Second-10*ms {
		t.Errorf("writer blocked %v in all, less than the stall: the simulation is wrong", run.blocked)
	}
}

// TestAutoCeiling: a device that needs more than the ceiling gets the
// ceiling, and never more.
func TestAutoCeiling(t *testing.T) {
	p := defaultAutoParams(1<<20, 4<<20)
	run := simulate(p, 0, 1<<20, 8000*mbps, []simPhase{{5 * time.Second, 2000 * mbps, 10 * ms}})
	t.Log(run)
	if run.maxResident > p.max {
		t.Errorf("ring held %d bytes, above the ceiling %d", run.maxResident, p.max)
	}
	if run.limitAt[0] != p.max {
		t.Errorf("limit %d, want the ceiling %d for a device that needs 20 MB", run.limitAt[0], p.max)
	}
}

// TestAutoFaithfulFloor: with the default floor, the ring never holds less
// than window:8 would (8 windows of the writes), so no writer waits longer
// at once than under the faithful ring, on a device that needs less (where
// the ring stays at that floor) or more (where it grows past it), through
// a slowdown and a stall; an explicit min= lets it go below.
func TestAutoFaithfulFloor(t *testing.T) {
	stall := []simPhase{{2 * time.Second, 1000 * mbps, 1 * ms}, {3 * time.Second, 0, 1 * ms}, {5 * time.Second, 50 * mbps, 20 * ms}}
	for _, tc := range []struct {
		name   string
		req    int64
		phases []simPhase
	}{
		{"small-need", 256 << 10, []simPhase{{5 * time.Second, 1000 * mbps, 200 * time.Microsecond}}},
		{"large-need", 256 << 10, []simPhase{{5 * time.Second, 1000 * mbps, 8 * ms}}},
		{"slowdown-stall", 256 << 10, stall},
		{"small-writes", 16 << 10, stall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultAutoParams(DefaultAutoMin, DefaultAutoMax)
			p.floorWindows = NbdkitWindows
			faithful := NbdkitWindows * tc.req
			auto := simulate(p, 0, tc.req, 4000*mbps, tc.phases)
			ring := simulate(p, faithful, tc.req, 4000*mbps, tc.phases)
			t.Logf("auto: %v", auto)
			t.Logf("window:%d: %v", NbdkitWindows, ring)
			if want := max(faithful, p.min); auto.minLimit < want {
				t.Errorf("limit fell to %d KiB, below the floor %d KiB", auto.minLimit>>10, want>>10)
			}
			// Each wait is for a window at least as old as the faithful
			// ring's, so the writer waits no longer in all (a single wait
			// may be longer after a larger ring queued more).
			if float64(auto.blocked) > 1.01*float64(ring.blocked) {
				t.Errorf("writer blocked %v in all, window:%d %v", auto.blocked, NbdkitWindows, ring.blocked)
			}
			if float64(auto.written) < 0.99*float64(ring.written) {
				t.Errorf("auto wrote %d MiB, window:%d %d MiB in the same time", auto.written>>20, NbdkitWindows, ring.written>>20)
			}
			if auto.maxResident > p.max {
				t.Errorf("ring held %d bytes, above the ceiling %d", auto.maxResident, p.max)
			}
		})
	}
	p := defaultAutoParams(64<<10, DefaultAutoMax)
	run := simulate(p, 0, 256<<10, 4000*mbps, []simPhase{{2 * time.Second, 1000 * mbps, 200 * time.Microsecond}})
	if run.minLimit >= NbdkitWindows*256<<10 {
		t.Errorf("with min=64K the limit stayed at %d KiB or more, the faithful ring's", run.minLimit>>10)
	}
}
