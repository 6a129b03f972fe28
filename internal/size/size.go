// Package size reads and writes byte counts the way nbdkit does
// (nbdkit_parse_size): a decimal number with an optional suffix, K, M, G,
// T, P or E for powers of 1024, S for 512-byte sectors, B for bytes, in
// either case. Beyond nbdkit it accepts a B or iB after the power suffix
// (16MB, 16MiB, 16mib), still a power of 1024, so that every spelling
// nbdkit accepts means the same here and the common longer ones work too.
// Every size flag and parameter of the suite goes through Parse.
package size

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by the errors of Parse.
var ErrSyntax = errors.New("invalid size")

// Max is the largest size, as in nbdkit: sizes are file offsets (off_t).
const Max = math.MaxInt64

// units are the power-of-1024 suffixes, smallest first.
const units = "KMGTPE"

// Parse returns the number of bytes s names: digits, then an optional
// suffix. As strtoimax in nbdkit, leading white space and a plus sign are
// allowed. Zero is a size; callers that need a positive one say so.
func Parse(s string) (int64, error) {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrSyntax, s, why) }
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	t = strings.TrimPrefix(t, "+")
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, bad("want a number of bytes with an optional suffix K, M, G, T, P or E (powers of 1024), such as 4096, 64K or 16M")
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, bad("too large")
	}
	scale, ok := suffix(t[i:])
	if !ok {
		return 0, bad(fmt.Sprintf("unknown suffix %q; want K, M, G, T, P or E (powers of 1024), optionally followed by B or iB", t[i:]))
	}
	if n > Max/scale {
		return 0, bad("too large")
	}
	return n * scale, nil
}

// suffix returns the multiplier that suf stands for.
func suffix(suf string) (int64, bool) {
	u := strings.ToUpper(suf)
	switch u {
	case "", "B":
		return 1, true
	case "S":
		return 512, true
	}
	k := strings.IndexByte(units, u[0])
	if k < 0 {
		return 0, false
	}
	switch u[1:] {
	case "", "B", "IB":
		return 1 << (10 * (k + 1)), true
	}
	return 0, false
}

// Format writes n with the largest power-of-1024 suffix that divides it
// (16M, 1536K, 1000), the form nbdkit and Parse read back.
func Format(n int64) string {
	if n != 0 {
		for k := len(units) - 1; k >= 0; k-- {
			if shift := 10 * (k + 1); n%(1<<shift) == 0 {
				return strconv.FormatInt(n>>shift, 10) + units[k:k+1]
			}
		}
	}
	return strconv.FormatInt(n, 10)
}
