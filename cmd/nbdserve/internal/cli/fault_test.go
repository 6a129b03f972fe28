package cli

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
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
)

// failFlush is a File whose sessions fail every Flush with EIO, as a
// disk that lost the written data would.
type failFlush struct{ backend }

func (b failFlush) Connect() (nbdserve.Session, error) {
	s, err := b.backend.Connect()
	return failFlushSession{s}, err
}

type failFlushSession struct{ nbdserve.Session }

func (failFlushSession) Flush() error { return fmt.Errorf("fdatasync: %w", syscall.EIO) }

// TestShutdownFlushFails: SIGTERM while a client that wrote is still
// connected, with the final flush failing with EIO: nbdserve says so and
// exits 1.
func TestShutdownFlushFails(t *testing.T) {
	open := openBackend
	openBackend = func(path string, o nbdserve.FileOptions) (backend, error) {
		b, err := open(path, o)
		if err != nil {
			return nil, err
		}
		return failFlush{b}, nil
	}
	defer func() { openBackend = open }()

	dir := t.TempDir()
	sock := filepath.Join(dir, "nbd.sock")
	pr, pw := io.Pipe()
	status := make(chan int, 1)
	go func() {
		status <- Run(context.Background(), []string{"-f", "-U", sock, "--size", "12M", filepath.Join(dir, "out.img")}, io.Discard, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.Contains(sc.Text(), "serving") {
	}
	nc := writeOnce(t, sock)
	defer nc.Close()
	// Main's signal.Notify is in place since it said "serving".
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	if s := <-status; s != 1 {
		t.Errorf("exit status %d after a failed final flush, want 1", s)
	}
	if out := strings.Join(rest, "\n"); !strings.Contains(out, "flush at shutdown: fdatasync: input/output error") {
		t.Errorf("stderr does not report the failed flush:\n%s", out)
	}
}

// TestReadOnlyMount: a file on a read-only mount is served read-only
// with one notice, as nbdkit does; a file that cannot be created there is
// one clear error.
func TestReadOnlyMount(t *testing.T) {
	needProgs(t, "nbdinfo", "mount", "umount")
	if os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root")
	}
	dir := t.TempDir()
	rw, ro := filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	for _, d := range []string{rw, ro} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rw, "disk.img"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("mount", "--bind", rw, ro).CombinedOutput(); err != nil {
		t.Skipf("bind mount: %v: %s", err, b)
	}
	t.Cleanup(func() {
		if b, err := exec.Command("umount", ro).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", ro, err, b)
		}
	})
	if b, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, b)
	}

	file := filepath.Join(ro, "disk.img")
	status, out, errOut := mainOut(file, "--run", `nbdinfo "$uri"`)
	want := "nbdserve: " + file + ": read-only file system: serving it read-only\n"
	if status != 0 || errOut != want {
		t.Errorf("status %d, stderr %q; want 0 and %q", status, errOut, want)
	}
	if !strings.Contains(out, "is_read_only: true") {
		t.Errorf("nbdinfo does not see a read-only export:\n%s", out)
	}

	missing := filepath.Join(ro, "new.img")
	status, _, errOut = mainOut("--size", "1M", missing, "--run", "true")
	want = "nbdserve: open " + missing + ": read-only file system\n"
	if status != 1 || errOut != want {
		t.Errorf("creating on a read-only mount: status %d, stderr %q; want 1 and %q", status, errOut, want)
	}
}

// writeOnce connects to the server, writes one block (no FLUSH) and
// returns the connection, left open.
func writeOnce(t *testing.T, sock string) net.Conn {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	be := binary.BigEndian
	if _, err := io.ReadFull(nc, make([]byte, 18)); err != nil {
		t.Fatal(err)
	}
	b := be.AppendUint32(nil, nbdserve.NBD_FLAG_C_FIXED_NEWSTYLE|nbdserve.NBD_FLAG_C_NO_ZEROES)
	b = be.AppendUint64(b, nbdserve.IHAVEOPT)
	b = be.AppendUint32(b, nbdserve.NBD_OPT_EXPORT_NAME)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, nbdserve.NBD_REQUEST_MAGIC)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint16(b, nbdserve.NBD_CMD_WRITE)
	b = be.AppendUint64(b, 1)
	b = be.AppendUint64(b, 0)
	b = be.AppendUint32(b, 4096)
	b = append(b, make([]byte, 4096)...)
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 10+16) // export size and flags, simple reply
	if _, err := io.ReadFull(nc, reply); err != nil {
		t.Fatal(err)
	}
	if e := be.Uint32(reply[14:]); e != 0 {
		t.Fatalf("WRITE failed: NBD error %d", e)
	}
	return nc
}
