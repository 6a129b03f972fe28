package cliutil

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestAnswer(t *testing.T) {
	for _, tc := range []struct {
		err    error
		want   bool
		prefix string
	}{
		{ErrHelp, true, "Usage: x"},
		{fmt.Errorf("wrapped: %w", ErrHelp), true, "Usage: x"},
		{ErrVersion, true, "x"},
		{errors.New("bad flag"), false, ""},
		{nil, false, ""},
	} {
		var b strings.Builder
		if got := Answer(tc.err, "x", "Usage: x\n", &b); got != tc.want {
			t.Errorf("Answer(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if !strings.HasPrefix(b.String(), tc.prefix) || (tc.prefix == "") != (b.Len() == 0) {
			t.Errorf("Answer(%v) wrote %q, want it to start with %q", tc.err, b.String(), tc.prefix)
		}
	}
}
