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

// StatFileMincore is only implemented on Linux.
func StatFileMincore(f *os.File, r Range) (Stat, error) {
	return Stat{}, errors.ErrUnsupported
}

// StatFileUsing is only implemented on Linux.
func StatFileUsing(f *os.File, r Range, m Method) (Stat, error) {
	return Stat{}, errors.ErrUnsupported
}

// MapFile is only implemented on Linux.
func MapFile(f *os.File, r Range) (Stat, *PageMap, error) {
	return Stat{}, nil, errors.ErrUnsupported
}

// Open opens path read-only.
func Open(path string) (*os.File, error) { return os.Open(path) }

// Resident is only implemented on Linux.
func Resident(f *os.File, r Range) ([]Range, error) { return nil, errors.ErrUnsupported }

// Loading is only implemented on Linux.
func Loading(f *os.File, r Range) ([]Range, error) { return nil, errors.ErrUnsupported }
