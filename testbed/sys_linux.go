package testbed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrMissing is wrapped when a tool or kernel feature a profile needs is
// absent; the message names the Debian package or module to install.
var ErrMissing = errors.New("missing prerequisite")

// debianPackage names the package that provides each tool the profiles run.
var debianPackage = map[string]string{
	"losetup":    "mount",
	"modprobe":   "kmod",
	"rmmod":      "kmod",
	"mkfs.ext4":  "e2fsprogs",
	"mkfs.xfs":   "xfsprogs",
	"mkfs.btrfs": "btrfs-progs",
}

// sbinDirs are searched after PATH: a non-login root shell may lack them.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// lookTool finds a tool in PATH or sbinDirs.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s not found: apt-get install %s", ErrMissing, name, debianPackage[name])
}

// run runs a tool and returns its trimmed standard output; a failure
// carries the tool's standard error.
func run(ctx context.Context, name string, args ...string) (string, error) {
	path, err := lookTool(name)
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// mkfs makes a filesystem of the given type on dev, discarding nothing
// lazily: ext4's lazy inode-table initialisation would otherwise write in
// the background during the caller's measurements.
func mkfs(ctx context.Context, fs FS, dev string) error {
	var args []string
	switch fs {
	case Ext4:
		args = []string{"-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev}
	case XFS, Btrfs:
		args = []string{"-q", "-f", dev}
	default:
		return fmt.Errorf("%w: cannot make filesystem %q", ErrProfile, fs)
	}
	_, err := run(ctx, "mkfs."+string(fs), args...)
	return err
}

// majMin returns the "MAJ:MIN" of a block device node.
func majMin(dev string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", dev, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return "", fmt.Errorf("%s is not a block device", dev)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)), nil
}

// readAheadKB reads the read-ahead of a block device; a partition has no
// queue of its own and reports its disk's.
func readAheadKB(mm string) (int, error) {
	base := "/sys/dev/block/" + mm
	b, err := os.ReadFile(base + "/queue/read_ahead_kb")
	if errors.Is(err, os.ErrNotExist) {
		b, err = os.ReadFile(base + "/../queue/read_ahead_kb")
	}
	if err != nil {
		return 0, fmt.Errorf("read_ahead_kb of %s: %w", mm, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	majMin, root, point, fstype, source, superOpts string
}

// mounts parses /proc/self/mountinfo.
func mounts() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent MAJ:MIN root point opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 5 || len(b) < 3 {
			continue
		}
		out = append(out, mountEntry{majMin: a[2], root: unescape(a[3]), point: unescape(a[4]),
			fstype: b[0], source: unescape(b[1]), superOpts: b[2]})
	}
	return out, sc.Err()
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isMounted reports whether dir is a mount point.
func isMounted(dir string) (bool, error) {
	ms, err := mounts()
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.point == dir {
			return true, nil
		}
	}
	return false, nil
}

// mountOf returns the mount that holds path (the longest mount point that
// is a prefix of it).
func mountOf(path string) (mountEntry, error) {
	ms, err := mounts()
	if err != nil {
		return mountEntry{}, err
	}
	var best mountEntry
	for _, m := range ms {
		if (path == m.point || strings.HasPrefix(path, strings.TrimSuffix(m.point, "/")+"/")) && len(m.point) >= len(best.point) {
			best = m
		}
	}
	if best.point == "" {
		return best, fmt.Errorf("no mount holds %s", path)
	}
	return best, nil
}

// unmount unmounts dir; if it is busy it is detached lazily so that
// clean-up still goes on, and the error says so.
func unmount(dir string) error {
	err := unix.Unmount(dir, 0)
	if errors.Is(err, unix.EBUSY) {
		if lerr := unix.Unmount(dir, unix.MNT_DETACH); lerr == nil {
			return fmt.Errorf("unmount %s: busy, detached lazily", dir)
		}
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// loopsBackedBy lists the loop devices whose backing file is path, from
// /sys (no tool needed), also after the file has been deleted.
func loopsBackedBy(path string) ([]string, error) {
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var devs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // detached meanwhile
		}
		bf := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if bf == path {
			devs = append(devs, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	return devs, nil
}

// loopAttach attaches file to a free loop device with direct I/O.
func loopAttach(ctx context.Context, file string) (string, error) {
	return run(ctx, "losetup", "--find", "--show", "--direct-io=on", file)
}

// loopDetach detaches a loop device.
func loopDetach(dev string) error {
	_, err := run(context.Background(), "losetup", "--detach", dev)
	return err
}

const zramControl = "/sys/class/zram-control"

// zramAdd creates a zram device and returns its number, loading the zram
// module first if need be. The caller records the number as soon as it has
// it.
func zramAdd(ctx context.Context) (int, error) {
	if _, err := os.Stat(zramControl); errors.Is(err, os.ErrNotExist) {
		if _, err := run(ctx, "modprobe", "zram"); err != nil {
			return 0, fmt.Errorf("%w: %s absent and the zram module does not load (the kernel needs CONFIG_ZRAM): %v", ErrMissing, zramControl, err)
		}
	}
	b, err := os.ReadFile(zramControl + "/hot_add")
	if err != nil {
		return 0, fmt.Errorf("zram hot_add: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// zramSize sets the size of a fresh zram device.
func zramSize(id int, size int64) error {
	return writeSys(fmt.Sprintf("/sys/block/zram%d/disksize", id), strconv.FormatInt(size, 10))
}

// zramRemove frees a zram device's memory and removes the device.
func zramRemove(id int) error {
	if err := writeSys(fmt.Sprintf("/sys/block/zram%d/reset", id), "1"); err != nil {
		return err
	}
	return writeSys(zramControl+"/hot_remove", strconv.Itoa(id))
}

// zramExists reports whether zram device id exists.
func zramExists(id int) bool {
	_, err := os.Stat(fmt.Sprintf("/sys/block/zram%d", id))
	return err == nil
}

// writeSys writes one value to a sysfs or cgroup file.
func writeSys(path, v string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", v, path, err)
	}
	return nil
}

// memAvailable reads MemAvailable from /proc/meminfo in bytes.
func memAvailable() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("/proc/meminfo has no MemAvailable")
}

// freeBytes returns the space an unprivileged writer may still use in dir.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// procStart returns the start time of a process (field 22 of
// /proc/PID/stat, in clock ticks since boot); with the boot id it tells a
// live owner from a reused pid.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const startField = 22 - 3 // fields 1 and 2 precede ')', field 3 is f[0]
	if len(f) <= startField {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[startField], 10, 64)
}

// bootID identifies the running boot: devices, mounts and throttle rules
// recorded under another boot are gone already.
func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b)), err
}

// brdLoaded reports whether the brd module (RAM disks /dev/ramN) is loaded.
func brdLoaded() bool {
	_, err := os.Stat("/sys/module/brd")
	return err == nil
}

// brdLoad loads brd with one RAM disk of size bytes, /dev/ram0. brd's disks
// live as long as the module, so removing it is the only way to free them.
func brdLoad(ctx context.Context, size int64) (string, error) {
	if _, err := run(ctx, "modprobe", "brd", "rd_nr=1", "max_part=0", fmt.Sprintf("rd_size=%d", size>>10)); err != nil {
		return "", fmt.Errorf("%w: neither zram nor brd is available (the kernel needs CONFIG_ZRAM or CONFIG_BLK_DEV_RAM): %v", ErrMissing, err)
	}
	return "/dev/ram0", nil
}

// brdUnload removes the brd module and with it its disks and their memory.
func brdUnload() error {
	_, err := run(context.Background(), "rmmod", "brd")
	return err
}
