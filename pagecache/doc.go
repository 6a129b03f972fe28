// Package pagecache measures how much of a file lives in the Linux page
// cache, and reads the system-wide page-cache counters.
//
// Stat and StatFile answer with cachestat(2) where the kernel has it
// (Linux 6.5+), which also counts dirty, writeback, evicted and recently
// evicted pages, and fall back to mincore(2) over a PROT_NONE mapping, read
// in bounded windows, where it does not. The Method field of every Stat
// says which one answered.
//
// Neither call may lie. mincore reports every page resident when the caller
// neither owns nor can write the file (Linux 5.2+), and cachestat refuses
// with EPERM in the same case; both surface as ErrNotPermitted, never as a
// count.
package pagecache
