package nbdserve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/cgroup"
	"github.com/pagecache-suite/wcache/internal/testenv"
)

// Tests of the server's limits: connections, payload memory, shutdown.
// Some run a server in a child process (this test binary re-executed with
// childEnv set) to measure its memory from outside.

const childEnv = "NBDSERVE_TEST_CHILD" // "SOCKET FILE BUDGET"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Exit(childServe(strings.Fields(args)))
	}
	// The residency tests hold the bench lock shared.
	testenv.Main(m)
}

// childServe serves FILE on SOCKET with a payload budget of BUDGET bytes
// (0: the default) until its stdin closes. It prints "ready BUDGET" once
// listening, "full" the first time the payload bytes in flight reach the
// budget and "idle" each time, after that, no payload memory is mapped.
func childServe(args []string) int {
	budget, _ := strconv.ParseInt(args[2], 10, 64)
	f, err := OpenFile(args[1], FileOptions{ReadOnly: true})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	l, err := net.Listen("unix", args[0])
	if err != nil {
		fmt.Println(err)
		return 1
	}
	srv := NewServer(f, Config{MaxPayloadMemory: budget})
	go srv.Serve(l)
	fmt.Println("ready", srv.cfg.MaxPayloadMemory)
	go func() {
		full := false
		for range time.Tick(5 * time.Millisecond) {
			inFlight, _, mapped := srv.PayloadStats()
			switch {
			case !full && inFlight >= srv.cfg.MaxPayloadMemory:
				full = true
				fmt.Println("full")
			case full && mapped == 0:
				full = false
				fmt.Println("idle")
			}
		}
	}()
	io.Copy(io.Discard, os.Stdin)
	srv.Shutdown(context.Background())
	f.Close()
	return 0
}

// TestMaxConnections: beyond MaxConnections a client is closed at once,
// without a greeting; once a connection ends, the next one is served.
func TestMaxConnections(t *testing.T) {
	path, _ := newDisk(t, 1<<20)
	closed := make(chan struct{}, 8)
	ts := startServer(t, openFile(t, path, FileOptions{}), Config{MaxConnections: 2, ConnState: func(_ net.Conn, s ConnState) {
		if s == StateClosed {
			closed <- struct{}{}
		}
	}})
	a := dialRaw(t, ts)
	dialRaw(t, ts)
	for range 3 {
		nc, err := net.Dial("unix", ts.sock)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(nc)
		nc.Close()
		if err != nil && !isConnReset(err) || len(b) != 0 {
			t.Fatalf("connection over the maximum: read % x, %v; want end of file at once", b, err)
		}
	}
	a.nc.Close()
	<-closed
	rc := dialRaw(t, ts) // served again
	rc.negotiate(false)
}

// failFlush is a backend whose sessions fail every Flush with EIO, as a
// disk that lost the written data would.
type failFlush struct{ Backend }

func (b failFlush) Connect() (Session, error) {
	s, err := b.Backend.Connect()
	return failFlushSession{s}, err
}

type failFlushSession struct{ Session }

func (failFlushSession) Flush() error { return fmt.Errorf("fdatasync: %w", syscall.EIO) }

// TestShutdownReportsFailedFlush: the final flush of a writable
// connection failing makes Shutdown fail.
func TestShutdownReportsFailedFlush(t *testing.T) {
	path, _ := newDisk(t, 1<<20)
	ts := startServer(t, failFlush{openFile(t, path, FileOptions{})}, Config{})
	rc := dialRaw(t, ts)
	rc.negotiate(false)
	rc.request(0, NBD_CMD_WRITE, 1, 0, 4096, bytes.Repeat([]byte{'w'}, 4096))
	rc.expectSimple(1, 0)
	err := ts.srv.Shutdown(t.Context())
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Shutdown returned %v, want the final flush's EIO", err)
	}
}

// TestShutdownGrace: a client that does not read its replies holds
// Shutdown only until its context ends; then the connection is closed
// and Shutdown returns.
func TestShutdownGrace(t *testing.T) {
	path := sparseFile(t, 64<<20)
	ts := startServer(t, openFile(t, path, FileOptions{}), Config{})
	rc := dialRaw(t, ts)
	rc.negotiate(false)
	for i := range 8 {
		rc.request(0, NBD_CMD_READ, uint64(i), 0, 32<<20, nil)
	}
	waitInFlight(t, ts.srv, 64<<20) // the per-connection bound: stuck
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown returned %v, want context.DeadlineExceeded", err)
	}
	if n, _, _ := ts.srv.PayloadStats(); n != 0 {
		t.Errorf("%d payload bytes still held after Shutdown", n)
	}
}

// sparseFile creates a file of size bytes, all hole.
func sparseFile(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sparse.img")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitInFlight waits until the server holds n payload bytes.
func waitInFlight(t *testing.T, srv *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, _, _ := srv.PayloadStats()
		if cur == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d payload bytes in flight, want %d", cur, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// unreadReads opens conns connections to the socket and sends each perConn
// pipelined READs of size bytes, reading no reply. It returns the
// connections, handshake done.
func unreadReads(sock string, conns, perConn int, size uint32) ([]net.Conn, error) {
	var ncs []net.Conn
	for c := range conns {
		nc, err := net.Dial("unix", sock)
		if err != nil {
			return ncs, err
		}
		ncs = append(ncs, nc)
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		hello := make([]byte, 18)
		if _, err := io.ReadFull(nc, hello); err != nil {
			return ncs, err
		}
		// NBD_OPT_EXPORT_NAME "": the oldest way into transmission.
		b := be.AppendUint32(nil, NBD_FLAG_C_FIXED_NEWSTYLE|NBD_FLAG_C_NO_ZEROES)
		b = be.AppendUint64(b, IHAVEOPT)
		b = be.AppendUint32(b, NBD_OPT_EXPORT_NAME)
		b = be.AppendUint32(b, 0)
		if _, err := nc.Write(b); err != nil {
			return ncs, err
		}
		if _, err := io.ReadFull(nc, make([]byte, 10)); err != nil {
			return ncs, err
		}
		b = b[:0]
		for i := range perConn {
			b = be.AppendUint32(b, NBD_REQUEST_MAGIC)
			b = be.AppendUint16(b, 0)
			b = be.AppendUint16(b, NBD_CMD_READ)
			b = be.AppendUint64(b, uint64(c*perConn+i))
			b = be.AppendUint64(b, 0)
			b = be.AppendUint32(b, size)
		}
		if _, err := nc.Write(b); err != nil {
			return ncs, err
		}
	}
	return ncs, nil
}

// drainReplies reads perConn simple READ replies of size bytes from every
// connection, concurrently, checking the data is zero (the file is a
// hole).
func drainReplies(ncs []net.Conn, perConn int, size uint32) error {
	errs := make([]error, len(ncs))
	var wg sync.WaitGroup
	for k, nc := range ncs {
		wg.Go(func() {
			r := bufio.NewReaderSize(nc, 1<<20)
			buf := make([]byte, size)
			zero := make([]byte, size)
			for range perConn {
				var h [simpleReplySize]byte
				if _, err := io.ReadFull(r, h[:]); err != nil {
					errs[k] = err
					return
				}
				if e := be.Uint32(h[4:]); e != 0 {
					errs[k] = fmt.Errorf("READ error %d", e)
					return
				}
				if _, err := io.ReadFull(r, buf); err != nil {
					errs[k] = err
					return
				}
				if !bytes.Equal(buf, zero) {
					errs[k] = errors.New("READ returned non-zero data from a hole")
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// TestPayloadBudget: clients that do not read their replies hold at most
// the server-wide budget, never a per-connection amount times the
// connections; every request is still answered once they read; the
// buffers are unmapped soon after.
func TestPayloadBudget(t *testing.T) {
	const budget = 64 << 20
	path := sparseFile(t, 64<<20)
	ts := startServer(t, openFile(t, path, FileOptions{ReadOnly: true}), Config{MaxPayloadMemory: budget})
	const conns, perConn, size = 6, 8, 8 << 20 // 48 MiB wanted per connection
	ncs, err := unreadReads(ts.sock, conns, perConn, size)
	defer func() {
		for _, nc := range ncs {
			nc.Close()
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	waitInFlight(t, ts.srv, budget)
	if err := drainReplies(ncs, perConn, size); err != nil {
		t.Fatal(err)
	}
	_, peak, _ := ts.srv.PayloadStats()
	if peak > budget {
		t.Errorf("peak payload bytes in flight %d, over the budget %d", peak, budget)
	}
	deadline := time.Now().Add(10 * poolIdle)
	for _, _, mapped := ts.srv.PayloadStats(); mapped != 0; _, _, mapped = ts.srv.PayloadStats() {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of payload buffers still mapped %v after the load", mapped, 10*poolIdle)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// child is a server in a child process.
type child struct {
	cmd    *osexec.Cmd
	stdin  io.Closer
	lines  *bufio.Scanner
	sock   string
	budget int64
}

// startChild runs childServe on a sparse 64 MiB file, inside the memory
// cgroup g unless g is nil.
func startChild(t *testing.T, budget int64, g *cgroup.Group) *child {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "nbd.sock")
	cmd := osexec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", childEnv, sock, sparseFile(t, 64<<20), budget))
	cmd.Stderr = os.Stderr
	stdin, stdout := testenv.Pipes(t, cmd, false)
	start := cmd.Start
	if g != nil {
		start = func() error { return g.Start(cmd) }
	}
	if err := start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), sock: sock}
	t.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	line := c.expect(t, "ready")
	if _, err := fmt.Sscanf(line, "ready %d", &c.budget); err != nil {
		t.Fatalf("child said %q", line)
	}
	return c
}

// expect waits for the child's next line, which must start with want.
func (c *child) expect(t *testing.T, want string) string {
	t.Helper()
	if !c.lines.Scan() {
		t.Fatalf("child ended (%v) before saying %q", c.lines.Err(), want)
	}
	if !strings.HasPrefix(c.lines.Text(), want) {
		t.Fatalf("child said %q, want %q", c.lines.Text(), want)
	}
	return c.lines.Text()
}

// flood sends the child perConn pipelined READs of size bytes on each of
// conns connections without reading the replies, and waits until the
// child says its payload budget is full. The connections are closed at
// the end of the test.
func (c *child) flood(t *testing.T, conns, perConn int, size uint32) []net.Conn {
	t.Helper()
	ncs, err := unreadReads(c.sock, conns, perConn, size)
	t.Cleanup(func() {
		for _, nc := range ncs {
			nc.Close()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	c.expect(t, "full")
	return ncs
}

// memStatus reads a field of /proc/PID/status in bytes.
func memStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestPayloadRSS: a child server flooded with 12 connections × 8
// pipelined 32 MiB READs whose replies are never read (768 MiB if held
// per connection) stays within its 128 MiB budget plus a margin (its RSS
// before the load and half the budget, for the runtime, the race detector
// and socket buffers), and gives the memory back to the kernel once the
// clients are gone.
func TestPayloadRSS(t *testing.T) {
	const budget = 128 << 20
	c := startChild(t, budget, nil)
	base := memStatus(t, c.cmd.Process.Pid, "VmRSS")
	const conns, perConn, size = 12, 8, 32 << 20
	ncs := c.flood(t, conns, perConn, size)
	for _, nc := range ncs {
		nc.Close()
	}
	c.expect(t, "idle")
	margin := base + budget/2
	hwm := memStatus(t, c.cmd.Process.Pid, "VmHWM")
	t.Logf("server RSS: %d MiB before the load, peak %d MiB (budget %d MiB)", base>>20, hwm>>20, budget>>20)
	if hwm > budget+margin {
		t.Errorf("server peak RSS %d MiB, over the %d MiB budget + %d MiB", hwm>>20, budget>>20, margin>>20)
	}
	if rss := memStatus(t, c.cmd.Process.Pid, "VmRSS"); rss > margin {
		t.Errorf("server RSS %d MiB once idle, want under %d MiB", rss>>20, margin>>20)
	}
}

// TestPayloadCgroup: in a memory cgroup of 256 MiB, a child server with
// the default budget (derived from the cgroup's limit) is not OOM-killed
// by 8 connections × 8 pipelined 16 MiB unread READs (512 MiB if held per
// connection), and answers them all once they are read.
func TestPayloadCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating a cgroup needs root")
	}
	const limit = 256 << 20
	g, err := cgroup.New(limit)
	if err != nil {
		t.Skipf("no memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Errorf("removing cgroup: %v", err)
		}
	})
	c := startChild(t, 0, g)
	if want := payloadBudgetFor(limit); c.budget != want {
		t.Fatalf("child's default budget %d, want %d for a %d-byte cgroup", c.budget, want, limit)
	}
	const conns, perConn, size = 8, 8, 16 << 20
	ncs := c.flood(t, conns, perConn, size)
	if err := drainReplies(ncs, perConn, size); err != nil {
		t.Fatalf("%v (server OOM-killed?)", err)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.OOMKills != nil && *st.OOMKills > 0 {
		t.Errorf("%d OOM kills in the cgroup", *st.OOMKills)
	}
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("child server: %v", err)
	}
}
