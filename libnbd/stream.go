package libnbd

// This file is the suite's own helper, not part of the upstream binding's
// API: it uses only the public calls above, so it works unchanged on top of
// libguestfs.org/libnbd if moved to a package of its own.

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"syscall"
	"time"
)

// Defaults of StreamConfig, those of nbdcopy.
const (
	DefaultRequestSize = 256 << 10
	DefaultInFlight    = 64
)

// ErrStreamConfig is wrapped by the errors WriteStream returns for a
// configuration it cannot run.
var ErrStreamConfig = errors.New("bad stream configuration")

// StreamConfig describes how WriteStream writes a region of the export.
type StreamConfig struct {
	Offset      uint64 // first byte of the region in the export
	Length      uint64 // bytes to write; 0 means from Offset to the end of the export
	RequestSize uint   // bytes per request, the last may be shorter; 0 means DefaultRequestSize
	InFlight    uint   // most requests in flight at once; 0 means DefaultInFlight
	Random      bool   // issue the requests in a random order rather than ascending
	Seed        uint64 // seed of the random order
	FUA         bool   // send every request with CMD_FLAG_FUA
	// ZeroRequests sends a request whose data is all zero as Zero
	// (NBD_CMD_WRITE_ZEROES, which may punch a hole) instead of a write,
	// as nbdcopy does for zero extents, when the server supports it. Such
	// bytes count in ZeroBytes.
	ZeroRequests bool
	SkipFlush    bool // do not send the final Flush
}

// StreamResult is what WriteStream measured.
type StreamResult struct {
	Requests  int    // requests completed successfully
	Bytes     uint64 // data bytes written by those requests
	ZeroBytes uint64 // bytes sent as Zero requests
	// Latencies holds, in issue order, the time from each request's
	// submission to its completion callback. Completions are noticed
	// only inside Poll, so this is the latency the client saw.
	Latencies []time.Duration
	Flush     time.Duration // duration of the final Flush (0 when skipped)
	Elapsed   time.Duration // first submission to the end of the Flush: durable time
}

// WriteStream writes the region cfg describes on an already connected
// handle, with data read from src (src offset 0 is export offset
// cfg.Offset), keeping up to cfg.InFlight requests of cfg.RequestSize bytes
// in flight through AioPwrite, then flushes. It polls the handle itself, so
// no other goroutine may Poll it meanwhile.
//
// On error it stops issuing, waits for the requests in flight and returns
// what completed with the first error. A failed request's error wraps its
// syscall.Errno.
func WriteStream(h *Libnbd, src io.ReaderAt, cfg StreamConfig) (StreamResult, error) {
	var res StreamResult
	rs := uint64(cfg.RequestSize)
	if rs == 0 {
		rs = DefaultRequestSize
	}
	inFlight := cfg.InFlight
	if inFlight == 0 {
		inFlight = DefaultInFlight
	}
	size, err := h.GetSize()
	if err != nil {
		return res, fmt.Errorf("write stream: %w", err)
	}
	length := cfg.Length
	if cfg.Offset > size {
		return res, fmt.Errorf("write stream: offset %d beyond export size %d: %w", cfg.Offset, size, ErrStreamConfig)
	}
	if length == 0 {
		length = size - cfg.Offset
	}
	if length > size-cfg.Offset {
		return res, fmt.Errorf("write stream: %d bytes at %d exceed export size %d: %w", length, cfg.Offset, size, ErrStreamConfig)
	}
	n := int((length + rs - 1) / rs)
	var order []int // request indices in issue order
	if cfg.Random {
		order = rand.New(rand.NewPCG(cfg.Seed, 0x77636163686521)).Perm(n)
	} else {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	}
	zeroRequests := false
	if cfg.ZeroRequests {
		if zeroRequests, err = h.CanZero(); err != nil {
			return res, fmt.Errorf("write stream: %w", err)
		}
	}
	var flags CmdFlag
	if cfg.FUA {
		flags = CMD_FLAG_FUA
	}

	// Completion callbacks run inside Poll or AioPwrite on this goroutine,
	// so the state below needs no lock.
	var (
		free     []AioBuffer // buffers no command uses
		all      []AioBuffer // every buffer allocated
		inflight uint
		firstErr error
		leak     bool // commands may still use buffers: do not free them
	)
	defer func() {
		if leak {
			return
		}
		for i := range all {
			all[i].Free()
		}
	}()
	res.Latencies = make([]time.Duration, n)

	start := time.Now()
	for next := 0; next < n || inflight > 0; {
		for firstErr == nil && next < n && inflight < inFlight {
			rel := uint64(order[next]) * rs
			ln := min(rs, length-rel)
			if len(free) == 0 {
				b := MakeAioBuffer(uint(rs))
				all = append(all, b)
				free = append(free, b)
			}
			buf := free[len(free)-1]
			free = free[:len(free)-1]
			view := AioBuffer{P: buf.P, Size: uint(ln)}
			if m, err := src.ReadAt(view.Slice(), int64(rel)); m < int(ln) {
				free = append(free, buf)
				firstErr = fmt.Errorf("write stream: read source at %d: %w", rel, err)
				break
			}
			zero := zeroRequests && allZero(view.Slice())
			seq, off := next, cfg.Offset+rel
			t0 := time.Now()
			done := func(e *int) int {
				res.Latencies[seq] = time.Since(t0)
				inflight--
				free = append(free, buf)
				switch {
				case *e != 0:
					if firstErr == nil {
						firstErr = fmt.Errorf("write stream: request at %d (%d bytes): %w", off, ln, syscall.Errno(*e))
					}
				case zero:
					res.Requests++
					res.ZeroBytes += ln
				default:
					res.Requests++
					res.Bytes += ln
				}
				return 1 // retire the command
			}
			inflight++
			var err error
			if zero {
				_, err = h.AioZero(ln, off, &AioZeroOptargs{CompletionCallbackSet: true, CompletionCallback: done, FlagsSet: true, Flags: flags})
			} else {
				_, err = h.AioPwrite(view, off, &AioPwriteOptargs{CompletionCallbackSet: true, CompletionCallback: done, FlagsSet: true, Flags: flags})
			}
			if err != nil {
				// libnbd refused the command: its callback will not run.
				inflight--
				free = append(free, buf)
				firstErr = fmt.Errorf("write stream: %w", err)
				break
			}
			next++
		}
		if inflight == 0 {
			break
		}
		if _, err := h.Poll(-1); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("write stream: %w", err)
			}
			// A dead connection never touches a buffer again; otherwise
			// commands still own theirs and they must outlive us.
			dead, _ := h.AioIsDead()
			leak = !dead
			break
		}
	}
	if firstErr != nil {
		res.Elapsed = time.Since(start)
		return res, firstErr
	}
	if !cfg.SkipFlush {
		t := time.Now()
		if err := h.Flush(nil); err != nil {
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("write stream: %w", err)
		}
		res.Flush = time.Since(t)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
