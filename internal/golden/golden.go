// Package golden compares test output with files under a package's
// testdata directory. `go test -update` rewrites them; on a mismatch the
// output is left beside the golden file as NAME.got for diffing.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Check compares got with the file at path (relative to the package
// directory unless absolute), or rewrites it under -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	gotPath := path + ".got"
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(gotPath)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		if err := os.WriteFile(gotPath, got, 0o644); err != nil {
			t.Errorf("writing %s: %v", gotPath, err)
		}
		t.Errorf("output differs from %s; see %s (go test -update accepts it)", path, gotPath)
		return
	}
	os.Remove(gotPath)
}
