package evict

import "time"

// Default bounds of window:auto's ring, in bytes (max= and min=).
const (
	DefaultAutoMax = 16 << 20
	DefaultAutoMin = 1 << 20
)

// autoParams tunes the controller of window:auto.
type autoParams struct {
	min, max int64 // floor and ceiling of the ring, bytes
	// floorWindows > 0 raises the floor to that many windows of the
	// latest write: the ring window:N would hold (the default floor,
	// N = NbdkitWindows).
	floorWindows int

	// gain is the headroom: the ring holds gain times the estimated
	// bandwidth-latency product.
	gain float64
	// probeDiv divides the ring during a latency probe.
	probeDiv int64
	// bwHorizon is how long a bandwidth sample counts in the max filter;
	// latHorizon how long the minimum latency stands before a probe
	// measures it again.
	bwHorizon, latHorizon time.Duration
	// rateInterval is the shortest time a rate sample averages over, and
	// so the shortest round (see autoCtl).
	rateInterval time.Duration
	// growth is the rise of bandwidth over a round, as a factor, that
	// counts as the device taking more of a larger ring.
	growth float64
	// startGain and probeGain multiply the ring in a round that tries a
	// larger one: while bandwidth has risen every round since the start
	// (or since the device sped up), and every probeRounds flat rounds.
	startGain, probeGain float64
	probeRounds          int
	// headroom multiplies full between probes: the ring where bandwidth
	// stopped rising by growth is at the edge of what the device needs.
	headroom float64
}

func defaultAutoParams(min, max int64) autoParams {
	return autoParams{
		min: min, max: max,
		gain:         2,
		probeDiv:     4,
		bwHorizon:    time.Second,
		latHorizon:   500 * time.Millisecond,
		rateInterval: 250 * time.Millisecond,
		growth:       1.25,
		startGain:    2,
		probeGain:    2,
		probeRounds:  8,
		headroom:     1.5,
	}
}

// autoObs is one window that a writer waited for: bytes written back,
// when its writeback was started, when the wait for it began and ended,
// and the controller's counts when it was started.
type autoObs struct {
	bytes            int64
	start, wait, end time.Time
	at               autoMark
}

// autoMark is the controller's byte counts when a window's writeback
// started: bytes observed written back, and bytes whose writeback had
// started before it; probe is set if a probe was running and the bytes
// still in flight ahead of the window were within the probe's ring.
type autoMark struct {
	delivered, submitted int64
	probe                bool
}

// AutoState is what window:auto's controller knows and decides, for
// callers that sample it, for instance to plot it beside resident pages.
type AutoState struct {
	Limit     int64         // current ring size in bytes (the bound pushes evict to)
	Target    int64         // the controller's ring outside latency probes, before the floor: within [Min, Max], at most gain × Bandwidth × Latency
	Min, Max  int64         // bounds of the ring (min=, max=)
	Floor     int64         // the least Limit now: Min, or by default also what window:8 holds (8 windows of the latest write), within Max
	Bandwidth float64       // estimated write-back bandwidth, bytes per second (0 before the first sample)
	Latency   time.Duration // estimated unqueued write-back latency of a window (0 before the first sample)
	Probing   bool          // the ring is shrunk to measure latency
	Resident  int64         // bytes in the ring(s) now: written and not yet dropped
	Windows   int           // windows in the ring(s) now
	Rings     int           // live rings (one, or one per stream with per=stream)
	Samples   int64         // windows observed so far
	Blocked   time.Duration // total time writers waited for write-back
}

// autoCtl sizes window:auto's ring from observed windows. It is a pure
// state machine: times come from the observations, so tests drive it with
// a simulated device. It is not safe for concurrent use; autoShared
// serialises it.
//
// The model is BBR's: the ring must hold the bandwidth-delay product of
// the write-back path (bandwidth × latency of a window that does not
// queue behind others) to keep the device busy, and anything beyond it
// only queues. Each observed window gives a delivery-rate sample (see
// rate) and a latency sample (start of its writeback to the end of the
// wait for it). Bandwidth is the maximum rate of the last bwHorizon, so it
// follows a faster device at once and a slower one after bwHorizon; the
// samples of a writer that did not have to wait are lower bounds and lose
// to real ones. Latency is the minimum: once the ring is fuller than the
// product, every window's latency includes the queue ahead of it, so the
// minimum only holds while samples come from a short ring. When it is
// latHorizon old the controller therefore probes: it shrinks the ring to
// 1/probeDiv of its size until a ring's worth of windows started with no
// more than that ahead of them have completed, and takes their minimum
// latency as the new estimate. A ring twice the product (gain) probes at
// half the product, where latency is the device's own; a ring larger than
// needed measures the smaller queue and shrinks. The ring is at most gain
// × bandwidth × latency (the product), kept within [min, max]; it starts
// at min, and grows as below. The floor (see floor) is min, or by
// default the faithful ring's bytes, NbdkitWindows windows of the latest
// write: window:8's ring. On every device of the suite's matrix the
// product was below that ring (runs/matrix-budget256M: with a 1 MiB floor
// the ring stayed at 1 MiB on the loop devices, 1.5 MiB on zram), and the
// smaller ring cost 7% of native/ext4's throughput against window:32 and
// one throttle slice of tail latency on throttled:50M, where writers
// waited for younger windows than under window:8. A stalled device delivers nothing, so
// nothing changes until it completes a window; the writer waits for that
// as any ring's would.
//
// The product is an upper bound of what the device can use, not a
// measure of it: a device whose latency does not shrink with a shorter
// queue (a throttle's time slices, a host cache that flushes in bursts)
// reads as a long pipe. With the product alone, the ring reached 5-10 MiB
// in some runs on a loop device throttled to 50 MiB/s (xfs), where one
// 256 KiB window wrote as fast (runs/matrix-budget256M-auto-v1). So the
// ring grows toward the product only while that buys bandwidth, as BBR
// leaves its start-up. In rounds (a ring's worth of completed bytes, and
// at least rateInterval, or an eighth of it while every round has brought
// more), the bandwidth a round delivered is compared with the last rise:
// a round that delivered growth times more (or the first) records the
// ring it ran with (at least one window) as the ring the device uses,
// full, and tries a larger one, startGain times full while every round
// has risen, probeGain times after a flat spell; a flat round sets the
// ring to headroom times full (or to full when full is the floor: a ring
// never shown to need more than the floor gets no headroom); every
// probeRounds flat rounds one round tries probeGain times full, in case
// the device can take more now; a round that delivered growth times less
// (a slower device) shrinks full in proportion, since the product shrinks
// with the bandwidth. The product stays the upper bound, and shrinks the
// ring at once. A trial happens only if the product leaves room for all of
// it: a ring r times larger can raise bandwidth r times at most, so a
// trial cut short by the product could not show a rise of growth above a
// round's noise, and would only hold more pages. (With cut-short trials,
// in a matrix run not kept, the ring reached 2.2-2.8 MiB on zram, where
// the product read about 2.6 MiB under the 2 MiB floor's queue and
// window:8's 2 MiB wrote as fast.)
//
// The mean latency of a probe's windows instead of the minimum was tried:
// write-back latency is bursty (the flusher, a throttle's time slices, the
// host's cache), and the mean gave rings 2-8 times larger on the suite's
// virtual disk, with peaks at the ceiling, for no throughput that three
// interleaved rounds could tell apart from the minimum's.
type autoCtl struct {
	p         autoParams
	delivered int64 // bytes of all observed windows
	submitted int64 // bytes of all started windows
	samples   int64
	blocked   time.Duration

	bw   []rateSample    // decreasing rates, increasing times: bw[0] is the max
	hist []deliveredMark // completions of the last rateInterval and the one before

	lat   time.Duration // minimum latency, 0 = none yet
	latAt time.Time

	probing    bool
	probeStart time.Time
	probeMin   time.Duration // least latency of the probe's windows
	probeBytes int64

	target int64

	// Rounds: the current one ends when delivered reaches roundEnd and
	// rateInterval has passed since roundAt.
	roundAt  time.Time
	roundEnd int64
	roundDel int64   // delivered when the round began
	fullBW   float64 // bandwidth when it last rose by growth or more
	full     int64   // the ring that bandwidth was measured with
	flat     int     // rounds since; -1 before the first
	window   int64   // bytes of the last observed window
	req      int64   // bytes of the last started window
}

type deliveredMark struct {
	at        time.Time
	delivered int64
}

type rateSample struct {
	at   time.Time
	rate float64 // bytes per second
}

func newAutoCtl(p autoParams) *autoCtl {
	return &autoCtl{p: p, target: p.min, flat: -1}
}

func (p autoParams) clamp(n int64) int64 { return min(max(n, p.min), p.max) }

// started counts a window of n bytes whose writeback starts now and returns
// what it must carry into its observation.
func (c *autoCtl) started(n int64) autoMark {
	c.req = n
	m := autoMark{c.delivered, c.submitted, c.probing && c.submitted-c.delivered <= c.limit()+n}
	c.submitted += n
	return m
}

// limit is the ring size to keep now.
func (c *autoCtl) limit() int64 {
	if c.probing {
		return max(c.floor(), c.p.clamp(c.target/c.p.probeDiv))
	}
	return max(c.target, c.floor())
}

// floor is the least ring kept: min, and with floorWindows that many
// windows of the latest write, so that no writer waits for a younger
// window than the faithful ring would make it wait for (unless the
// ceiling is below that ring).
func (c *autoCtl) floor() int64 { return c.p.clamp(int64(c.p.floorWindows) * c.req) }

// ringFloor is the least ring each of several rings (per=stream) keeps:
// the faithful ring's windows of the latest write, within the ceiling,
// or 0 without floorWindows.
func (c *autoCtl) ringFloor() int64 { return min(int64(c.p.floorWindows)*c.req, c.p.max) }

// observe takes one completed window and updates the estimates and the
// ring size.
func (c *autoCtl) observe(o autoObs) {
	c.delivered += o.bytes
	c.window = o.bytes
	c.samples++
	c.blocked += o.end.Sub(o.wait)
	lat := max(o.end.Sub(o.start), time.Microsecond)
	if r, ok := c.rate(o, lat); ok {
		c.addRate(o.end, r)
	}

	switch {
	case c.probing:
		if o.at.probe {
			c.probeMin = min(c.probeMin, lat)
			c.probeBytes += o.bytes
		}
		switch {
		case c.probeBytes >= c.limit():
			if c.probeMin > 2*c.lat {
				// The device slowed down: the bandwidth it had is
				// history, and with the new latency it would
				// swell the ring for a whole bwHorizon.
				c.bw = c.bw[len(c.bw)-1:]
			}
			c.probing = false
			c.lat, c.latAt = c.probeMin, o.end
		case o.end.Sub(c.probeStart) > c.p.latHorizon:
			// The ring never drained to the probe's size (its
			// windows are larger): keep the estimate a while.
			c.probing = false
			c.latAt = o.end
		}
	case c.lat == 0 || lat < c.lat:
		c.lat, c.latAt = lat, o.end
	case o.end.Sub(c.latAt) > c.p.latHorizon:
		c.probing, c.probeStart, c.probeMin, c.probeBytes = true, o.end, time.Duration(1<<63-1), 0
	}
	if len(c.bw) == 0 {
		return
	}
	want := c.p.clamp(int64(c.p.gain * c.bw[0].rate * c.lat.Seconds()))
	if c.delivered >= c.roundEnd && o.end.Sub(c.roundAt) >= c.roundTime() {
		if !c.roundAt.IsZero() {
			c.endRound(want, float64(c.delivered-c.roundDel)/o.end.Sub(c.roundAt).Seconds())
		}
		c.roundEnd, c.roundAt, c.roundDel = c.submitted, o.end, c.delivered
	} else if want < c.target {
		c.target = want
	}
}

// roundTime is the shortest round: an eighth of rateInterval while the
// bandwidth rises every round, so that the ring reaches what a fast device
// needs within a few tens of milliseconds; rateInterval once it has been
// flat, to average out a throttle's time slices.
func (c *autoCtl) roundTime() time.Duration {
	if c.flat <= 0 {
		return c.p.rateInterval / 8
	}
	return c.p.rateInterval
}

// endRound sizes the ring for the next round from the bandwidth the one
// that ended delivered, bw (see autoCtl), and the product want.
func (c *autoCtl) endRound(want int64, bw float64) {
	switch {
	case c.flat < 0 || bw >= c.p.growth*c.fullBW:
		// The device took more of the ring, or this is the first
		// round: try a larger one.
		gain := c.p.probeGain
		if c.flat <= 0 {
			gain = c.p.startGain
		}
		// A ring keeps one window however small its limit.
		c.fullBW, c.full, c.flat = bw, max(c.target, c.floor(), c.window), 0
		if c.try(want, gain) {
			return
		}
		c.flat = 1 // no room to grow: as after a flat round
		c.settle(want)
		return
	case bw*c.p.growth <= c.fullBW:
		// A slower device needs less in flight.
		c.full = max(c.p.min, int64(float64(c.full)*bw/c.fullBW))
		c.fullBW = bw
	}
	c.flat++
	if c.flat%c.p.probeRounds == 0 && c.try(want, c.p.probeGain) {
		return
	}
	c.settle(want)
}

// try sets the ring to gain times full for a round, if the product want
// leaves room for all of it, and reports whether it did. A smaller trial
// is not worth its residency: a ring r times larger raises bandwidth by r
// at most, and the trial's round must tell a rise of growth from noise.
func (c *autoCtl) try(want int64, gain float64) bool {
	t := c.larger(gain)
	if t > want || t <= c.floor() {
		return false
	}
	c.target = t
	return true
}

// settle sets the ring between trials: full, with headroom if bandwidth
// rose with a ring above the floor, within the product want.
func (c *autoCtl) settle(want int64) {
	if c.full <= c.floor() {
		// Bandwidth never rose with a ring above the floor: the floor
		// is all the device takes.
		c.target = min(want, c.full)
		return
	}
	c.target = min(want, c.p.clamp(int64(c.p.headroom*float64(c.full))))
}

// larger is the ring that tries gain times full, and at least one window
// more than full.
func (c *autoCtl) larger(gain float64) int64 {
	return c.p.clamp(max(int64(gain*float64(c.full)), c.full+c.window))
}

// rate is the delivery-rate sample of o. Over the window's lifetime lat it
// is the bytes that completed meanwhile, but no more than were started
// meanwhile: a writer that did not wait learns of completions late and in
// bursts, and the device cannot have written faster than it was given
// data. A lifetime shorter than rateInterval is too short to average out
// such bursts (and a throttle's time slices), so then the rate is taken
// over the last rateInterval of completions instead (over what there is,
// early on, but no less than an eighth of it).
func (c *autoCtl) rate(o autoObs, lat time.Duration) (float64, bool) {
	c.hist = append(c.hist, deliveredMark{o.end, c.delivered})
	from := o.end.Add(-c.p.rateInterval)
	k := 0
	for k+1 < len(c.hist) && !c.hist[k+1].at.After(from) {
		k++
	}
	c.hist = c.hist[k:] // hist[0] is the last completion at or before from, if any
	if lat >= c.p.rateInterval {
		return float64(min(c.delivered-o.at.delivered, c.submitted-o.at.submitted)) / lat.Seconds(), true
	}
	if h := c.hist[0]; o.end.Sub(h.at) >= c.p.rateInterval/8 {
		return float64(c.delivered-h.delivered) / o.end.Sub(h.at).Seconds(), true
	}
	return 0, false // too early to tell
}

// addRate puts a rate sample into the windowed max filter.
func (c *autoCtl) addRate(at time.Time, rate float64) {
	k := len(c.bw)
	for k > 0 && c.bw[k-1].rate <= rate {
		k--
	}
	c.bw = append(c.bw[:k], rateSample{at, rate})
	drop := 0
	for drop < len(c.bw)-1 && at.Sub(c.bw[drop].at) > c.p.bwHorizon {
		drop++
	}
	c.bw = append(c.bw[:0], c.bw[drop:]...)
}

// state fills in the controller's part of an AutoState.
func (c *autoCtl) state() AutoState {
	s := AutoState{
		Limit: c.limit(), Target: c.target, Min: c.p.min, Max: c.p.max, Floor: c.floor(),
		Latency: c.lat, Probing: c.probing,
		Samples: c.samples, Blocked: c.blocked,
	}
	if len(c.bw) > 0 {
		s.Bandwidth = c.bw[0].rate
	}
	return s
}
