package libnbd

/*
#cgo pkg-config: libnbd
#include <stdlib.h>
#include "wrappers.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// Libnbd is a libnbd handle: one NBD connection.
//
// Its methods may be called from several goroutines at once (libnbd
// serialises them on its own handle lock), except that a callback must
// never call methods of the handle that invoked it: libnbd holds its lock
// while callbacks run, so that would deadlock. Close waits for calls in
// progress on other goroutines to return.
type Libnbd struct {
	mu      sync.RWMutex // write-held by Close; read-held by every other call
	h       *C.struct_nbd_handle
	cleanup runtime.Cleanup
}

// LibnbdError is the error every call returns: the operation, libnbd's
// message (nbd_get_error) and errno (nbd_get_errno, 0 when libnbd set none).
type LibnbdError struct {
	Op     string        // the call that failed, as in libnbd's C name without "nbd_"
	Errmsg string        // libnbd's error message
	Errno  syscall.Errno // libnbd's errno, or 0
}

func (e *LibnbdError) String() string {
	// libnbd's message usually ends with strerror already.
	if e.Errno == 0 || strings.HasSuffix(strings.ToLower(e.Errmsg), e.Errno.Error()) {
		return fmt.Sprintf("%s: %s", e.Op, e.Errmsg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Errmsg, e.Errno)
}

// Error implements the error interface.
func (e *LibnbdError) Error() string { return e.String() }

// Unwrap returns Errno (nil when it is 0), so errors.Is(err, syscall.EINVAL)
// works. The upstream binding has no Unwrap: code that must build against
// both should use errors.As and compare the Errno field.
func (e *LibnbdError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

func closedHandleError(op string) *LibnbdError {
	return &LibnbdError{Op: op, Errmsg: "handle is closed"}
}

// takeError converts the error a C wrapper saved and frees its message.
func takeError(op string, e *C.struct_wc_error) *LibnbdError {
	err := &LibnbdError{Op: op, Errmsg: C.GoString(e.msg), Errno: syscall.Errno(e.errnum)}
	C.free(unsafe.Pointer(e.msg))
	e.msg = nil
	return err
}

// Create makes a new, unconnected handle. Close it when done; a handle that
// becomes unreachable is closed by the garbage collector eventually.
func Create() (*Libnbd, error) {
	var e C.struct_wc_error
	c := C.wc_create(&e)
	if c == nil {
		return nil, takeError("create", &e)
	}
	h := &Libnbd{h: c}
	h.cleanup = runtime.AddCleanup(h, func(c *C.struct_nbd_handle) { C.nbd_close(c) }, c)
	return h, nil
}

// Close closes the connection (abruptly: use Shutdown first for a clean
// disconnect) and frees the handle, running the free side of any callbacks
// still registered. Closing a closed handle returns an error.
func (h *Libnbd) Close() *LibnbdError {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil {
		return closedHandleError("close")
	}
	h.cleanup.Stop()
	C.nbd_close(h.h)
	h.h = nil
	return nil
}

// String describes the handle, for debugging.
func (h *Libnbd) String() string { return "&Libnbd{}" }

// call runs f, a cgo call into a wrapper, on the open handle with the read
// lock held, and converts a return of -1 into the saved error.
func (h *Libnbd) call(op string, f func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64) (int64, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.h == nil {
		return 0, closedHandleError(op)
	}
	var e C.struct_wc_error
	if r := f(h.h, &e); r != -1 {
		return r, nil
	}
	return -1, takeError(op, &e)
}

// callErr is call for the calls that return only an error.
func (h *Libnbd) callErr(op string, f func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64) error {
	_, err := h.call(op, f)
	return err
}

// callBool is call for the calls that answer a yes/no question.
func (h *Libnbd) callBool(op string, f func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64) (bool, error) {
	r, err := h.call(op, f)
	return r > 0, err
}
