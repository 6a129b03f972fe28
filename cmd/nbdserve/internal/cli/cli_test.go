package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/internal/golden"
	"github.com/pagecache-suite/wcache/internal/version"
)

func mainOut(args ...string) (status int, stdout, stderr string) {
	var o, e bytes.Buffer
	status = Run(context.Background(), args, &o, &e)
	return status, o.String(), e.String()
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		status, out, errOut := mainOut(arg)
		if status != 0 || errOut != "" {
			t.Fatalf("%s: status %d, stderr %q", arg, status, errOut)
		}
		// The policy list is evict's (evict.Names); the golden file
		// holds the rest, so that evict can reword its list.
		own, ok := strings.CutSuffix(out, evict.Names)
		if !ok {
			t.Fatalf("%s: help does not end with evict.Names", arg)
		}
		golden.Check(t, "testdata/help.golden", []byte(own))
	}
}

func TestUsageErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.img")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no FILE"},
		{[]string{file, "cache=maybe"}, `cache="maybe"`},
		{[]string{file, "windows=0"}, "windows="},
		{[]string{file, "fadvise=fast"}, "fadvise="},
		{[]string{file, "colour=blue"}, `unknown parameter "colour=blue"`},
		{[]string{file, "other.img"}, "more than one FILE"},
		{[]string{"--size", "lots", file}, "--size"},
		{[]string{"--size", "0", file}, "--size"},
		{[]string{"--size", "1.5G", file}, "--size"},
		{[]string{"-U", "/tmp/x.sock", "-p", "1234", file}, "exclusive"},
		{[]string{"--workers", "0", file}, "--threads"},
		{[]string{"-t0", file}, "--threads"},
		{[]string{"--bogus", file}, "unknown option --bogus"},
		{[]string{"-rx", file}, "unknown option -x"},
		{[]string{file, "-U"}, "option -U needs a value"},
		{[]string{file, "--run"}, "option --run needs a value"},
		{[]string{"--readonly=yes", file}, "option --readonly takes no value"},
		{[]string{"-p", "http", file}, "-p"},
		{[]string{"file=", "cache=none"}, "file= needs a file name"},
		{[]string{"-s", "-U", "sock", file}, "-s serves stdin"},
		{[]string{"-s", file, "--run", "true"}, "-s serves stdin"},
		{[]string{file, "evict=window:zero"}, "evict="},
		{[]string{file, "evict="}, "evict= needs a policy name"},
		{[]string{file, "cache=default", "evict=window:8"}, "evict=window:8 contradicts cache=default"},
		{[]string{file, "windows=4"}, "windows= needs cache=none"},
		{[]string{file, "cache=default", "windows=4"}, "windows= needs cache=none"},
		{[]string{file, "cache=none", "windows=4", "evict=flush-each"}, "with evict= give the size in the policy"},
		{[]string{file, "cache=none", "cache=default"}, "cache= given twice"},
		{[]string{"--max-payload-memory", "lots", file}, "--max-payload-memory"},
		{[]string{"--max-connections", "-1", file}, "--max-connections"},
		{[]string{"--shutdown-timeout", "-1s", file}, "--shutdown-timeout"},
	} {
		status, out, errOut := mainOut(c.args...)
		if status != 2 || out != "" || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "--help") {
			t.Errorf("nbdserve %q: status %d, stdout %q, stderr %q; want 2 and %q", c.args, status, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("usage errors created %s", file)
	}
	// A missing file without --size is an error, not a usage error.
	status, _, errOut := mainOut(file, "--run", "true")
	if status != 1 || !strings.Contains(errOut, "f.img") {
		t.Errorf("missing file: status %d, stderr %q", status, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-V"} {
		status, out, errOut := mainOut(arg)
		if want := version.String("nbdserve"); status != 0 || errOut != "" || out != want {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 0 and %q", arg, status, out, errOut, want)
		}
	}
}

// TestNbdkitArgs: nbdkit's spellings of the options and parameters, and
// what they set.
func TestNbdkitArgs(t *testing.T) {
	type parsed struct {
		file, unixSock, exportName, pidFile, run string
		readOnly, verbose, detach, single        bool
		workers                                  int
	}
	def := func(p parsed) parsed {
		if p.file == "" {
			p.file = "disk.img"
		}
		if p.workers == 0 {
			p.workers = 8
		}
		return p
	}
	for _, c := range []struct {
		args []string
		want parsed
	}{
		{[]string{"disk.img"}, parsed{detach: true}},
		{[]string{"file", "disk.img"}, parsed{detach: true}},
		{[]string{"file", "file=disk.img"}, parsed{detach: true}},
		{[]string{"file=disk.img"}, parsed{detach: true}},
		{[]string{"file"}, parsed{file: "file", detach: true}}, // a file named file
		{[]string{"file", "file"}, parsed{file: "file", detach: true}},
		{[]string{"-f", "file", "disk.img"}, parsed{}},
		{[]string{"--foreground", "disk.img"}, parsed{}},
		{[]string{"--no-fork", "disk.img"}, parsed{}},
		{[]string{"-fv", "disk.img"}, parsed{verbose: true}},
		{[]string{"-rv", "file", "disk.img"}, parsed{readOnly: true, verbose: true, detach: true}},
		{[]string{"--read-only", "--verbose", "disk.img"}, parsed{readOnly: true, verbose: true, detach: true}},
		{[]string{"-rfU", "sock", "disk.img"}, parsed{readOnly: true, unixSock: "sock"}},
		{[]string{"-rfUsock", "disk.img"}, parsed{readOnly: true, unixSock: "sock"}},
		{[]string{"--unix=sock", "-f", "disk.img"}, parsed{unixSock: "sock"}},
		{[]string{"-U", "-", "disk.img", "--run", "true"}, parsed{unixSock: "-", run: "true"}},
		{[]string{"-t", "4", "-f", "disk.img"}, parsed{workers: 4}},
		{[]string{"-t4", "-f", "disk.img"}, parsed{workers: 4}},
		{[]string{"--threads=4", "-f", "disk.img"}, parsed{workers: 4}},
		{[]string{"--workers", "4", "-f", "disk.img"}, parsed{workers: 4}},
		{[]string{"-e", "foo", "-f", "disk.img"}, parsed{exportName: "foo"}},
		{[]string{"--exportname=foo", "-f", "disk.img"}, parsed{exportName: "foo"}},
		{[]string{"--export-name", "foo", "-f", "disk.img"}, parsed{exportName: "foo"}},
		{[]string{"-P", "pid", "disk.img"}, parsed{pidFile: "pid", detach: true}},
		{[]string{"--pidfile=pid", "disk.img"}, parsed{pidFile: "pid", detach: true}},
		{[]string{"--pid-file", "pid", "disk.img"}, parsed{pidFile: "pid", detach: true}},
		{[]string{"--exit-with-parent", "disk.img"}, parsed{}},
		{[]string{"-s", "file", "disk.img"}, parsed{single: true}},
		{[]string{"--single", "disk.img"}, parsed{single: true}},
		{[]string{"--stdin", "disk.img"}, parsed{single: true}},
		{[]string{"-n", "-f", "disk.img"}, parsed{}},
		{[]string{"file", "disk.img", "--run", "nbdinfo $uri"}, parsed{run: "nbdinfo $uri"}},
		{[]string{"-f", "--", "-disk.img"}, parsed{file: "-disk.img"}},
		{[]string{"-f", "--", "file", "--run"}, parsed{file: "--run"}},
	} {
		o, err := parseArgs(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		got := parsed{o.file, o.unixSock, o.exportName, o.pidFile, o.run, o.readOnly, o.verbose, o.detach(), o.single, o.workers}
		if want := def(c.want); got != want {
			t.Errorf("%q:\n got %+v\nwant %+v", c.args, got, want)
		}
	}
}

// TestParameters: the combinations of cache=, windows= and evict= that
// agree, and the policy each asks for.
func TestParameters(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // the policy's name; "" for the kernel's default
	}{
		{[]string{"f"}, ""},
		{[]string{"f", "cache=default"}, ""},
		{[]string{"f", "cache=none"}, "window:8,drain,read=fresh"},
		{[]string{"f", "cache=none", "windows=4"}, "window:4,drain,read=fresh"},
		{[]string{"f", "evict=flush-each"}, "flush-each"},
		{[]string{"f", "cache=none", "evict=flush-each"}, "flush-each"},
	} {
		o, err := parseArgs(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		got := ""
		if o.pol != nil {
			got = o.pol.String()
		}
		if got != c.want {
			t.Errorf("%q: policy %q, want %q", c.args, got, c.want)
		}
	}
}

// writeSource makes a 12 MiB image with data and a hole.
func writeSource(t *testing.T, path string) {
	t.Helper()
	b := make([]byte, 12<<20)
	for i := range 4 << 20 {
		b[i] = byte(i * 31)
	}
	for i := 8 << 20; i < 9<<20; i++ {
		b[i] = byte(i >> 8)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func needProgs(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed", p)
		}
	}
}

// TestCaptiveNbdcopy is the seed's command: nbdserve out.img cache=none
// --run 'nbdcopy src.img $uri'.
func TestCaptiveNbdcopy(t *testing.T) {
	needProgs(t, "nbdcopy", "cmp")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	writeSource(t, src)
	for _, params := range [][]string{{"cache=default"}, {"cache=none"}, {"cache=none", "windows=2"}, {"evict=flush-each"}, {"fadvise=sequential"}} {
		out := filepath.Join(dir, "out.img")
		os.Remove(out)
		args := append([]string{"--size", "12M", out}, params...)
		args = append(args, "--run", "nbdcopy --flush "+src+" $uri")
		status, stdout, stderr := mainOut(args...)
		if status != 0 {
			t.Fatalf("nbdserve %q: status %d\n%s%s", args, status, stdout, stderr)
		}
		if b, err := exec.Command("cmp", src, out).CombinedOutput(); err != nil {
			t.Errorf("%v: %s", params, b)
		}
	}
	// And back out, read-only, with the export name in the URI.
	back := filepath.Join(dir, "back.img")
	status, _, stderr := mainOut("-r", "-e", "img", src, "--run", "nbdcopy $uri "+back)
	if status != 0 {
		t.Fatalf("read-only copy out: status %d: %s", status, stderr)
	}
	if b, err := exec.Command("cmp", src, back).CombinedOutput(); err != nil {
		t.Error(string(b))
	}
}

func TestCaptiveEnvAndStatus(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.img")
	status, out, errOut := mainOut("--size", "1M", file, "-e", "x", "--run", `printf '%s|%s|%s|%s' "$uri" "$nbd" "$unixsocket" "$exportname"; exit 7`)
	if status != 7 {
		t.Fatalf("status %d, want CMD's 7 (stderr %q)", status, errOut)
	}
	f := strings.Split(out, "|")
	if len(f) != 4 || f[0] != "nbd+unix:///x?socket="+f[2] || f[1] != f[0] || f[3] != "x" || !filepath.IsAbs(f[2]) {
		t.Fatalf("CMD saw %q", out)
	}
	if _, err := os.Stat(filepath.Dir(f[2])); !os.IsNotExist(err) {
		t.Errorf("private socket directory %s left behind", filepath.Dir(f[2]))
	}
	// TCP: -p 0 picks a free port.
	status, out, errOut = mainOut("-i", "127.0.0.1", "-p", "0", file, "--run", `printf '%s|%s|%s' "$uri" "$port" "$unixsocket"`)
	f = strings.Split(out, "|")
	if status != 0 || len(f) != 3 || f[0] != "nbd://127.0.0.1:"+f[1]+"/" || f[1] == "0" || f[2] != "" {
		t.Fatalf("TCP: status %d, CMD saw %q, stderr %q", status, out, errOut)
	}
	if _, err := exec.LookPath("nbdinfo"); err == nil {
		status, out, errOut = mainOut("-p", "0", file, "--run", `nbdinfo --size "$uri"`)
		if status != 0 || strings.TrimSpace(out) != "1048576" {
			t.Errorf("nbdinfo over TCP: status %d, %q, %q", status, out, errOut)
		}
	}
}

// built is cmd/nbdserve, built once for the tests that run it as a
// command; TestMain removes it.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// buildCommand returns cmd/nbdserve built (once) into a temporary
// directory.
func buildCommand(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "nbdserve-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "nbdserve")
		cmd := exec.Command("go", "build", "-o", built.bin, "github.com/pagecache-suite/wcache/cmd/nbdserve")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	status := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(status)
}

func TestSignals(t *testing.T) {
	needProgs(t, "go", "nbdcopy", "cmp")
	bin := buildCommand(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	writeSource(t, src)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(dir, "out.img")
			os.Remove(out)
			sock := filepath.Join(dir, "nbd.sock")
			cmd := exec.Command(bin, "-f", "-U", sock, "--size", "12M", out, "cache=none")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Readiness: the line announcing the socket.
			sc := bufio.NewScanner(stderr)
			for sc.Scan() && !strings.Contains(sc.Text(), "serving") {
			}
			go func() {
				for sc.Scan() {
				}
			}()
			uri := "nbd+unix:///?socket=" + sock
			if b, err := exec.Command("nbdcopy", src, uri).CombinedOutput(); err != nil {
				t.Fatalf("nbdcopy: %v: %s", err, b)
			}
			cmd.Process.Signal(sig)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after %v: %v", sig, err)
			}
			if b, err := exec.Command("cmp", src, out).CombinedOutput(); err != nil {
				t.Error(string(b))
			}
			if _, err := os.Stat(sock); !os.IsNotExist(err) {
				t.Errorf("socket %s left behind", sock)
			}
		})
	}

	t.Run("captive", func(t *testing.T) {
		cmd := exec.Command(bin, "--size", "1M", filepath.Join(dir, "c.img"), "--run", "echo ready; exec sleep 60")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if line != "ready\n" {
			t.Fatalf("CMD printed %q", line)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Fatalf("exit %v, want %d (CMD killed by the forwarded SIGTERM)", err, 128+int(syscall.SIGTERM))
		}
	})
}

func Example() {
	dir, _ := os.MkdirTemp("", "nbdserve-example-")
	defer os.RemoveAll(dir)
	status := Run(context.Background(), []string{"--size", "64K", filepath.Join(dir, "disk.img"), "cache=none",
		"--run", `echo "serving $(basename "$unixsocket") for CMD"`}, os.Stdout, os.Stderr)
	fmt.Println("exit status", status)
	// Output:
	// serving nbd.sock for CMD
	// exit status 0
}

// TestContextStops checks that the end of Run's context stops a server as
// SIGINT does: drained, exit status 0.
func TestContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stdout bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"-f", "-U", "-", "--size", "1M", filepath.Join(t.TempDir(), "disk.img")}, &stdout, pw)
		pw.Close()
	}()
	// Readiness: the line announcing the socket.
	sc := bufio.NewScanner(pr)
	if !sc.Scan() || !strings.Contains(sc.Text(), "serving") {
		t.Fatalf("first line on stderr: %q", sc.Text())
	}
	go io.Copy(io.Discard, pr)
	cancel()
	if status := <-done; status != 0 {
		t.Errorf("exit status %d after the context ended, want 0", status)
	}
}
