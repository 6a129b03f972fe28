package testenv_test

import (
	"os"
	"slices"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
)

// TestReadPagesFincore checks that ReadPages caches the pages it names and
// no others, by pagecache's page map and by Fincore, which must agree.
func TestReadPagesFincore(t *testing.T) {
	testenv.NeedPrograms(t, "fincore")
	ps := int64(os.Getpagesize())
	f := testenv.ColdFile(t, testenv.DiskDir(t), "pages", testenv.RandomData(16*int(ps)))
	w := testenv.WatchDrops()
	want := []int64{1, 5, 9}
	testenv.ReadPages(t, f, want...)
	_, m, err := pagecache.MapFile(f, pagecache.Range{})
	if err != nil {
		t.Fatal(err)
	}
	pages, size, res := testenv.Fincore(t, f.Name())
	w.SkipIfDropped(t)
	if got := slices.Collect(m.ResidentPages()); !slices.Equal(got, want) {
		t.Errorf("resident pages %v after ReadPages(%v)", got, want)
	}
	if pages != 3 || size != 16*ps || res != 3*ps {
		t.Errorf("Fincore = %d pages, %d bytes, %d resident; want 3, %d, %d", pages, size, res, 16*ps, 3*ps)
	}
}
