// Package testbed makes the devices and filesystems a benchmark runs on,
// one fresh filesystem per use, and removes them again: at Close, and after
// a crash or a kill through CleanStale.
//
// # Profiles
//
// A profile is a device and a filesystem (Profile, parsed by ParseDevice,
// ParseFS and ParseProfiles from the text of --device and --fs):
//
//   - native, no filesystem: the work directory itself, on whatever disk
//     and filesystem hold it. Nothing is created; this is the suite's
//     behaviour without profiles.
//   - native with a filesystem (native/xfs): a loop device with direct I/O
//     on a sparse backing file in the work directory, without a limit. A
//     filesystem other than the work directory's cannot be had on the same
//     disk any other way; the loop device adds little (its direct I/O keeps
//     the backing file out of the page cache) and keeps the comparison with
//     throttled devices fair, since those are loop devices too.
//   - throttled:RATE (throttled:200M, throttled:50M; RATE in bytes/s, K=1024):
//     the same loop device with a read and a write bandwidth limit of RATE
//     from the block-I/O controller. It stands in for a SATA disk or a slow
//     network volume: a device slower than the copy, where writeback and the
//     dirty limits decide how fast a writer goes.
//   - ram: a zram block device (a brd RAM disk where the kernel has no
//     zram), standing in for a device much faster than the copy.
//
// Filesystems are ext4, xfs and btrfs, made with mkfs on the device and
// mounted in a private directory under the system's temporary directory.
// A throttled or ram device without a filesystem gets DefaultFS.
//
// # Use
//
//	if err := testbed.CleanStale(ctx, os.Stderr); err != nil { ... }
//	profiles, err := testbed.ParseProfiles("native,throttled:200M", "ext4,xfs")
//	for _, p := range profiles {
//		tb, err := testbed.Setup(ctx, testbed.Options{Profile: p, Workdir: dir, Size: need})
//		... work in tb.Dir; tb.MajMin, tb.FS, tb.ReadAheadKB describe the regime;
//		... tb.SetRate changes the limit during a run;
//		tb.Close()
//	}
//
// Close is idempotent and serialised, so a signal handler's goroutine may
// call it while the main one does too. Cancelling Setup's context stops a
// set-up under way, and Setup removes what it had made.
//
// # Clean-up after a crash
//
// Every resource is written to a state file in StateDir
// (/var/tmp/wcache-testbed/PID-N.json) before it is created; the file names
// the owner by pid, process start time and boot id. CleanStale removes the
// sets whose owner is gone, one line per item removed: the throttle rule,
// the mount, the loop devices found by their backing file, the zram device
// or brd module, the backing file, the mount directory, the state file.
// Sets from an earlier boot only have their files removed, their devices
// being gone. The one gap: a crash between zram's hot_add and the next
// write of the state file leaves an empty zram device, which holds no
// memory.
//
// # Caveats
//
//   - The limit uses the cgroup v1 blkio controller at the root cgroup
//     (blkio.throttle.read_bps_device and write_bps_device), which limits
//     all I/O to the device, the flusher's writeback included. On a machine
//     with only the unified hierarchy (cgroup v2), io.max exists only in
//     child cgroups and limits only the processes placed in them; throttled
//     profiles report ErrMissing there for now.
//   - The limit is on bytes per second only; latency and IOPS are the
//     backing disk's. Throttled I/O is queued and released in time slices,
//     so a write of N bytes takes about N/RATE, not exactly (the tests
//     accept no less than three quarters of it).
//   - A loop device's own read_ahead_kb, queue depth and request size are
//     not a real disk's; ReadAheadKB reports the read-ahead the caller
//     actually gets.
//   - zram compresses: pages of zeros or repeated data cost it almost
//     nothing and are faster to write than random data. Its memory is the
//     machine's, not charged to the writer's memory cgroup, so a ram profile competes
//     with the page cache it is meant to measure; Setup checks MemAvailable
//     against the size asked for.
//   - Backing files are sparse and sized Size plus an eighth plus 64 MiB
//     (at least 512 MiB, as mkfs.xfs needs 300 MiB); Setup checks the free
//     space of the work directory for the whole size first.
//   - Missing tools and kernel features wrap ErrMissing with the Debian
//     package to install (xfsprogs, btrfs-progs, e2fsprogs, mount for
//     losetup, kmod for modprobe).
package testbed
