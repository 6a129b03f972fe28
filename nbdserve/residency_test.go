package nbdserve

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/testenv"

	"github.com/pagecache-suite/wcache/pagecache"
)

// TestCacheModeResidency is the seed's experiment in small: nbdcopy writes
// 64 MiB of data into the server and reads it back out. With the kernel's
// default most of out.img stays cached; with cache=none's policy almost
// none of it does, after the write and after the read, and the pages that
// were cached before the read are kept.
func TestCacheModeResidency(t *testing.T) {
	need(t, "nbdcopy", "cmp")
	const size = 64 << 20
	dir := testenv.DiskDir(t)
	src := filepath.Join(dir, "src.img")
	buf := make([]byte, size)
	rand.Read(buf)
	if err := os.WriteFile(src, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			drops := testenv.WatchDrops()
			out := filepath.Join(dir, "out-"+m.name+".img")
			serve := func(clientArgs ...string) {
				f, err := OpenFile(out, FileOptions{Size: size, Policy: policyFor(t, m.policy)})
				if err != nil {
					t.Fatal(err)
				}
				copyThrough(t, f, dir, clientArgs...)
			}
			resident := func() pagecache.Stat {
				st, err := pagecache.StatPath(out)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}

			serve("--flush", src, "URI")
			afterWrite := resident() // before cmp reads it
			t.Logf("after nbdcopy into the server: %d of %d pages cached", afterWrite.Resident, afterWrite.Pages)
			cmpFiles(t, src, out)

			// Cold, but for a few pages another program read before.
			dropFile(t, out)
			warm := []pagecache.Range{{Offset: 4 << 20, Length: 64 << 10}, {Offset: 40 << 20, Length: 1 << 20}}
			for _, r := range warm {
				readRange(t, out, r)
			}
			back := filepath.Join(dir, "back-"+m.name+".img")
			serve("URI", back)
			afterRead := resident()
			t.Logf("after nbdcopy out of the server: %d of %d pages cached", afterRead.Resident, afterRead.Pages)
			cmpFiles(t, src, back)
			kept := make([]pagecache.Stat, len(warm))
			for i, r := range warm {
				g, err := os.Open(out)
				if err != nil {
					t.Fatal(err)
				}
				kept[i], err = pagecache.StatFile(g, r)
				g.Close()
				if err != nil {
					t.Fatal(err)
				}
			}

			drops.SkipIfDropped(t) // after measuring: a drop in between would go unnoticed
			if m.policy == "" {
				if afterWrite.Percent() < 50 || afterRead.Percent() < 50 {
					t.Errorf("cache=default: %.1f%% cached after the write, %.1f%% after the read; want most of the file", afterWrite.Percent(), afterRead.Percent())
				}
				return
			}
			if afterWrite.Percent() > 1 {
				t.Errorf("%s: %.2f%% of out.img cached after the write, want <= 1%%", m.name, afterWrite.Percent())
			}
			if afterRead.Percent() > 5 {
				t.Errorf("%s: %.2f%% of out.img cached after the read, want <= 5%%", m.name, afterRead.Percent())
			}
			for i, r := range warm {
				if kept[i].Resident != kept[i].Pages {
					t.Errorf("%s: pages cached before the read at %+v: only %d of %d left", m.name, r, kept[i].Resident, kept[i].Pages)
				}
			}
		})
	}
}

// dropFile writes path back and drops it from the page cache.
func dropFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// readRange reads r of path, bringing it into the page cache.
func readRange(t *testing.T, path string, r pagecache.Range) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, r.Length), r.Offset); err != nil {
		t.Fatal(err)
	}
}
