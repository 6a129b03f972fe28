// Package evict keeps a program's file I/O out of the Linux page cache.
//
// A Policy is attached to an open file and told about every write and read
// the program makes; it decides when the pages those calls touched are
// written back and dropped. The NBD server (package nbdserve) and the
// benchmark (cmd/wbench) choose a policy by name with Parse.
package evict

import "os"

// Policy decides what happens to the page cache after I/O on a file.
// A Policy value may be attached to many files; state that the policy shares
// between writers (nbdkit's global ring) lives in the Policy.
type Policy interface {
	// Attach starts managing f. The caller must Close the Handle before
	// closing f.
	Attach(f *os.File) (Handle, error)
	// String is the policy's name in the form Parse accepts.
	String() string
}

// Handle is one file under a policy. Its methods are safe for concurrent use.
type Handle interface {
	// Stream returns the per-writer state for one source of I/O (an NBD
	// connection, a worker goroutine). Policies without per-writer state
	// return a stream that forwards to the shared one.
	Stream() Stream
	// Close waits for the writeback the policy started, drops what it owns
	// from the page cache, and reports the first I/O error seen.
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
	// Close drains what this stream still holds.
	Close() error
}
