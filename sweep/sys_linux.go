//go:build linux

package sweep

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dropCaches writes back every dirty page and drops the clean page cache,
// dentries and inodes of the whole system. Root only; it disturbs every
// other measurement on the machine, so wbench runs take
// /tmp/wcache-bench.lock around it (see the README).
func dropCaches() error {
	unix.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("drop caches: %w", err)
	}
	return nil
}

// dropFile asks the kernel to drop f's clean pages. Best-effort: dirty
// pages stay, and an error only means some pages were kept.
func dropFile(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// dropPath syncs path and drops its pages; best-effort as dropFile.
func dropPath(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.Fdatasync(int(f.Fd()))
	dropFile(f)
}

// processCPU is the user+system CPU time this process has used so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU is the CPU time the calling thread has used so far.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// childCPU is the user+system CPU time of an exited child.
func childCPU(c *exec.Cmd) time.Duration {
	if c.ProcessState == nil {
		return 0
	}
	ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childAttr puts a child in a process group of its own (a Ctrl-C at the
// terminal reaches wbench only, which stops its children in order) and
// kills it when wbench dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// statFS reports the free space of the filesystem holding dir, and
// whether eviction can work there: not on tmpfs or ramfs, whose page cache
// is the files' only copy.
func statFS(dir string) (fsInfo, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fsInfo{}, fmt.Errorf("statfs: %w", err)
	}
	fs := fsInfo{avail: int64(st.Bavail) * st.Bsize}
	switch st.Type {
	case unix.TMPFS_MAGIC:
		fs.noEviction = "tmpfs"
	case unix.RAMFS_MAGIC:
		fs.noEviction = "ramfs"
	}
	return fs, nil
}
