package evict

import "os"

// Policy decides what happens to the page cache after I/O on a file.
// A Policy value may be attached to many files; state that the policy shares
// between writers (nbdkit's process-wide ring) lives in the Policy value, so
// two values returned by two calls of Parse never interfere.
type Policy interface {
	// Attach starts managing f. The caller must Close the Handle before
	// closing f, and must not call Attach again for f while the Handle is
	// open.
	Attach(f *os.File) (Handle, error)
	// String is the policy's name in the canonical form Parse accepts.
	String() string
}

// Handle is one file under a policy. Its methods are safe for concurrent use.
type Handle interface {
	// Stream returns the per-writer state for one source of I/O (an NBD
	// connection, a worker goroutine). Policies without per-writer state
	// return a stream that forwards to the shared one.
	Stream() Stream
	// Close releases what the policy holds for the file and reports the
	// first I/O error seen. Policies with the drain option wait for the
	// writeback they started and drop those pages; the faithful window
	// forgets them, as nbdkit does ("they missed the boat").
	// Streams must not be used after Close.
	Close() error
}

// Stream receives the I/O of one writer. A Stream is used by one goroutine
// at a time.
type Stream interface {
	// AfterWrite is called after a successful write of n bytes at off.
	// An error (for example EIO from sync_file_range) fails that write.
	AfterWrite(off int64, n int) error
	// AfterRead is called after a successful read of n bytes at off.
	AfterRead(off int64, n int) error
	// Close ends the stream. With per=stream it takes the stream's ring
	// out of the handle and, with drain, waits for its windows and drops
	// them. On the shared ring it starts the writeback of the window the
	// stream left open (merge), which stays in the ring for the next
	// writes or Handle.Close. For none and flush-each it does nothing.
	Close() error
}
