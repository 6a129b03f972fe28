//go:build linux

package testenv

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func drop(f *os.File) error {
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("fdatasync: %w", err)
	}
	// Advice; the kernel keeps pages that are mapped, locked or dirty again.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise DONTNEED: %w", err)
	}
	return nil
}

func isTmpfs(t testing.TB, dir string) bool {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return fs.Type == unix.TMPFS_MAGIC
}

// ReadPages reads the given pages of f (numbered in the system's page
// size) with readahead off for f's descriptor, so that those pages, and
// no others, enter the page cache.
func ReadPages(t testing.TB, f *os.File, pages ...int64) {
	t.Helper()
	// Best-effort advice: turns readahead off for this file descriptor.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	buf := make([]byte, ps)
	for _, p := range pages {
		if n, err := f.ReadAt(buf, p*int64(ps)); n == 0 {
			t.Fatalf("read page %d of %s: %v", p, f.Name(), err)
		}
	}
}
