//go:build !linux

package pagecache

import (
	"errors"
	"os"
)

// StatFile is only implemented on Linux.
func StatFile(f *os.File, r Range) (Stat, error) {
	return Stat{}, errors.ErrUnsupported
}
