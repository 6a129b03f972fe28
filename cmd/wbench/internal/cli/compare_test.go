package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/results"
)

// storedPair saves the committed baseline and a copy of it edited by edit
// into two directories.
func storedPair(t *testing.T, edit func(*results.Sweep)) (string, string) {
	t.Helper()
	s, err := results.Load("../../../../runs/baseline")
	if err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := results.Save(a, s); err != nil {
		t.Fatal(err)
	}
	edit(s)
	if err := results.Save(b, s); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestCompareRefusesOtherWorkload: sweeps of different --size are not
// compared (exit 1, the difference named) unless --force.
func TestCompareRefusesOtherWorkload(t *testing.T) {
	a, b := storedPair(t, func(s *results.Sweep) {
		s.Settings.ImageBytes /= 4
		s.Env.Kernel = "0.0-other"
	})
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"compare", a, b}, &stdout, &stderr); code != exitFailure ||
		!strings.Contains(stderr.String(), "settings.image_bytes 268435456 vs 67108864") || stdout.Len() != 0 {
		t.Errorf("different sizes: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "machine differs: env.kernel:") {
		t.Errorf("machine difference not listed:\n%s", stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := Run(context.Background(), []string{"compare", "--force", a, b}, &stdout, &stderr); code != exitOK ||
		!strings.Contains(stdout.String(), "workload differs: settings.image_bytes: 268435456 -> 67108864") ||
		!strings.Contains(stdout.String(), "no significant regression") {
		t.Errorf("--force: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"compare", "--force", "--format=json", a, b}, &stdout, &stderr); code != exitOK || !json.Valid(stdout.Bytes()) {
		t.Errorf("--format=json: exit %d\n%s", code, stdout.String())
	}
}

// TestReportFormatsAndFleet: report of one stored sweep in every format,
// and of two as a fleet with its files.
func TestReportFormatsAndFleet(t *testing.T) {
	a, b := storedPair(t, func(s *results.Sweep) { s.Env.Hostname, s.Env.MemBytes = "other", 8<<30 })
	for _, f := range results.Formats {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), []string{"report", "--format=" + f, a}, &stdout, &stderr); code != exitOK || stdout.Len() == 0 {
			t.Errorf("report --format=%s: exit %d\n%s", f, code, stderr.String())
		}
		if f == results.FormatJSON && !json.Valid(stdout.Bytes()) {
			t.Errorf("report --format=json is not JSON:\n%s", stdout.String())
		}
	}
	out := filepath.Join(t.TempDir(), "fleet")
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"report", "--out=" + out, a, b}, &stdout, &stderr); code != exitOK {
		t.Fatalf("fleet: exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{"recommended windows", "machine env.hostname:", "machine env.mem_bytes:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("fleet lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, name := range []string{results.FleetSummaryFile, results.PlotFleet + ".png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}
