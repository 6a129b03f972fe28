//go:build linux

package nbdserve

import (
	"crypto/rand"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
)

// TestBlockDevice serves a loop device in both cache modes, as nbdkit's
// file plugin serves block devices: nbdcopy writes 64 MiB into it and
// reads them back out, byte-identical. The device's own page cache,
// measured on the device node, holds most of the data with cache=default
// and almost nothing with cache=none, where the pages another program had
// cached stay cached. The test holds the device open throughout, as a
// mounted file system or another program would: Linux drops a block
// device's page cache when its last opener closes it.
func TestBlockDevice(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) { testBlockDevice(t, m.policy) })
	}
}

func testBlockDevice(t *testing.T, policy string) {
	need(t, "nbdcopy", "cmp", "losetup")
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a loop device")
	}
	const size = 64 << 20
	dir, err := os.MkdirTemp("/var/tmp", "nbdserve-blockdev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	backing := filepath.Join(dir, "backing.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(run(t, "losetup", "--find", "--show", backing))
	t.Cleanup(func() {
		if out, err := osexec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v\n%s", dev, err, out)
		}
	})
	if f, err := OpenFile(dev, FileOptions{Size: size + 1}); err == nil {
		f.Close()
		t.Errorf("OpenFile %s with Size beyond the device succeeded", dev)
	}
	holder, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	src := filepath.Join(dir, "src.img")
	buf := make([]byte, size)
	rand.Read(buf)
	if err := os.WriteFile(src, buf, 0o600); err != nil {
		t.Fatal(err)
	}

	serve := func(clientArgs ...string) {
		t.Helper()
		f, err := OpenFile(dev, FileOptions{Policy: policyFor(t, policy)})
		if err != nil {
			t.Fatal(err)
		}
		if f.Size() != size {
			t.Fatalf("%s: export size %d, want %d", dev, f.Size(), size)
		}
		copyThrough(t, f, dir, clientArgs...)
	}
	cached := func(r pagecache.Range) pagecache.Stat {
		t.Helper()
		st, err := pagecache.StatFile(holder, r)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	serve("--flush", src, "URI")
	afterWrite := cached(pagecache.Range{})
	t.Logf("after nbdcopy into %s: %d of %d pages cached", dev, afterWrite.Resident, afterWrite.Pages)
	if afterWrite.Pages != size/int64(os.Getpagesize()) {
		t.Fatalf("%s has %d pages, want %d", dev, afterWrite.Pages, size/int64(os.Getpagesize()))
	}
	cmpFiles(t, src, dev)

	// Cold, but for a few pages another program read before.
	g, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(g.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(g.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	drops := testenv.WatchDrops()
	warm := []pagecache.Range{{Offset: 4 << 20, Length: 64 << 10}, {Offset: 40 << 20, Length: 1 << 20}}
	for _, r := range warm {
		if _, err := g.ReadAt(make([]byte, r.Length), r.Offset); err != nil {
			t.Fatal(err)
		}
	}
	g.Close()
	var want int64
	for _, r := range warm {
		want += r.Length / int64(os.Getpagesize())
	}
	if st := cached(pagecache.Range{}); st.Resident != want {
		drops.SkipIfDropped(t)
		t.Fatalf("%s: %d pages cached after DONTNEED and warming, want the %d warmed", dev, st.Resident, want)
	}

	back := filepath.Join(dir, "back.img")
	serve("URI", back)
	afterRead := cached(pagecache.Range{})
	t.Logf("after nbdcopy out of %s: %d of %d pages cached", dev, afterRead.Resident, afterRead.Pages)
	cmpFiles(t, src, back)
	kept := make([]pagecache.Stat, len(warm))
	for i, r := range warm {
		kept[i] = cached(r)
	}
	drops.SkipIfDropped(t) // after measuring: a drop in between would go unnoticed
	if policy == "" {
		if afterWrite.Percent() < 50 || afterRead.Percent() < 50 {
			t.Errorf("cache=default: %.1f%% cached after the write, %.1f%% after the read; want most of the device", afterWrite.Percent(), afterRead.Percent())
		}
		return
	}
	if afterWrite.Percent() > 1 {
		t.Errorf("%.2f%% of %s cached after the write, want <= 1%%", afterWrite.Percent(), dev)
	}
	if afterRead.Percent() > 5 {
		t.Errorf("%.2f%% of %s cached after the read, want <= 5%%", afterRead.Percent(), dev)
	}
	for i, r := range warm {
		if kept[i].Resident != kept[i].Pages {
			t.Errorf("pages cached before the read at %+v: only %d of %d left", r, kept[i].Resident, kept[i].Pages)
		}
	}
}
