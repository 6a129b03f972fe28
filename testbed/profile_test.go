package testbed

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Device
		err  bool
	}{
		{"native", Device{Kind: Native}, false},
		{"ram", Device{Kind: RAM}, false},
		{"throttled:200M", Device{Kind: Throttled, Rate: 200 << 20}, false},
		{"throttled:50m", Device{Kind: Throttled, Rate: 50 << 20}, false},
		{"throttled:1G", Device{Kind: Throttled, Rate: 1 << 30}, false},
		{"throttled:4096", Device{Kind: Throttled, Rate: 4096}, false},
		{"throttled:4096b", Device{Kind: Throttled, Rate: 4096}, false},
		{"throttled:1k", Device{Kind: Throttled, Rate: 1024}, false},
		{"throttled:0", Device{}, true},
		{"throttled:", Device{}, true},
		{"throttled:M", Device{}, true},
		{"throttled:-5M", Device{}, true},
		{"throttled:1.5M", Device{}, true},
		{"throttled:9E", Device{}, true},
		{"throttled:50X", Device{}, true},
		{"Native", Device{}, true},
		{"zram", Device{}, true},
		{"", Device{}, true},
	} {
		got, err := ParseDevice(tc.in)
		if tc.err {
			if !errors.Is(err, ErrProfile) {
				t.Errorf("ParseDevice(%q) = %v, %v; want an ErrProfile", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestDeviceStringRoundTrip(t *testing.T) {
	for _, s := range []string{"native", "ram", "throttled:200M", "throttled:50M", "throttled:1G", "throttled:1000", "throttled:1536K"} {
		d, err := ParseDevice(s)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != s {
			t.Errorf("ParseDevice(%q).String() = %q", s, d.String())
		}
	}
}

func TestParseFS(t *testing.T) {
	for _, s := range []string{"ext4", "xfs", "btrfs"} {
		if fs, err := ParseFS(s); err != nil || string(fs) != s {
			t.Errorf("ParseFS(%q) = %q, %v", s, fs, err)
		}
	}
	for _, s := range []string{"", "ext3", "XFS", "tmpfs"} {
		if _, err := ParseFS(s); !errors.Is(err, ErrProfile) {
			t.Errorf("ParseFS(%q) error = %v; want ErrProfile", s, err)
		}
	}
}

func TestParseProfiles(t *testing.T) {
	for _, tc := range []struct {
		dev, fs string
		want    string
	}{
		{"native", "", "native"},
		{"native,throttled:200M", "ext4,xfs", "native/ext4 native/xfs throttled:200M/ext4 throttled:200M/xfs"},
		{"ram, throttled:50M", "", "ram/ext4 throttled:50M/ext4"},
		{"ram,ram", "btrfs", "ram/btrfs"},
		{"native", "ext4", "native/ext4"},
	} {
		ps, err := ParseProfiles(tc.dev, tc.fs)
		if err != nil {
			t.Errorf("ParseProfiles(%q, %q): %v", tc.dev, tc.fs, err)
			continue
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.String())
		}
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("ParseProfiles(%q, %q) = %s; want %s", tc.dev, tc.fs, got, tc.want)
		}
	}
	for _, tc := range [][2]string{{"", ""}, {"native,", ""}, {"native", "ext4,"}, {"fast", "ext4"}, {"native", "zfs"}} {
		if _, err := ParseProfiles(tc[0], tc[1]); !errors.Is(err, ErrProfile) {
			t.Errorf("ParseProfiles(%q, %q) error = %v; want ErrProfile", tc[0], tc[1], err)
		}
	}
}
