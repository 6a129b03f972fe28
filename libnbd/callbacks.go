package libnbd

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"runtime/cgo"
	"slices"
	"sync/atomic"
	"unsafe"
)

// CompletionCallback is called once when an asynchronous command
// completes, with *err the command's errno (0 on success). Returning 1
// retires the command at once; any other value leaves it to be retired by
// AioCommandCompleted. It runs inside the libnbd call that noticed the
// completion (Poll, or another call on the handle), on that goroutine, and
// must not call methods of the same handle.
type CompletionCallback func(err *int) int

// ExtentCallback receives block status: for metacontext, the extents from
// offset as (length, flags) pairs in entries (for base:allocation the flags
// are STATE_HOLE and STATE_ZERO). It may be called several times per
// BlockStatus. A non-zero *err on entry means the command has already
// failed. Returning -1 after setting *err fails the command.
type ExtentCallback func(metacontext string, offset uint64, entries []uint32, err *int) int

// liveCallbacks counts registered callbacks libnbd has not yet freed;
// tests use it to check that every path releases them.
var liveCallbacks atomic.Int64

// registerCallback makes fn reachable from C as an integer that is not a
// Go pointer (cgo rules forbid C keeping Go pointers). libnbd gives it back
// to the trampolines and frees it through wcacheFree.
func registerCallback(fn any) C.uintptr_t {
	liveCallbacks.Add(1)
	return C.uintptr_t(cgo.NewHandle(fn))
}

//export wcacheFree
func wcacheFree(ud C.uintptr_t) {
	cgo.Handle(ud).Delete()
	liveCallbacks.Add(-1)
}

//export wcacheCompletion
func wcacheCompletion(ud C.uintptr_t, errp *C.int) C.int {
	fn := cgo.Handle(ud).Value().(CompletionCallback)
	e := int(*errp)
	r := fn(&e)
	*errp = C.int(e)
	return C.int(r)
}

//export wcacheExtent
func wcacheExtent(ud C.uintptr_t, metacontext *C.char, offset C.uint64_t, entries *C.uint32_t, n C.size_t, errp *C.int) C.int {
	fn := cgo.Handle(ud).Value().(ExtentCallback)
	// Copy: libnbd owns the array only for the duration of the call.
	es := slices.Clone(unsafe.Slice((*uint32)(unsafe.Pointer(entries)), int(n)))
	e := int(*errp)
	r := fn(C.GoString(metacontext), uint64(offset), es, &e)
	*errp = C.int(e)
	return C.int(r)
}
