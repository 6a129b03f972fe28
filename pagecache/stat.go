package pagecache

import (
	"errors"
)

// Method names the kernel interface that produced a Stat.
type Method string

const (
	// MethodAuto asks for cachestat(2), falling back to mincore(2) when the
	// kernel lacks it. It never appears in a Stat.
	MethodAuto      Method = ""
	MethodCachestat Method = "cachestat"
	MethodMincore   Method = "mincore"
)

// ErrNotPermitted is returned when the kernel would not tell the truth about
// a file's residency to this caller: neither owner nor able to write it.
var ErrNotPermitted = errors.New("page-cache residency is hidden from callers that neither own nor can write the file (run as its owner or root)")

// ErrNoPageCache is returned for files that have no page cache of their own
// (FIFOs, sockets, character devices) and for directories.
var ErrNoPageCache = errors.New("not a regular file: it has no page cache to measure")

// ErrNoCachestat is returned when MethodCachestat is asked for explicitly on
// a kernel without cachestat(2) (before Linux 6.5).
var ErrNoCachestat = errors.New("cachestat(2) is not available on this kernel (Linux 6.5+); use the mincore method")

// Range selects part of a file in bytes. The zero Range is the whole file;
// Length 0 means "to the end of the file".
type Range struct {
	Offset int64
	Length int64
}

// Stat is the page-cache state of a file, or of a Range of it, at one moment.
// Page counts cover the pages of the range; the last partial page counts.
type Stat struct {
	Path     string `json:"path,omitempty"`
	Size     int64  `json:"size"`      // file size in bytes
	PageSize int    `json:"page_size"` // bytes per page
	Offset   int64  `json:"offset"`    // start of the measured range
	Length   int64  `json:"length"`    // bytes measured

	Pages    int64 `json:"pages"`    // pages in the range
	Resident int64 `json:"resident"` // pages in the page cache

	// Counts only cachestat(2) gives; Extended reports whether they are set.
	Extended        bool  `json:"extended"`
	Dirty           int64 `json:"dirty"`
	Writeback       int64 `json:"writeback"`
	Evicted         int64 `json:"evicted"`
	RecentlyEvicted int64 `json:"recently_evicted"`

	Method Method `json:"method"`
}

// Percent is the resident share of the pages, 0 for an empty range.
func (s Stat) Percent() float64 {
	if s.Pages == 0 {
		return 0
	}
	return 100 * float64(s.Resident) / float64(s.Pages)
}

// StatPath opens path read-only and measures the whole file. It opens the
// path afresh on every call, so a sampler that calls it repeatedly follows a
// file that is replaced (renamed over) between samples. FIFOs, sockets,
// character devices and directories are rejected with ErrNoPageCache
// without being opened (see Open).
func StatPath(path string) (Stat, error) {
	return StatPathUsing(path, MethodAuto)
}

// StatPathUsing is StatPath with an explicit Method.
func StatPathUsing(path string, m Method) (Stat, error) {
	f, err := Open(path)
	if err != nil {
		return Stat{}, err
	}
	defer f.Close()
	return StatFileUsing(f, Range{}, m)
}
