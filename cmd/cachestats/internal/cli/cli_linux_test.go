//go:build linux

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

// TestMain holds the bench lock shared: the tests assert residency.
func TestMain(m *testing.M) { testenv.Main(m) }

var pageSize = os.Getpagesize()

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Run(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

// readPages reads pages of f with readahead off, so only they are cached.
func readPages(t *testing.T, f *os.File, pages ...int64) {
	t.Helper()
	// Best-effort advice: no readahead on this descriptor.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, pageSize)
	for _, p := range pages {
		if n, err := f.ReadAt(buf, p*int64(pageSize)); n == 0 {
			t.Fatalf("read page %d: %v", p, err)
		}
	}
}

// fincoreLine is what cachestats must print for path by fincore's count.
func fincoreLine(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("fincore", "--bytes", "--noheadings", "--raw", "--output", "PAGES,SIZE", path).Output()
	if err != nil {
		t.Fatalf("fincore %s: %v", path, err)
	}
	var res, size int64
	if _, err := fmt.Sscan(string(out), &res, &size); err != nil {
		t.Fatalf("fincore output %q: %v", out, err)
	}
	pages := (size + int64(pageSize) - 1) / int64(pageSize)
	pct := 0.0
	if pages > 0 {
		pct = 100 * float64(res) / float64(pages)
	}
	return fmt.Sprintf("pages in cache: %d/%d (%.1f%%)  [filesize=%.1fK, pagesize=%dK]", res, pages, pct, float64(size)/1024, pageSize/1024)
}

// checkLine runs cachestats on path with each method and compares its
// line with fincore's count.
func checkLine(t *testing.T, path string) {
	t.Helper()
	want := fincoreLine(t, path) + "\n"
	for _, m := range []string{"auto", "cachestat", "mincore"} {
		out, errOut, code := runCLI(t, "--method", m, path)
		if out != want || code != 0 || errOut != "" {
			t.Errorf("cachestats --method %s: %q (exit %d, %q); fincore says %q", m, out, code, errOut, want)
		}
	}
}

var mapRow = regexp.MustCompile(`^ *(\d+): \|((?:[x ]\|)+)$`)

// residentInMap returns the resident page indexes of a -v map.
func residentInMap(t *testing.T, out string) []int64 {
	t.Helper()
	_, mapText, ok := strings.Cut(out, "\ncache map:\n")
	if !ok {
		t.Fatalf("no map in %q", out)
	}
	var pages []int64
	for row := range strings.Lines(mapText) {
		m := mapRow.FindStringSubmatch(strings.TrimSuffix(row, "\n"))
		if m == nil {
			t.Fatalf("bad map row %q", row)
		}
		first, _ := strconv.ParseInt(m[1], 10, 64)
		for i, c := range strings.Split(strings.TrimSuffix(m[2], "|"), "|") {
			if c == "x" {
				pages = append(pages, first+int64(i))
			}
		}
	}
	return pages
}

func TestRealFileStates(t *testing.T) {
	dir := testenv.DiskDir(t)
	f := testenv.ColdFile(t, dir, "data", testenv.RandomData(100*pageSize+100))
	path := f.Name()

	checkLine(t, path) // cold
	if !strings.HasPrefix(fincoreLine(t, path), "pages in cache: 0/101 ") {
		t.Fatalf("not cold after fadvise: %s", fincoreLine(t, path))
	}
	if _, _, code := runCLI(t, "-q", path); code != 1 {
		t.Errorf("-q on a cold file: exit %d", code)
	}

	readPages(t, f, 1, 2, 33, 100)
	checkLine(t, path) // partly read
	out, _, code := runCLI(t, "-v", path)
	if got := fmt.Sprint(residentInMap(t, out)); code != 0 || got != "[1 2 33 100]" {
		t.Errorf("-v map shows %s resident (exit %d):\n%s", got, code, out)
	}
	if !strings.HasPrefix(out, fincoreLine(t, path)+"\n") {
		t.Errorf("-v line %q, fincore %q", out, fincoreLine(t, path))
	}

	if _, err := f.ReadAt(make([]byte, 101*pageSize), 0); err == nil {
		t.Fatal("read past the end succeeded")
	}
	checkLine(t, path) // fully read
	if _, _, code := runCLI(t, "-q", path); code != 0 {
		t.Errorf("-q on a fully cached file: exit %d", code)
	}

	testenv.Drop(t, f)
	var line string
	// Writeback started by other writers may clean our pages before we
	// look; write again then.
	for range 3 {
		if _, err := f.WriteAt(make([]byte, 5*pageSize), 10*int64(pageSize)); err != nil {
			t.Fatal(err)
		}
		line, _, _ = runCLI(t, "-x", path)
		if strings.Contains(line, "[dirty=5,") {
			break
		}
	}
	if want := fincoreLine(t, path) + "  [dirty=5, writeback=0,"; !strings.HasPrefix(line, want) {
		t.Errorf("dirty: %q, want prefix %q", line, want)
	}
	checkLine(t, path)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	line, _, _ = runCLI(t, "-x", path)
	if want := fincoreLine(t, path) + "  [dirty=0, writeback=0,"; !strings.HasPrefix(line, want) || !strings.HasPrefix(want, "pages in cache: 5/101 ") {
		t.Errorf("after fsync: %q, want prefix %q", line, want)
	}

	// JSON of the same state.
	out, _, _ = runCLI(t, "--json", "-v", path)
	var js jsonSample
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.Files) != 1 || js.Files[0].Resident != 5 || js.Files[0].Pages != 101 || fmt.Sprint(js.Files[0].ResidentRuns) != "[[10 5]]" || js.Total.Resident != 5 {
		t.Errorf("--json: %+v", js)
	}
}

func TestRealSpecialFiles(t *testing.T) {
	dir := testenv.DiskDir(t)
	testenv.ColdFile(t, dir, "a", testenv.RandomData(3*pageSize))
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, filepath.Join(dir, "empty"))
	if out != "pages in cache: 0/0 (0.0%)  [filesize=0.0K, pagesize=4K]\n" || code != 0 || errOut != "" {
		t.Errorf("empty file: %q %q exit %d", out, errOut, code)
	}
	out, errOut, code = runCLI(t, fifo)
	if out != "" || code != 1 || errOut != "cachestats: "+fifo+": stat: not a regular file: it has no page cache to measure\n" {
		t.Errorf("FIFO: %q %q exit %d", out, errOut, code)
	}
	out, errOut, code = runCLI(t, dir)
	if out != "" || code != 1 || errOut != "cachestats: "+dir+": is a directory (use -r to measure the files under it)\n" {
		t.Errorf("directory: %q %q exit %d", out, errOut, code)
	}
	out, errOut, code = runCLI(t, "-r", dir)
	want := dir + "/a: pages in cache: 0/3 (0.0%)  [filesize=12.0K, pagesize=4K]\n" +
		dir + "/empty: pages in cache: 0/0 (0.0%)  [filesize=0.0K, pagesize=4K]\n" +
		"total (2 files): pages in cache: 0/3 (0.0%)  [filesize=12.0K, pagesize=4K]\n"
	if out != want || code != 0 || errOut != "" {
		t.Errorf("-r: %q %q exit %d; want %q", out, errOut, code, want)
	}
}

// signalWriter collects output and closes ready once it contains want.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.ready)
	}
	return len(p), nil
}

func TestWatchWaitsForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.img")
	stderr := &signalWriter{want: "waiting for it to appear", ready: make(chan struct{})}
	var stdout bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Run(context.Background(), []string{"--watch", "20ms", "--count", "3", path}, &stdout, stderr)
	}()
	select {
	case <-stderr.ready:
	case code := <-done:
		t.Fatalf("returned %d before the file existed: %q", code, stderr.buf.String())
	}
	if err := os.WriteFile(path, make([]byte, 2*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.buf.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) pages in cache: 2/2 \(100\.0%\)  \[filesize=8\.0K, pagesize=4K\]$`)
	if len(lines) != 3 {
		t.Fatalf("want 3 samples, got %q", stdout.String())
	}
	for _, l := range lines {
		if !stamp.MatchString(l) {
			t.Errorf("sample %q", l)
		}
	}
}

func TestWatchCancel(t *testing.T) {
	dir := testenv.DiskDir(t)
	testenv.ColdFile(t, dir, "a", testenv.RandomData(pageSize))
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &signalWriter{want: "pages in cache", ready: make(chan struct{})}
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"--watch", "1h", filepath.Join(dir, "a")}, stdout, new(bytes.Buffer))
	}()
	<-stdout.ready
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after cancel", code)
	}
}

// TestNobody runs the built command as user nobody on a root-owned 0644
// file that is entirely cached. The kernel would have mincore report every
// page resident, and cachestat refuses; cachestats must print an error,
// not a number. Files nobody owns or may write are measured normally.
func TestNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to nobody")
	}
	// A directory nobody can traverse, holding the command and the files.
	dir, err := os.MkdirTemp("", "cachestats-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildCommand(t, dir)
	asNobody := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if code < 0 {
			t.Fatalf("%v: %v", args, err)
		}
		return o.String(), e.String(), code
	}

	// Cold, so that mincore's answer to nobody (every page) is visibly false.
	rootFile := testenv.ColdFile(t, dir, "root-0644", testenv.RandomData(16*pageSize)).Name()
	if !strings.HasPrefix(fincoreLine(t, rootFile), "pages in cache: 0/16 ") {
		t.Fatalf("not cold: %s", fincoreLine(t, rootFile))
	}
	fincore := exec.Command("fincore", "--noheadings", "--output", "PAGES", rootFile)
	fincore.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := fincore.Output(); err == nil && strings.TrimSpace(string(out)) != "16" {
		t.Errorf("fincore as nobody says %q pages; expected the kernel's false 16 (Linux 5.2+)", out)
	}
	for _, args := range [][]string{{}, {"--method", "mincore"}, {"--method", "cachestat"}, {"-v"}, {"-x", "--method", "mincore"}} {
		out, errOut, code := asNobody(append(args, rootFile)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "cachestats: "+rootFile+": ") ||
			!strings.Contains(errOut, "hidden from callers that neither own nor can write the file (run as its owner or root)") {
			t.Errorf("as nobody, cachestats %v: exit %d, stdout %q, stderr %q; want exit 1 and the reason", args, code, out, errOut)
		}
	}
	out, _, code := asNobody("--json", rootFile)
	if code != 1 || !strings.Contains(out, `"errors"`) || strings.Contains(out, `"resident": 16`) {
		t.Errorf("as nobody, --json: exit %d: %s", code, out)
	}
	// Owned by nobody, cold: measured, and as root would measure it.
	owned := testenv.ColdFile(t, dir, "nobody-owned", testenv.RandomData(8*pageSize))
	if err := owned.Chown(65534, 65534); err != nil {
		t.Fatal(err)
	}
	// Root-owned but writable by all: measured.
	writable := testenv.ColdFile(t, dir, "root-0666", testenv.RandomData(8*pageSize))
	if err := writable.Chmod(0o666); err != nil {
		t.Fatal(err)
	}
	readPages(t, writable, 2, 3)
	for _, f := range []*os.File{owned, writable} {
		want := fincoreLine(t, f.Name()) + "\n"
		for _, m := range []string{"cachestat", "mincore"} {
			if out, errOut, code := asNobody("--method", m, f.Name()); out != want || code != 0 {
				t.Errorf("as nobody, --method %s %s: %q %q exit %d; want %q", m, f.Name(), out, errOut, code, want)
			}
		}
	}
}

// buildCommand builds cachestats into dir and returns its path; it skips
// the test when no go command is at hand.
func buildCommand(t *testing.T, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	bin := filepath.Join(dir, "cachestats")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/pagecache-suite/wcache/cmd/cachestats").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
