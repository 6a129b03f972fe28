package neighbour

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/pagecache"
)

// Client drives a neighbour child process (see Command) over its stdin and
// stdout. Its methods are to be called in order from one goroutine: Warm,
// then any number of Start/Stop pairs, then Close.
type Client struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	dec *json.Decoder
}

// NewClient connects to cmd's stdin and stdout; call it before cmd starts.
// cmd.Stderr is left to the caller.
func NewClient(cmd *exec.Cmd) (*Client, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	return &Client{cmd: cmd, in: in, dec: json.NewDecoder(out)}, nil
}

// next reads the child's next message.
func (c *Client) next() (Message, error) {
	var m Message
	if err := c.dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return m, fmt.Errorf("neighbour: reading from child: %w", err)
	}
	if m.Error != "" {
		return m, fmt.Errorf("neighbour child: %s", m.Error)
	}
	return m, nil
}

// Warm waits until the child has read its file whole.
func (c *Client) Warm() (WarmUp, error) {
	m, err := c.next()
	if err == nil && m.Warm == nil {
		err = fmt.Errorf("neighbour: got %+v, want the warm-up report", m)
	}
	if err != nil {
		return WarmUp{}, err
	}
	return *m.Warm, nil
}

// Start starts a phase of reads named name (no blanks).
func (c *Client) Start(name string) error {
	_, err := fmt.Fprintf(c.in, "start %s\n", name)
	return err
}

// Stop ends the running phase and returns its report.
func (c *Client) Stop() (Phase, error) {
	if _, err := io.WriteString(c.in, "stop\n"); err != nil {
		return Phase{}, err
	}
	m, err := c.next()
	if err == nil && m.Phase == nil {
		err = fmt.Errorf("neighbour: got %+v, want a phase report", m)
	}
	if err != nil {
		return Phase{}, err
	}
	return *m.Phase, nil
}

// Close ends the child (closing its input), waits for it and returns its
// final report. The report of a phase still running is discarded.
func (c *Client) Close() (Final, error) {
	c.in.Close()
	m, err := c.next()
	if err == nil && m.Phase != nil {
		m, err = c.next()
	}
	if err == nil && m.Final == nil {
		err = fmt.Errorf("neighbour: got %+v, want the final report", m)
	}
	if werr := c.cmd.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return Final{}, err
	}
	return *m.Final, nil
}

// Prepare writes a file of size bytes at path for a neighbour, makes it
// durable and drops it from the page cache, so that the pages the neighbour
// reads are brought in (and charged to its cgroup) by the neighbour itself.
// It returns the pages still cached afterwards, which should be none.
func Prepare(path string, size int64) (cached int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + 1) // not zero: no filesystem may keep it sparse
	}
	for off := int64(0); off < size; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), size-off)], off); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	// Best-effort advice: the caller checks the count returned.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, fmt.Errorf("fadvise %s: %w", path, err)
	}
	st, err := pagecache.StatFile(f, pagecache.Range{})
	if err != nil {
		return 0, err
	}
	return st.Resident, nil
}
