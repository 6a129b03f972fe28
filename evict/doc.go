// Package evict keeps a program's file I/O out of the Linux page cache.
//
// A Policy is attached to an open file and told about every write and read
// the program makes; it decides when the pages those calls touched are
// written back and dropped. The NBD server (package nbdserve) and the
// benchmark (cmd/wbench) choose a policy by name with Parse; Names is the
// help text for flags.
//
// # Policies
//
//   - none: the page cache as it is (nbdkit cache=default).
//   - flush-each: every write is made durable with fdatasync and then dropped
//     with POSIX_FADV_DONTNEED. This is nbdkit cache=none before the window
//     ring, kept to reproduce its slowness.
//   - window:N: nbdkit's ring of N write windows, faithfully. After each
//     write its writeback is started (sync_file_range WRITE) and the write
//     is pushed on a ring shared by every writer of the process (here: of
//     the Policy value). The write pushed out of the ring is waited for
//     (WAIT_BEFORE|WRITE|WAIT_AFTER) and dropped (DONTNEED). As in later
//     nbdkit, a failing sync_file_range fails the write, and the blocking
//     wait runs outside the ring's lock. Closing a file forgets its windows.
//
// Options refine window (see Names for the syntax):
//
//   - bytes=SIZE bounds the ring by bytes in flight instead of, or as well
//     as, by count, so the cache it holds does not grow with request size
//     and small requests still keep enough writeback in flight.
//   - per=stream gives every Stream its own ring, as libnbd's nbdcopy keeps
//     one per thread; a writer then waits only for its own writes.
//   - merge lets each stream keep one open window that grows with the
//     stream's writes as long as they continue it, up to a size (1 MiB by
//     default), before its writeback starts; small sequential writes are
//     then written back and dropped in large pieces, with a fraction of the
//     system calls. The open window keeps its place in the ring, so writers
//     sharing a ring each merge their own writes.
//   - drain makes Close (of a Handle, or of a per=stream Stream) wait for
//     the windows left in the ring and drop them, where nbdkit lets them
//     "miss the boat".
//   - auto replaces the count and bytes= with a ring in bytes that a
//     controller sizes while it runs (and implies drain): about twice the
//     write-back bandwidth times the unqueued write-back latency, which it
//     measures on the windows the writers wait for, within max=SIZE
//     (default 16M, a bound on all the policy's rings together) and
//     min=SIZE. The default floor is the faithful ring: what window:8
//     holds, 8 windows of the latest write (and at least 1M), so that no
//     writer waits for a younger window than nbdkit's ring would make it
//     wait for; an explicit min= replaces it. The model is BBR's (see autoCtl): bandwidth
//     is the highest delivery rate of the last second, latency the least
//     of the last half second, refreshed by a probe that shrinks the ring
//     to a quarter (not below the floor) for a moment. The ring grows past
//     the floor only while a larger one delivers more bandwidth. The ring shrinks by at most one window per
//     write beyond the one the write pushes out, and keeps at least one.
//     (Policy).AutoState, through the AutoStater interface, shows the
//     current size and the estimates behind it.
//
// # Reads
//
// read=each drops the range of every read (nbdkit cache=none). On Linux 6.18
// with ext4 that leaves most of a file cached: readahead builds folios of
// up to 2 MiB and DONTNEED drops only folios that lie wholly inside its
// range, which a read request rarely spans. read=fresh instead takes a
// mincore(2) snapshot of the file at Attach, collects read ranges per
// 2 MiB-aligned block, and once a block has been read whole drops the pages
// of the block that were not cached at Attach; blocks left partly read are
// dropped at Close. Pages other programs had cached stay cached (nbdcopy's
// rule); pages they bring in during the read may be dropped with ours.
//
// # Measurements
//
// scripts/bench-evict measures the policies against each other
// (BenchmarkWrite, BenchmarkWriteParallel, BenchmarkRead); stored runs and
// what they showed are in runs/evict-bench-2026-11.md at the top of the
// repository. In short: the windows overlap writeback with writing where
// none leaves all of it to the final fdatasync; merge pays most with small
// requests; drain costs a wait at Close and leaves nothing cached; read=each
// leaves most of a file cached where read=fresh leaves none. Recommended
// names the combination that measured best.
//
// # Portability
//
// The calls live in build-tagged files. Where sync_file_range,
// posix_fadvise or mincore are missing, Parse refuses every policy other
// than plain none with an error wrapping ErrUnsupported.
package evict
