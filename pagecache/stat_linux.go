//go:build linux

package pagecache

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// StatFile measures r of the open file f.
func StatFile(f *os.File, r Range) (Stat, error) {
	fi, err := f.Stat()
	if err != nil {
		return Stat{}, err
	}
	if !fi.Mode().IsRegular() {
		return Stat{}, fmt.Errorf("%s: %w", f.Name(), ErrNoPageCache)
	}
	ps := os.Getpagesize()
	st := Stat{Path: f.Name(), Size: fi.Size(), PageSize: ps, Offset: r.Offset}
	end := st.Size
	if r.Length > 0 && r.Offset+r.Length < end {
		end = r.Offset + r.Length
	}
	if r.Offset >= end {
		st.Method = MethodCachestat
		return st, nil
	}
	st.Length = end - r.Offset
	first := r.Offset / int64(ps)
	last := (end + int64(ps) - 1) / int64(ps)
	st.Pages = last - first

	var cs unix.Cachestat_t
	cr := unix.CachestatRange{Off: uint64(first * int64(ps)), Len: uint64((last - first) * int64(ps))}
	err = unix.Cachestat(uint(f.Fd()), &cr, &cs, 0)
	switch {
	case err == nil:
		st.Method = MethodCachestat
		st.Extended = true
		st.Resident = int64(cs.Cache)
		st.Dirty = int64(cs.Dirty)
		st.Writeback = int64(cs.Writeback)
		st.Evicted = int64(cs.Evicted)
		st.RecentlyEvicted = int64(cs.Recently_evicted)
		return st, nil
	case errors.Is(err, unix.EPERM):
		return Stat{}, fmt.Errorf("cachestat %s: %w", f.Name(), ErrNotPermitted)
	case errors.Is(err, unix.ENOSYS):
		return statMincore(f, st, first, last)
	default:
		return Stat{}, fmt.Errorf("cachestat %s: %w", f.Name(), err)
	}
}

// statMincore is the fallback for kernels without cachestat(2).
func statMincore(f *os.File, st Stat, first, last int64) (Stat, error) {
	return Stat{}, fmt.Errorf("mincore %s: %w", f.Name(), errors.ErrUnsupported)
}
