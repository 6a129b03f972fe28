package cliutil

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// answer runs Answer for a command called x and returns what it reported
// and wrote.
func answer(err error) (bool, string) {
	var out strings.Builder
	ok := Answer(err, "x", "Usage: x FILE\n", &out)
	return ok, out.String()
}

func TestAnswerHelp(t *testing.T) {
	ok, out := answer(fmt.Errorf("-h: %w", ErrHelp))
	if !ok || out != "Usage: x FILE\n" {
		t.Errorf("wrapped ErrHelp: answered %v with %q, want the usage", ok, out)
	}
}

func TestAnswerVersion(t *testing.T) {
	ok, out := answer(ErrVersion)
	if !ok || !strings.HasPrefix(out, "x") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("ErrVersion: answered %v with %q, want one line about x", ok, out)
	}
}

func TestAnswerOther(t *testing.T) {
	if ok, out := answer(errors.New("bad flag")); ok || out != "" {
		t.Errorf("other error: answered %v with %q, want nothing", ok, out)
	}
	if ok, out := answer(nil); ok || out != "" {
		t.Errorf("nil: answered %v with %q, want nothing", ok, out)
	}
}
