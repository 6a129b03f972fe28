//go:build !linux

package evict

import "os"

// supported reports that this system lacks sync_file_range, posix_fadvise
// and a truthful mincore; only the none policy works here.
func supported() error { return ErrUnsupported }

func startWriteback(fd int, off, n int64) error { return ErrUnsupported }

func waitWriteback(fd int, off, n int64) error { return ErrUnsupported }

func dropCache(fd int, off, n int64) {}

func datasync(fd int) error { return ErrUnsupported }

func fileSize(f *os.File) (int64, error) { return 0, ErrUnsupported }

func residentRuns(f *os.File, size int64) ([]span64, bool, error) { return nil, false, ErrUnsupported }

func cachedPages(f *os.File, off, n int64) int64 { return 0 }

func settle(f *os.File, off, n int64) {}
