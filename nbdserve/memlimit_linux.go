//go:build linux

package nbdserve

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// memoryLimit is the memory this process may use: physical memory, or
// less if its memory cgroup (v2 memory.max or v1 memory.limit_in_bytes)
// says so. 0 if unknown.
func memoryLimit() int64 {
	var limit int64
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		limit = int64(si.Totalram) * int64(si.Unit)
	}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return limit
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
				if _, err := os.Stat(filepath.Join(root, parts[2], "memory.max")); err == nil {
					file = filepath.Join(root, parts[2], "memory.max")
					break
				}
			}
		case strings.Contains(","+parts[1]+",", ",memory,"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		}
		if file == "" {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (limit == 0 || n < limit) {
			limit = n // "max" (v2) fails to parse: no limit
		}
	}
	return limit
}

// maxOpenFiles is the soft RLIMIT_NOFILE (0 if unknown).
func maxOpenFiles() int64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || rl.Cur > 1<<40 {
		return 0
	}
	return int64(rl.Cur)
}
