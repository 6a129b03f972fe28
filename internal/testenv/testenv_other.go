//go:build !linux

package testenv

import (
	"errors"
	"os"
	"testing"
)

func drop(f *os.File) error {
	if err := f.Sync(); err != nil {
		return err
	}
	return errors.ErrUnsupported
}

func isTmpfs(testing.TB, string) bool { return false }
