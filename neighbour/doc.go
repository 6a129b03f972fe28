// Package neighbour is a co-tenant that measures what another program's page
// cache costs it: a process that keeps a file of its own in the page cache
// and times its reads of it while the benchmark copies, beside an idle
// stretch of the same length.
//
// # Workloads
//
//   - warm:SIZE[,rate=IOPS] reads its file of SIZE whole, then makes random
//     4 KiB reads of it at IOPS per second (500 by default) while a phase
//     runs. The schedule is fixed in advance (the k-th read is due at
//     start + k/IOPS), so lateness does not accumulate; a read that falls
//     more than one period behind skips the slots it missed and counts them
//     (Phase.Missed) rather than bursting to catch up.
//   - hot:SIZE reads its file whole, then reads random 4 KiB blocks as fast
//     as it can while a phase runs.
//
// Reads are pread(2) on a descriptor opened plainly (no O_DIRECT, no
// fadvise): real page-cache reads. Each read is timed with two monotonic
// clock readings around the call.
//
// # Running it
//
// The neighbour runs as its own process so that the caller can place it in
// a memory cgroup (package cgroup) beside the server under test. Command
// builds the exec.Cmd "EXE neighbour SPEC FILE"; the program EXE answers that
// by calling Main, which calls Serve (wbench has a hidden "neighbour"
// subcommand; the tests re-execute their own binary). Prepare writes the
// file beforehand and drops it from the cache, so that the neighbour's own
// reads bring it in and charge it to the neighbour's cgroup.
//
// Client drives the child over its stdin and stdout:
//
//	cmd := neighbour.Command(ctx, exe, spec, file)
//	c, _ := neighbour.NewClient(cmd)  // before the command starts
//	group.Start(cmd)                  // or cmd.Start()
//	w, _ := c.Warm()                  // file read whole; w.Cached
//	c.Start("idle"); ...; idle, _ := c.Stop()
//	c.Start("copy"); ...; copy, _ := c.Stop()
//	fin, _ := c.Close()               // fin.Cached: share still cached
//
// Measure the idle stretch before the copy, not after it: a neighbour that
// lost part of its file during the copy refaults it from the disk
// afterwards, while the copy's data may still be being written back, and an
// "idle" stretch then is nothing of the kind (seen here, warm:256M in a
// 512 MiB group with a 1 GiB buffered write beside it: p99 45 to 62 µs in
// 1.5 s before the write, 2.3 to 27 ms in 1.5 s after it, three runs).
//
// The protocol is text lines on the child's stdin ("start NAME", "stop";
// end of input ends the child) and one JSON object per line on its stdout
// (Message).
//
// # Numbers
//
// A Phase holds the number of reads, the rate achieved, the latency
// p50/p99/max/mean (quantiles of the recorded samples with
// github.com/aclements/go-moremath/stats), and what the phase cost the
// neighbour's own CPU (getrusage of the child, all threads): CPU is the
// process's user+system time, Read the wall time spent inside pread, and
// Overhead = (CPU - Read) / Elapsed the share of a core spent on everything
// else. Overhead is approximate: reads that wait (for the disk, or for a
// CPU on a busy machine) count wall time that is not CPU time, so it can
// even be negative for a hot neighbour.
//
// At 500 reads/s most of that "everything else" is the kernel's cost of
// waking a sleeping process 500 times a second, which any paced reader pays:
// BenchmarkIdleOverhead runs fio (psync, rate_iops=500) beside the
// neighbour in the same iteration: on this suite's 2-core VM under load the
// neighbour took 5.8 to 6.2% of a core, fio's job thread 3.5 to 18%, and a
// C loop of clock_nanosleep alone at 500/s 3.5 to 7%. What the neighbour
// itself adds per read (the random offset, two clock readings, the
// recorder) is BenchmarkBookkeeping: about 250 ns, 0.012 to 0.018% of a
// core at 500 reads/s.
//
// Every latency is kept up to MaxSamples (2^18, 2 MiB, 8.7 minutes at 500
// reads/s); beyond that a uniform reservoir of MaxSamples is kept, while
// count, sum and maximum stay exact. The neighbour's own memory thus stays
// small and bounded, since it is charged to the same cgroup as its file.
package neighbour
