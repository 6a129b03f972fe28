// Package cliutil holds what the suite's hand-parsed command lines
// (cachestats, nbdserve) share: the requests for help and for the
// version, and their answer.
package cliutil

import (
	"errors"
	"io"

	"github.com/pagecache-suite/wcache/internal/version"
)

// ErrHelp is what a parser returns for -h or --help, ErrVersion for
// --version.
var (
	ErrHelp    = errors.New("help requested")
	ErrVersion = errors.New("version requested")
)

// Answer answers err if it asks for help (writing usage to stdout) or
// for the version (writing the version line of the command called name),
// and reports whether it did; the command then exits with status 0.
func Answer(err error, name, usage string, stdout io.Writer) bool {
	switch {
	case errors.Is(err, ErrHelp):
		io.WriteString(stdout, usage)
	case errors.Is(err, ErrVersion):
		io.WriteString(stdout, version.String(name))
	default:
		return false
	}
	return true
}
