//go:build linux

package sweep

import (
	"syscall"
	"testing"
)

// allocated is the disk space a file occupies.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}
