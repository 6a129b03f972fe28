package nbdserve

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testServer is a server on a private Unix socket.
type testServer struct {
	srv    *Server
	sock   string
	served chan error
}

func (ts *testServer) uri() string { return "nbd+unix:///?socket=" + ts.sock }

// startServer serves b on a Unix socket in a temporary directory; the
// server is shut down when the test ends.
func startServer(t *testing.T, b Backend, cfg Config) *testServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "nbdserve-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "nbd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ts := serveOn(t, l, b, cfg)
	ts.sock = sock
	return ts
}

// serveOn serves b on l; the server is shut down when the test ends.
func serveOn(t *testing.T, l net.Listener, b Backend, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{srv: NewServer(b, cfg), served: make(chan error, 1)}
	go func() { ts.served <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

// openFile opens path as a File closed at the end of the test (after the
// server's shutdown, since cleanups run last-in first-out).
func openFile(t *testing.T, path string, o FileOptions) *File {
	t.Helper()
	f, err := OpenFile(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("closing %s: %v", path, err)
		}
	})
	return f
}

// need skips the test when a client program is missing.
func need(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := osexec.LookPath(p); err != nil {
			t.Skipf("%s not installed: %v", p, err)
		}
	}
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := osexec.Command(name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// span is a byte range of a test image.
type span struct{ off, n int64 }

// sparseImage describes a test image: random data in data spans, zeroes
// written (allocated) in zero spans, holes everywhere else.
type sparseImage struct {
	size  int64
	data  []span
	zeros []span
}

// testImage is 24 MiB with data, written zeroes and holes, aligned to
// 64 KiB so that file systems report the same layout back.
var testImage = sparseImage{
	size:  24 << 20,
	data:  []span{{0, 1 << 20}, {3 << 20, 2<<20 + 64<<10}, {12 << 20, 512 << 10}, {23 << 20, 1 << 20}},
	zeros: []span{{8 << 20, 1 << 20}},
}

// write creates the image at path.
func (im sparseImage) write(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(im.size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range im.data {
		buf := make([]byte, s.n)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(buf, s.off); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range im.zeros {
		if _, err := f.WriteAt(make([]byte, s.n), s.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// cmpFiles fails the test unless both files have the same bytes.
func cmpFiles(t *testing.T, a, b string) {
	t.Helper()
	run(t, "cmp", a, b)
}

// exec runs a command that may fail and returns its combined output.
func exec(name string, args ...string) (string, error) {
	out, err := osexec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// copyThrough serves f (closed at the end) on a Unix socket in dir and runs
// nbdcopy with args, where the word URI stands for the server's URI; then
// shuts the server down.
func copyThrough(t *testing.T, f *File, dir string, args ...string) {
	t.Helper()
	sock := filepath.Join(dir, "nbd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(f, Config{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	args = append([]string(nil), args...)
	for i, a := range args {
		if a == "URI" {
			args[i] = "nbd+unix:///?socket=" + sock
		}
	}
	run(t, "nbdcopy", args...)
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-served
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
