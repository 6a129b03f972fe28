//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"golang.org/x/sys/unix"
)

// nbdkitForms are the command lines of nbdkit's manual pages for the file
// plugin and its common forms (nbdkit(1), nbdkit-file-plugin(1),
// nbdkit-captive(1), nbdinfo(1)), with nbdkit replaced by nbdserve.
// Each runs with sh in a directory holding disk.img (1 MiB of random
// bytes) and bin/nbdserve first on PATH.
var nbdkitForms = []struct {
	cmd string
	// background: cmd returns once the server listens and leaves it
	// running; client then talks to it.
	background bool
	client     string
	// want is the output of client, or of cmd if there is no client.
	want string
}{
	// Forking into the background once listening (TCP, port 10809).
	{cmd: "nbdserve file disk.img", background: true, client: "nbdinfo --size nbd://localhost", want: "1048576"},
	{cmd: "nbdserve -r file disk.img", background: true, client: "nbdinfo --is read-only nbd://localhost && echo read-only", want: "read-only"},
	{cmd: "nbdserve file file=disk.img", background: true, client: "nbdinfo --size nbd://localhost", want: "1048576"},
	{cmd: "nbdserve file disk.img fadvise=random", background: true, client: "nbdinfo --size nbd://localhost", want: "1048576"},
	{cmd: "nbdserve file disk.img fadvise=sequential cache=none", background: true, client: "nbdcopy nbd://localhost out.img && cmp disk.img out.img && echo same", want: "same"},
	{cmd: "nbdserve disk.img", background: true, client: "nbdinfo --size nbd://localhost", want: "1048576"},
	// A Unix socket and a pid file, written once listening.
	{cmd: "nbdserve -P pid -U sock file disk.img", background: true, client: "nbdinfo --size 'nbd+unix:///?socket=sock'", want: "1048576"},
	{cmd: "nbdserve -rv -P pid -U sock file disk.img 2>server.log", background: true, client: "nbdinfo --is read-only 'nbd+unix:///?socket=sock' && echo read-only", want: "read-only"},
	// Any export name is served, as the file plugin does.
	{cmd: "nbdserve -U sock -e bar file disk.img", background: true, client: "nbdinfo --size 'nbd+unix:///foo?socket=sock'", want: "1048576"},
	// Captive (nbdkit-captive(1)).
	{cmd: "nbdserve -U - file disk.img --run 'nbdinfo --size $uri'", want: "1048576"},
	{cmd: "nbdserve file disk.img --run 'nbdinfo --size \"$nbd\"'", want: "1048576"},
	{cmd: "nbdserve -U - file disk.img --run 'qemu-img convert -O raw $nbd out.img' && cmp disk.img out.img && echo same", want: "same"},
	{cmd: "nbdserve -U - -e foo file disk.img --run 'echo $exportname; nbdinfo --size \"$uri\"'", want: "foo\n1048576"},
	// Socket activation (libnbd's "[ CMD ]").
	{cmd: "nbdinfo --size -- [ nbdserve file disk.img ]", want: "1048576"},
	{cmd: "nbdinfo --is read-only -- [ nbdserve -r file disk.img ] && echo read-only", want: "read-only"},
	{cmd: "nbdcopy -- [ nbdserve disk.img ] out.img && cmp disk.img out.img && echo same", want: "same"},
	{cmd: "truncate -s 1M out.img && nbdcopy disk.img -- [ nbdserve out.img ] && cmp disk.img out.img && echo same", want: "same"},
}

// TestNbdkitForms runs nbdkitForms against the built command and real
// clients. The TCP forms run in a private network namespace when the test
// may make one, so that port 10809 is theirs.
func TestNbdkitForms(t *testing.T) {
	needProgs(t, "go", "nbdinfo", "nbdcopy", "qemu-img", "cmp")
	bin := buildCommand(t)
	for _, c := range nbdkitForms {
		t.Run(c.cmd, func(t *testing.T) {
			if strings.Contains(c.cmd+c.client, "nbd://") {
				privateNetwork(t)
			}
			dir := t.TempDir()
			img := make([]byte, 1<<20)
			rand.Read(img)
			if err := os.WriteFile(filepath.Join(dir, "disk.img"), img, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				for _, pid := range running(t, bin) {
					stopProcess(t, pid)
				}
			})
			out, errOut, err := shell(t, bin, dir, c.cmd)
			if err != nil {
				t.Fatalf("%v\nstdout: %s\nstderr: %s", err, out, errOut)
			}
			servers := running(t, bin)
			if !c.background {
				if len(servers) != 0 {
					t.Errorf("nbdserve %v still running after %q", servers, c.cmd)
				}
				if strings.TrimSpace(out) != c.want {
					t.Errorf("stdout %q, want %q (stderr %q)", out, c.want, errOut)
				}
				return
			}
			if len(servers) != 1 {
				t.Fatalf("%d nbdserve processes %v running in the background, want 1", len(servers), servers)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || pid != servers[0] {
					t.Errorf("pid file %q, server %d", b, servers[0])
				}
			} else if strings.Contains(c.cmd, "-P pid") {
				t.Error(err)
			}
			out, errOut, err = shell(t, bin, dir, c.client)
			if err != nil || strings.TrimSpace(out) != c.want {
				t.Errorf("%s: %v: stdout %q, want %q (stderr %q)", c.client, err, out, c.want, errOut)
			}
		})
	}
}

// TestBackgroundFails: when the server cannot start, the command says why
// and exits non-zero, with nothing left running.
func TestBackgroundFails(t *testing.T) {
	needProgs(t, "go")
	bin := buildCommand(t)
	dir := t.TempDir()
	for _, c := range []struct{ cmd, want string }{
		{"nbdserve -U sock file missing.img", "missing.img: no such file"},
		{"nbdserve -P no/such/dir/pid -U sock --size 1M file disk.img", "-P"},
		{"nbdserve -U no/such/dir/sock --size 1M file disk.img", "no/such/dir/sock"},
	} {
		out, errOut, err := shell(t, bin, dir, c.cmd)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: %v, stdout %q, stderr %q; want status 1 and %q", c.cmd, err, out, errOut, c.want)
		}
		if servers := running(t, bin); len(servers) != 0 {
			t.Errorf("%s: nbdserve %v left running", c.cmd, servers)
		}
	}
}

// TestUnsupportedOptions: nbdkit's options nbdserve does not have get one
// line each and status 2.
func TestUnsupportedOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--filter=partition", "file", "disk.img", "partition=1"},
		{"--filter", "xz", "file", "disk.img"},
		{"--tls-psk=keys.psk", "file", "disk.img"},
		{"-D", "file.zero=1", "file", "disk.img"},
		{"-rD", "file.zero=1", "file", "disk.img"},
		{"--log=syslog", "file", "disk.img"},
		{"-o", "file", "disk.img"},
		{"--vsock", "file", "disk.img"},
		{"file", "dir=/srv"},
		{"memory", "1G"},
		{"--dump-config"},
	} {
		status, out, errOut := mainOut(args...)
		if status != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "is not supported") {
			t.Errorf("nbdserve %q: status %d, stdout %q, stderr %q; want 2 and one line", args, status, out, errOut)
		}
	}
}

// TestSingle serves nbdinfo and nbdcopy as inetd would run nbdserve -s
// (nbdkit-service(1)): one process per connection, the connection on
// stdin and stdout; each ends when its client disconnects.
func TestSingle(t *testing.T) {
	needProgs(t, "go", "nbdinfo", "nbdcopy", "cmp")
	bin := buildCommand(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "disk.img")
	writeSource(t, src)
	sock := filepath.Join(dir, "inetd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			f, err := nc.(*net.UnixConn).File()
			nc.Close()
			if err != nil {
				t.Error(err)
				return
			}
			var stderr bytes.Buffer
			cmd := exec.Command(bin, "-s", "file", src)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, &stderr
			err = cmd.Start()
			f.Close()
			if err != nil {
				t.Error(err)
				return
			}
			wg.Go(func() {
				if err := cmd.Wait(); err != nil {
					mu.Lock()
					failures = append(failures, err.Error()+": "+stderr.String())
					mu.Unlock()
				}
			})
		}
	})
	uri := "nbd+unix:///?socket=" + sock
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "nbdinfo", "--size", uri).CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "12582912" {
		t.Errorf("nbdinfo --size: %v: %s", err, b)
	}
	out := filepath.Join(dir, "out.img")
	if b, err := exec.CommandContext(ctx, "nbdcopy", uri, out).CombinedOutput(); err != nil {
		t.Errorf("nbdcopy: %v: %s", err, b)
	} else if b, err := exec.Command("cmp", src, out).CombinedOutput(); err != nil {
		t.Error(string(b))
	}
	l.Close()
	wg.Wait() // every nbdserve -s has exited
	for _, f := range failures {
		t.Errorf("nbdserve -s: %s", f)
	}
	if servers := running(t, bin); len(servers) != 0 {
		t.Errorf("nbdserve %v still running", servers)
	}
}

// TestExitWithParent: nbdserve --exit-with-parent started in the
// background of a shell ends when the shell does.
func TestExitWithParent(t *testing.T) {
	needProgs(t, "go", "nbdinfo")
	bin := buildCommand(t)
	dir := t.TempDir()
	sh := exec.Command("/bin/sh", "-c", bin+" --exit-with-parent -U sock --size 1M file disk.img & read x")
	sh.Dir = dir
	stdin, stderr := testenv.Pipes(t, sh, true)
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer sh.Process.Kill()
	// Readiness: the line announcing the socket (it stays in the
	// foreground: --exit-with-parent implies -f).
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() || !strings.Contains(sc.Text(), "serving") {
		t.Fatalf("first line on stderr: %q", sc.Text())
	}
	servers := running(t, bin)
	if len(servers) != 1 {
		t.Fatalf("nbdserve processes: %v, want 1", servers)
	}
	if got := nbdinfoSize(t, "nbd+unix:///?socket="+filepath.Join(dir, "sock")); got != "1048576" {
		t.Errorf("nbdinfo --size: %q", got)
	}
	pidfd, err := unix.PidfdOpen(servers[0], 0)
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	defer unix.Close(pidfd)
	stdin.Close() // the shell's read ends, and so does the shell
	sh.Wait()
	if !waitExit(pidfd, 10*time.Second) {
		syscall.Kill(servers[0], syscall.SIGKILL)
		t.Fatal("nbdserve still running 10 s after its parent exited")
	}
	io.Copy(io.Discard, stderr)
}

// shell runs command with sh in dir, with bin's directory first on PATH,
// for at most 30 s; the returned error is the shell's.
func shell(t *testing.T, bin, dir, command string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	// A server in the background that kept stdout or stderr would hold
	// Wait until WaitDelay: that is a failure.
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = errors.New("a process in the background kept stdout or stderr open")
	}
	return o.String(), e.String(), err
}

// running returns the processes running bin.
func running(t *testing.T, bin string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stopProcess sends SIGTERM to pid and waits (at most 10 s) until it has
// exited.
func stopProcess(t *testing.T, pid int) {
	t.Helper()
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(pidfd)
	unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0)
	if !waitExit(pidfd, 10*time.Second) {
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		t.Errorf("nbdserve %d still running 10 s after SIGTERM", pid)
	}
}

// waitExit waits until the process of pidfd has exited.
func waitExit(pidfd int, timeout time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(timeout.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 1
	}
}

// privateNetwork moves the test's goroutine onto a thread of its own in a
// new network namespace with loopback up, so that the commands it starts
// have port 10809 to themselves; the thread is discarded at the end of
// the test. Without the privilege to do so, the test is skipped if port
// 10809 is taken.
func privateNetwork(t *testing.T) {
	runtime.LockOSThread() // never unlocked: the thread ends with the test
	err := unix.Unshare(unix.CLONE_NEWNET)
	if err == nil {
		if b, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set lo up: %v: %s", err, b)
		}
		return
	}
	l, lerr := net.Listen("tcp", "127.0.0.1:10809")
	if lerr != nil {
		t.Skipf("no network namespace (%v) and port 10809 taken: %v", err, lerr)
	}
	l.Close()
}

// nbdinfoSize runs nbdinfo --size uri, failing on a hang.
func nbdinfoSize(t *testing.T, uri string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nbdinfo", "--size", uri).CombinedOutput()
	if err != nil {
		t.Fatalf("nbdinfo: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}
