package testbed

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pagecache-suite/wcache/internal/size"
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
// "throttled:RATE" where RATE is bytes per second in the suite's size
// syntax (internal/size: 200M, 50M, 1G; K=1024).
func ParseDevice(s string) (Device, error) {
	switch {
	case s == "native":
		return Device{Kind: Native}, nil
	case s == "ram":
		return Device{Kind: RAM}, nil
	case strings.HasPrefix(s, "throttled:"):
		rate, err := size.Parse(strings.TrimPrefix(s, "throttled:"))
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
		return "throttled:" + size.Format(d.Rate)
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
