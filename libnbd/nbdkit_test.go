package libnbd

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

// startNbdkit runs nbdkit with args (plugin and parameters) on a private
// Unix socket and returns the socket's path. The test opens the listening
// socket itself and hands it to nbdkit by socket activation (LISTEN_FDS),
// so the socket accepts connections before nbdkit has even started: no
// waiting for readiness. nbdkit is stopped when the test ends; the test is
// skipped when nbdkit is not installed.
func startNbdkit(t testing.TB, args ...string) string {
	t.Helper()
	testenv.NeedPrograms(t, "nbdkit")
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// LISTEN_PID must be nbdkit's pid: the shell execs nbdkit in its place.
	script := `export LISTEN_PID=$$ LISTEN_FDS=1; exec nbdkit --exit-with-parent "$@"`
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
	cmd.ExtraFiles = []*os.File{f} // fd 3, as socket activation wants
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nbdkit: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("nbdkit %v stderr:\n%s", args, stderr.String())
		}
	})
	return sock
}

// connect returns a handle connected to sock, closed when the test ends,
// and checks then that every callback registration was released.
func connect(t testing.TB, sock string, metaContexts ...string) *Libnbd {
	t.Helper()
	h, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	base := liveCallbacks.Load()
	t.Cleanup(func() {
		h.Close()
		if n := liveCallbacks.Load() - base; n != 0 {
			t.Errorf("%d callback registrations still live after Close", n)
		}
	})
	for _, mc := range metaContexts {
		if err := h.AddMetaContext(mc); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.ConnectUnix(sock); err != nil {
		t.Fatal(err)
	}
	return h
}

// pattern returns n bytes that differ from one offset to the next and from
// one seed to the next, never all zero in a 4 KiB run.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i>>12) ^ seed | 1
	}
	return b
}

// dataFile creates a file of size bytes filled with pattern data.
func dataFile(t *testing.T, size int, seed byte) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	data := pattern(size, seed)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}
