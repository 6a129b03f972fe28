package testbed

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DeviceKind says what block device a profile runs on.
type DeviceKind int

const (
	// Native is the disk that holds the work directory.
	Native DeviceKind = iota
	// Throttled is a loop device on the native disk with a bandwidth limit.
	Throttled
	// RAM is a zram block device.
	RAM
)

// Device is a parsed device profile: "native", "throttled:RATE" or "ram".
type Device struct {
	Kind DeviceKind
	// Rate is the read and write limit of a Throttled device in bytes/s.
	Rate int64
}

// ErrProfile is wrapped by every error about a profile's text.
var ErrProfile = errors.New("bad profile")

// ParseDevice parses a device profile: "native", "ram", or
// "throttled:RATE" where RATE is a size in bytes per second (200M, 50M, 1G;
// K=1024).
func ParseDevice(s string) (Device, error) {
	switch {
	case s == "native":
		return Device{Kind: Native}, nil
	case s == "ram":
		return Device{Kind: RAM}, nil
	case strings.HasPrefix(s, "throttled:"):
		rate, err := parseSize(strings.TrimPrefix(s, "throttled:"))
		if err != nil {
			return Device{}, fmt.Errorf("%w: device %q: %v", ErrProfile, s, err)
		}
		if rate == 0 {
			return Device{}, fmt.Errorf("%w: device %q: rate must be above 0", ErrProfile, s)
		}
		return Device{Kind: Throttled, Rate: rate}, nil
	}
	return Device{}, fmt.Errorf("%w: device %q: want native, throttled:RATE (e.g. throttled:50M) or ram", ErrProfile, s)
}

// String gives the profile back in the form ParseDevice reads.
func (d Device) String() string {
	switch d.Kind {
	case Native:
		return "native"
	case RAM:
		return "ram"
	case Throttled:
		return "throttled:" + formatSize(d.Rate)
	}
	return fmt.Sprintf("DeviceKind(%d)", int(d.Kind))
}

// FS is a filesystem type the package can make: Ext4, XFS or Btrfs. The
// zero value, NoFS, asks for no new filesystem (see Options.FS).
type FS string

// The filesystems Setup can make.
const (
	NoFS  FS = ""
	Ext4  FS = "ext4"
	XFS   FS = "xfs"
	Btrfs FS = "btrfs"
)

// DefaultFS is made on a throttled or ram device when Options.FS is NoFS.
const DefaultFS = Ext4

// ParseFS parses a filesystem profile: "ext4", "xfs" or "btrfs".
func ParseFS(s string) (FS, error) {
	switch fs := FS(s); fs {
	case Ext4, XFS, Btrfs:
		return fs, nil
	}
	return NoFS, fmt.Errorf("%w: filesystem %q: want ext4, xfs or btrfs", ErrProfile, s)
}

// parseSize reads a byte count: digits with an optional suffix b (bytes),
// K, M, G, T, P or E (powers of 1024, either case). It is the one place to
// swap for internal/size when that package exists.
func parseSize(s string) (int64, error) {
	num, shift := s, 0
	if n := len(s); n > 0 {
		if i := strings.IndexByte("bkmgtpe", lower(s[n-1])); i >= 0 {
			num, shift = s[:n-1], 10*i
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want digits with an optional K, M, G, T, P or E suffix", s)
	}
	if v > (1<<63-1)>>shift {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return v << shift, nil
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// formatSize writes n with the largest suffix that divides it exactly.
func formatSize(n int64) string {
	const units = "KMGTPE"
	u := -1
	for u+1 < len(units) && n != 0 && n%1024 == 0 {
		n /= 1024
		u++
	}
	if u < 0 {
		return strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10) + units[u:u+1]
}

// Profile is one device and filesystem combination, a scenario of a sweep.
type Profile struct {
	Device Device
	FS     FS
}

// String names the scenario: "native" for the bare work directory,
// otherwise DEVICE/FS such as "throttled:50M/xfs", "native/ext4" or
// "ram/ext4" (a device without a filesystem gets DefaultFS).
func (p Profile) String() string {
	if p.FS == NoFS {
		if p.Device.Kind == Native {
			return p.Device.String()
		}
		p.FS = DefaultFS
	}
	return p.Device.String() + "/" + string(p.FS)
}

// ParseProfiles reads comma-separated lists of devices and filesystems (as
// given to --device and --fs) and returns every combination, devices
// outermost. An empty filesystem list gives each device with NoFS.
func ParseProfiles(devices, filesystems string) ([]Profile, error) {
	var devs []Device
	for _, s := range strings.Split(devices, ",") {
		d, err := ParseDevice(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	fss := []FS{NoFS}
	if strings.TrimSpace(filesystems) != "" {
		fss = fss[:0]
		for _, s := range strings.Split(filesystems, ",") {
			fs, err := ParseFS(strings.TrimSpace(s))
			if err != nil {
				return nil, err
			}
			fss = append(fss, fs)
		}
	}
	var out []Profile
	seen := map[string]bool{}
	for _, d := range devs {
		for _, fs := range fss {
			p := Profile{d, fs}
			if !seen[p.String()] {
				seen[p.String()] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}
