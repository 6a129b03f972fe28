package sweep

import (
	"strings"
	"testing"
)

func TestBytesLabel(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {512, "512 B"}, {1 << 20, "1 MiB"}, {3 << 29, "1.5 GiB"}, {2442496819, "2.3 GiB"}, {5 << 40, "5 TiB"},
	} {
		if got := bytesLabel(c.n); got != c.want {
			t.Errorf("bytesLabel(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// TestAutoSize checks the default size against what the kernel reports:
// twice the memory limit when one is given, else twice the
// dirty-background threshold, in whole steps, capped by free space.
func TestAutoSize(t *testing.T) {
	dir := t.TempDir()
	fs, err := statFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	room := (fs.avail - 1<<30) * 8 / 17
	for _, limit := range []int64{0, 256 << 20, 1 << 30} {
		want := 2 * limit
		if limit == 0 {
			want = 2 * DirtyBackground()
		}
		want = max(min(want, room)/sizeStep*sizeStep, minAutoSize)
		if got := AutoSize(dir, limit, 0); got != want {
			t.Errorf("AutoSize(limit %d) = %d, want %d (dirty background %d, room %d)", limit, got, want, DirtyBackground(), room)
		}
	}
	if DirtyBackground() <= 0 {
		t.Error("DirtyBackground: no threshold read from /proc/sys/vm")
	}
}

func TestRegime(t *testing.T) {
	bg := DirtyBackground()
	if bg <= 0 {
		t.Skip("no dirty-background threshold")
	}
	for _, c := range []struct {
		image, limit int64
		want         []string
	}{
		{2 * bg, 0, []string{"2.0x dirty_background", "writeback pressure"}},
		{bg / 4, 0, []string{"below it"}},
		{2 << 30, 1 << 30, []string{"image 2 GiB = 2.0x the memory limit (1 GiB): the server's cgroup must reclaim"}},
		{256 << 20, 1 << 30, []string{"no reclaim forced"}},
	} {
		got := Regime(c.image, c.limit)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("Regime(%d, %d) = %q, lacks %q", c.image, c.limit, got, w)
			}
		}
	}
}
