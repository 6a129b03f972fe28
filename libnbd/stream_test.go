package libnbd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestWriteStream(t *testing.T) {
	const size = 4 * mib
	src := pattern(size, 11)
	for _, tc := range []struct {
		name string
		cfg  StreamConfig
	}{
		{"sequential", StreamConfig{RequestSize: 64 << 10, InFlight: 16}},
		{"random", StreamConfig{RequestSize: 64 << 10, InFlight: 16, Random: true, Seed: 7}},
		{"defaults", StreamConfig{}},
		{"fua", StreamConfig{Length: 2 * mib, FUA: true}},
		{"region with short tail", StreamConfig{Offset: mib, Length: 2*mib + 5, RequestSize: 256 << 10, InFlight: 3, Random: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, before := dataFile(t, size, 0)
			h := connect(t, startNbdkit(t, "file", path))

			res, err := WriteStream(h, bytes.NewReader(src), tc.cfg)
			if err != nil {
				t.Fatalf("WriteStream: %v", err)
			}
			length := tc.cfg.Length
			if length == 0 {
				length = size - tc.cfg.Offset
			}
			rs := uint64(cmpOr(tc.cfg.RequestSize, DefaultRequestSize))
			nreq := int((length + rs - 1) / rs)
			if res.Requests != nreq || res.Bytes != length || res.ZeroBytes != 0 || len(res.Latencies) != nreq {
				t.Errorf("result: %d requests, %d bytes, %d zero bytes, %d latencies; want %d, %d, 0, %d",
					res.Requests, res.Bytes, res.ZeroBytes, len(res.Latencies), nreq, length, nreq)
			}
			if slices.Contains(res.Latencies, 0) {
				t.Error("a request has no latency recorded")
			}
			if res.Flush <= 0 || res.Elapsed < res.Flush || res.Elapsed < slices.Max(res.Latencies) {
				t.Errorf("flush %v, max latency %v, elapsed %v: elapsed must cover both", res.Flush, slices.Max(res.Latencies), res.Elapsed)
			}

			want := bytes.Clone(before)
			copy(want[tc.cfg.Offset:tc.cfg.Offset+length], src)
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(file, want) {
				t.Fatal("backing file differs from the expected contents")
			}
		})
	}
}

func cmpOr(v, d uint) uint {
	if v == 0 {
		return d
	}
	return v
}

func TestWriteStreamZeroRequests(t *testing.T) {
	const size, rs = 4 * mib, 256 << 10
	src := pattern(size, 4)
	clear(src[mib : 2*mib])       // four whole zero requests
	clear(src[3*mib : 3*mib+100]) // a partly zero request stays a write
	path, _ := dataFile(t, size, 1)
	h := connect(t, startNbdkit(t, "file", path), "base:allocation")

	res, err := WriteStream(h, bytes.NewReader(src), StreamConfig{RequestSize: rs, InFlight: 8, Random: true, ZeroRequests: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != size/rs || res.ZeroBytes != mib || res.Bytes != size-mib {
		t.Errorf("%d requests, %d bytes, %d zero bytes; want %d, %d, %d", res.Requests, res.Bytes, res.ZeroBytes, size/rs, size-mib, mib)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, src) {
		t.Fatal("backing file differs from the source")
	}
	// The zero requests went as WRITE_ZEROES, which the file plugin turns
	// into a hole.
	hz := STATE_HOLE | STATE_ZERO
	want := []extent{{0, mib, 0}, {mib, mib, hz}, {2 * mib, 2 * mib, 0}}
	if got := blockStatus(t, h); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("extents\n got %v\nwant %v", got, want)
	}
}

// Without WRITE_ZEROES support on the server, zero requests are writes.
func TestWriteStreamZeroRequestsUnsupported(t *testing.T) {
	h := connect(t, startNbdkit(t, "--filter=nozero", "memory", "1M"))
	if ok, err := h.CanZero(); err != nil || ok {
		t.Fatalf("CanZero = %v, %v; the nozero filter hides it", ok, err)
	}
	res, err := WriteStream(h, bytes.NewReader(make([]byte, mib)), StreamConfig{RequestSize: 64 << 10, ZeroRequests: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != mib || res.ZeroBytes != 0 {
		t.Errorf("%d bytes written, %d zeroed; want %d written", res.Bytes, res.ZeroBytes, mib)
	}
}

func TestWriteStreamErrors(t *testing.T) {
	t.Run("region beyond the export", func(t *testing.T) {
		h := connect(t, startNbdkit(t, "memory", "1M"))
		_, err := WriteStream(h, bytes.NewReader(make([]byte, 2*mib)), StreamConfig{Length: 2 * mib})
		if !errors.Is(err, ErrStreamConfig) {
			t.Errorf("err = %v; want ErrStreamConfig", err)
		}
	})
	t.Run("short source", func(t *testing.T) {
		h := connect(t, startNbdkit(t, "memory", "1M"))
		res, err := WriteStream(h, bytes.NewReader(make([]byte, mib/2+1)), StreamConfig{RequestSize: 64 << 10, InFlight: 4})
		if err == nil {
			t.Fatal("WriteStream of a short source succeeded")
		}
		if res.Bytes > mib/2 {
			t.Errorf("%d bytes reported written from a %d-byte source", res.Bytes, mib/2+1)
		}
	})
	t.Run("server error", func(t *testing.T) {
		h := connect(t, startNbdkit(t, "--filter=error", "memory", "4M", "error=EIO", "error-pwrite-rate=100%"))
		res, err := WriteStream(h, bytes.NewReader(pattern(4*mib, 1)), StreamConfig{RequestSize: 64 << 10, InFlight: 8})
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("err = %v; want EIO", err)
		}
		if res.Requests != 0 || res.Bytes != 0 {
			t.Errorf("%d requests and %d bytes reported done; every write failed", res.Requests, res.Bytes)
		}
		if n, err := h.AioInFlight(); err != nil || n != 0 {
			t.Errorf("AioInFlight after the error = %d, %v; want 0", n, err)
		}
	})
}

// BenchmarkWriteStream writes 64 MiB to nbdkit's memory plugin with
// 256 KiB requests, 64 in flight, and reports throughput and latency.
func BenchmarkWriteStream(b *testing.B) {
	const size = 64 * mib
	for _, random := range []bool{false, true} {
		b.Run(fmt.Sprintf("random=%v", random), func(b *testing.B) {
			h := connect(b, startNbdkit(b, "memory", "64M"))
			src := bytes.NewReader(pattern(size, 2))
			var lats []time.Duration
			b.SetBytes(size)
			for b.Loop() {
				res, err := WriteStream(h, src, StreamConfig{Random: random})
				if err != nil {
					b.Fatal(err)
				}
				lats = append(lats, res.Latencies...)
			}
			slices.Sort(lats)
			b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// TestWriteStreamFourConnections writes one file through four connections
// at once, each WriteStream on its own region and goroutine, as nbdcopy
// does with a multi-conn server.
func TestWriteStreamFourConnections(t *testing.T) {
	const size, conns = 8 * mib, 4
	path, _ := dataFile(t, size, 0)
	sock := startNbdkit(t, "file", path)
	src := pattern(size, 6)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	// Connect all first: connect's leak check counts registrations
	// globally, from the moment each handle connects.
	var hs [conns]*Libnbd
	for i := range hs {
		hs[i] = connect(t, sock)
	}
	for i, h := range hs {
		wg.Go(func() {
			region := uint64(size / conns)
			off := uint64(i) * region
			res, err := WriteStream(h, bytes.NewReader(src[off:off+region]), StreamConfig{
				Offset: off, Length: region, RequestSize: 128 << 10, InFlight: 8, Random: true, Seed: uint64(i),
			})
			if err == nil && res.Bytes != region {
				err = fmt.Errorf("connection %d wrote %d bytes, want %d", i, res.Bytes, region)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, src) {
		t.Error("backing file differs from the source")
	}
}
