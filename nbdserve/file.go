package nbdserve

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pagecache-suite/wcache/evict"
)

// FileOptions configures OpenFile.
type FileOptions struct {
	// Policy manages the file's page cache (nil: the kernel's default,
	// like nbdkit's cache=default). Every session gets its own Stream.
	Policy evict.Policy
	// ReadOnly opens the file read-only; the export refuses writes.
	ReadOnly bool
	// Fadvise is the access pattern hint given once at open: "" or
	// "normal", "random", "sequential" (nbdkit's fadvise=).
	Fadvise string
	// Size, when positive, creates the file if missing and extends it to
	// Size bytes if shorter. A longer file is never truncated.
	Size int64
}

// File is a Backend serving a regular file (or a block device) the way
// nbdkit's file plugin does: pread/pwrite, fdatasync for FLUSH and FUA,
// hole punching for TRIM, punch-hole / zero-range / written zeroes for
// WRITE_ZEROES, SEEK_DATA/SEEK_HOLE for extents.
//
// With a Policy, each Session (one per NBD connection) owns one evict
// Stream. A connection's requests run on several worker goroutines while a
// Stream is single-goroutine, so each session serialises its stream calls
// with a mutex: the pwrite runs concurrently, the eviction bookkeeping
// after it in completion order.
type File struct {
	f    *os.File
	fd   int
	path string
	size int64
	ro   bool

	h evict.Handle // nil without a policy

	// def is the session behind File's own IO methods.
	def *fileSession

	closeOnce sync.Once
	closeErr  error
}

// OpenFile opens path as a Backend. Close drains the eviction policy and
// closes the file.
func OpenFile(path string, o FileOptions) (*File, error) {
	flag := os.O_RDWR
	if o.ReadOnly {
		flag = os.O_RDONLY
	}
	if o.Size > 0 && !o.ReadOnly {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err // an *os.PathError: "open PATH: why"
	}
	fl := &File{f: f, fd: int(f.Fd()), path: path, ro: o.ReadOnly}
	if err := fl.init(o); err != nil {
		f.Close()
		return nil, fmt.Errorf("nbdserve: %s: %w", path, err)
	}
	return fl, nil
}

func (fl *File) init(o FileOptions) error {
	st, err := fl.f.Stat()
	if err != nil {
		return err
	}
	switch {
	case st.Mode().IsRegular():
		fl.size = st.Size()
		if o.Size > fl.size {
			if o.ReadOnly {
				return fmt.Errorf("cannot extend a read-only file to %d bytes", o.Size)
			}
			if err := fl.f.Truncate(o.Size); err != nil {
				return fmt.Errorf("extending to %d bytes: %w", o.Size, err)
			}
			fl.size = o.Size
		}
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		if fl.size, err = blockDeviceSize(fl.f); err != nil {
			return err
		}
		if o.Size > fl.size {
			return fmt.Errorf("block device of %d bytes cannot hold %d", fl.size, o.Size)
		}
	default:
		return fmt.Errorf("not a regular file or block device (mode %v)", st.Mode())
	}
	if err := fadviseMode(fl.fd, o.Fadvise); err != nil {
		return err
	}
	if o.Policy != nil {
		if fl.h, err = o.Policy.Attach(fl.f); err != nil {
			return fmt.Errorf("attaching eviction policy %s: %w", o.Policy, err)
		}
	}
	fl.def = fl.newSession()
	return nil
}

// Path is the file's name as given to OpenFile.
func (fl *File) Path() string { return fl.path }

func (fl *File) newSession() *fileSession {
	s := &fileSession{fl: fl}
	if fl.h != nil {
		s.stream = fl.h.Stream()
	}
	return s
}

// Connect returns a session with its own eviction stream.
func (fl *File) Connect() (Session, error) { return fl.newSession(), nil }

// Close closes the default session's stream, waits for the policy's
// writeback and drops what it owns from the cache (evict.Handle.Close),
// then closes the file. Sessions must be closed first.
func (fl *File) Close() error {
	fl.closeOnce.Do(func() {
		var errs []error
		if fl.def != nil {
			errs = append(errs, fl.def.Close())
		}
		if fl.h != nil {
			if err := fl.h.Close(); err != nil {
				errs = append(errs, fmt.Errorf("draining eviction of %s: %w", fl.path, err))
			}
		}
		if err := fl.f.Close(); err != nil {
			errs = append(errs, err)
		}
		fl.closeErr = errors.Join(errs...)
	})
	return fl.closeErr
}

// Capabilities, as nbdkit's file plugin answers them.
func (fl *File) Size() int64        { return fl.size }
func (fl *File) CanWrite() bool     { return !fl.ro }
func (fl *File) CanFlush() bool     { return true }
func (fl *File) CanFUA() bool       { return true }
func (fl *File) CanTrim() bool      { return true }
func (fl *File) CanZero() bool      { return true }
func (fl *File) CanFastZero() bool  { return true }
func (fl *File) CanMultiConn() bool { return true } // one page cache for all connections
func (fl *File) CanCache() bool     { return true }
func (fl *File) CanExtents() bool   { return true }

// The File's own IO methods use its default session.
func (fl *File) ReadAt(p []byte, off int64) error            { return fl.def.ReadAt(p, off) }
func (fl *File) WriteAt(p []byte, off int64, fua bool) error { return fl.def.WriteAt(p, off, fua) }
func (fl *File) Flush() error                                { return fl.def.Flush() }
func (fl *File) Trim(off, n int64, fua bool) error           { return fl.def.Trim(off, n, fua) }
func (fl *File) Zero(off, n int64, mayTrim, fast, fua bool) error {
	return fl.def.Zero(off, n, mayTrim, fast, fua)
}
func (fl *File) Extents(off, n int64, max int) ([]Extent, error) { return fl.def.Extents(off, n, max) }
func (fl *File) Cache(off, n int64) error                        { return fl.def.Cache(off, n) }

// fileSession is one connection's view of a File.
type fileSession struct {
	fl     *File
	mu     sync.Mutex   // serialises stream calls
	stream evict.Stream // nil without a policy
	closed bool
}

func (s *fileSession) afterWrite(off int64, n int) error {
	if s.stream == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stream.AfterWrite(off, n); err != nil {
		return fmt.Errorf("eviction after write of %d bytes at %d: %w", n, off, err)
	}
	return nil
}

func (s *fileSession) afterRead(off int64, n int) error {
	if s.stream == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stream.AfterRead(off, n); err != nil {
		return fmt.Errorf("eviction after read of %d bytes at %d: %w", n, off, err)
	}
	return nil
}

func (s *fileSession) ReadAt(p []byte, off int64) error {
	if _, err := s.fl.f.ReadAt(p, off); err != nil {
		if errors.Is(err, io.EOF) {
			// The file shrank under us: not the client's fault.
			return fmt.Errorf("read of %d bytes at %d: short file: %w", len(p), off, errIO)
		}
		return err
	}
	return s.afterRead(off, len(p))
}

func (s *fileSession) WriteAt(p []byte, off int64, fua bool) error {
	if _, err := s.fl.f.WriteAt(p, off); err != nil {
		return err
	}
	if fua {
		if err := fdatasync(s.fl.fd); err != nil {
			return fmt.Errorf("fdatasync for FUA: %w", err)
		}
	}
	return s.afterWrite(off, len(p))
}

func (s *fileSession) Flush() error {
	if err := fdatasync(s.fl.fd); err != nil {
		return fmt.Errorf("fdatasync %s: %w", s.fl.path, err)
	}
	return nil
}

func (s *fileSession) Trim(off, n int64, fua bool) error {
	if err := punchHole(s.fl.fd, off, n); err != nil {
		if isNotSupported(err) {
			return nil // TRIM is advisory
		}
		return fmt.Errorf("punch hole [%d, +%d): %w", off, n, err)
	}
	if fua {
		return s.Flush()
	}
	return nil
}

// zeroBufSize is the size of the zero buffer written when neither hole
// punching nor zero-range work.
const zeroBufSize = 1 << 20

var zeroBuf = make([]byte, zeroBufSize)

func (s *fileSession) Zero(off, n int64, mayTrim, fast, fua bool) error {
	done := false
	if mayTrim {
		if err := punchHole(s.fl.fd, off, n); err == nil {
			done = true
		} else if !isNotSupported(err) {
			return fmt.Errorf("punch hole [%d, +%d): %w", off, n, err)
		}
	}
	if !done {
		if err := zeroRange(s.fl.fd, off, n); err == nil {
			done = true
		} else if !isNotSupported(err) {
			return fmt.Errorf("zero range [%d, +%d): %w", off, n, err)
		}
	}
	if !done {
		if fast {
			return ErrSlowZero
		}
		for n > 0 {
			k := min(n, zeroBufSize)
			if err := s.WriteAt(zeroBuf[:k], off, false); err != nil {
				return err
			}
			off += k
			n -= k
		}
	}
	if fua {
		return s.Flush()
	}
	return nil
}

func (s *fileSession) Extents(off, n int64, max int) ([]Extent, error) {
	return extents(s.fl.fd, s.fl.size, off, n, max)
}

func (s *fileSession) Cache(off, n int64) error {
	return willNeed(s.fl.fd, off, n)
}

// Close drains the session's eviction stream.
func (s *fileSession) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.stream == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	if err := s.stream.Close(); err != nil {
		return fmt.Errorf("closing eviction stream: %w", err)
	}
	return nil
}
