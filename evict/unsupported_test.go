//go:build !linux

package evict

import (
	"errors"
	"testing"
)

// TestUnsupportedRefuses checks that, without Linux page-cache controls,
// every policy that would need them fails at Parse rather than doing nothing.
func TestUnsupportedRefuses(t *testing.T) {
	for _, text := range []string{"flush-each", "window:8", "window:bytes=16M,merge,drain", "none:read=fresh", "none:read=each"} {
		if _, err := Parse(text); !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Parse(%q) = %v, want ErrUnsupported", text, err)
		}
	}
	if _, err := Parse("none"); err != nil {
		t.Errorf("Parse(none): %v", err)
	}
}
