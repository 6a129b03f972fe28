//go:build linux

package sweep

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/results"
)

// TestFailedRunsRecorded runs a sweep whose nbdkit runs cannot start (no
// nbdkit on PATH): each failure is recorded with its error, in the
// returned sweep and in samples.jsonl, and the built-in server's runs
// still happen; with FailFast the sweep stops at the first failure.
func TestFailedRunsRecorded(t *testing.T) {
	testenv.NeedPrograms(t, "nbdcopy")
	nbdcopy, _ := exec.LookPath("nbdcopy")
	bin := t.TempDir()
	if err := os.Symlink(nbdcopy, filepath.Join(bin, "nbdcopy")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	work := testenv.DiskDir(t)
	o := Options{Windows: []int{1}, Count: 1, Size: 8 << 20, Servers: []string{"builtin", "nbdkit"}, WorkDir: work}
	cs, err := Configs(&o)
	if err != nil {
		t.Fatal(err)
	}
	// The built-in server's configurations run first, then nbdkit's two.
	firstNbdkit := slices.IndexFunc(cs, func(c results.Config) bool { return c.Server == results.Nbdkit })

	o.Out = filepath.Join(t.TempDir(), "out")
	s, err := Run(context.Background(), o)
	if s == nil || err == nil || !strings.Contains(err.Error(), "2 run(s) failed") {
		t.Fatalf("sweep %v, error %v; want the sweep and 2 failed runs", s != nil, err)
	}
	if f := s.Failures(); len(f) != 2 || f[0].Config != "nbdkit cache=default" || !strings.Contains(f[0].Error, "nbdkit") {
		t.Errorf("failures %+v", f)
	}
	for _, name := range []string{"builtin cache=default", "builtin flush-each", "builtin window:1"} {
		if ss := s.SamplesOf(name); len(ss) != 1 || !ss[0].IntegrityOK {
			t.Errorf("%s: %d samples after the failures", name, len(ss))
		}
	}
	lines, err := os.ReadFile(filepath.Join(o.Out, results.SamplesFile))
	if err != nil || bytes.Count(lines, []byte("\n")) != len(cs) || bytes.Count(lines, []byte(`"error":`)) != 2 {
		t.Errorf("%s (%v):\n%s", results.SamplesFile, err, lines)
	}

	o.Out, o.FailFast = filepath.Join(t.TempDir(), "fast"), true
	s, err = Run(context.Background(), o)
	if err == nil || s == nil || len(s.Failures()) != 1 || !s.Partial || len(s.Samples) > firstNbdkit+1 {
		t.Errorf("--fail-fast: error %v, %d samples; want at most %d", err, len(s.Samples), firstNbdkit+1)
	}
}
