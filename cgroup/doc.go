// Package cgroup runs processes under a memory limit and reads what the
// limit cost them: a memory cgroup per run, made, filled, read and removed
// by the benchmark.
//
// # Pipeline
//
// New detects the memory controller (cgroup v2 when its root lists "memory"
// in cgroup.controllers, else the v1 hierarchy mounted with the memory
// controller), makes a directory named wcache-<pid>-<n> (the creating
// process and a sequence number) and writes the limit: memory.max (v2) or
// memory.limit_in_bytes (v1). Start starts an exec.Cmd already inside the
// group; Add moves a running process in. Stats reads the counters, named
// the same on both versions (see Stats). Remove kills what is left in the
// group and removes it. CleanStale removes the groups an earlier run left
// behind because it died before Remove.
//
// # Starting a child inside, without a race
//
// Writing a child's pid to cgroup.procs after it started lets it run, and
// allocate, outside the limit for a moment. Start avoids that:
//
//   - v2: clone3 with CLONE_INTO_CGROUP (SysProcAttr.UseCgroupFD and
//     CgroupFD), so the child is created in the group.
//   - v1 has no such flag. A child is created in the cgroup of the thread
//     that forks it, so Start forks from a goroutine locked to its OS thread
//     after writing that thread's id to the group's tasks file, and moves the
//     thread back to its own cgroup right after the fork (if that fails, the
//     goroutine returns still locked and the runtime ends the thread). Threads
//     the runtime creates meanwhile are made by its template thread, not by
//     the locked one, so no other thread of the caller joins the group. The
//     child is in the group from its first instruction, as TestStart checks
//     with the child's own /proc/self/cgroup.
//
// # Caveats
//
// cgroup v1 has no per-cgroup dirty throttling: a process writing through
// the page cache under a small v1 limit can fill the group with dirty pages
// faster than writeback cleans them, and the group's OOM killer then kills
// it (seen here with dd writing 96 MiB into a 32 MiB group, in one run of
// two). Stats.OOMKills counts such kills; a benchmark that writes under a
// budget must check it. Reading clean files never does this, so the tests
// fill a group by reading, and write only into groups of 256 MiB and more.
//
// Page cache is charged to the cgroup of the process that first brings a
// page in; pages cached before a process joins stay charged where they were.
// A neighbour's file must therefore be out of the cache before it is read
// inside the group. CleanStale decides that a group is stale when the pid in
// its name is not running; a pid reused since would hide a stale group until
// that process ends.
package cgroup
