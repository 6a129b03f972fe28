//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/results"
)

// TestInterruptReportResume builds the real wbench, interrupts a sweep
// with SIGINT once two runs have been reported done, and checks that every
// finished run is stored, that report works on the partial sweep and says
// so, and that resume completes it.
func TestInterruptReportResume(t *testing.T) {
	testenv.NeedPrograms(t, "nbdcopy", "go")
	bin := filepath.Join(t.TempDir(), "wbench")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/pagecache-suite/wcache/cmd/wbench").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work, dir := testenv.DiskDir(t), filepath.Join(t.TempDir(), "sweep")
	cmd := exec.Command(bin, "--windows=1..4", "--server=builtin", "--count=2", "--size=64M", "--drop-caches=false",
		"--workdir="+work, "--out="+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The progress line of a run is printed after its sample is stored:
	// the second one is the signal to interrupt.
	var log []string
	done := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.HasPrefix(sc.Text(), "wbench: [") {
			if done++; done == 2 {
				if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	err = cmd.Wait()
	if done < 2 {
		t.Fatalf("wbench ended before two runs: %v\n%s", err, strings.Join(log, "\n"))
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
		t.Errorf("interrupted wbench: %v, want exit %d", err, exitFailure)
	}
	if !strings.Contains(strings.Join(log, "\n"), "wbench: interrupted") || !strings.Contains(strings.Join(log, "\n"), "wbench resume "+dir) {
		t.Errorf("no hint to resume:\n%s", strings.Join(log, "\n"))
	}

	s, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// cache=default, flush-each, window:1..4 and window:auto.
	if !s.Partial || len(s.Samples) != done || len(s.Configs) != 7 {
		t.Fatalf("stored: partial %v, %d samples, %d configurations; want partial, %d (every finished run), 7", s.Partial, len(s.Samples), len(s.Configs), done)
	}
	lines, err := os.ReadFile(filepath.Join(dir, results.SamplesFile))
	if err != nil || bytes.Count(lines, []byte("\n")) != done {
		t.Errorf("%s: %d lines (%v), want %d", results.SamplesFile, bytes.Count(lines, []byte("\n")), err, done)
	}

	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"report", dir}, &out, &errb); code != exitOK ||
		!strings.Contains(out.String(), "PARTIAL SWEEP: ") || !strings.Contains(out.String(), "(no run yet)") || strings.Contains(out.String(), "CORRUPT") {
		t.Errorf("report of the partial sweep: exit %d\n%s\n%s", code, out.String(), errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := Run(context.Background(), []string{"resume", dir}, &out, &errb); code != exitOK {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	s, err = results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Partial || len(s.Samples) != 14 { // 7 configurations, --count=2
		t.Fatalf("after resume: partial %v, %d samples; want complete, 14", s.Partial, len(s.Samples))
	}
	for _, c := range s.Configs {
		for rep := range 2 {
			if !s.Done(c.Name, rep) {
				t.Errorf("%s #%d missing after resume", c.Name, rep+1)
			}
		}
	}
	if strings.Contains(out.String(), "PARTIAL") || !strings.Contains(out.String(), "builtin window:4") {
		t.Errorf("resume output:\n%s", out.String())
	}
}
