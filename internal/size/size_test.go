package size

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"4096", 4096},
		{"010", 10},
		{"3b", 3},
		{"1B", 1},
		{"1s", 512},
		{"8S", 4096},
		{"64K", 64 << 10},
		{"256k", 256 << 10},
		{"16M", 16 << 20},
		{"16m", 16 << 20},
		{"16MB", 16 << 20},
		{"16mb", 16 << 20},
		{"16MiB", 16 << 20},
		{"16mib", 16 << 20},
		{"1536KiB", 1536 << 10},
		{"4G", 4 << 30},
		{"1T", 1 << 40},
		{"2P", 2 << 50},
		{"7E", 7 << 60},
		{" 2M", 2 << 20},
		{"+2M", 2 << 20},
		{"9223372036854775807", Max},
		{"8388607T", 8388607 << 40},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"", " ", "M", "K16", "-1", "-1M", "1.5M", "0x10", "1Q", "1iB", "1KiBx", "1KBB",
		"1SB", "1Bi", "2M ", "1 M", "8E", "9223372036854775808", "99999999999999999999K", "8388608T",
	} {
		n, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, n)
			continue
		}
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("Parse(%q) error %q: want it to wrap ErrSyntax and quote the input", in, err)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 1: "1", 1000: "1000", 4096: "4K", 1536 << 10: "1536K", 16 << 20: "16M",
		3 << 30: "3G", 1 << 40: "1T", 5 << 50: "5P", 7 << 60: "7E", Max: "9223372036854775807",
	} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzRoundTrip checks that Format writes what Parse reads back, and that
// whatever Parse accepts formats to a text naming the same size.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"0", "4096", "16M", "1536KiB", "7E", "+1s", " 3mb", "1iB", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		text := Format(n)
		again, err := Parse(text)
		if err != nil || again != n {
			t.Fatalf("Parse(%q) = %d; Format gives %q, which parses to %d, %v", s, n, text, again, err)
		}
	})
}

// TestAgreesWithNbdkit serves an nbdkit memory disk of each size and
// reads its size back with nbdinfo: every spelling nbdkit accepts must
// mean the same number of bytes to Parse.
func TestAgreesWithNbdkit(t *testing.T) {
	testenv.NeedPrograms(t, "nbdkit", "nbdinfo")
	for _, s := range []string{"4096", "1k", "3M", "2g", "1T", "1P", "1E", "7s", "5b", "010", "+2M"} {
		out, err := exec.Command("nbdkit", "-U", "-", "memory", s, "--run", "nbdinfo --size $uri").CombinedOutput()
		if err != nil {
			t.Errorf("nbdkit memory %s: %v\n%s", s, err, out)
			continue
		}
		want, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			t.Fatalf("nbdinfo --size for %s: %q", s, out)
		}
		if got, err := Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; nbdkit serves %d bytes", s, got, err, want)
		}
	}
}
