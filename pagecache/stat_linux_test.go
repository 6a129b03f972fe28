//go:build linux

package pagecache

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const testPages = 255

// testFile creates a file of n pages plus half a page of random data on
// the disk under test, synced and dropped from the cache.
func testFile(t *testing.T, n int) (*os.File, string) {
	t.Helper()
	f := testenv.ColdFile(t, testenv.DiskDir(t), "data", testenv.RandomData(n*pageSize+pageSize/2))
	return f, f.Name()
}

// fincore runs util-linux fincore on path and returns its resident pages,
// file size and resident bytes.
func fincore(t *testing.T, path string) (pages, size, res int64) {
	t.Helper()
	out, err := exec.Command("fincore", "--bytes", "--noheadings", "--raw", "--output", "PAGES,SIZE,RES,FILE", path).Output()
	if err != nil {
		t.Fatalf("fincore %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 4 || f[3] != path {
		t.Fatalf("fincore output %q", out)
	}
	var v [3]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			t.Fatalf("fincore output %q: %v", out, err)
		}
	}
	return v[0], v[1], v[2]
}

// agree measures r of f with cachestat, with mincore and with a page map,
// checks them against each other page for page and, for a whole regular
// file, against fincore, and returns the cachestat Stat and the map.
func agree(t *testing.T, f *os.File, r Range) (Stat, *PageMap) {
	t.Helper()
	cs, err := StatFile(f, r)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Method != MethodCachestat || !cs.Extended {
		t.Fatalf("StatFile used %s (extended %v), want cachestat on this kernel", cs.Method, cs.Extended)
	}
	mc, err := StatFileMincore(f, r)
	if err != nil {
		t.Fatal(err)
	}
	ms, m, err := MapFile(f, r)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Method != MethodMincore || mc.Extended || ms.Method != MethodMincore {
		t.Errorf("mincore stats say method %s/%s extended %v", mc.Method, ms.Method, mc.Extended)
	}
	if mc.Resident != cs.Resident || ms.Resident != cs.Resident || m.Count() != cs.Resident {
		t.Errorf("resident: cachestat %d, mincore %d, map %d (count %d)", cs.Resident, mc.Resident, ms.Resident, m.Count())
	}
	if mc.Pages != cs.Pages || ms.Pages != cs.Pages || m.Len() != cs.Pages {
		t.Errorf("pages: cachestat %d, mincore %d, map %d", cs.Pages, mc.Pages, m.Len())
	}
	// Resident's ranges against the map, and nothing loading at rest.
	rs, err := Resident(f, r)
	if err != nil {
		t.Fatal(err)
	}
	var fromMap []Range
	for run := range m.Runs() {
		if run.Resident {
			fromMap = append(fromMap, Range{Offset: (m.First + run.Start) * int64(pageSize), Length: run.Len * int64(pageSize)})
		}
	}
	if !slices.Equal(rs, fromMap) {
		t.Errorf("Resident %v, page map %v", rs, fromMap)
	}
	if l, err := Loading(f, r); err != nil || len(l) != 0 {
		t.Errorf("Loading at rest: %v, %v; want none", l, err)
	}
	// Page for page: each bit of the map against cachestat of that page.
	for i := range m.Len() {
		var c unix.Cachestat_t
		cr := unix.CachestatRange{Off: uint64((m.First + i) * int64(pageSize)), Len: uint64(pageSize)}
		if err := unix.Cachestat(uint(f.Fd()), &cr, &c, 0); err != nil {
			t.Fatal(err)
		}
		if m.Resident(i) != (c.Cache == 1) {
			t.Errorf("page %d: map says resident=%v, cachestat says %d", m.First+i, m.Resident(i), c.Cache)
		}
	}
	// fincore takes a device's size from fstat (0), so it only judges files.
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && r == (Range{}) {
		fp, fsize, fres := fincore(t, f.Name())
		if fp != cs.Resident || fsize != cs.Size || fres != cs.Resident*int64(pageSize) {
			t.Errorf("fincore says %d pages (%d bytes) of %d bytes, cachestat %d pages of %d", fp, fres, fsize, cs.Resident, cs.Size)
		}
	}
	return cs, m
}

// readPages reads the given pages of f with readahead disabled, so that
// exactly those pages enter the cache.
func readPages(t *testing.T, f *os.File, pages ...int64) {
	t.Helper()
	// Best-effort advice: turns readahead off for this file descriptor.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, pageSize)
	for _, p := range pages {
		if n, err := f.ReadAt(buf, p*int64(pageSize)); n == 0 {
			t.Fatalf("reading page %d: %v", p, err)
		}
	}
}

func residentPages(m *PageMap) []int64 { return slices.Collect(m.ResidentPages()) }

func TestStatStates(t *testing.T) {
	f, _ := testFile(t, testPages)
	total := int64(testPages + 1)

	t.Run("cold", func(t *testing.T) {
		st, _ := agree(t, f, Range{})
		if st.Pages != total || st.Resident != 0 || st.Size != int64(testPages*pageSize+pageSize/2) || st.PageSize != pageSize {
			t.Errorf("cold: %+v", st)
		}
		if st.Percent() != 0 {
			t.Errorf("Percent = %v", st.Percent())
		}
	})

	read := []int64{0, 3, 4, 5, 100, 255}
	t.Run("partly read", func(t *testing.T) {
		readPages(t, f, read...)
		st, m := agree(t, f, Range{})
		if got := residentPages(m); !slices.Equal(got, read) {
			t.Errorf("resident pages %v, want %v", got, read)
		}
		if st.Resident != int64(len(read)) {
			t.Errorf("resident %d, want %d", st.Resident, len(read))
		}
		// Ranges: pages 3..5 exactly; a few bytes inside page 4; the tail.
		for _, tc := range []struct {
			r             Range
			pages, resid  int64
			first, length int64
		}{
			{Range{3 * int64(pageSize), 3 * int64(pageSize)}, 3, 3, 3, 3 * int64(pageSize)},
			{Range{4*int64(pageSize) + 10, 20}, 1, 1, 4, 20},
			{Range{2*int64(pageSize) + 1, int64(pageSize)}, 2, 1, 2, int64(pageSize)},
			{Range{250 * int64(pageSize), 0}, 6, 1, 250, 5*int64(pageSize) + int64(pageSize)/2},
			{Range{400 * int64(pageSize), 0}, 0, 0, 0, 0},
		} {
			st, m := agree(t, f, tc.r)
			if st.Pages != tc.pages || st.Resident != tc.resid || st.Length != tc.length || (st.Pages > 0 && m.First != tc.first) {
				t.Errorf("range %+v: %d/%d pages, length %d, first %d; want %d/%d, %d, %d", tc.r, st.Resident, st.Pages, st.Length, m.First, tc.resid, tc.pages, tc.length, tc.first)
			}
		}
	})

	t.Run("across mincore windows", func(t *testing.T) {
		defer func(w int) { windowBytes = w }(windowBytes)
		windowBytes = 7 * pageSize
		_, m := agree(t, f, Range{})
		if got := residentPages(m); !slices.Equal(got, read) {
			t.Errorf("with 7-page windows: resident pages %v, want %v", got, read)
		}
	})

	t.Run("fully read", func(t *testing.T) {
		if _, err := f.ReadAt(make([]byte, total*int64(pageSize)), 0); err == nil {
			t.Fatal("reading past the end succeeded")
		}
		st, m := agree(t, f, Range{})
		if st.Resident != total || st.Percent() != 100 {
			t.Errorf("fully read: %d/%d (%.1f%%)", st.Resident, st.Pages, st.Percent())
		}
		runs := slices.Collect(m.Runs())
		if len(runs) != 1 || runs[0] != (Run{0, total, true}) {
			t.Errorf("runs %v", runs)
		}
	})

	t.Run("dirty then synced", func(t *testing.T) {
		testenv.Drop(t, f)
		var st Stat
		// Writeback started by someone else's writes may clean our pages
		// between the write and the measurement; try a few times.
		for range 3 {
			if _, err := f.WriteAt(bytes.Repeat([]byte{'d'}, 10*pageSize), 10*int64(pageSize)); err != nil {
				t.Fatal(err)
			}
			st, _ = agree(t, f, Range{})
			if st.Dirty == 10 {
				break
			}
		}
		if st.Resident != 10 || st.Dirty != 10 {
			t.Errorf("after writing 10 pages: resident %d dirty %d writeback %d", st.Resident, st.Dirty, st.Writeback)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		st, m := agree(t, f, Range{})
		if st.Resident != 10 || st.Dirty != 0 || st.Writeback != 0 {
			t.Errorf("after fsync: resident %d dirty %d writeback %d", st.Resident, st.Dirty, st.Writeback)
		}
		if runs := slices.Collect(m.Runs()); len(runs) != 3 || runs[1] != (Run{10, 10, true}) {
			t.Errorf("runs %v", runs)
		}
	})
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, m := range []Method{MethodAuto, MethodCachestat, MethodMincore} {
		st, err := StatFileUsing(f, Range{}, m)
		if err != nil {
			t.Fatal(err)
		}
		if st.Pages != 0 || st.Resident != 0 || st.Percent() != 0 || st.Size != 0 {
			t.Errorf("method %q: %+v, %v%%", m, st, st.Percent())
		}
	}
	if _, m, err := MapFile(f, Range{}); err != nil || m.Len() != 0 || m.Count() != 0 {
		t.Errorf("MapFile: %v, %v", m, err)
	}
	if fp, fsize, _ := fincore(t, path); fp != 0 || fsize != 0 {
		t.Errorf("fincore says %d pages of %d bytes", fp, fsize)
	}
}

func TestNoPageCache(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// No writer ever opens the FIFO: StatPath must not wait for one.
	for _, path := range []string{fifo, sock, dir, "/dev/null"} {
		_, err := StatPath(path)
		if !errors.Is(err, ErrNoPageCache) {
			t.Errorf("StatPath(%s) = %v, want ErrNoPageCache", path, err)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
	if _, err := StatPath(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestBlockDevice measures a loop device: its size comes from
// BLKGETSIZE64, and its page cache lives only while it is open (the last
// close drops it), so the test reads through the descriptor it measures.
func TestBlockDevice(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 64*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: losetup: %v: %s", err, out) // containers may forbid it
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	f, err := Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	readPages(t, f, 0, 7, 63)
	st, m := agree(t, f, Range{})
	if st.Size != 64*int64(pageSize) || st.Pages != 64 || st.Resident != 3 || !slices.Equal(residentPages(m), []int64{0, 7, 63}) {
		t.Errorf("%s: %+v, resident pages %v", dev, st, residentPages(m))
	}
}

func TestChangingFile(t *testing.T) {
	f, path := testFile(t, 8)
	if err := f.Truncate(8 * int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	st, err := StatFile(f, Range{})
	if err != nil || st.Pages != 8 {
		t.Fatalf("%+v, %v", st, err)
	}
	// Grows, with the new pages dirty in the cache.
	if _, err := f.WriteAt(make([]byte, 4*pageSize), 9*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	if st, _ := agree(t, f, Range{}); st.Pages != 13 || st.Resident != 4 || st.Size != 13*int64(pageSize) {
		t.Errorf("after growing: %d/%d pages, size %d", st.Resident, st.Pages, st.Size)
	}
	// Shrinks.
	if err := f.Truncate(int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	if st, _ := agree(t, f, Range{}); st.Pages != 1 || st.Resident != 0 {
		t.Errorf("after shrinking: %d/%d pages", st.Resident, st.Pages)
	}
	// Replaced: StatPath follows the name, StatFile the open file.
	other := filepath.Join(filepath.Dir(path), "other")
	if err := os.WriteFile(other, make([]byte, 3*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if st, err := StatPath(path); err != nil || st.Pages != 3 || st.Resident != 3 {
		t.Errorf("StatPath after replacement: %+v, %v", st, err)
	}
	if st, err := StatFile(f, Range{}); err != nil || st.Pages != 1 {
		t.Errorf("StatFile of the replaced file: %+v, %v", st, err)
	}
}

// TestOldTailPage pins down the one known disagreement between cachestat
// and mincore: extending a file whose size is not a multiple of the page
// size leaves its old last page in the cache, dirty, with its data valid
// but the page not marked up to date (ext4 zeroes the tail through the
// block's buffer). cachestat counts that page; mincore, and so fincore,
// count only up-to-date pages. Reading the page marks it up to date.
func TestOldTailPage(t *testing.T) {
	f, _ := testFile(t, 8) // 8.5 pages
	if _, err := f.WriteAt(make([]byte, 4*pageSize), 9*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	cs, err := StatFile(f, Range{})
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := MapFile(f, Range{})
	if err != nil {
		t.Fatal(err)
	}
	fp, _, _ := fincore(t, f.Name())
	if got := residentPages(m); !slices.Equal(got, []int64{9, 10, 11, 12}) || fp != 4 {
		t.Errorf("mincore: resident pages %v, fincore %d; want the 4 written pages", got, fp)
	}
	if cs.Resident-m.Count() > 1 || cs.Dirty != cs.Resident {
		t.Errorf("cachestat %d resident %d dirty, mincore %d: more than the old tail page apart", cs.Resident, cs.Dirty, m.Count())
	}
	t.Logf("after extending: cachestat %d resident, mincore %d", cs.Resident, m.Count())
	readPages(t, f, 8)
	if st, _ := agree(t, f, Range{}); st.Resident != 5 {
		t.Errorf("after reading the old tail page: %d resident, want 5", st.Resident)
	}
}

// TestOldKernel acts out a kernel without cachestat(2): MethodAuto falls
// back to mincore, with no extended counts, and MethodCachestat says why it
// cannot answer.
func TestOldKernel(t *testing.T) {
	f, _ := testFile(t, 16)
	readPages(t, f, 2, 3)
	defer func(c func(uint, *unix.CachestatRange, *unix.Cachestat_t, uint) error) {
		cachestat = c
		noCachestat.Store(false)
	}(cachestat)
	cachestat = func(uint, *unix.CachestatRange, *unix.Cachestat_t, uint) error { return unix.ENOSYS }
	for range 2 { // the first call learns ENOSYS, the second remembers it
		st, err := StatFile(f, Range{})
		if err != nil || st.Method != MethodMincore || st.Extended || st.Resident != 2 || st.Pages != 17 {
			t.Errorf("StatFile without cachestat: %+v, %v", st, err)
		}
	}
	if _, err := StatFileUsing(f, Range{}, MethodCachestat); !errors.Is(err, ErrNoCachestat) {
		t.Errorf("MethodCachestat without cachestat: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	f, _ := testFile(t, 1)
	if _, err := StatFile(f, Range{Offset: -1}); err == nil {
		t.Error("negative offset accepted")
	}
	if _, err := StatFileUsing(f, Range{}, "guess"); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestPageMap(t *testing.T) {
	m := NewPageMap(7, 130)
	for _, i := range []int64{0, 1, 63, 64, 129} {
		m.Set(i)
	}
	if m.Count() != 5 || !m.Resident(63) || m.Resident(62) || m.Len() != 130 {
		t.Errorf("count %d", m.Count())
	}
	if got := residentPages(m); !slices.Equal(got, []int64{0, 1, 63, 64, 129}) {
		t.Errorf("ResidentPages %v", got)
	}
	want := []Run{{0, 2, true}, {2, 61, false}, {63, 2, true}, {65, 64, false}, {129, 1, true}}
	if got := slices.Collect(m.Runs()); !slices.Equal(got, want) {
		t.Errorf("Runs %v, want %v", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("Resident(130) did not panic")
		}
	}()
	m.Resident(130)
}

// TestSpecialFilesNotOpened checks that what has no page cache is refused
// from stat alone: inotify reports every open of a watched inode
// (IN_OPEN), and none may come for a FIFO without a writer nor for a
// character device node (a copy of /dev/null's, made here when allowed).
func TestSpecialFilesNotOpened(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	paths := []string{fifo}
	chr := filepath.Join(dir, "null")
	if err := unix.Mknod(chr, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err == nil {
		paths = append(paths, chr)
	} else {
		t.Logf("mknod: %v; checking /dev/null itself", err)
		paths = append(paths, "/dev/null")
	}
	for _, path := range paths {
		in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(in)
		if _, err := unix.InotifyAddWatch(in, path, unix.IN_OPEN); err != nil {
			t.Fatal(err)
		}
		if _, err := StatPath(path); !errors.Is(err, ErrNoPageCache) {
			t.Errorf("StatPath(%s) = %v, want ErrNoPageCache", path, err)
		}
		buf := make([]byte, 4096)
		if n, err := unix.Read(in, buf); !errors.Is(err, unix.EAGAIN) {
			t.Errorf("%s was opened (inotify read %d bytes, %v)", path, n, err)
		}
		// The watch works: an open of our own is reported.
		if fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
		if n, err := unix.Read(in, buf); err != nil || n == 0 {
			t.Errorf("%s: inotify did not report an open: %v", path, err)
		}
	}
}
