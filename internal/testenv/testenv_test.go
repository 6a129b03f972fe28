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
