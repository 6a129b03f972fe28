// Package libnbd is a small cgo binding over the libnbd C library (Debian's
// libnbd-dev, 1.14), the NBD client library behind nbdcopy, nbdinfo and
// fio's nbd engine. The suite uses it as an in-process NBD client in tests
// and in wbench.
//
// The names and signatures are those of the upstream Go binding,
// libguestfs.org/libnbd, for the part the suite uses: Create, Close,
// ConnectUri/ConnectUnix/ConnectTcp, AddMetaContext, GetSize, the Can*
// questions, Pread, Pwrite, Flush, Trim, Zero, BlockStatus, the Aio calls
// with AioBuffer and CompletionCallback, Poll, AioInFlight,
// AioCommandCompleted, Shutdown, and LibnbdError with its Errno. Code
// written against this package moves to the upstream module by changing
// the import path, except for stream.go, which is this suite's own helper
// built on the public calls, and LibnbdError.Unwrap, which upstream lacks.
//
// # Pipeline
//
// Every Go method takes a read lock on the handle (Close takes the write
// lock, so it never frees the C handle under a running call), then calls a
// C wrapper (wrappers.c) that calls libnbd and, on failure, copies
// nbd_get_error and nbd_get_errno into a struct in the same C call: libnbd
// keeps errors per thread, and a goroutine may change threads between two
// cgo calls.
//
// Callbacks go from C to Go through runtime/cgo handles: the closure is
// registered as an integer handle, libnbd passes it back to the C
// trampolines, which call exported Go functions; libnbd's free hook deletes
// the handle when it will not call the closure again (also when the call
// fails, and at Close for commands still queued). C never holds a Go
// pointer.
//
// # Caveats
//
//   - Synchronous Pread and Pwrite pass the Go slice to C for the duration
//     of the call only. Asynchronous calls take an AioBuffer, allocated by
//     C, which must outlive the command; free it after its completion.
//   - Callbacks run inside the libnbd call that noticed the reply (Poll,
//     Pread, ...), on that goroutine, with libnbd's handle lock held: they
//     must not call methods of the same handle.
//   - Close waits for calls running on other goroutines; a Poll(-1) with
//     nothing in flight never returns.
//   - With libnbd's default strict mode, requests out of bounds, writes to
//     a read-only export and unsupported flags fail in the client with
//     EINVAL, EPERM or EINVAL before anything is sent.
package libnbd
