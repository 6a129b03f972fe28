//go:build linux

package results

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// diskOf finds the block device holding dir through /sys/dev/block and
// reads its queue settings; a partition is reported as its whole disk.
func diskOf(dir string) Disk {
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	d := Disk{Dir: dir, Queue: map[string]string{}}
	d.Filesystem = mountFS(dir)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return d
	}
	link := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		return d
	}
	if _, err := os.Stat(filepath.Join(real, "partition")); err == nil {
		real = filepath.Dir(real)
	}
	d.Device = filepath.Base(real)
	d.Model = strings.TrimSpace(readTrim(filepath.Join(real, "device", "model")))
	for _, k := range queueKeys {
		if v := readTrim(filepath.Join(real, "queue", k)); v != "" {
			d.Queue[k] = v
		}
	}
	return d
}
