package testenv_test

import (
	"os"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestNeedPrograms(t *testing.T) {
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		testenv.NeedPrograms(t, "sh", "wcache-no-such-program")
	})
	if !skipped {
		t.Error("a missing program did not skip the test")
	}
	testenv.NeedPrograms(t, "sh") // present on every machine the suite runs on
}

// TestColdFile checks the drop helpers against the kernel's own count.
func TestColdFile(t *testing.T) {
	data := testenv.RandomData(64 * os.Getpagesize())
	f := testenv.ColdFile(t, testenv.DiskDir(t), "cold", data)
	resident := func() int64 {
		t.Helper()
		st, err := pagecache.StatFile(f, pagecache.Range{})
		if err != nil {
			t.Fatal(err)
		}
		return st.Resident
	}
	if n := resident(); n != 0 {
		t.Fatalf("new cold file has %d pages cached", n)
	}
	if _, err := f.ReadAt(make([]byte, len(data)), 0); err != nil {
		t.Fatal(err)
	}
	if n := resident(); n == 0 {
		t.Fatal("no page cached after reading the whole file")
	}
	testenv.DropPath(t, f.Name())
	if n := resident(); n != 0 {
		t.Errorf("%d pages still cached after DropPath", n)
	}
}

// TestSkipIfDroppedSeesDropUnderWay holds /proc/sys/vm/drop_caches open for
// writing, as a process that is dropping the page cache does until its
// write returns, and checks that SkipIfDropped skips although the kernel has
// not counted a drop. Nothing is written, so nothing is dropped.
func TestSkipIfDroppedSeesDropUnderWay(t *testing.T) {
	w := testenv.WatchDrops()
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot open drop_caches for writing (needs root on Linux): %v", err)
	}
	defer f.Close()
	var skipped bool
	t.Run("underway", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		w.SkipIfDropped(t)
	})
	if !skipped {
		t.Error("SkipIfDropped did not skip while a process held drop_caches open for writing")
	}
}
