package testbed

import (
	"errors"
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
