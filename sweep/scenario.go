package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pagecache-suite/wcache/results"
	"github.com/pagecache-suite/wcache/testbed"
)

// RunScenarios runs the sweep once per profile of o.Profiles, each on a
// fresh filesystem made for it by package testbed, and returns the sweeps
// in profile order; without profiles it is Run in the work directory. The
// source image stays in the work directory; the outputs and the
// neighbour's file are on the profile's filesystem.
//
// Before anything is made, the sets an earlier wbench left behind (killed,
// crashed) are removed, each item with a note. Every set is removed again
// when its sweep ends, fails, or ctx ends (Ctrl-C). On error RunScenarios
// returns the sweeps completed so far with it.
func RunScenarios(ctx context.Context, o Options) ([]*results.Sweep, error) {
	if len(o.Profiles) == 0 {
		s, err := Run(ctx, o)
		if s == nil {
			return nil, err
		}
		return []*results.Sweep{s}, err
	}
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Resume != nil {
		return nil, errors.New("resume: a sweep over several scenarios cannot be resumed")
	}
	img, warnings, err := prepare(ctx, &o)
	if err != nil {
		return nil, err
	}
	need := img.Size
	if o.neighbour != nil {
		need += o.neighbour.Size
	}
	var out []*results.Sweep
	var errs []error
	for _, p := range o.Profiles {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		o.Progress.Note("setting up " + p.String())
		tb, err := testbed.Setup(ctx, testbed.Options{Profile: p, Workdir: o.WorkDir, Size: need})
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", p, err)
		}
		o.Progress.Note("scenario " + tb.String())
		sc := scenario{name: tb.Name(), desc: tb.String(), dir: tb.Dir}
		if o.Out != "" {
			sc.out = filepath.Join(o.Out, results.ScenarioDir(sc.name))
		}
		if rate := p.Device.Rate; p.Device.Kind == testbed.Throttled && rate > 0 {
			sc.unthrottled = func() (func() error, error) {
				if err := tb.SetRate(0); err != nil {
					return nil, fmt.Errorf("scenario %s: lift the limit: %w", tb.Name(), err)
				}
				return func() error { return tb.SetRate(rate) }, nil
			}
		}
		s, err := runScenario(ctx, &o, img, warnings, sc)
		if cerr := tb.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("scenario %s: tear-down: %w", tb.Name(), cerr))
		}
		if s != nil {
			out = append(out, s)
		}
		if err != nil && !errors.Is(err, ErrIntegrity) {
			return out, fmt.Errorf("scenario %s: %w", tb.Name(), err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("scenario %s: %w", tb.Name(), err))
		}
	}
	return out, errors.Join(errs...)
}

// Sizes of the automatic workload.
const (
	sizeStep    = 64 << 20  // the automatic size is a multiple of it
	minAutoSize = 256 << 20 // the smallest automatic size
)

// AutoSize is the default image size: twice the memory limit when there
// is one (so that the server's cgroup must reclaim), else twice the
// system's dirty-background threshold (so that cache=default meets
// writeback pressure), capped by what the work directory's filesystem can
// hold (the image, an output of its size on a test bed's backing file,
// and the neighbour's file).
func AutoSize(workDir string, memoryLimit, neighbourSize int64) int64 {
	want := 2 * memoryLimit
	if want == 0 {
		want = 2 * DirtyBackground()
	}
	if fs, err := statFS(workDir); err == nil && fs.avail > 0 {
		// image + output + an eighth of it and 64 MiB of filesystem
		// overhead + the neighbour's file, with 1 GiB to spare.
		if room := (fs.avail - neighbourSize - 1<<30) * 8 / 17; room < want {
			want = room
		}
	}
	return max(want/sizeStep*sizeStep, minAutoSize)
}

// DirtyBackground is the system's dirty-background threshold in bytes:
// vm.dirty_background_bytes when set, else vm.dirty_background_ratio per
// cent of the available memory. 0 when neither can be read.
func DirtyBackground() int64 {
	if n := readInt("/proc/sys/vm/dirty_background_bytes"); n > 0 {
		return n
	}
	return memAvailable() * readInt("/proc/sys/vm/dirty_background_ratio") / 100
}

// memAvailable is MemAvailable of /proc/meminfo in bytes, 0 if unknown:
// close to the "dirtyable" memory the kernel takes the ratio of.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n << 10 // kB
		}
	}
	return 0
}

func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// Regime says which write-back regime an image of imageBytes puts a run
// in, for the table header: against the memory limit when there is one,
// and against the dirty-background threshold.
func Regime(imageBytes, memoryLimit int64) string {
	var parts []string
	if memoryLimit > 0 {
		r := float64(imageBytes) / float64(memoryLimit)
		what := "the server's cgroup must reclaim"
		if r < 1 {
			what = "fits in the server's cgroup: no reclaim forced"
		}
		parts = append(parts, fmt.Sprintf("%sx the memory limit (%s): %s", ratio(r), bytesLabel(memoryLimit), what))
	}
	if bg := DirtyBackground(); bg > 0 {
		r := float64(imageBytes) / float64(bg)
		what := "writeback pressure"
		if r < 1 {
			what = "below it, cache=default buffers the copy until the flush"
		}
		parts = append(parts, fmt.Sprintf("%sx dirty_background (%s): %s", ratio(r), bytesLabel(bg), what))
	}
	return "image " + bytesLabel(imageBytes) + " = " + strings.Join(parts, "; ")
}

// bytesLabel is n in binary units with one decimal ("2.3 GiB").
func bytesLabel(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%.0f %s", v, units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

// ratio formats a size ratio with one decimal, two below 0.1.
func ratio(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.1f", r)
}
