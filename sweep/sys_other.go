//go:build !linux

package sweep

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func dropCaches() error                  { return errors.ErrUnsupported }
func dropFile(*os.File)                  {}
func dropPath(string)                    {}
func childCPU(c *exec.Cmd) time.Duration { return 0 }
func childAttr() *syscall.SysProcAttr    { return nil }
