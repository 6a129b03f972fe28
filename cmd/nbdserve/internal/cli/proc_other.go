//go:build !linux

package cli

import "errors"

func exitWithParent() error { return errors.New("needs Linux") }

func toDevNull(...int) error { return errors.New("needs Linux") }
