// Package sweep is the engine of the wbench command: it measures how the
// number of write windows of a cache=none NBD server trades durable write
// throughput against page-cache pollution, and recommends a window count.
//
// Pipeline of one sweep (Run), after Preflight has checked that the output
// directory is writable and the work directory can hold the image and an
// output on a filesystem where eviction works:
//
//  0. As root, what a killed or crashed wbench left behind is removed
//     first, with a note per item: test beds (package testbed: throttle
//     rules, mounts, loop and zram devices) and memory cgroups (package
//     cgroup).
//  1. Configs: the built-in server (package nbdserve) with cache=none and
//     each window count of ParseRange's list, the references cache=default
//     and flush-each, extra evict policies, nbdkit's file plugin
//     (cache=default and cache=none) and qemu-nbd (cache=writeback and
//     cache=none, that is O_DIRECT) when asked. Every server is a child
//     process: the built-in one is the program in Options.Exe (wbench)
//     answering ServeCommand on a listening socket it inherits.
//  2. A deterministic source image in the work directory (GenerateImage:
//     3 MiB of pseudo-random data, 512 KiB of written zeroes and a 512 KiB
//     hole per 4 MiB, cached with its SHA-256), or the user's own
//     (OpenImage). Its default size (AutoSize) crosses the write-back
//     thresholds: twice the memory limit, or twice the dirty-background
//     threshold, capped by free space; Regime says which regime a size is
//     in, for the table header.
//  3. Schedule: Count rounds, each rotated by one (A B C, B C A, ...); with
//     CountAuto, rounds until every throughput interval is within the
//     tolerance or MaxCount rounds. With Out, the sweep is recorded as it
//     goes (results.Store), a failed run is recorded with its error and the
//     sweep goes on (unless FailFast), and Resume finishes a stored one.
//  4. Each run: a fresh sparse output file; the system page cache dropped
//     (root; otherwise the sweep's own files are evicted and the sweep
//     carries a warning); with a memory limit, a fresh memory cgroup with
//     the neighbour (package neighbour) in it, which reads its file whole
//     and then times its reads over an idle stretch as long as the
//     configuration's last copy; the server started on a private Unix
//     socket (inside the cgroup); the neighbour's copy phase and the client
//     (nbdcopy --flush, or the in-process libnbd binding, both outside the
//     cgroup) timed until its flush returned; a sampler on a thread of its
//     own reading the output's residency (cachestat through package
//     pagecache) and the system's Dirty+Writeback every 50 ms or less often
//     (its CPU kept under half a per cent of a core and recorded); the
//     server stopped and its CPU time taken from wait4's rusage; the
//     neighbour's phases and cached share and the cgroup's counters; the
//     residency left after the server closed the file; the output's SHA-256
//     compared with the source's (read with a throttled device's limit
//     lifted: verifying is not part of the measurement).
//  5. RunScenarios repeats steps 3 and 4 once per device and filesystem
//     profile, each on a fresh test bed (package testbed) holding the
//     outputs and the neighbour's file, removed at the end of its sweep, on
//     failure and on Ctrl-C (the end of the context); the source image stays
//     in the work directory.
//  6. The results package turns the samples into the tables, the plots, the
//     stored files and the recommendation, and a matrix of scenarios into
//     its summary table, heatmap and neighbour plot.
//
// Caveats: timings are only comparable within one sweep (hence the
// references and ratios); dropping the page cache disturbs every other
// process, so sweeps run under flock /tmp/wcache-bench.lock. The idle
// stretch precedes the copy (see package neighbour for why) and its length
// is the previous copy's, so the two are alike but not equal; rates and
// quantiles, not counts, are compared. On cgroup v1 there is no
// per-cgroup dirty throttling: a cache=default server under a small limit
// can be OOM-killed (the sweep warns when the cgroup counts OOM kills).
package sweep
