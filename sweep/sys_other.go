//go:build !linux

package sweep

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func dropCaches() error                  { return errors.ErrUnsupported }
func dropFile(*os.File)                  {}
func dropPath(string)                    {}
func processCPU() time.Duration          { return 0 }
func threadCPU() time.Duration           { return 0 }
func childCPU(c *exec.Cmd) time.Duration { return 0 }
func childAttr() *syscall.SysProcAttr    { return nil }

// statFS knows nothing of other systems' filesystems: no space check.
func statFS(string) (fsInfo, error) { return fsInfo{avail: math.MaxInt64}, nil }
