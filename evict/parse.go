package evict

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pagecache-suite/wcache/internal/size"
)

// ErrSyntax is wrapped by every error Parse returns for text that is not a
// policy name.
var ErrSyntax = errors.New("invalid eviction policy")

// ErrUnsupported is wrapped by the errors of policies that need Linux page
// cache controls (sync_file_range, posix_fadvise, mincore) on systems that
// lack them. It also matches errors.ErrUnsupported.
var ErrUnsupported = fmt.Errorf("eviction policy needs Linux page-cache controls: %w", errors.ErrUnsupported)

// kind is the write side of a policy.
type kind int

const (
	kindNone      kind = iota // leave writes in the cache
	kindFlushEach             // fdatasync and DONTNEED every write
	kindWindow                // ring of write windows
)

// readMode is the read side of a policy.
type readMode int

const (
	readKeep  readMode = iota // leave read pages in the cache
	readEach                  // DONTNEED the range of every read (nbdkit)
	readFresh                 // drop only pages not cached at Attach, in aligned blocks
)

var readModeNames = map[readMode]string{readKeep: "keep", readEach: "each", readFresh: "fresh"}

// DefaultMergeSize is the span that the merge option lets adjacent writes
// grow to before their writeback starts.
const DefaultMergeSize = 1 << 20

// DefaultReadBlock is the block size of read=fresh: the largest folio the
// kernel's page cache builds on x86-64 (PMD order, 2 MiB).
const DefaultReadBlock = 2 << 20

// config is a parsed policy.
type config struct {
	kind    kind
	windows int   // window: bound on spans in the ring, 0 = none
	bytes   int64 // window: bound on bytes in the ring, 0 = none
	auto    bool  // window:auto: the ring sized by a controller
	autoMin int64 // window:auto: floor of the ring, bytes
	autoMax int64 // window:auto: ceiling of the ring, bytes
	// window:auto without min=: the floor is also this many windows of
	// the latest write (the faithful ring, NbdkitWindows)
	autoFloorWindows int
	perStream        bool  // window: one ring per Stream instead of one per Policy
	merge            int64 // window: merge adjacent writes up to this size, 0 = off
	drain            bool  // window: Close waits for and drops what is left
	read             readMode
	readBlock        int64 // read=fresh: block size
}

// Names is the help text for policy names, suitable for a flag's usage.
const Names = `Eviction policies (evict.Parse):
  none              leave the page cache alone (nbdkit cache=default)
  flush-each        fdatasync every write, then drop it (nbdkit cache=none
                    before its 2021 window ring: slow, the "bad case")
  window:N          nbdkit's ring of N write windows shared by every writer of
                    the process: start writeback after each write, wait for and
                    drop the write pushed out of the ring (nbdkit cache=none)
Options, after the name and a colon, separated by commas:
  N                 window: ring bound in writes (window:8)
  bytes=SIZE        window: ring bound in bytes in flight (window:bytes=16M,
                    or both: window:8,bytes=16M); SIZE as nbdkit's: K, M, G,
                    T (powers of 1024), optionally with B or iB
  auto              window: instead of N or bytes, a ring in bytes that tunes
                    itself to the device: no less than window:8 would hold,
                    larger only while that buys bandwidth, and at most about
                    twice its bandwidth times its write-back latency
                    (window:auto); implies drain
  max=SIZE          auto: ceiling of the ring (default 16M)
  min=SIZE          auto: floor of the ring (default: what window:8 holds, 8
                    windows of the latest write, and at least 1M; never above
                    max)
  per=stream        window: one ring per stream (per NBD connection or worker)
                    instead of one per process (per=process, the default)
  merge[=SIZE]      window: grow each stream's newest window with the writes
                    that continue it, up to SIZE (default 1M), before starting
                    its writeback
  drain             window: Close waits for and drops what is left in the ring
                    (nbdkit forgets those windows)
  read=MODE         what reads do: keep (default for none), each (drop every
                    read range, nbdkit; default for flush-each and window) or
                    fresh (drop only pages that were not cached at attach, in
                    2 MiB-aligned blocks once reads have covered them, so that
                    large folios go too)
  block=SIZE        read=fresh: block size (default 2M)
Examples: none  none:read=fresh  flush-each  window:8
          window:8,per=stream  window:bytes=16M,merge,drain,read=fresh
          window:auto  window:auto,merge,per=stream,max=64M,min=256K
Recommended: ` + Recommended + `
`

// Recommended is the policy that measured best in scripts/bench-evict
// (stored in runs/evict-bench-2026-11.md): durable writes faster than none
// and about as fast as window:8, nothing left cached after Close, and reads
// that leave only what was cached before.
const Recommended = "window:bytes=16M,merge,drain,read=fresh"

// Parse returns the policy named by text (see Names for the syntax).
// Errors wrap ErrSyntax for bad text and ErrUnsupported for policies this
// system cannot carry out.
func Parse(text string) (Policy, error) {
	c, err := parseConfig(text)
	if err != nil {
		return nil, err
	}
	return newPolicy(c)
}

func parseConfig(text string) (config, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrSyntax, text, fmt.Sprintf(format, a...))
	}
	name, args, hasArgs := strings.Cut(strings.TrimSpace(text), ":")
	var c config
	switch name {
	case "none":
		c.kind, c.read = kindNone, readKeep
	case "flush-each":
		c.kind, c.read = kindFlushEach, readEach
	case "window":
		c.kind, c.read = kindWindow, readEach
	case "":
		return c, bad("empty name; want none, flush-each or window:N")
	default:
		return c, bad("unknown name %q; want none, flush-each or window:N", name)
	}
	if hasArgs && args == "" {
		return c, bad("empty option list after %q", name+":")
	}
	seen := map[string]bool{}
	for i, opt := range strings.Split(args, ",") {
		if !hasArgs {
			break
		}
		key, val, hasVal := strings.Cut(opt, "=")
		if opt != "" && (opt[0] == '-' || opt[0] == '+' || opt[0] >= '0' && opt[0] <= '9') {
			if c.kind != kindWindow || i != 0 {
				return c, bad("a bare number is the window count and comes first: window:8")
			}
			n, err := strconv.Atoi(opt)
			if err != nil || n < 1 {
				return c, bad("window count %q is not a positive integer", opt)
			}
			c.windows = n
			continue
		}
		if seen[key] {
			return c, bad("option %q given twice", key)
		}
		seen[key] = true
		windowOnly := func() error {
			if c.kind != kindWindow {
				return bad("option %q applies to window only", key)
			}
			return nil
		}
		switch key {
		case "bytes":
			if err := windowOnly(); err != nil {
				return c, err
			}
			n, err := sizeValue(val, hasVal)
			if err != nil {
				return c, bad("bytes: %v", err)
			}
			c.bytes = n
		case "auto", "drain":
			if err := windowOnly(); err != nil {
				return c, err
			}
			if hasVal {
				return c, bad("%s takes no value", key)
			}
			if key == "auto" {
				c.auto = true
			} else {
				c.drain = true
			}
		case "max", "min":
			n, err := sizeValue(val, hasVal)
			if err != nil {
				return c, bad("%s: %v", key, err)
			}
			if key == "max" {
				c.autoMax = n
			} else {
				c.autoMin = n
			}
		case "per":
			if err := windowOnly(); err != nil {
				return c, err
			}
			switch val {
			case "stream":
				c.perStream = true
			case "process":
				c.perStream = false
			default:
				return c, bad("per=%q: want per=stream or per=process", val)
			}
		case "merge":
			if err := windowOnly(); err != nil {
				return c, err
			}
			c.merge = DefaultMergeSize
			if hasVal {
				n, err := parseSize(val)
				if err != nil {
					return c, bad("merge: %v", err)
				}
				c.merge = n
			}
		case "read":
			switch val {
			case "keep":
				c.read = readKeep
			case "each":
				c.read = readEach
			case "fresh":
				c.read = readFresh
			default:
				return c, bad("read=%q: want read=keep, read=each or read=fresh", val)
			}
		case "block":
			n, err := sizeValue(val, hasVal)
			if err != nil {
				return c, bad("block: %v", err)
			}
			if n%4096 != 0 {
				return c, bad("block=%q is not a multiple of 4K", val)
			}
			c.readBlock = n
		case "":
			return c, bad("empty option")
		default:
			return c, bad("unknown option %q", key)
		}
	}
	if c.auto && (c.windows != 0 || c.bytes != 0) {
		return c, bad("auto sizes the ring itself: give it no count or bytes=")
	}
	if !c.auto && (c.autoMax != 0 || c.autoMin != 0) {
		return c, bad("max= and min= apply to window:auto only")
	}
	if c.auto {
		c.drain = true // a ring that keeps residency low leaves nothing behind
		if c.autoMax == 0 {
			c.autoMax = max(DefaultAutoMax, c.autoMin)
		}
		if c.autoMin == 0 {
			c.autoMin = min(DefaultAutoMin, c.autoMax)
			c.autoFloorWindows = NbdkitWindows
		}
		if c.autoMin > c.autoMax {
			return c, bad("min=%s is above max=%s", size.Format(c.autoMin), size.Format(c.autoMax))
		}
	}
	if c.kind == kindWindow && c.windows == 0 && c.bytes == 0 && !c.auto {
		return c, bad("window needs a bound: a count (window:8), bytes (window:bytes=16M) or auto")
	}
	if c.readBlock != 0 && c.read != readFresh {
		return c, bad("block= applies to read=fresh only")
	}
	if c.read == readFresh && c.readBlock == 0 {
		c.readBlock = DefaultReadBlock
	}
	return c, nil
}

// sizeValue parses the value of an option that requires a size.
func sizeValue(val string, hasVal bool) (int64, error) {
	if !hasVal {
		return 0, errors.New("missing size (write it as option=SIZE)")
	}
	return parseSize(val)
}

// parseSize reads a positive byte count in the suite's size syntax.
func parseSize(s string) (int64, error) {
	n, err := size.Parse(s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes", s)
	}
	return n, nil
}

// String is the canonical text of c: Parse(c.String()) yields c.
func (c config) String() string {
	var name string
	var opts []string
	defaultRead := readEach
	switch c.kind {
	case kindNone:
		name, defaultRead = "none", readKeep
	case kindFlushEach:
		name = "flush-each"
	case kindWindow:
		name = "window"
		if c.windows > 0 {
			opts = append(opts, strconv.Itoa(c.windows))
		}
		if c.bytes > 0 {
			opts = append(opts, "bytes="+size.Format(c.bytes))
		}
		if c.auto {
			opts = append(opts, "auto")
			if c.autoMax != max(DefaultAutoMax, c.autoMin) {
				opts = append(opts, "max="+size.Format(c.autoMax))
			}
			if c.autoFloorWindows == 0 {
				opts = append(opts, "min="+size.Format(c.autoMin))
			}
		}
		if c.perStream {
			opts = append(opts, "per=stream")
		}
		if c.merge == DefaultMergeSize {
			opts = append(opts, "merge")
		} else if c.merge > 0 {
			opts = append(opts, "merge="+size.Format(c.merge))
		}
		if c.drain && !c.auto {
			opts = append(opts, "drain")
		}
	}
	if c.read != defaultRead {
		opts = append(opts, "read="+readModeNames[c.read])
	}
	if c.read == readFresh && c.readBlock != DefaultReadBlock {
		opts = append(opts, "block="+size.Format(c.readBlock))
	}
	if len(opts) == 0 {
		return name
	}
	return name + ":" + strings.Join(opts, ",")
}
