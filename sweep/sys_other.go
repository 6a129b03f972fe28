//go:build !linux

package sweep

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/pagecache-suite/wcache/evict"
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

// ringState: window:auto's ring is published on Linux only.
type ringState struct{}

func newRingState() (*ringState, error)                    { return nil, errors.ErrUnsupported }
func (*ringState) file() *os.File                          { return nil }
func (*ringState) Limit() int64                            { return 0 }
func (*ringState) Close() error                            { return nil }
func publishRingState(context.Context, evict.Policy) error { return nil }
func isAuto(evict.Name) bool                               { return false }
