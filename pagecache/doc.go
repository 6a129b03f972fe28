// Package pagecache measures how much of a file lives in the Linux page
// cache, and reads the system-wide page-cache counters.
//
// StatPath and StatFile answer with cachestat(2) where the kernel has it
// (Linux 6.5+), which also counts dirty, writeback, evicted and recently
// evicted pages, and fall back to mincore(2) over a PROT_NONE mapping, read
// in bounded windows (128 MiB), where it does not. StatFileUsing picks the
// method explicitly. The Method field of every Stat says which one answered.
// With cachestat a measurement costs one fstat and one cachestat call, so a
// sampler may call StatFile every few milliseconds on a file being written.
// The kernel walks the cached folios of the range, so the call grows with
// what is cached (BenchmarkStat: about 0.2 ms for 256 MiB cached as 4 KiB
// pages, ten times less than mincore). StatPath opens the path afresh each
// time and so follows a file that is replaced between samples.
//
// MapFile returns a PageMap, one bit per page, read with mincore: the
// per-page view behind "cachestats -v".
//
// Resident returns the cached ranges of a file or a range of it, and
// Loading the pages that are in the cache but still being read (readahead
// in flight). Both halve the range with cachestat and skip stretches that
// hold nothing, so their cost follows what is cached, not the file size: a
// 15 TiB sparse file with nothing cached is one call. They are what package
// evict's read=fresh snapshots a file with and waits for readahead by.
//
// ReadSystem, ReadMeminfo and ReadVmstat read the system-wide counters
// (Cached, Dirty and Writeback of /proc/meminfo; nr_dirty, nr_writeback,
// nr_dirtied and nr_written of /proc/vmstat) under an injectable root;
// ParseMeminfo and ParseVmstat parse any io.Reader.
//
// # Never lie
//
// mincore reports every page resident when the caller neither owns nor can
// write the file (Linux 5.2+), and cachestat refuses with EPERM in the same
// case; both surface as ErrNotPermitted, never as a count. The mincore path
// checks ownership and write access itself before asking the kernel.
//
// # Caveats
//
// Page counts agree with util-linux fincore (which uses mincore) with one
// known exception: cachestat counts every page present in the cache,
// mincore only pages marked up to date. Extending a file whose size is not
// a multiple of the page size leaves its old last page cached and dirty but
// not marked up to date (ext4 zeroes its tail through the block buffer), so
// cachestat counts one page more than mincore until the page is read or
// written back and dropped; Loading reports that page as loading.
//
// Devices: block devices are measured (size from BLKGETSIZE64); FIFOs,
// sockets, character devices and directories give ErrNoPageCache. FIFOs are
// opened without blocking.
package pagecache
