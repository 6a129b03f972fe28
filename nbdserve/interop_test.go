package nbdserve

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/libnbd"
)

// cacheModes are the ways the seed experiment runs the file backend.
var cacheModes = []struct {
	name   string
	policy string // evict.Parse name; "" for the kernel default
}{
	{"cache=default", ""},
	{"cache=none", "window:bytes=32M,merge=4M,drain,read=fresh"}, // what cmd/nbdserve cache=none uses
	{"windows=8", "window:8,drain,read=fresh"},                   // and with windows=8, nbdkit's ring
}

func policyFor(t *testing.T, name string) evict.Policy {
	t.Helper()
	if name == "" {
		return nil
	}
	p, err := evict.Parse(name)
	if err != nil {
		t.Fatalf("evict.Parse(%q): %v", name, err)
	}
	return p
}

// TestNbdcopyInto copies a sparse image into the server and back out,
// byte-identical, with both cache modes.
func TestNbdcopyInto(t *testing.T) {
	need(t, "nbdcopy", "cmp")
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src.img")
			testImage.write(t, src)
			out := filepath.Join(dir, "out.img")
			f := openFile(t, out, FileOptions{Size: testImage.size, Policy: policyFor(t, m.policy)})
			ts := startServer(t, f, Config{})
			run(t, "nbdcopy", "--flush", src, ts.uri())
			cmpFiles(t, src, out)

			back := filepath.Join(dir, "back.img")
			run(t, "nbdcopy", ts.uri(), back)
			cmpFiles(t, src, back)
		})
	}
}

// TestNbdcopyFrom copies out of a read-only export.
func TestNbdcopyFrom(t *testing.T) {
	need(t, "nbdcopy", "cmp")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	testImage.write(t, src)
	f := openFile(t, src, FileOptions{ReadOnly: true})
	ts := startServer(t, f, Config{ReadOnly: true})
	dst := filepath.Join(dir, "dst.img")
	run(t, "nbdcopy", ts.uri(), dst)
	cmpFiles(t, src, dst)
}

// mapEntry is one line of `nbdinfo --map`.
type mapEntry struct {
	off, n int64
	typ    int
}

func parseMap(t *testing.T, out string) []mapEntry {
	t.Helper()
	var m []mapEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("nbdinfo --map line %q", line)
		}
		off, err1 := strconv.ParseInt(f[0], 10, 64)
		n, err2 := strconv.ParseInt(f[1], 10, 64)
		typ, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("nbdinfo --map line %q", line)
		}
		m = append(m, mapEntry{off, n, typ})
	}
	return m
}

// expectedMap is the base:allocation map of im as written by write: data
// and written zeroes are allocated (0), the rest holes that read as zero
// (NBD_STATE_HOLE|NBD_STATE_ZERO = 3).
func (im sparseImage) expectedMap() []mapEntry {
	alloc := append(append([]span(nil), im.data...), im.zeros...)
	// Sort by offset (few spans: insertion sort).
	for i := 1; i < len(alloc); i++ {
		for j := i; j > 0 && alloc[j].off < alloc[j-1].off; j-- {
			alloc[j], alloc[j-1] = alloc[j-1], alloc[j]
		}
	}
	var m []mapEntry
	add := func(off, n int64, typ int) {
		if n == 0 {
			return
		}
		if k := len(m); k > 0 && m[k-1].typ == typ && m[k-1].off+m[k-1].n == off {
			m[k-1].n += n
			return
		}
		m = append(m, mapEntry{off, n, typ})
	}
	pos := int64(0)
	for _, s := range alloc {
		add(pos, s.off-pos, 3)
		add(s.off, s.n, 0)
		pos = s.off + s.n
	}
	add(pos, im.size-pos, 3)
	return m
}

// TestNbdinfoMap checks that the extents nbdinfo sees are the file's holes.
func TestNbdinfoMap(t *testing.T) {
	need(t, "nbdinfo")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	testImage.write(t, src)
	f := openFile(t, src, FileOptions{ReadOnly: true})
	ts := startServer(t, f, Config{ReadOnly: true})
	got := parseMap(t, run(t, "nbdinfo", "--map", ts.uri()))
	want := testImage.expectedMap()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nbdinfo --map:\n got %v\nwant %v", got, want)
	}
	// Hole punched through the server shows up as a hole.
	rw := openFile(t, src, FileOptions{})
	if err := rw.Trim(0, 1<<20, false); err != nil {
		t.Fatal(err)
	}
	got = parseMap(t, run(t, "nbdinfo", "--map", ts.uri()))
	if got[0] != (mapEntry{0, 3 << 20, 3}) {
		t.Errorf("after trimming the first MiB, first extent %v, want a 3 MiB hole", got[0])
	}
}

// TestNbdinfo checks what nbdinfo reports about the export.
func TestNbdinfo(t *testing.T) {
	need(t, "nbdinfo")
	dir := t.TempDir()
	path := filepath.Join(dir, "disk.img")
	f := openFile(t, path, FileOptions{Size: 5 << 20})
	ts := startServer(t, f, Config{ExportName: "disk", Description: "a test disk", MaxPayload: 4 << 20})
	out := run(t, "nbdinfo", "nbd+unix:///disk?socket="+ts.sock)
	for _, want := range []string{
		`export="disk":`,
		"description: a test disk",
		"export-size: 5242880",
		"base:allocation",
		"is_read_only: false",
		"can_flush: true",
		"can_fua: true",
		"can_multi_conn: true",
		"can_trim: true",
		"can_zero: true",
		"can_fast_zero: true",
		"can_cache: true",
		"can_df: true",
		"block_size_minimum: 1",
		"block_size_preferred: 4096",
		"block_size_maximum: 4194304",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("nbdinfo output lacks %q:\n%s", want, out)
		}
	}
	// The default export "" is the same export; other names are refused.
	if out := run(t, "nbdinfo", "--size", ts.uri()); strings.TrimSpace(out) != "5242880" {
		t.Errorf("nbdinfo --size of the default export = %q", out)
	}
	if out, err := exec("nbdinfo", "nbd+unix:///other?socket="+ts.sock); err == nil {
		t.Errorf("nbdinfo of an unknown export succeeded:\n%s", out)
	}
	if out := run(t, "nbdinfo", "--list", ts.uri()); !strings.Contains(out, `export="disk"`) {
		t.Errorf("nbdinfo --list lacks the export:\n%s", out)
	}
}

// TestQemuImgCompare compares the source with the export through qemu.
func TestQemuImgCompare(t *testing.T) {
	need(t, "qemu-img")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	testImage.write(t, src)
	f := openFile(t, src, FileOptions{ReadOnly: true})
	ts := startServer(t, f, Config{ReadOnly: true})
	out := run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", src, ts.uri())
	if !strings.Contains(out, "Images are identical") {
		t.Errorf("qemu-img compare: %s", out)
	}
	// A changed byte is seen.
	other := filepath.Join(dir, "other.img")
	testImage.write(t, other)
	o, err := os.OpenFile(other, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	o.WriteAt([]byte{1}, 13<<20)
	o.Close()
	if out, err := exec("qemu-img", "compare", "-f", "raw", "-F", "raw", other, ts.uri()); err == nil {
		t.Errorf("qemu-img compare found no difference:\n%s", out)
	}
}

// TestFio runs fio's nbd engine: random writes verified with crc32c.
func TestFio(t *testing.T) {
	need(t, "fio")
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			f := openFile(t, filepath.Join(dir, "fio.img"), FileOptions{Size: 64 << 20, Policy: policyFor(t, m.policy)})
			ts := startServer(t, f, Config{})
			out := run(t, "fio", "--name=nbdserve", "--ioengine=nbd", "--uri="+ts.uri(),
				"--rw=randwrite", "--bs=4k", "--size=64M", "--iodepth=32",
				"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
				"--output-format=terse")
			if strings.Contains(out, "verify:") || strings.Contains(out, "bad magic") {
				t.Errorf("fio reported verify errors:\n%s", out)
			}
		})
	}
}

// TestLibnbdFourConnections writes through four libnbd handles at once,
// each with many asynchronous writes in flight, then reads everything
// back on a fifth.
func TestLibnbdFourConnections(t *testing.T) {
	const (
		conns = 4
		chunk = 256 << 10
		per   = 16 // chunks per connection
		size  = conns * per * chunk
	)
	dir := t.TempDir()
	path := filepath.Join(dir, "multi.img")
	f := openFile(t, path, FileOptions{Size: size, Policy: policyFor(t, "window:8,drain")})
	ts := startServer(t, f, Config{})

	pattern := func(c, i int) []byte {
		return bytes.Repeat([]byte{byte(c*per + i + 1)}, chunk)
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- writeInterleaved(ts.uri(), c, conns, per, chunk, pattern)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	h, err := libnbd.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.ConnectUri(ts.uri()); err != nil {
		t.Fatal(err)
	}
	if ok, err := h.CanMultiConn(); err != nil || !ok {
		t.Fatalf("CanMultiConn = %v, %v", ok, err)
	}
	got := make([]byte, chunk)
	for c := range conns {
		for i := range per {
			off := uint64((i*conns + c) * chunk)
			if err := h.Pread(got, off, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, pattern(c, i)) {
				t.Fatalf("connection %d chunk %d at %d: wrong data", c, i, off)
			}
		}
	}
	h.Shutdown(nil)
}

// writeInterleaved writes connection c's chunks (every conns-th chunk)
// with all writes in flight at once, then flushes.
func writeInterleaved(uri string, c, conns, per, chunk int, pattern func(c, i int) []byte) error {
	h, err := libnbd.Create()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.ConnectUri(uri); err != nil {
		return fmt.Errorf("connection %d: %w", c, err)
	}
	bufs := make([]libnbd.AioBuffer, per)
	for i := range per {
		bufs[i] = libnbd.FromBytes(pattern(c, i))
		defer bufs[i].Free()
		off := uint64((i*conns + c) * chunk)
		if _, err := h.AioPwrite(bufs[i], off, nil); err != nil {
			return fmt.Errorf("connection %d: AioPwrite at %d: %w", c, off, err)
		}
	}
	for {
		n, err := h.AioInFlight()
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if _, err := h.Poll(-1); err != nil {
			return fmt.Errorf("connection %d: Poll: %w", c, err)
		}
	}
	for {
		ck, err := h.AioPeekCommandCompleted()
		if err != nil || ck == 0 {
			break
		}
		if _, err := h.AioCommandCompleted(ck); err != nil {
			return fmt.Errorf("connection %d: write failed: %w", c, err)
		}
	}
	if err := h.Flush(nil); err != nil {
		return fmt.Errorf("connection %d: Flush: %w", c, err)
	}
	return h.Shutdown(nil)
}
