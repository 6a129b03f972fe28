//go:build !linux

package cli

import "errors"

func exitWithParent() error { return errors.New("needs Linux") }

func quietStderr() error { return errors.New("needs Linux") }
