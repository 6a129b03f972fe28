package sweep

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/evict"
)

// The built-in server of a window:auto run publishes its ring's state in a
// page of shared memory (a memfd the sweep passes as descriptor
// ringStateFD), so that the sampler reads it with two atomic loads and no
// system call: the ring size the controller chose (AutoState.Limit) and the
// bytes in the ring (AutoState.Resident), both in bytes.
const (
	ringStateFD   = 4
	ringStateSize = 4096
	// ringPublish is how often the server copies its state into the page.
	ringPublish = 5 * time.Millisecond
)

// ringState is a mapped state page.
type ringState struct {
	f   *os.File
	mem []byte
}

func (r *ringState) word(i int) *int64 { return (*int64)(unsafe.Pointer(&r.mem[8*i])) }

// newRingState makes the page, readable and writable by a child that
// inherits f.
func newRingState() (*ringState, error) {
	fd, err := unix.MemfdCreate("wbench-ring-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("ring state: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "ring-state")
	if err := f.Truncate(ringStateSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("ring state: %w", err)
	}
	return mapRingState(f)
}

func mapRingState(f *os.File) (*ringState, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, ringStateSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ring state: mmap: %w", err)
	}
	return &ringState{f: f, mem: mem}, nil
}

func (r *ringState) file() *os.File { return r.f }

// Limit returns the ring size last published (0 before the first).
func (r *ringState) Limit() int64 { return atomic.LoadInt64(r.word(0)) }

// Close unmaps the page and closes its file.
func (r *ringState) Close() error {
	err := unix.Munmap(r.mem)
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// publishRingState copies p's window:auto state into the page inherited on
// ringStateFD every ringPublish until ctx ends. It returns at once when
// p is not window:auto or there is no page.
func publishRingState(ctx context.Context, p evict.Policy) error {
	as, ok := p.(evict.AutoStater)
	if !ok || as.AutoState().Max == 0 {
		return nil
	}
	r, err := mapRingState(os.NewFile(ringStateFD, "ring-state"))
	if err != nil {
		return err
	}
	go func() {
		defer r.Close()
		t := time.NewTicker(ringPublish)
		defer t.Stop()
		for {
			st := as.AutoState()
			atomic.StoreInt64(r.word(0), st.Limit)
			atomic.StoreInt64(r.word(1), st.Resident)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// isAuto reports whether policy is a window:auto policy.
func isAuto(policy evict.Name) bool {
	p, err := evict.Parse(string(policy))
	if err != nil {
		return false
	}
	as, ok := p.(evict.AutoStater)
	return ok && as.AutoState().Max > 0
}
