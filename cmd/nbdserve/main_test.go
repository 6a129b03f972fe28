package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/nbdserve"
	"golang.org/x/sys/unix"
)

// The tests run nbdserve as a child process: this test binary re-executed
// with mainEnv set runs main.
const mainEnv = "NBDSERVE_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) != "" {
		main()
		return
	}
	m.Run()
}

// server is nbdserve in a child process.
type server struct {
	cmd    *exec.Cmd
	sock   string
	stderr *bufio.Scanner
	lines  chan string // stderr after the "serving" line
}

// start runs nbdserve -U SOCK args... on a sparse 64 MiB file and waits
// until it listens. A prefix, if any, is a command that runs it.
func start(t *testing.T, prefix []string, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	sock := filepath.Join(dir, "nbd.sock")
	argv := append(append(prefix, os.Args[0], "-f", "-U", sock, "--size", "64M", img), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, sock: sock, stderr: bufio.NewScanner(errPipe), lines: make(chan string, 100)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for s.stderr.Scan() {
		if strings.Contains(s.stderr.Text(), "serving") {
			go func() {
				for s.stderr.Scan() {
					s.lines <- s.stderr.Text()
				}
				close(s.lines)
			}()
			return s
		}
	}
	t.Fatalf("nbdserve ended before listening: %v", cmd.Wait())
	return nil
}

// waitLine waits (at most 10 s) for a line of stderr containing want.
func (s *server) waitLine(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("stderr ended before %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q on stderr after 10 s", want)
		}
	}
}

// stop sends SIGTERM and waits (at most 10 s) for the exit; it returns
// the rest of stderr and the exit error.
func (s *server) stop(t *testing.T) (string, error) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	var rest []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if ok {
				rest = append(rest, l)
				continue
			}
			return strings.Join(rest, "\n"), s.cmd.Wait()
		case <-timeout:
			t.Fatalf("nbdserve still running 10 s after SIGTERM")
		}
	}
}

// nbdinfoSize runs nbdinfo --size against the server, failing on a hang.
func nbdinfoSize(t *testing.T, sock string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nbdinfo", "--size", "nbd+unix:///?socket="+sock).CombinedOutput()
	if err != nil {
		t.Fatalf("nbdinfo: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestAcceptSurvivesEMFILE: with its open-file limit lowered to 64 and
// 100 idle connections, the server's accept fails with EMFILE; it says
// so, serves nbdinfo once the idle connections are gone, and ends on
// SIGTERM.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	if _, err := exec.LookPath("nbdinfo"); err != nil {
		t.Skip("nbdinfo not installed")
	}
	s := start(t, nil, "--max-connections", "100000")
	lim := unix.Rlimit{Cur: 64, Max: 64}
	if err := unix.Prlimit(s.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	var idle []net.Conn
	for range 100 {
		nc, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, nc)
	}
	s.waitLine(t, "too many open files")
	for _, nc := range idle {
		nc.Close()
	}
	if got := nbdinfoSize(t, s.sock); got != "67108864" {
		t.Errorf("nbdinfo --size: %q", got)
	}
	s.waitLine(t, "accepting again")
	if rest, err := s.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, rest)
	}
}

// TestMaxConnectionsDefault: with an open-file limit of 64 at start, the
// default bound keeps the server below it: connections beyond it get end
// of file at once, and nbdinfo is served once they are gone.
func TestMaxConnectionsDefault(t *testing.T) {
	for _, p := range []string{"nbdinfo", "prlimit"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed", p)
		}
	}
	s := start(t, []string{"prlimit", "--nofile=64:64", "--"})
	var conns []net.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	refused := 0
	for range 100 {
		nc, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var hello [18]byte
		_, err = io.ReadFull(nc, hello[:])
		switch {
		case err == io.EOF || err != nil && strings.Contains(err.Error(), "reset"):
			refused++
		case err != nil:
			t.Fatalf("connection %d: %v (want a greeting or end of file)", len(conns), err)
		case binary.BigEndian.Uint64(hello[:]) != nbdserve.NBDMAGIC:
			t.Fatalf("greeting % x", hello)
		}
	}
	if refused == 0 {
		t.Fatal("100 connections served under a 64-file limit")
	}
	s.waitLine(t, "refusing connections")
	for _, nc := range conns {
		nc.Close()
	}
	conns = nil
	if got := nbdinfoSize(t, s.sock); got != "67108864" {
		t.Errorf("nbdinfo --size: %q", got)
	}
	if rest, err := s.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, rest)
	}
}

// TestShutdownTimeout: SIGTERM while a client does not read its replies
// ends the server after --shutdown-timeout, with a notice and status 0.
func TestShutdownTimeout(t *testing.T) {
	s := start(t, nil, "--shutdown-timeout", "500ms")
	nc, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	be := binary.BigEndian
	if _, err := io.ReadFull(nc, make([]byte, 18)); err != nil {
		t.Fatal(err)
	}
	b := be.AppendUint32(nil, nbdserve.NBD_FLAG_C_FIXED_NEWSTYLE|nbdserve.NBD_FLAG_C_NO_ZEROES)
	b = be.AppendUint64(b, nbdserve.IHAVEOPT)
	b = be.AppendUint32(b, nbdserve.NBD_OPT_EXPORT_NAME)
	b = be.AppendUint32(b, 0)
	for i := range 8 {
		b = be.AppendUint32(b, nbdserve.NBD_REQUEST_MAGIC)
		b = be.AppendUint16(b, 0)
		b = be.AppendUint16(b, nbdserve.NBD_CMD_READ)
		b = be.AppendUint64(b, uint64(i))
		b = be.AppendUint64(b, 0)
		b = be.AppendUint32(b, 32<<20)
	}
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	// Readiness: the first reply's header has arrived, so replies are
	// being written and not read.
	if _, err := io.ReadFull(nc, make([]byte, 10+16)); err != nil {
		t.Fatal(err)
	}
	rest, err := s.stop(t)
	if err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, rest)
	}
	if !strings.Contains(rest, "closed the connections still open after 500ms") {
		t.Errorf("no notice of the closed connection:\n%s", rest)
	}
}
