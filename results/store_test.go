package results

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStoreKeepsEveryRun records a sweep run by run as the sweep does,
// with a failed run and a last line torn by a crash, and loads it back.
func TestStoreKeepsEveryRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	full := fixtureSweep()
	s := *full
	s.Samples = nil
	st, err := CreateStore(dir, &s)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir); err != nil || !got.Partial || len(got.Samples) != 0 || got.Env.Hostname != full.Env.Hostname {
		t.Fatalf("before any run: %v, %+v", err, got)
	}
	for _, x := range full.Samples[:5] {
		if err := st.Append(x); err != nil {
			t.Fatal(err)
		}
	}
	failed := Sample{Config: full.Configs[1].Name, Rep: 1, Seq: 5, Error: "nbdcopy: exit status 1"}
	if err := st.Append(failed); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, SamplesFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"config":"builtin window:1","rep":`) // a crash mid-line
	f.Close()

	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Partial || len(got.Samples) != 6 || got.Samples[4].MBps != full.Samples[4].MBps {
		t.Fatalf("partial %v, %d samples; want partial, 6", got.Partial, len(got.Samples))
	}
	if f := got.Failures(); len(f) != 1 || f[0].Error != failed.Error {
		t.Errorf("failures %+v", f)
	}
	if n := len(got.SamplesOf(failed.Config)); n != 0 {
		t.Errorf("%d samples of %s counted, want the failed run left out", n, failed.Config)
	}
	if got.Done(failed.Config, 1) || !got.Done(full.Samples[0].Config, full.Samples[0].Rep) {
		t.Error("Done counts a failed run or misses a measured one")
	}
	if got.Planned() != len(full.Configs)*full.Settings.Count {
		t.Errorf("planned %d", got.Planned())
	}
}

// TestCheckDirRefuses: a results directory that cannot be created is
// refused before anything is measured (a file in the way fails even for
// root).
func TestCheckDirRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(filepath.Join(file, "out")); err == nil {
		t.Error("no error for a directory under a file")
	}
	if err := CheckDir(filepath.Join(t.TempDir(), "a", "b")); err != nil {
		t.Error(err)
	}
}
