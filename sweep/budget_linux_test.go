package sweep

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/cgroup"
	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/neighbour"
	"github.com/pagecache-suite/wcache/results"
)

// needMemoryCgroup skips the test unless it runs as root on a kernel with
// a memory cgroup controller.
func needMemoryCgroup(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("memory cgroups need root")
	}
	if _, err := cgroup.Detect(); errors.Is(err, cgroup.ErrNoMemoryController) {
		t.Skipf("kernel without a memory cgroup controller: %v", err)
	}
}

// TestNeighbourAgainstFincore runs a run's budget as runOne does: a
// neighbour whose file is larger than the group's limit, beside a reader
// in the same group, then compares the share of its file it reports still
// cached with fincore's reading of the file, and checks its phases.
func TestNeighbourAgainstFincore(t *testing.T) {
	needMemoryCgroup(t)
	testenv.NeedPrograms(t, "fincore", "cat")
	dir := testenv.DiskDir(t)
	// The group holds the neighbour process too: under -race its
	// resident memory and the test binary's mapped text take about 45 MiB,
	// and a 32 MiB group was OOM-killed now and then. 96 MiB leaves room
	// for them while the file is still larger than the group.
	const limit, fileSize = 96 << 20, 128 << 20
	spec := neighbour.Spec{Kind: neighbour.Warm, Size: fileSize, Rate: neighbour.DefaultRate}
	file, err := prepareNeighbour(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{MemoryLimit: limit, Exe: exe, neighbour: &spec}
	b, err := startBudget(context.Background(), o, file, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.copyStarts(); err != nil {
		t.Fatal(err)
	}
	// A co-tenant reading a file of its own in the group: the "copy".
	other := testenv.ColdFile(t, dir, "other", testenv.RandomData(96<<20))
	cat := exec.Command("cat", other.Name())
	cat.Stdout = io.Discard
	if err := b.start(cat); err != nil {
		t.Fatal(err)
	}
	if err := cat.Wait(); err != nil {
		t.Fatal(err)
	}
	r, err := b.finish()
	if err != nil {
		t.Fatal(err)
	}
	n := r.Neighbour
	if n == nil {
		t.Fatal("no neighbour report")
	}
	out, err := exec.Command("fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", file).Output()
	if err != nil {
		t.Fatalf("fincore: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("fincore printed %q", out)
	}
	res, err1 := strconv.ParseFloat(f[0], 64)
	size, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || size != fileSize {
		t.Fatalf("fincore printed %q", out)
	}
	want := res / size
	t.Logf("neighbour: cached %.3f, fincore %.3f; idle %+v; copy %+v; group peak %d, limit hits %d", n.Cached, want, n.Idle, n.Copy, r.Peak, r.LimitHits)
	// Nothing runs in the group any more: the file's pages can only have
	// been reclaimed by global pressure meanwhile; allow 1% for that.
	if math.Abs(n.Cached-want) > 0.01 {
		t.Errorf("neighbour reports %.4f of its file cached, fincore %.4f", n.Cached, want)
	}
	if most := float64(limit) / fileSize; n.Cached <= 0 || n.Cached > most {
		t.Errorf("cached share %.3f: want above 0 and at most the limit's share of the file, %.3f", n.Cached, most)
	}
	for name, p := range map[string]results.NeighbourPhase{"idle": n.Idle, "copy": n.Copy} {
		if p.Reads == 0 || p.P50 <= 0 || p.P50 > p.P99 || p.P99 > p.Max {
			t.Errorf("%s phase: %d reads, p50 %g p99 %g max %g", name, p.Reads, p.P50, p.P99, p.Max)
		}
		// Paced reads: never more than the rate asked for (one period of slack).
		if most := float64(spec.Rate)*p.Sec + 1; float64(p.Reads) > most {
			t.Errorf("%s phase: %d reads in %.2f s at %d/s", name, p.Reads, p.Sec, spec.Rate)
		}
	}
	if r.LimitHits == 0 {
		t.Errorf("the group never hit its limit of %d bytes with %d bytes of files read in it", limit, fileSize+32<<20)
	}
}
