package evict

import "strconv"

// Name is the text of a policy as Parse reads it. The names the suite
// itself chooses (the references, nbdkit's ring, the servers' cache=none)
// are built here, so that the server, the benchmark and its tables spell a
// configuration the same way.
type Name string

// The policies without options.
const (
	// None leaves the page cache to the kernel: nbdkit cache=default.
	None Name = "none"
	// FlushEach makes every write durable and drops it: nbdkit cache=none
	// before its window ring.
	FlushEach Name = "flush-each"
	// WindowAuto is the ring that sizes itself from measured write-back
	// bandwidth and latency, within its default ceiling.
	WindowAuto Name = "window:auto"
)

// NbdkitWindows is NR_WINDOWS, the fixed size of the write-window ring of
// nbdkit's file plugin with cache=none.
const NbdkitWindows = 8

// Window names nbdkit's ring of n write windows, faithfully: "window:N".
// Window(NbdkitWindows) is what nbdkit's cache=none does.
func Window(n int) Name { return Name("window:" + strconv.Itoa(n)) }

// CacheNone names what the suite's NBD server does for cache=none with a
// ring of n windows: nbdkit's ring, drained at Close instead of forgetting
// its last windows, and reads that drop only pages not cached before
// (read=fresh) instead of every range read: "window:N,drain,read=fresh".
func CacheNone(n int) Name { return Window(n) + ",drain,read=fresh" }
