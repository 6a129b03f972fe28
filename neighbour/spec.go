package neighbour

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind is the neighbour's read pattern.
type Kind string

const (
	Warm Kind = "warm" // random reads at a fixed rate
	Hot  Kind = "hot"  // random reads as fast as it can
)

// DefaultRate is the read rate of a warm neighbour without rate=.
const DefaultRate = 500

// BlockSize is the size of every timed read.
const BlockSize = 4096

// Spec describes a neighbour: Kind, the size of its file, and for Warm the
// reads per second.
type Spec struct {
	Kind Kind
	Size int64 // bytes, a multiple of BlockSize
	Rate int   // reads per second; 0 for Hot
}

// ErrSpec is wrapped by every error of ParseSpec.
var ErrSpec = errors.New("neighbour spec")

// ParseSpec parses "warm:SIZE[,rate=IOPS]" or "hot:SIZE". SIZE takes the
// suffixes k, M, G, T (powers of 1024, optionally followed by "i" or "iB")
// and must be a positive multiple of 4 KiB.
func ParseSpec(s string) (Spec, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Spec{}, fmt.Errorf("%w %q: want warm:SIZE[,rate=IOPS] or hot:SIZE", ErrSpec, s)
	}
	fields := strings.Split(rest, ",")
	size, err := parseSize(fields[0])
	if err != nil {
		return Spec{}, fmt.Errorf("%w %q: %v", ErrSpec, s, err)
	}
	if size <= 0 || size%BlockSize != 0 {
		return Spec{}, fmt.Errorf("%w %q: size must be a positive multiple of %d bytes", ErrSpec, s, BlockSize)
	}
	sp := Spec{Kind: Kind(kind), Size: size}
	switch sp.Kind {
	case Warm:
		sp.Rate = DefaultRate
		for _, f := range fields[1:] {
			v, ok := strings.CutPrefix(f, "rate=")
			if !ok {
				return Spec{}, fmt.Errorf("%w %q: unknown option %q", ErrSpec, s, f)
			}
			if sp.Rate, err = strconv.Atoi(v); err != nil || sp.Rate <= 0 {
				return Spec{}, fmt.Errorf("%w %q: rate must be a positive integer", ErrSpec, s)
			}
		}
	case Hot:
		if len(fields) > 1 {
			return Spec{}, fmt.Errorf("%w %q: hot takes no options", ErrSpec, s)
		}
	default:
		return Spec{}, fmt.Errorf("%w %q: unknown kind %q (warm or hot)", ErrSpec, s, kind)
	}
	return sp, nil
}

// String is the spec in the form ParseSpec reads.
func (s Spec) String() string {
	if s.Kind == Warm {
		return fmt.Sprintf("warm:%d,rate=%d", s.Size, s.Rate)
	}
	return fmt.Sprintf("%s:%d", s.Kind, s.Size)
}

// parseSize reads a byte count with an optional binary suffix. It stands
// alone so that the suite's common size syntax can replace it.
func parseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "kKMGTiB")
	shift := 0
	switch strings.TrimSuffix(strings.TrimSuffix(s[len(num):], "B"), "i") {
	case "":
	case "k", "K":
		shift = 10
	case "M":
		shift = 20
	case "G":
		shift = 30
	case "T":
		shift = 40
	default:
		return 0, fmt.Errorf("size %q: unknown suffix", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q: not a byte count", s)
	}
	return n << shift, nil
}
