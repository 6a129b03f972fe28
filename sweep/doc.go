// Package sweep is the engine of the wbench command: it measures how the
// number of write windows of a cache=none NBD server trades durable write
// throughput against page-cache pollution, and recommends a window count.
//
// Pipeline of one sweep (Run), after Preflight has checked that the output
// directory is writable and the work directory can hold the image and an
// output on a filesystem where eviction works:
//
//  1. Configs: the built-in server (package nbdserve, in this process) with
//     cache=none and each window count of ParseRange's list, the references
//     cache=default and flush-each, extra evict policies, and nbdkit's file
//     plugin (a child process) when asked.
//  2. A deterministic source image (GenerateImage: 3 MiB of pseudo-random
//     data, 512 KiB of written zeroes and a 512 KiB hole per 4 MiB, cached
//     in the work directory with its SHA-256), or the user's own (OpenImage).
//  3. Schedule: Count rounds, each rotated by one (A B C, B C A, ...).
//  4. Each run: a fresh sparse output file; the system page cache dropped
//     (root; otherwise the sweep's own files are evicted and the sweep
//     carries a warning); the server on a private Unix socket; the client
//     (nbdcopy --flush, or the in-process libnbd binding) timed until its
//     flush returned; a sampler reading the output's residency (cachestat
//     through package pagecache) and the system's Dirty+Writeback every
//     50 ms; the server stopped and its CPU time taken (getrusage of the
//     nbdkit child, or this process's CPU delta for the built-in server,
//     which then includes the sampler and, with --client=libnbd, the
//     client); the residency left after the server closed the file; the
//     output's SHA-256 compared with the source's.
//  5. The results package turns the samples into the table, the plots, the
//     stored files and the recommendation.
//
// Caveats: timings are only comparable within one sweep (hence the
// references and ratios); dropping the page cache disturbs every other
// process, so sweeps run under flock /tmp/wcache-bench.lock.
package sweep
