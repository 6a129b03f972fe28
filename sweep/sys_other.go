//go:build !linux

package sweep

import (
	"errors"
	"os"
	"os/exec"
	"time"
)

func dropCaches() error                  { return errors.ErrUnsupported }
func dropFile(*os.File)                  {}
func dropPath(string)                    {}
func processCPU() time.Duration          { return 0 }
func childCPU(c *exec.Cmd) time.Duration { return 0 }
