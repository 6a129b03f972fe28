package nbdserve

import (
	"errors"
	"syscall"
)

// Backend is the storage behind an export. The server consumes it and
// knows nothing else about it: the capability answers decide which
// transmission flags are advertised, and the I/O methods serve requests.
//
// The server opens one Session per connection (Connect) and serves that
// connection's requests through it, from several goroutines at once. The
// Backend's own I/O methods (those of IO) serve callers that have no
// connection, such as benchmarks driving a backend directly.
type Backend interface {
	IO
	// Size is the export size in bytes.
	Size() int64

	CanWrite() bool     // false: the export is advertised read-only
	CanFlush() bool     // NBD_FLAG_SEND_FLUSH
	CanFUA() bool       // NBD_FLAG_SEND_FUA
	CanTrim() bool      // NBD_FLAG_SEND_TRIM
	CanZero() bool      // NBD_FLAG_SEND_WRITE_ZEROES
	CanFastZero() bool  // NBD_FLAG_SEND_FAST_ZERO
	CanMultiConn() bool // NBD_FLAG_CAN_MULTI_CONN
	CanCache() bool     // NBD_FLAG_SEND_CACHE
	CanExtents() bool   // the base:allocation metadata context

	// Connect is the per-connection hook: it returns the Session that will
	// serve one NBD connection, closed when the connection ends. The file
	// backend gives each session its own eviction stream.
	Connect() (Session, error)
}

// IO is the set of storage calls. All of them are safe for concurrent use.
// Offsets and lengths have been checked against Size by the caller.
// Errors should wrap a syscall.Errno so that the server can map them onto
// the protocol's error values (see ErrnoOf).
type IO interface {
	// ReadAt fills p from off.
	ReadAt(p []byte, off int64) error
	// WriteAt writes p at off; with fua the data is durable on return.
	WriteAt(p []byte, off int64, fua bool) error
	// Flush makes every completed write durable.
	Flush() error
	// Trim discards [off, off+length); the contents become unspecified.
	Trim(off, length int64, fua bool) error
	// Zero makes [off, off+length) read as zeroes. mayTrim allows a hole
	// (no NBD_CMD_FLAG_NO_HOLE); fast asks to fail with ErrSlowZero
	// (ENOTSUP) rather than fall back to writing zero buffers.
	Zero(off, length int64, mayTrim, fast, fua bool) error
	// Extents describes [off, off+length) from off onwards, in order,
	// with at most max extents (max >= 1); it may cover less than asked
	// but never nothing, and never more.
	Extents(off, length int64, max int) ([]Extent, error)
	// Cache is a hint that [off, off+length) will be read soon.
	Cache(off, length int64) error
}

// Session serves the requests of one connection.
type Session interface {
	IO
	// Close releases what the session holds (for the file backend: drains
	// its eviction stream). It does not close the Backend.
	Close() error
}

// Extent is a run of the export with one allocation state.
type Extent struct {
	Length int64
	Hole   bool // not allocated in the backing storage
	Zero   bool // reads as zeroes
}

// ErrSlowZero is returned by Zero with fast set when only the slow path
// (writing zero buffers) is left. It is ENOTSUP for errors.Is.
var ErrSlowZero error = slowZeroError{}

type slowZeroError struct{}

func (slowZeroError) Error() string {
	return "fast zero not possible: only writing zero buffers is left"
}
func (slowZeroError) Is(target error) bool { return target == syscall.ENOTSUP }

// ErrnoOf maps a storage error onto an NBD error value: by errno where the
// error wraps one, EIO otherwise. Nil maps to 0.
func ErrnoOf(err error) uint32 {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if !errors.As(err, &e) {
		if errors.Is(err, ErrSlowZero) {
			return NBD_ENOTSUP
		}
		return NBD_EIO
	}
	switch e {
	case syscall.EPERM, syscall.EACCES, syscall.EROFS:
		return NBD_EPERM
	case syscall.EIO:
		return NBD_EIO
	case syscall.ENOMEM:
		return NBD_ENOMEM
	case syscall.EINVAL:
		return NBD_EINVAL
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
		return NBD_ENOSPC
	case syscall.EOVERFLOW:
		return NBD_EOVERFLOW
	case syscall.ENOTSUP: // == EOPNOTSUPP on Linux
		return NBD_ENOTSUP
	case syscall.ESHUTDOWN:
		return NBD_ESHUTDOWN
	}
	return NBD_EIO
}
