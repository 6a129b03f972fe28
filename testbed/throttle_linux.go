package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The block-I/O controller's bandwidth files (cgroup v1, root cgroup).
const (
	readBPS  = "blkio.throttle.read_bps_device"
	writeBPS = "blkio.throttle.write_bps_device"
)

// blkioRoot finds the root of a cgroup v1 hierarchy that has the blkio
// controller and its throttle files. Rules at the root apply to all I/O
// submitted to the device, flusher threads included.
//
// A machine on the unified hierarchy alone (cgroup v2) has io.max only in
// child cgroups, where it limits only the processes placed there; that case
// is reported as missing rather than half-served.
func blkioRoot() (string, error) {
	ms, err := mounts()
	if err != nil {
		return "", err
	}
	v2 := ""
	for _, m := range ms {
		switch m.fstype {
		case "cgroup":
			for _, o := range strings.Split(m.superOpts, ",") {
				if o == "blkio" && m.root == "/" {
					if _, err := os.Stat(filepath.Join(m.point, writeBPS)); err == nil {
						return m.point, nil
					}
				}
			}
		case "cgroup2":
			v2 = m.point
		}
	}
	if v2 != "" {
		return "", fmt.Errorf("%w: no cgroup v1 blkio hierarchy with throttle files; the cgroup v2 io.max at %s applies only to child cgroups, which this package does not manage yet", ErrMissing, v2)
	}
	return "", fmt.Errorf("%w: no cgroup v1 blkio hierarchy with throttle files (kernel needs CONFIG_BLK_DEV_THROTTLING)", ErrMissing)
}

// setThrottle sets the read and write limit of device mm to bps bytes/s;
// 0 removes the rules.
func setThrottle(root, mm string, bps int64) error {
	for _, f := range []string{readBPS, writeBPS} {
		if err := writeSys(filepath.Join(root, f), mm+" "+strconv.FormatInt(bps, 10)); err != nil {
			return err
		}
	}
	return nil
}

// throttleRules returns the read and write limits set for mm, 0 where none.
func throttleRules(root, mm string) (read, write int64, err error) {
	get := func(f string) (int64, error) {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, mm+" "); ok {
				return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
		return 0, nil
	}
	if read, err = get(readBPS); err != nil {
		return 0, 0, err
	}
	write, err = get(writeBPS)
	return read, write, err
}
