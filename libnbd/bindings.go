package libnbd

/*
#include <stdlib.h>
#include "wrappers.h"
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// CmdFlag are the flags of the data commands (libnbd's LIBNBD_CMD_FLAG_*).
type CmdFlag uint32

const (
	CMD_FLAG_FUA       = CmdFlag(0x01) // force unit access: durable when the reply arrives
	CMD_FLAG_NO_HOLE   = CmdFlag(0x02) // Zero: write zeroes, do not punch a hole
	CMD_FLAG_DF        = CmdFlag(0x04) // Pread: do not fragment the reply
	CMD_FLAG_REQ_ONE   = CmdFlag(0x08) // BlockStatus: at most one extent
	CMD_FLAG_FAST_ZERO = CmdFlag(0x10) // Zero: fail rather than be slower than a write
	CMD_FLAG_MASK      = CmdFlag(0x1f)
)

// Shutdown are the flags of Shutdown (LIBNBD_SHUTDOWN_*).
type Shutdown uint32

const (
	SHUTDOWN_ABANDON_PENDING = Shutdown(0x10000) // drop commands not yet sent
	SHUTDOWN_MASK            = Shutdown(0x10000)
)

// Size selects which block size GetBlockSize reports (LIBNBD_SIZE_*).
type Size int

const (
	SIZE_MINIMUM   = Size(0)
	SIZE_PREFERRED = Size(1)
	SIZE_MAXIMUM   = Size(2)
)

const (
	AIO_DIRECTION_READ  uint32 = 1
	AIO_DIRECTION_WRITE uint32 = 2
	AIO_DIRECTION_BOTH  uint32 = 3
	READ_DATA           uint32 = 1
	READ_HOLE           uint32 = 2
	READ_ERROR          uint32 = 3
	// Flags of the base:allocation meta context, in BlockStatus entries.
	STATE_HOLE uint32 = 1
	STATE_ZERO uint32 = 2
)

// The Optargs structs carry optional arguments; a field is used only when
// its ...Set companion is true. A nil *Optargs means none.

// PreadOptargs are the optional arguments of Pread.
type PreadOptargs struct {
	FlagsSet bool
	Flags    CmdFlag
}

// PwriteOptargs are the optional arguments of Pwrite.
type PwriteOptargs struct {
	FlagsSet bool
	Flags    CmdFlag
}

// FlushOptargs are the optional arguments of Flush.
type FlushOptargs struct {
	FlagsSet bool
	Flags    CmdFlag
}

// TrimOptargs are the optional arguments of Trim.
type TrimOptargs struct {
	FlagsSet bool
	Flags    CmdFlag
}

// ZeroOptargs are the optional arguments of Zero.
type ZeroOptargs struct {
	FlagsSet bool
	Flags    CmdFlag
}

// BlockStatusOptargs are the optional arguments of BlockStatus.
type BlockStatusOptargs struct {
	FlagsSet bool
	Flags    CmdFlag
}

// ShutdownOptargs are the optional arguments of Shutdown.
type ShutdownOptargs struct {
	FlagsSet bool
	Flags    Shutdown
}

// AioPreadOptargs are the optional arguments of AioPread.
type AioPreadOptargs struct {
	CompletionCallbackSet bool
	CompletionCallback    CompletionCallback
	FlagsSet              bool
	Flags                 CmdFlag
}

// AioPwriteOptargs are the optional arguments of AioPwrite.
type AioPwriteOptargs struct {
	CompletionCallbackSet bool
	CompletionCallback    CompletionCallback
	FlagsSet              bool
	Flags                 CmdFlag
}

// AioFlushOptargs are the optional arguments of AioFlush.
type AioFlushOptargs struct {
	CompletionCallbackSet bool
	CompletionCallback    CompletionCallback
	FlagsSet              bool
	Flags                 CmdFlag
}

// AioTrimOptargs are the optional arguments of AioTrim.
type AioTrimOptargs struct {
	CompletionCallbackSet bool
	CompletionCallback    CompletionCallback
	FlagsSet              bool
	Flags                 CmdFlag
}

// AioZeroOptargs are the optional arguments of AioZero.
type AioZeroOptargs struct {
	CompletionCallbackSet bool
	CompletionCallback    CompletionCallback
	FlagsSet              bool
	Flags                 CmdFlag
}

func cmdFlags(set bool, f CmdFlag) C.uint32_t {
	if !set {
		return 0
	}
	return C.uint32_t(f)
}

// completionUD registers cb when set; 0 means no callback. It is called
// only once the handle is known to be open, because from the C call on,
// libnbd owns the registration and frees it even if the call fails.
func completionUD(set bool, cb CompletionCallback) C.uintptr_t {
	if !set || cb == nil {
		return 0
	}
	return registerCallback(cb)
}

// bytesPtr is the C view of a Go buffer for the duration of one
// synchronous call (cgo pins it; libnbd does not keep it).
func bytesPtr(buf []byte) unsafe.Pointer {
	if len(buf) == 0 {
		return nil
	}
	return unsafe.Pointer(&buf[0])
}

func b2i(ok C.int) int64 { return int64(ok) }

// withString runs f with s as a C string.
func withString(s string, f func(cs *C.char) int64) int64 {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return f(cs)
}

// SetHandleName names the handle in libnbd's debug messages.
func (h *Libnbd) SetHandleName(handleName string) error {
	return h.callErr("set_handle_name", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return withString(handleName, func(s *C.char) int64 { return b2i(C.wc_set_handle_name(e, c, s)) })
	})
}

// AddMetaContext asks the server, before connecting, for a meta context
// such as "base:allocation", which BlockStatus then reports.
func (h *Libnbd) AddMetaContext(name string) error {
	return h.callErr("add_meta_context", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return withString(name, func(s *C.char) int64 { return b2i(C.wc_add_meta_context(e, c, s)) })
	})
}

// ConnectUri connects to an NBD URI (nbd://host/, nbd+unix:///?socket=PATH)
// and completes the handshake.
func (h *Libnbd) ConnectUri(uri string) error {
	return h.callErr("connect_uri", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return withString(uri, func(s *C.char) int64 { return b2i(C.wc_connect_uri(e, c, s)) })
	})
}

// ConnectUnix connects to a server listening on a Unix socket.
func (h *Libnbd) ConnectUnix(unixsocket string) error {
	return h.callErr("connect_unix", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return withString(unixsocket, func(s *C.char) int64 { return b2i(C.wc_connect_unix(e, c, s)) })
	})
}

// ConnectTcp connects to a server over TCP; port is a number or service name.
func (h *Libnbd) ConnectTcp(hostname string, port string) error {
	return h.callErr("connect_tcp", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return withString(hostname, func(hs *C.char) int64 {
			return withString(port, func(ps *C.char) int64 { return b2i(C.wc_connect_tcp(e, c, hs, ps)) })
		})
	})
}

// Shutdown disconnects cleanly: it waits for commands in flight (unless
// SHUTDOWN_ABANDON_PENDING), sends NBD_CMD_DISC and closes the socket.
func (h *Libnbd) Shutdown(optargs *ShutdownOptargs) error {
	var flags C.uint32_t
	if optargs != nil && optargs.FlagsSet {
		flags = C.uint32_t(optargs.Flags)
	}
	return h.callErr("shutdown", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_shutdown(e, c, flags))
	})
}

func (h *Libnbd) query(op string, which C.enum_wc_query) (int64, error) {
	return h.call(op, func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_query(e, c, which))
	})
}

func (h *Libnbd) queryBool(op string, which C.enum_wc_query) (bool, error) {
	r, err := h.query(op, which)
	return r > 0, err
}

// IsReadOnly reports whether the server exports read-only.
func (h *Libnbd) IsReadOnly() (bool, error) { return h.queryBool("is_read_only", C.WC_IS_READ_ONLY) }

// CanFlush reports whether the server accepts Flush.
func (h *Libnbd) CanFlush() (bool, error) { return h.queryBool("can_flush", C.WC_CAN_FLUSH) }

// CanFua reports whether the server accepts CMD_FLAG_FUA.
func (h *Libnbd) CanFua() (bool, error) { return h.queryBool("can_fua", C.WC_CAN_FUA) }

// CanTrim reports whether the server accepts Trim.
func (h *Libnbd) CanTrim() (bool, error) { return h.queryBool("can_trim", C.WC_CAN_TRIM) }

// CanZero reports whether the server accepts Zero (NBD_CMD_WRITE_ZEROES).
func (h *Libnbd) CanZero() (bool, error) { return h.queryBool("can_zero", C.WC_CAN_ZERO) }

// CanFastZero reports whether the server accepts CMD_FLAG_FAST_ZERO.
func (h *Libnbd) CanFastZero() (bool, error) { return h.queryBool("can_fast_zero", C.WC_CAN_FAST_ZERO) }

// CanDf reports whether the server accepts CMD_FLAG_DF.
func (h *Libnbd) CanDf() (bool, error) { return h.queryBool("can_df", C.WC_CAN_DF) }

// CanMultiConn reports whether the server allows several connections to
// the same export with consistent results (NBD_FLAG_CAN_MULTI_CONN).
func (h *Libnbd) CanMultiConn() (bool, error) {
	return h.queryBool("can_multi_conn", C.WC_CAN_MULTI_CONN)
}

// CanCache reports whether the server accepts NBD_CMD_CACHE.
func (h *Libnbd) CanCache() (bool, error) { return h.queryBool("can_cache", C.WC_CAN_CACHE) }

// IsRotational reports whether the server says its storage is rotational.
func (h *Libnbd) IsRotational() (bool, error) {
	return h.queryBool("is_rotational", C.WC_IS_ROTATIONAL)
}

// CanMetaContext reports whether metacontext was negotiated.
func (h *Libnbd) CanMetaContext(metacontext string) (bool, error) {
	return h.callBool("can_meta_context", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return withString(metacontext, func(s *C.char) int64 { return b2i(C.wc_can_meta_context(e, c, s)) })
	})
}

// GetProtocol returns the protocol negotiated ("newstyle-fixed", ...).
func (h *Libnbd) GetProtocol() (*string, error) {
	var p string
	_, err := h.call("get_protocol", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		r := C.wc_get_protocol(e, c)
		if r == nil {
			return -1
		}
		p = C.GoString(r) // static string in libnbd: not freed
		return 0
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// GetSize returns the size of the export in bytes.
func (h *Libnbd) GetSize() (uint64, error) {
	r, err := h.call("get_size", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return int64(C.wc_get_size(e, c))
	})
	if err != nil {
		return 0, err
	}
	return uint64(r), nil
}

// GetBlockSize returns the server's minimum, preferred or maximum block
// size, or 0 when the server did not say.
func (h *Libnbd) GetBlockSize(sizeType Size) (uint64, error) {
	r, err := h.call("get_block_size", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return int64(C.wc_get_block_size(e, c, C.int(sizeType)))
	})
	if err != nil {
		return 0, err
	}
	return uint64(r), nil
}

// Pread reads len(buf) bytes at offset, waiting for the reply.
func (h *Libnbd) Pread(buf []byte, offset uint64, optargs *PreadOptargs) error {
	var flags C.uint32_t
	if optargs != nil {
		flags = cmdFlags(optargs.FlagsSet, optargs.Flags)
	}
	return h.callErr("pread", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_pread(e, c, bytesPtr(buf), C.size_t(len(buf)), C.uint64_t(offset), flags))
	})
}

// Pwrite writes buf at offset, waiting for the reply. With CMD_FLAG_FUA
// the data is durable when Pwrite returns.
func (h *Libnbd) Pwrite(buf []byte, offset uint64, optargs *PwriteOptargs) error {
	var flags C.uint32_t
	if optargs != nil {
		flags = cmdFlags(optargs.FlagsSet, optargs.Flags)
	}
	return h.callErr("pwrite", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_pwrite(e, c, bytesPtr(buf), C.size_t(len(buf)), C.uint64_t(offset), flags))
	})
}

// Flush asks the server to make all completed writes durable.
func (h *Libnbd) Flush(optargs *FlushOptargs) error {
	var flags C.uint32_t
	if optargs != nil {
		flags = cmdFlags(optargs.FlagsSet, optargs.Flags)
	}
	return h.callErr("flush", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_flush(e, c, flags))
	})
}

// Trim tells the server that count bytes at offset are no longer needed
// (their content becomes unspecified; the file plugin punches a hole).
func (h *Libnbd) Trim(count uint64, offset uint64, optargs *TrimOptargs) error {
	var flags C.uint32_t
	if optargs != nil {
		flags = cmdFlags(optargs.FlagsSet, optargs.Flags)
	}
	return h.callErr("trim", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_trim(e, c, C.uint64_t(count), C.uint64_t(offset), flags))
	})
}

// Zero makes count bytes at offset read as zeroes (NBD_CMD_WRITE_ZEROES),
// as a hole unless CMD_FLAG_NO_HOLE.
func (h *Libnbd) Zero(count uint64, offset uint64, optargs *ZeroOptargs) error {
	var flags C.uint32_t
	if optargs != nil {
		flags = cmdFlags(optargs.FlagsSet, optargs.Flags)
	}
	return h.callErr("zero", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_zero(e, c, C.uint64_t(count), C.uint64_t(offset), flags))
	})
}

// BlockStatus asks for the status of count bytes at offset in every meta
// context added with AddMetaContext; extent receives the answers before
// BlockStatus returns. The server may describe less than count bytes.
func (h *Libnbd) BlockStatus(count uint64, offset uint64, extent ExtentCallback, optargs *BlockStatusOptargs) error {
	var flags C.uint32_t
	if optargs != nil {
		flags = cmdFlags(optargs.FlagsSet, optargs.Flags)
	}
	if extent == nil {
		return &LibnbdError{Op: "block_status", Errmsg: "extent callback is nil", Errno: syscall.EINVAL}
	}
	return h.callErr("block_status", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		ud := registerCallback(extent)
		return b2i(C.wc_block_status(e, c, C.uint64_t(count), C.uint64_t(offset), ud, flags))
	})
}

// Poll waits up to timeout milliseconds (-1: no limit) for the connection
// to be ready and moves the state machine on, running completion callbacks.
// It returns 1 if progress was made, 0 on timeout.
func (h *Libnbd) Poll(timeout int) (uint, error) {
	r, err := h.call("poll", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_poll(e, c, C.int(timeout)))
	})
	if err != nil {
		return 0, err
	}
	return uint(r), nil
}

func cookie(r int64, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	return uint64(r), nil
}

// AioPread starts reading buf.Size bytes at offset into buf and returns the
// command's cookie. buf must stay allocated until the command completes.
func (h *Libnbd) AioPread(buf AioBuffer, offset uint64, optargs *AioPreadOptargs) (uint64, error) {
	var o AioPreadOptargs
	if optargs != nil {
		o = *optargs
	}
	return cookie(h.call("aio_pread", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		ud := completionUD(o.CompletionCallbackSet, o.CompletionCallback)
		return int64(C.wc_aio_pread(e, c, buf.P, C.size_t(buf.Size), C.uint64_t(offset), ud, cmdFlags(o.FlagsSet, o.Flags)))
	}))
}

// AioPwrite starts writing buf at offset and returns the command's cookie.
// buf must stay allocated until the command completes.
func (h *Libnbd) AioPwrite(buf AioBuffer, offset uint64, optargs *AioPwriteOptargs) (uint64, error) {
	var o AioPwriteOptargs
	if optargs != nil {
		o = *optargs
	}
	return cookie(h.call("aio_pwrite", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		ud := completionUD(o.CompletionCallbackSet, o.CompletionCallback)
		return int64(C.wc_aio_pwrite(e, c, buf.P, C.size_t(buf.Size), C.uint64_t(offset), ud, cmdFlags(o.FlagsSet, o.Flags)))
	}))
}

// AioFlush starts a flush and returns its cookie.
func (h *Libnbd) AioFlush(optargs *AioFlushOptargs) (uint64, error) {
	var o AioFlushOptargs
	if optargs != nil {
		o = *optargs
	}
	return cookie(h.call("aio_flush", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		ud := completionUD(o.CompletionCallbackSet, o.CompletionCallback)
		return int64(C.wc_aio_flush(e, c, ud, cmdFlags(o.FlagsSet, o.Flags)))
	}))
}

// AioTrim starts a trim and returns its cookie.
func (h *Libnbd) AioTrim(count uint64, offset uint64, optargs *AioTrimOptargs) (uint64, error) {
	var o AioTrimOptargs
	if optargs != nil {
		o = *optargs
	}
	return cookie(h.call("aio_trim", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		ud := completionUD(o.CompletionCallbackSet, o.CompletionCallback)
		return int64(C.wc_aio_trim(e, c, C.uint64_t(count), C.uint64_t(offset), ud, cmdFlags(o.FlagsSet, o.Flags)))
	}))
}

// AioZero starts a write-zeroes and returns its cookie.
func (h *Libnbd) AioZero(count uint64, offset uint64, optargs *AioZeroOptargs) (uint64, error) {
	var o AioZeroOptargs
	if optargs != nil {
		o = *optargs
	}
	return cookie(h.call("aio_zero", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		ud := completionUD(o.CompletionCallbackSet, o.CompletionCallback)
		return int64(C.wc_aio_zero(e, c, C.uint64_t(count), C.uint64_t(offset), ud, cmdFlags(o.FlagsSet, o.Flags)))
	}))
}

// AioCommandCompleted reports whether the command with this cookie has
// completed, retiring it if so; a command that failed returns its error
// (and is retired too).
func (h *Libnbd) AioCommandCompleted(cookie uint64) (bool, error) {
	return h.callBool("aio_command_completed", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return b2i(C.wc_aio_command_completed(e, c, C.uint64_t(cookie)))
	})
}

// AioPeekCommandCompleted returns the cookie of a completed command not yet
// retired, 0 if commands are in flight but none completed, and an error if
// nothing is in flight.
func (h *Libnbd) AioPeekCommandCompleted() (uint64, error) {
	return cookie(h.call("aio_peek_command_completed", func(c *C.struct_nbd_handle, e *C.struct_wc_error) int64 {
		return int64(C.wc_aio_peek_command_completed(e, c))
	}))
}

// AioInFlight returns the number of commands sent or queued and not yet
// retired.
func (h *Libnbd) AioInFlight() (uint, error) {
	r, err := h.query("aio_in_flight", C.WC_AIO_IN_FLIGHT)
	if err != nil {
		return 0, err
	}
	return uint(r), nil
}

// AioIsDead reports whether the connection failed; libnbd then touches no
// buffer of any command again.
func (h *Libnbd) AioIsDead() (bool, error) { return h.queryBool("aio_is_dead", C.WC_AIO_IS_DEAD) }

// AioIsReady reports whether the connection is idle and ready for commands.
func (h *Libnbd) AioIsReady() (bool, error) { return h.queryBool("aio_is_ready", C.WC_AIO_IS_READY) }

// AioIsClosed reports whether the connection was shut down.
func (h *Libnbd) AioIsClosed() (bool, error) { return h.queryBool("aio_is_closed", C.WC_AIO_IS_CLOSED) }
