package libnbd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

const mib = 1 << 20

func TestPwritePreadRoundTrip(t *testing.T) {
	h := connect(t, startNbdkit(t, "memory", "64M"))

	size, err := h.GetSize()
	if err != nil || size != 64*mib {
		t.Fatalf("GetSize = %d, %v; want %d", size, err, 64*mib)
	}
	for name, q := range map[string]func() (bool, error){
		"CanFlush": h.CanFlush, "CanTrim": h.CanTrim, "CanZero": h.CanZero,
		"CanFua": h.CanFua, "CanMultiConn": h.CanMultiConn,
	} {
		if ok, err := q(); err != nil || !ok {
			t.Errorf("%s = %v, %v; nbdkit memory supports it", name, ok, err)
		}
	}
	if ro, err := h.IsReadOnly(); err != nil || ro {
		t.Errorf("IsReadOnly = %v, %v; want false", ro, err)
	}
	if p, err := h.GetProtocol(); err != nil || *p != "newstyle-fixed" {
		t.Errorf("GetProtocol = %v, %v", p, err)
	}

	writes := []struct {
		off uint64
		n   int
		fua bool
	}{
		{0, 4096, false},
		{12345, 1, false},
		{3*mib + 17, mib + 3, false},
		{64*mib - 4096, 4096, true}, // last block, durable at once
	}
	for i, w := range writes {
		data := pattern(w.n, byte(i))
		var o *PwriteOptargs
		if w.fua {
			o = &PwriteOptargs{FlagsSet: true, Flags: CMD_FLAG_FUA}
		}
		if err := h.Pwrite(data, w.off, o); err != nil {
			t.Fatalf("Pwrite %d bytes at %d: %v", w.n, w.off, err)
		}
		got := make([]byte, w.n)
		if err := h.Pread(got, w.off, nil); err != nil {
			t.Fatalf("Pread %d bytes at %d: %v", w.n, w.off, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("Pread at %d returned different bytes than written", w.off)
		}
	}
	// Around the one-byte write: untouched bytes read as zero.
	got := make([]byte, 3)
	if err := h.Pread(got, 12344, nil); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, pattern(1, 1)[0], 0}; !bytes.Equal(got, want) {
		t.Errorf("bytes 12344..12346 = %v, want %v", got, want)
	}
	if err := h.Flush(nil); err != nil {
		t.Errorf("Flush: %v", err)
	}
}

// TestCapabilities checks that answers follow what the server advertises,
// with nbdkit filters changing the advertisement; the second handle
// connects by URI.
func TestCapabilities(t *testing.T) {
	sock := startNbdkit(t, "--filter=blocksize-policy", "--filter=multi-conn", "memory", "1M",
		"blocksize-minimum=512", "blocksize-preferred=65536", "blocksize-maximum=262144",
		"multi-conn-mode=disable")
	h, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.ConnectUri("nbd+unix:///?socket=" + sock); err != nil {
		t.Fatalf("ConnectUri: %v", err)
	}
	for typ, want := range map[Size]uint64{SIZE_MINIMUM: 512, SIZE_PREFERRED: 65536, SIZE_MAXIMUM: 262144} {
		if got, err := h.GetBlockSize(typ); err != nil || got != want {
			t.Errorf("GetBlockSize(%d) = %d, %v; want %d", typ, got, err, want)
		}
	}
	if ok, err := h.CanMultiConn(); err != nil || ok {
		t.Errorf("CanMultiConn = %v, %v; multi-conn-mode=disable hides it", ok, err)
	}
	// Data written through one connection is read through another.
	data := pattern(4096, 8)
	if err := h.Pwrite(data, 8192, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(nil); err != nil {
		t.Fatal(err)
	}
	h2 := connect(t, sock)
	got := make([]byte, 4096)
	if err := h2.Pread(got, 8192, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("second connection reads different data")
	}
}

// TestConcurrentCalls has several goroutines share one handle, as libnbd
// allows; run under -race.
func TestConcurrentCalls(t *testing.T) {
	h := connect(t, startNbdkit(t, "memory", "16M"))
	const workers, each, bs = 4, 16, 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				off := uint64((w*each + i) * bs)
				data := pattern(bs, byte(w*each+i))
				if err := h.Pwrite(data, off, nil); err != nil {
					errs <- err
					return
				}
				got := make([]byte, bs)
				if err := h.Pread(got, off, nil); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("worker %d: data at %d differs", w, off)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// extent is one run of block status.
type extent struct {
	Offset, Length uint64
	Type           uint32
}

// blockStatus collects base:allocation for the whole export, merging
// neighbours of the same type.
func blockStatus(t *testing.T, h *Libnbd) []extent {
	t.Helper()
	size, err := h.GetSize()
	if err != nil {
		t.Fatal(err)
	}
	var out []extent
	for off := uint64(0); off < size; {
		start := off
		err := h.BlockStatus(size-off, off, func(mc string, o uint64, entries []uint32, e *int) int {
			if mc != "base:allocation" || *e != 0 {
				t.Errorf("extent callback: context %q error %d", mc, *e)
				return 0
			}
			for i := 0; i+1 < len(entries); i += 2 {
				n, typ := uint64(entries[i]), entries[i+1]
				if l := len(out); l > 0 && out[l-1].Type == typ && out[l-1].Offset+out[l-1].Length == off {
					out[l-1].Length += n
				} else {
					out = append(out, extent{off, n, typ})
				}
				off += n
			}
			return 0
		}, nil)
		if err != nil {
			t.Fatalf("BlockStatus at %d: %v", start, err)
		}
		if off == start {
			t.Fatalf("BlockStatus at %d made no progress", start)
		}
	}
	return out
}

func TestZeroTrimBlockStatus(t *testing.T) {
	path, data := dataFile(t, 8*mib, 3)
	sock := startNbdkit(t, "file", path)
	h := connect(t, sock, "base:allocation")
	if ok, err := h.CanMetaContext("base:allocation"); err != nil || !ok {
		t.Fatalf("CanMetaContext(base:allocation) = %v, %v", ok, err)
	}

	if err := h.Zero(mib, mib, nil); err != nil { // may punch a hole
		t.Fatalf("Zero: %v", err)
	}
	if err := h.Trim(2*mib, 4*mib, nil); err != nil {
		t.Fatalf("Trim: %v", err)
	}
	// NO_HOLE: zeroes stay allocated data.
	if err := h.Zero(64<<10, 7*mib, &ZeroOptargs{FlagsSet: true, Flags: CMD_FLAG_NO_HOLE}); err != nil {
		t.Fatalf("Zero NO_HOLE: %v", err)
	}
	if err := h.Flush(nil); err != nil {
		t.Fatal(err)
	}

	hz := STATE_HOLE | STATE_ZERO
	want := []extent{
		{0, mib, 0},
		{mib, mib, hz},
		{2 * mib, 2 * mib, 0},
		{4 * mib, 2 * mib, hz},
		{6 * mib, 2 * mib, 0},
	}
	got := blockStatus(t, h)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("BlockStatus extents\n got %v\nwant %v", got, want)
	}

	// REQ_ONE: a single extent, the first.
	var entries []uint32
	err := h.BlockStatus(8*mib, 0, func(_ string, _ uint64, e []uint32, _ *int) int {
		entries = append(entries, e...)
		return 0
	}, &BlockStatusOptargs{FlagsSet: true, Flags: CMD_FLAG_REQ_ONE})
	if err != nil || len(entries) != 2 || entries[1] != 0 || entries[0] == 0 || entries[0] > mib {
		t.Errorf("BlockStatus REQ_ONE = %v, %v; want one data extent within the first MiB", entries, err)
	}

	// nbdinfo, a second client on the same server, sees the same map.
	out, err := exec.Command("nbdinfo", "--map", "--json", "nbd+unix:///?socket="+sock).Output()
	if err != nil {
		t.Fatalf("nbdinfo --map: %v", err)
	}
	var m []struct {
		Offset uint64 `json:"offset"`
		Length uint64 `json:"length"`
		Type   uint32 `json:"type"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("nbdinfo --map --json: %v\n%s", err, out)
	}
	var fromInfo []extent
	for _, e := range m {
		fromInfo = append(fromInfo, extent{e.Offset, e.Length, e.Type})
	}
	if fmt.Sprint(fromInfo) != fmt.Sprint(want) {
		t.Errorf("nbdinfo --map\n got %v\nwant %v", fromInfo, want)
	}

	// The backing file holds zeroes exactly where they were written.
	clear(data[mib : 2*mib])
	clear(data[4*mib : 6*mib])
	clear(data[7*mib : 7*mib+64<<10])
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, data) {
		t.Error("backing file differs from the expected contents")
	}
	back := make([]byte, 8*mib)
	if err := h.Pread(back, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, data) {
		t.Error("Pread of the export differs from the expected contents")
	}
}

// TestAioManyInFlight writes a file with many AioPwrite in flight, in a
// random order, then compares nbdkit's backing file; then reads it back
// with AioPread, retiring commands by cookie instead of by callback.
func TestAioManyInFlight(t *testing.T) {
	const size, bs, limit = 8 * mib, 64 << 10, 32
	path, _ := dataFile(t, size, 0) // overwritten entirely below
	h := connect(t, startNbdkit(t, "file", path))

	want := pattern(size, 9)
	order := rand.New(rand.NewPCG(1, 2)).Perm(size / bs)
	var (
		inflight, peak, done int
		failed               []int
	)
	for next := 0; next < len(order) || inflight > 0; {
		for next < len(order) && inflight < limit {
			off := order[next] * bs
			buf := FromBytes(want[off : off+bs])
			_, err := h.AioPwrite(buf, uint64(off), &AioPwriteOptargs{
				CompletionCallbackSet: true,
				CompletionCallback: func(e *int) int {
					if *e != 0 {
						failed = append(failed, *e)
					}
					buf.Free() // the data has been sent
					inflight--
					done++
					return 1
				},
			})
			if err != nil {
				t.Fatalf("AioPwrite at %d: %v", off, err)
			}
			inflight++
			next++
			n, err := h.AioInFlight()
			if err != nil {
				t.Fatal(err)
			}
			peak = max(peak, int(n))
		}
		if _, err := h.Poll(-1); err != nil {
			t.Fatalf("Poll: %v", err)
		}
	}
	if len(failed) > 0 || done != len(order) {
		t.Fatalf("%d writes completed, errors %v; want %d without error", done, failed, len(order))
	}
	if peak < 2 {
		t.Errorf("at most %d command in flight; want several", peak)
	}
	// AioFlush, retired by its callback.
	flushed := false
	if _, err := h.AioFlush(&AioFlushOptargs{CompletionCallbackSet: true, CompletionCallback: func(e *int) int {
		flushed = *e == 0
		return 1
	}}); err != nil {
		t.Fatal(err)
	}
	for !flushed {
		if _, err := h.Poll(-1); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, want) {
		t.Fatal("backing file differs from the data written")
	}

	// Read back: no callbacks; retire each command with AioCommandCompleted.
	bufs := make(map[uint64]AioBuffer)
	offs := make(map[uint64]uint64)
	for off := uint64(0); off < size; off += 2 * mib {
		b := MakeAioBuffer(2 * mib)
		defer b.Free()
		c, err := h.AioPread(b, off, nil)
		if err != nil {
			t.Fatal(err)
		}
		bufs[c], offs[c] = b, off
	}
	for len(bufs) > 0 {
		c, err := h.AioPeekCommandCompleted()
		if err != nil {
			t.Fatal(err)
		}
		if c == 0 {
			if _, err := h.Poll(-1); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ok, err := h.AioCommandCompleted(c)
		if err != nil || !ok {
			t.Fatalf("AioCommandCompleted(%d) = %v, %v", c, ok, err)
		}
		b := bufs[c]
		if !bytes.Equal(b.Bytes(), want[offs[c]:offs[c]+2*mib]) {
			t.Errorf("AioPread at %d returned different data", offs[c])
		}
		delete(bufs, c)
	}
	if n, err := h.AioInFlight(); err != nil || n != 0 {
		t.Errorf("AioInFlight = %d, %v; want 0", n, err)
	}
}

func libnbdErrno(t *testing.T, err error) syscall.Errno {
	t.Helper()
	var le *LibnbdError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T) is not a *LibnbdError", err, err)
	}
	return le.Errno
}

func TestErrors(t *testing.T) {
	t.Run("pread beyond size", func(t *testing.T) {
		h := connect(t, startNbdkit(t, "memory", "1M"))
		err := h.Pread(make([]byte, 4096), mib-512, nil)
		if err == nil || libnbdErrno(t, err) != syscall.EINVAL || !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("Pread beyond the end: %v; want EINVAL", err)
		}
		// The handle is still usable.
		if err := h.Pread(make([]byte, 512), mib-512, nil); err != nil {
			t.Fatalf("Pread of the last 512 bytes: %v", err)
		}
	})
	t.Run("aio pwrite beyond size", func(t *testing.T) {
		h := connect(t, startNbdkit(t, "memory", "1M"))
		buf := MakeAioBufferZero(4096)
		defer buf.Free()
		_, err := h.AioPwrite(buf, mib, &AioPwriteOptargs{CompletionCallbackSet: true, CompletionCallback: func(*int) int { return 1 }})
		if err == nil || libnbdErrno(t, err) != syscall.ENOSPC {
			t.Fatalf("AioPwrite beyond the end: %v; want ENOSPC", err)
		}
		if n := liveCallbacks.Load(); n != 0 {
			t.Errorf("%d callback registrations live after a refused command", n)
		}
	})
	t.Run("write to read-only export", func(t *testing.T) {
		h := connect(t, startNbdkit(t, "-r", "memory", "1M"))
		if ro, err := h.IsReadOnly(); err != nil || !ro {
			t.Fatalf("IsReadOnly = %v, %v; want true", ro, err)
		}
		if err := h.Pwrite(make([]byte, 512), 0, nil); err == nil || libnbdErrno(t, err) != syscall.EPERM {
			t.Fatalf("Pwrite on a read-only export: %v; want EPERM", err)
		}
	})
	t.Run("server error", func(t *testing.T) {
		// nbdkit's error filter fails every write on the server side.
		h := connect(t, startNbdkit(t, "--filter=error", "memory", "1M", "error=ENOSPC", "error-pwrite-rate=100%"))
		if err := h.Pwrite(make([]byte, 512), 0, nil); err == nil || libnbdErrno(t, err) != syscall.ENOSPC {
			t.Fatalf("Pwrite: %v; want ENOSPC from the server", err)
		}
		buf := MakeAioBufferZero(512)
		defer buf.Free()
		seen := -1
		c, err := h.AioPwrite(buf, 0, &AioPwriteOptargs{CompletionCallbackSet: true, CompletionCallback: func(e *int) int {
			seen = *e
			return 0 // leave it to AioCommandCompleted
		}})
		if err != nil {
			t.Fatal(err)
		}
		for seen < 0 {
			if _, err := h.Poll(-1); err != nil {
				t.Fatal(err)
			}
		}
		if syscall.Errno(seen) != syscall.ENOSPC {
			t.Errorf("completion callback saw error %d; want ENOSPC", seen)
		}
		if ok, err := h.AioCommandCompleted(c); ok || err == nil || libnbdErrno(t, err) != syscall.ENOSPC {
			t.Errorf("AioCommandCompleted = %v, %v; want ENOSPC", ok, err)
		}
		// Reads still work.
		if err := h.Pread(make([]byte, 512), 0, nil); err != nil {
			t.Errorf("Pread: %v", err)
		}
	})
	t.Run("connect to missing socket", func(t *testing.T) {
		h, err := Create()
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		err = h.ConnectUnix(t.TempDir() + "/absent.sock")
		if err == nil || libnbdErrno(t, err) != syscall.ENOENT {
			t.Fatalf("ConnectUnix to a missing socket: %v; want ENOENT", err)
		}
	})
}

func TestShutdownClose(t *testing.T) {
	path, _ := dataFile(t, 4*mib, 0)
	sock := startNbdkit(t, "file", path)
	h := connect(t, sock)

	// Shutdown with writes queued: it sends them and disconnects without
	// waiting for every reply. Each callback still runs exactly once
	// before Shutdown returns, with success or ESHUTDOWN, and a write
	// reported successful is in the file (nbdkit replies after writing).
	want := pattern(mib, 5)
	const bs = 64 << 10
	status := make(map[int]int) // offset -> errno seen by the callback
	for off := 0; off < mib; off += bs {
		buf := FromBytes(want[off : off+bs])
		if _, err := h.AioPwrite(buf, uint64(off), &AioPwriteOptargs{CompletionCallbackSet: true, CompletionCallback: func(e *int) int {
			if _, dup := status[off]; dup {
				t.Errorf("second completion for the write at %d", off)
			}
			status[off] = *e
			buf.Free()
			return 1
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Shutdown(nil); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if len(status) != mib/bs {
		t.Errorf("%d of %d queued writes reached their callback by Shutdown's return", len(status), mib/bs)
	}
	if closed, err := h.AioIsClosed(); err != nil || !closed {
		t.Errorf("AioIsClosed after Shutdown = %v, %v", closed, err)
	}
	if err := h.Pread(make([]byte, 512), 0, nil); err == nil {
		t.Error("Pread after Shutdown succeeded")
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for off, e := range status {
		switch syscall.Errno(e) {
		case 0:
			if !bytes.Equal(file[off:off+bs], want[off:off+bs]) {
				t.Errorf("write at %d reported done but is not in the file", off)
			}
		case syscall.ESHUTDOWN:
		default:
			t.Errorf("write at %d failed with %v; want success or ESHUTDOWN", off, syscall.Errno(e))
		}
	}

	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.Close(); err == nil || err.Op != "close" {
		t.Errorf("second Close = %v; want a closed-handle error", err)
	}
	if _, err := h.GetSize(); err == nil {
		t.Error("GetSize on a closed handle succeeded")
	}

	// Close with commands queued and never polled frees their callbacks.
	h2 := connect(t, sock)
	buf := MakeAioBufferZero(4096)
	defer buf.Free()
	for i := range 8 {
		if _, err := h2.AioPwrite(buf, uint64(i)*4096, &AioPwriteOptargs{CompletionCallbackSet: true, CompletionCallback: func(*int) int { return 1 }}); err != nil {
			t.Fatal(err)
		}
	}
	if n := liveCallbacks.Load(); n == 0 {
		t.Fatal("no callback registered for queued commands")
	}
	if err := h2.Close(); err != nil {
		t.Fatal(err)
	}
	if n := liveCallbacks.Load(); n != 0 {
		t.Errorf("%d callback registrations live after Close", n)
	}
}
