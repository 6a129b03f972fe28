//go:build linux

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/golden"
	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/internal/version"
	"github.com/pagecache-suite/wcache/results"
)

// TestSweepEndToEnd runs wbench as a user does, on a 32 MiB image with
// window counts 1 and 8, both servers and one repetition, without dropping
// the global cache, then reads everything it stored.
func TestSweepEndToEnd(t *testing.T) {
	testenv.NeedPrograms(t, "nbdcopy", "nbdkit")
	work, out := testenv.DiskDir(t), filepath.Join(t.TempDir(), "sweep")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{
		"--windows=1,8", "--count=1", "--size=32M", "--server=builtin,nbdkit",
		"--drop-caches=false", "--workdir=" + work, "--out=" + out,
	}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	// One repetition: nothing can be significant, and the output says so.
	for _, want := range []string{"builtin window:8", "nbdkit cache=none", "± ∞",
		"Window count makes no measurable difference here; the smallest, 1, leaves the least in the cache.",
		"With 1 sample(s) per count no difference can be significant", "Against nbdkit's fixed 8"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	// cache=default, flush-each, window:1, window:8, window:auto and
	// nbdkit's two.
	if !strings.Contains(stderr.String(), "[7/7]") || !strings.Contains(stderr.String(), "WARNING: page cache not dropped") {
		t.Errorf("progress lines or warning missing:\n%s", stderr.String())
	}

	s, err := results.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Configs) != 7 || len(s.Samples) != 7 {
		t.Fatalf("%d configurations, %d samples; want 7 and 7", len(s.Configs), len(s.Samples))
	}
	for _, x := range s.Samples {
		if !x.IntegrityOK || x.DurableSec <= 0 || x.Pages != int64(32<<20/os.Getpagesize()) || len(x.Timeline) == 0 {
			t.Errorf("%s: integrity %v, durable %v s, %d pages, %d timeline points", x.Config, x.IntegrityOK, x.DurableSec, x.Pages, len(x.Timeline))
		}
	}
	// What the configurations must do to the page cache: cache=default
	// keeps what it wrote, the windows keep at most N requests' worth.
	byName := map[string]results.Sample{}
	for _, x := range s.Samples {
		byName[x.Config] = x
	}
	data := s.Settings.DataBytes / int64(os.Getpagesize())
	if r := byName["builtin cache=default"].ResidentEnd; r < data/2 {
		t.Errorf("cache=default left %d of %d data pages cached, want most", r, data)
	}
	if x, ok := byName["builtin window:auto"]; !ok || x.ResidentEnd != 0 {
		t.Errorf("window:auto (which drains its ring at close) left %d pages cached (measured: %v)", x.ResidentEnd, ok)
	}
	for _, f := range results.Check(s, results.CheckOptions{}) {
		if !f.OK {
			t.Errorf("check %s: %s", f.Check, f.Detail)
		}
	}
	if f := results.CheckFiles(out); !f.OK {
		t.Error(f.Detail)
	}
	for _, name := range []string{results.PlotWindows + ".png", results.PlotTimeline + ".svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	// The other subcommands on the stored sweep.
	stdout.Reset()
	if code := Run(context.Background(), []string{"check", "--quick", out}, &stdout, &stderr); code != exitOK {
		t.Errorf("check --quick: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"compare", out, out}, &stdout, &stderr); code != exitOK {
		t.Errorf("compare with itself: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "no significant regression") {
		t.Errorf("compare output:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"report", out}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "Rule: the smallest window count") {
		t.Errorf("report: exit %d\n%s", code, stdout.String())
	}

	// compare exits 1 on a regression: five repetitions built from the
	// measured runs, then the same made 40% slower.
	oldDir, newDir := filepath.Join(t.TempDir(), "old"), filepath.Join(t.TempDir(), "new")
	if err := results.Save(oldDir, replicate(s, 1)); err != nil {
		t.Fatal(err)
	}
	if err := results.Save(newDir, replicate(s, 1.4)); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"compare", "--metrics=durable_sec,mbps", oldDir, newDir}, &stdout, &stderr); code != exitFailure || !strings.Contains(stdout.String(), "REGRESSION") {
		t.Errorf("compare of a 40%% slowdown: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"compare", newDir, oldDir}, &stdout, &stderr); code != exitOK {
		t.Errorf("compare of a speed-up: exit %d\n%s", code, stdout.String())
	}
}

// replicate returns s with five repetitions of every sample, 1% apart,
// durable times multiplied by f.
func replicate(s *results.Sweep, f float64) *results.Sweep {
	out := *s
	out.Samples = nil
	for _, x := range s.Samples {
		for r := range 5 {
			y := x
			y.Rep = r
			y.DurableSec = x.DurableSec * f * (1 + 0.01*float64(r))
			y.MBps = float64(y.BytesWritten) / 1e6 / y.DurableSec
			out.Samples = append(out.Samples, y)
		}
	}
	return &out
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--windows=0"},
		{"--windows=4..1"},
		{"--count=0"},
		{"--server=qemu-img"},
		{"--client=curl"},
		{"--pattern=random"},
		{"--policy=window:0"},
		{"--size=12345"},
		{"--size=0"},
		{"--size=1.5G"},
		{"--request-size=64Q"},
		{"--bogus"},
		{"--tolerance=2"},
		{"stray"},
		{"compare", "onlyone"},
		{"compare", "--metrics=speed", "a", "b"},
		{"check", "--quick", "--baseline=x", "y"},
		{"report"},
		{"resume"},
		{"--count=x"},
		{"--count=-1"},
		{"--max-count=2"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr:\n%s", args, code, exitUsage, stderr.String())
		}
		if stderr.Len() == 0 {
			t.Errorf("%q: no message on stderr", args)
		}
	}
}

// TestHelp checks the help of wbench and of each subcommand: on stdout,
// exit 0, the text in testdata.
func TestHelp(t *testing.T) {
	for _, tc := range []struct{ args, golden string }{
		{"--help", "help"}, {"-h", "help"},
		{"compare --help", "help-compare"}, {"report --help", "help-report"}, {"check -h", "help-check"},
		{"resume --help", "help-resume"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), strings.Fields(tc.args), &stdout, &stderr); code != exitOK || stderr.Len() > 0 {
			t.Errorf("wbench %s: exit %d, stderr %q", tc.args, code, stderr.String())
		}
		golden.Check(t, filepath.Join("testdata", tc.golden+".golden"), stdout.Bytes())
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"--version"}, &stdout, &stderr)
	if want := version.String("wbench"); code != exitOK || stderr.Len() > 0 || stdout.String() != want {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout.String(), stderr.String(), want)
	}
}
