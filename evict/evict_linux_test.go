//go:build linux

package evict

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
)

// TestMain holds the bench lock shared: the tests assert residency.
func TestMain(m *testing.M) { testenv.Main(m) }

const (
	testFileSize = 512 << 20
	testReq      = 256 << 10
)

// attachScratch creates out.img in a scratch directory, closed when the
// test ends, and attaches the policy named policy to it.
func attachScratch(t *testing.T, policy string) (*os.File, Handle) {
	t.Helper()
	pol := mustParse(t, policy)
	return attachNew(t, pol, testenv.DiskDir(t)+"/out.img")
}

// attachFresh attaches read=fresh (with no write policy) to f.
func attachFresh(t *testing.T, f *os.File) Handle {
	t.Helper()
	h, err := mustParse(t, "none:read=fresh").Attach(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// attachNew creates (or truncates) the file at path, closed when the test
// ends, and attaches pol to it.
func attachNew(t *testing.T, pol Policy, path string) (*os.File, Handle) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	h, err := pol.Attach(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, h
}

// pattern is the content the tests write: the 4 KiB page at offset off is a
// slice of a random block chosen by off, stamped with off, so misplaced or
// stale data is caught when reading back whatever the request size.
type pattern struct{ base []byte }

func newPattern() pattern {
	base := make([]byte, 8<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(base); i += 8 {
		binary.LittleEndian.PutUint64(base[i:], r.Uint64())
	}
	return pattern{base}
}

// fill writes the pattern of [off, off+len(buf)) into buf; off and len(buf)
// are multiples of 4 KiB.
func (p pattern) fill(buf []byte, off int64) {
	for i := 0; i < len(buf); i += 4096 {
		pg := off + int64(i)
		start := (pg / 4096 * 4099 * 8) % int64(len(p.base)/2)
		copy(buf[i:i+4096], p.base[start:])
		binary.LittleEndian.PutUint64(buf[i:], uint64(pg))
	}
}

// writeRegion writes [off, end) in req-sized pwrites, telling s after each.
func writeRegion(f *os.File, s Stream, p pattern, off, end int64, req int) error {
	buf := make([]byte, req)
	for ; off < end; off += int64(req) {
		n := int(min(int64(req), end-off))
		p.fill(buf[:n], off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		if err := s.AfterWrite(off, n); err != nil {
			return fmt.Errorf("AfterWrite(%d, %d): %w", off, n, err)
		}
	}
	return s.Close()
}

// writeThrough writes size bytes to a new file under policy text with the
// given number of concurrent writers, each on its own stream and its own
// contiguous region, closes the handle and returns the file.
func writeThrough(t *testing.T, text string, size int64, req, writers int) *os.File {
	t.Helper()
	pol := mustParse(t, text)
	return writeFile(t, pol, testenv.DiskDir(t)+"/out.img", size, req, writers)
}

// writeFile is writeThrough with a parsed policy, into a new file at path.
func writeFile(t *testing.T, pol Policy, path string, size int64, req, writers int) *os.File {
	t.Helper()
	f, h := attachNew(t, pol, path)
	p := newPattern()
	err := inRegions(size, 4096, writers, func(off, end int64) error {
		return writeRegion(f, h.Stream(), p, off, end, req)
	})
	if err := errors.Join(err, h.Close()); err != nil {
		t.Fatalf("%s: %v", pol, err)
	}
	return f
}

// inRegions splits [0, size) into n contiguous regions, each a multiple of
// align bytes long but the last, which runs to size, calls do for each in
// a goroutine of its own, and returns their errors joined.
func inRegions(size, align int64, n int, do func(off, end int64) error) error {
	region := size / int64(n) / align * align
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			end := int64(i+1) * region
			if i == n-1 {
				end = size
			}
			errs[i] = do(int64(i)*region, end)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func resident(t testing.TB, f *os.File, r pagecache.Range) pagecache.Stat {
	t.Helper()
	st, err := pagecache.StatFile(f, r)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// verify reads f back and compares it with the pattern.
func verify(t *testing.T, f *os.File, size int64) {
	t.Helper()
	p := newPattern()
	got := make([]byte, 1<<20)
	want := make([]byte, len(got))
	for off := int64(0); off < size; off += int64(len(got)) {
		n, err := f.ReadAt(got, off)
		if n < len(got) && off+int64(n) < size {
			t.Fatalf("read back at %d: %v", off, err)
		}
		p.fill(want[:n], off)
		if !bytes.Equal(got[:n], want[:n]) {
			t.Fatalf("data in [%d, %d) differs from what was written", off, off+int64(n))
		}
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		t.Fatalf("file size %v (%v), want %d", fi.Size(), err, size)
	}
}

// TestWriteResidency is the acceptance test: 512 MiB written
// sequentially in 256 KiB pwrites leaves at most 1% resident under
// window:8 (alone and with four concurrent writers), at least 50% under
// none, and reads back identical.
func TestWriteResidency(t *testing.T) {
	for _, tc := range []struct {
		policy      string
		size        int64
		writers     int
		req         int
		min, max    float64 // percent resident after Close
		wantWritten bool    // nothing may be left dirty
	}{
		{"none", testFileSize, 1, testReq, 50, 100, false},
		{"window:8", testFileSize, 1, testReq, 0, 1, false},
		{"window:8", testFileSize, 4, testReq, 0, 1, false},
		// The improved variants, on smaller files to keep the suite fast.
		{"window:8,per=stream,drain", 128 << 20, 4, testReq, 0, 0.1, true},
		{"window:bytes=8M,merge,drain", 128 << 20, 4, 64 << 10, 0, 0.1, true},
		{"window:2,bytes=4M,merge=2M,drain", 128 << 20, 3, 12 << 10, 0, 0.1, true},
	} {
		t.Run(fmt.Sprintf("policy=%s/writers=%d/req=%d", tc.policy, tc.writers, tc.req), func(t *testing.T) {
			drops := testenv.WatchDrops()
			f := writeThrough(t, tc.policy, tc.size, tc.req, tc.writers)
			defer testenv.Drop(t, f)
			st := resident(t, f, pagecache.Range{})
			if tc.min > 0 {
				// What must still be cached: a global drop would take it.
				drops.SkipIfDropped(t)
			}
			t.Logf("%s, %d writers: %d of %d pages resident (%.2f%%), %d dirty, %d writeback",
				tc.policy, tc.writers, st.Resident, st.Pages, st.Percent(), st.Dirty, st.Writeback)
			if st.Pages != tc.size/int64(os.Getpagesize()) {
				t.Fatalf("file has %d pages, want %d", st.Pages, tc.size/int64(os.Getpagesize()))
			}
			if p := st.Percent(); p < tc.min || p > tc.max {
				t.Errorf("%.2f%% of pages resident, want between %v%% and %v%%", p, tc.min, tc.max)
			}
			if tc.wantWritten && st.Dirty+st.Writeback != 0 {
				t.Errorf("drain left %d dirty and %d writeback pages", st.Dirty, st.Writeback)
			}
			verify(t, f, tc.size)
		})
	}
}

// coldFile writes size bytes of the pattern to a new file in a scratch
// directory, makes them durable and drops them from the cache.
func coldFile(t *testing.T, size int64) *os.File {
	t.Helper()
	return coldFileIn(t, testenv.DiskDir(t), size)
}

// coldFileIn is coldFile in the directory dir.
func coldFileIn(t *testing.T, dir string, size int64) *os.File {
	t.Helper()
	f, err := os.OpenFile(dir+"/in.img", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	p := newPattern()
	buf := make([]byte, 4<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		p.fill(buf, off)
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Drop(t, f)
	if st := resident(t, f, pagecache.Range{}); st.Resident != 0 {
		t.Fatalf("new file still has %d pages cached after fdatasync and DONTNEED", st.Resident)
	}
	return f
}

// warm brings exactly the pages of ranges into the cache through another
// descriptor with readahead disabled, as another program would, and checks
// that they are resident, unless drops saw a global drop take them.
func warm(t *testing.T, drops testenv.DropWatch, path string, ranges []pagecache.Range) {
	t.Helper()
	g, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := unix.Fadvise(int(g.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		if _, err := g.ReadAt(make([]byte, r.Length), r.Offset); err != nil {
			t.Fatal(err)
		}
		if st := resident(t, g, r); st.Resident != st.Pages {
			drops.SkipIfDropped(t)
			t.Fatalf("warming %+v: %d of %d pages resident", r, st.Resident, st.Pages)
		}
	}
}

// TestReadFresh is the read acceptance test: after a policy with
// read=fresh has read a cold 512 MiB file sequentially, at most 5% of it is
// resident, and every page that other readers had cached before is still
// there. It runs with one reader and with four that share the reads the way
// nbdcopy's workers do.
func TestReadFresh(t *testing.T) {
	for _, readers := range []int{1, 4} {
		t.Run(fmt.Sprintf("readers=%d", readers), func(t *testing.T) {
			f := coldFile(t, testFileSize)
			defer testenv.Drop(t, f)
			drops := testenv.WatchDrops()
			before := []pagecache.Range{
				{Offset: 0, Length: 64 << 10},
				{Offset: 100<<20 + 4096, Length: 36 << 10},       // inside a 2 MiB block
				{Offset: 300<<20 - 8192, Length: 3<<20 + 12<<10}, // across blocks
				{Offset: testFileSize - 4096, Length: 4096},      // the last page
			}
			warm(t, drops, f.Name(), before)
			h := attachFresh(t, f)
			readShared(t, f, h, readers)
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			st := resident(t, f, pagecache.Range{})
			kept := make([]pagecache.Stat, len(before))
			for i, r := range before {
				kept[i] = resident(t, f, r)
			}
			drops.SkipIfDropped(t) // after measuring: a drop in between would go unnoticed
			t.Logf("after the read: %d of %d pages resident (%.2f%%)", st.Resident, st.Pages, st.Percent())
			if st.Percent() > 5 {
				t.Errorf("%.2f%% of the file left in the cache, want at most 5%%", st.Percent())
			}
			for i, r := range before {
				if kept[i].Resident != kept[i].Pages {
					t.Errorf("range %+v cached before the read: only %d of %d pages left", r, kept[i].Resident, kept[i].Pages)
				}
			}
		})
	}
}

// readShared reads f in testReq pieces through streams of h: readers
// goroutines take the next piece in turn, and each piece is checked
// against the pattern.
func readShared(t *testing.T, f *os.File, h Handle, readers int) {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		next int64
		wg   sync.WaitGroup
	)
	errs := make([]error, readers)
	for i := range readers {
		wg.Go(func() {
			s := h.Stream()
			defer s.Close()
			p := newPattern()
			got, want := make([]byte, testReq), make([]byte, testReq)
			for {
				mu.Lock()
				off := next
				next += testReq
				mu.Unlock()
				if off >= fi.Size() {
					return
				}
				n, err := f.ReadAt(got, off)
				if n < len(got) && off+int64(n) < fi.Size() {
					errs[i] = fmt.Errorf("read at %d: %v", off, err)
					return
				}
				p.fill(want[:n], off)
				if !bytes.Equal(got[:n], want[:n]) {
					errs[i] = fmt.Errorf("data at %d differs", off)
					return
				}
				if err := s.AfterRead(off, n); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestFlushEachIsDurable checks the pre-patch behaviour: every write is on
// disk and out of the cache when AfterWrite returns.
func TestFlushEachIsDurable(t *testing.T) {
	f, h := attachScratch(t, "flush-each")
	s := h.Stream()
	p := newPattern()
	buf := make([]byte, testReq)
	for off := int64(0); off < 16<<20; off += testReq {
		p.fill(buf, off)
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
		if err := s.AfterWrite(off, len(buf)); err != nil {
			t.Fatal(err)
		}
		st := resident(t, f, pagecache.Range{})
		if st.Dirty != 0 || st.Writeback != 0 || st.Resident != 0 {
			t.Fatalf("after the write at %d: %d resident, %d dirty, %d writeback pages; want none", off, st.Resident, st.Dirty, st.Writeback)
		}
	}
	if err := errors.Join(s.Close(), h.Close()); err != nil {
		t.Fatal(err)
	}
	verify(t, f, 16<<20)
}

// TestCloseForgetsOrDrains shows the difference drain makes: the faithful
// ring leaves the last windows of a closed file cached, drain drops them.
func TestCloseForgetsOrDrains(t *testing.T) {
	for _, tc := range []struct {
		policy        string
		before, after int64 // bytes resident before and after Close
	}{
		{"window:8", 8 * testReq, 8 * testReq},
		{"window:8,drain", 8 * testReq, 0},
		{"window:8,per=stream,drain", 8 * testReq, 0},
		{"window:bytes=1M", 4 * testReq, 4 * testReq},
		{"window:bytes=4M,merge=1M,drain", 4 << 20, 0},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			f, h := attachScratch(t, tc.policy)
			defer testenv.Drop(t, f)
			s := h.Stream()
			if err := writeRegion(f, nopClose{s}, newPattern(), 0, 32<<20, testReq); err != nil {
				t.Fatal(err)
			}
			ps := int64(os.Getpagesize())
			if st := resident(t, f, pagecache.Range{}); st.Resident != tc.before/ps {
				t.Errorf("before Close: %d pages resident, want the ring's %d", st.Resident, tc.before/ps)
			}
			if err := errors.Join(s.Close(), h.Close()); err != nil {
				t.Fatal(err)
			}
			if st := resident(t, f, pagecache.Range{}); st.Resident != tc.after/ps {
				t.Errorf("after Close: %d pages resident, want %d", st.Resident, tc.after/ps)
			}
		})
	}
}

// nopClose keeps writeRegion from closing a stream the test closes itself.
type nopClose struct{ Stream }

func (nopClose) Close() error { return nil }

// pipe returns both ends of a new pipe, closed when the test ends.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return r, w
}

// TestSyncErrorsFailTheWrite feeds the policies a descriptor on which the
// syncing calls fail (a pipe: sync_file_range gives ESPIPE, fdatasync
// EINVAL) and checks that the write fails and Close reports it.
func TestSyncErrorsFailTheWrite(t *testing.T) {
	for _, tc := range []struct {
		policy string
		errno  error
		call   string
	}{
		{"window:1", unix.ESPIPE, "sync_file_range"},
		{"window:4,merge=4K,per=stream", unix.ESPIPE, "sync_file_range"},
		{"flush-each", unix.EINVAL, "fdatasync"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			pol := mustParse(t, tc.policy)
			_, w := pipe(t)
			h, err := pol.Attach(w)
			if err != nil {
				t.Fatal(err)
			}
			s := h.Stream()
			err = s.AfterWrite(0, 4096)
			if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.call) {
				t.Errorf("AfterWrite on a pipe: %v, want %v from %s", err, tc.errno, tc.call)
			}
			s.Close()
			if err := h.Close(); !errors.Is(err, tc.errno) {
				t.Errorf("Close after a failed write: %v, want %v", err, tc.errno)
			}
		})
	}
	pol := mustParse(t, "none:read=fresh")
	r, _ := pipe(t)
	if h, err := pol.Attach(r); err == nil {
		h.Close()
		t.Error("read=fresh attached to a pipe")
	}
}

// TestSharedRingClose writes two files through one shared ring while the
// first file is closed mid-way: the writer of the second must never touch
// the closed file's descriptor (it would fail with EBADF or hit a reused
// descriptor), and Close must wait for calls on its windows that another
// writer is making.
func TestSharedRingClose(t *testing.T) {
	pol := mustParse(t, "window:2")
	dir := testenv.DiskDir(t)
	for round := range 8 {
		var files [2]*os.File
		var handles [2]Handle
		for i := range files {
			f, err := os.OpenFile(fmt.Sprintf("%s/f%d", dir, i), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			files[i] = f
			if handles[i], err = pol.Attach(f); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var errs [2]error
		for i := range files {
			wg.Go(func() {
				// The first file is short and closed while the second is written.
				size := int64(1+i*3) << 20
				errs[i] = writeRegion(files[i], handles[i].Stream(), newPattern(), 0, size, 64<<10)
				errs[i] = errors.Join(errs[i], handles[i].Close(), files[i].Close())
			})
		}
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if n := len(pol.(*policy).shared.q); n != 0 {
		t.Fatalf("%d windows left in the ring after every file was closed", n)
	}
}

// TestReadFreshPartial reads scattered parts of a cold file, some of them
// not block-aligned, and checks that Close leaves neither the partly read
// blocks nor what readahead brought in past the reads, whatever the
// readahead window of the scratch directory's disk (TestReadFreshReadahead
// runs the same with chosen windows).
func TestReadFreshPartial(t *testing.T) {
	readFreshPartial(t, coldFile(t, 128<<20))
}

// readFreshPartial is TestReadFreshPartial on the cold 128 MiB file f: it
// reads three runs of 9 MiB in 96 KiB requests and checks that after Close
// only the two pages cached before remain.
func readFreshPartial(t *testing.T, f *os.File) {
	t.Helper()
	defer testenv.Drop(t, f)
	drops := testenv.WatchDrops()
	before := []pagecache.Range{{Offset: 5<<20 + 4096, Length: 8192}}
	warm(t, drops, f.Name(), before)
	want := resident(t, f, before[0]).Pages
	h := attachFresh(t, f)
	s := h.Stream()
	buf := make([]byte, 96<<10)
	for _, start := range []int64{3<<20 + 12288, 40 << 20, 90<<20 + 4096} {
		for off := start; off < start+9<<20; off += int64(len(buf)) {
			if _, err := f.ReadAt(buf, off); err != nil {
				t.Fatal(err)
			}
			if err := s.AfterRead(off, len(buf)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The partly read first and last blocks of each run stay cached until
	// Close, whatever the readahead window.
	st := resident(t, f, pagecache.Range{})
	t.Logf("before Close: %d of %d pages cached", st.Resident, st.Pages)
	if st.Resident < 3*(96<<10)/int64(os.Getpagesize()) {
		t.Fatalf("only %d pages resident before Close; the test expects at least the last read of each run to be", st.Resident)
	}
	if err := errors.Join(s.Close(), h.Close()); err != nil {
		t.Fatal(err)
	}
	st = resident(t, f, pagecache.Range{})
	kept := resident(t, f, before[0])
	drops.SkipIfDropped(t) // after measuring: a drop in between would go unnoticed
	t.Logf("after Close: %d of %d pages resident", st.Resident, st.Pages)
	if st.Resident != want {
		t.Errorf("%d pages left resident, want only the %d cached before", st.Resident, want)
	}
	if kept.Resident != kept.Pages {
		t.Errorf("pages cached before the read were dropped: %d of %d left", kept.Resident, kept.Pages)
	}
}

// TestMergePerStream interleaves the 64 KiB writes of four streams on one
// shared ring and checks that each stream's writes still merge into 1 MiB
// windows, that a stream's open window is written back when it closes, and
// that the ring accounts every byte.
func TestMergePerStream(t *testing.T) {
	pol := mustParse(t, "window:1000,merge=1M")
	f, h := attachNew(t, pol, testenv.DiskDir(t)+"/out.img")
	const region, req = 4<<20 + 512<<10, 64 << 10
	streams := make([]Stream, 4)
	for i := range streams {
		streams[i] = h.Stream()
	}
	buf := make([]byte, req)
	for pos := int64(0); pos < region; pos += req {
		for i, s := range streams {
			off := int64(i)*region + pos
			if _, err := f.WriteAt(buf, off); err != nil {
				t.Fatal(err)
			}
			if err := s.AfterWrite(off, req); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := pol.(*policy).shared
	check := func(when string, wantOpen int) {
		t.Helper()
		var sum int64
		open := 0
		for _, w := range r.q {
			sum += w.n
			if !w.started {
				open++
			}
			if w.n != 1<<20 && w.n != 512<<10 || w.n == 1<<20 && !w.started {
				t.Errorf("%s: window [%d,+%d) started=%v; want 1 MiB started ones and the 512 KiB tails", when, w.off, w.n, w.started)
			}
		}
		if len(r.q) != 4*5 || open != wantOpen || sum != r.bytes || sum != 4*region {
			t.Errorf("%s: %d windows (%d open) of %d bytes (ring counts %d), want 20 (%d open) of %d",
				when, len(r.q), open, sum, r.bytes, wantOpen, 4*region)
		}
	}
	check("after the writes", 4)
	for _, s := range streams {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	check("after closing the streams", 0)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.q) != 0 || r.bytes != 0 {
		t.Errorf("after Close the ring still holds %d windows, %d bytes", len(r.q), r.bytes)
	}
}

// TestReadFreshShadow checks that what readahead left past a run of reads
// that stopped is dropped while the file is still being read elsewhere,
// not only at Close.
func TestReadFreshShadow(t *testing.T) {
	f := coldFile(t, 128<<20)
	defer testenv.Drop(t, f)
	h := attachFresh(t, f)
	defer h.Close()
	s := h.Stream()
	buf := make([]byte, 128<<10)
	read := func(from, to int64) {
		for off := from; off < to; off += int64(len(buf)) {
			if _, err := f.ReadAt(buf, off); err != nil {
				t.Fatal(err)
			}
			if err := s.AfterRead(off, len(buf)); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := pagecache.Range{Offset: 0, Length: 40 << 20}
	read(0, 9<<20)
	if st := resident(t, f, first); st.Resident == 0 {
		t.Fatal("no readahead past the first run; the test needs some")
	}
	read(40<<20, 40<<20+shadowLag+sweepEvery+1<<20)
	if st := resident(t, f, first); st.Resident != 0 {
		t.Errorf("%d pages still resident past the first run after %d MiB were read elsewhere", st.Resident, (shadowLag+sweepEvery)>>20)
	}
}
