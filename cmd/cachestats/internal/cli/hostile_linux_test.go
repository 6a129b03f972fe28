//go:build linux

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pagecache-suite/wcache/internal/testenv"
	"github.com/pagecache-suite/wcache/pagecache"
)

func TestQuoteName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"out.img", "out.img"},
		{"./old/base.img", "./old/base.img"},
		{"with space", "with space"},
		{"é ü 日本", "é ü 日本"},
		{"a\nb", `a\x0ab`},
		{"t\tab", `t\x09ab`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"del\x7f", `del\x7f`},
		{"bad\xffutf", `bad\xffutf`},
		{"back\\slash", `back\\slash`},
		{`a\x0ab`, `a\\x0ab`}, // cannot pass for the escaped newline
		{"rtl\u202eoverride", `rtl\xe2\x80\xaeoverride`},
	}
	for _, tt := range tests {
		if got := quoteName(tt.in); got != tt.want {
			t.Errorf("quoteName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestHostileNames measures real files whose names hold a newline and
// other control characters: each file stays one line, named as fincore
// names it, errors stay one line on stderr, and --json keeps the names
// exactly.
func TestHostileNames(t *testing.T) {
	dir := testenv.DiskDir(t)
	names := []string{"a\nb", "forged\ntotal (9 files): pages in cache: 9", "t\tab", "bad\xffutf", "\x1b[2Jclear"}
	for _, n := range names {
		testenv.ColdFile(t, dir, n, testenv.RandomData(pageSize))
	}
	fifo := filepath.Join(dir, "fifo\nline")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "-r", dir)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || errOut != "" || len(lines) != len(names)+1 {
		t.Fatalf("-r: exit %d, stderr %q, %d lines for %d files and a total:\n%s", code, errOut, len(lines), len(names), out)
	}
	for _, n := range names {
		path := filepath.Join(dir, n)
		fc, err := exec.Command("fincore", "--noheadings", "--output", "FILE", path).Output()
		if err != nil {
			t.Fatalf("fincore: %v", err)
		}
		want := strings.TrimSpace(string(fc)) + ": pages in cache: 0/1 (0.0%)  [filesize=4.0K, pagesize=4K]"
		if !strings.Contains(out, want+"\n") {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
	_, errOut, code = runCLI(t, fifo, filepath.Join(dir, "a\nb"))
	if want := "cachestats: " + dir + `/fifo\x0aline: stat: not a regular file: it has no page cache to measure` + "\n"; code != 1 || errOut != want {
		t.Errorf("FIFO: exit %d, stderr %q, want %q", code, errOut, want)
	}
	out, _, code = runCLI(t, "--json", "-r", dir)
	var js jsonSample
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 0 || len(js.Files) != len(names) {
		t.Fatalf("--json: exit %d, %v: %s", code, err, out)
	}
	for _, f := range js.Files {
		// JSON has no other bytes than UTF-8: the invalid byte is U+FFFD.
		if n := strings.ToValidUTF8(strings.TrimPrefix(f.Path, dir+"/"), "\uFFFD"); !strings.Contains(strings.ToValidUTF8(strings.Join(names, "/"), "\uFFFD"), n) {
			t.Errorf("--json name %q is none of the files", f.Path)
		}
	}
}

// TestMemoryFlat runs the built command over N and then 4N files (in
// directories of a fixed size) and compares the peak RSS the kernel
// reports: holding every result until the end, as cachestats once did,
// grows it by hundreds of bytes a file; streaming keeps it flat. The
// command collects garbage once its heap grows by a quarter (see main), so
// its heap reaches its steady size within the first thousand files.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("creates thousands of files")
	}
	timeCmd, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		t.Skip("GNU time is not installed")
	}
	bin := buildCommand(t, t.TempDir())
	const n, perDir = 4000, 500
	root := t.TempDir()
	var dirs []string
	for i := 0; i < 4*n; i++ {
		if i%perDir == 0 {
			dirs = append(dirs, filepath.Join(root, "d"+strconv.Itoa(i/perDir)))
			if err := os.Mkdir(dirs[len(dirs)-1], 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dirs[len(dirs)-1], "file-with-a-longish-name-"+strconv.Itoa(i)), []byte{1}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// peak runs cachestats -r over the first files files.
	peak := func(files int, args ...string) int64 {
		t.Helper()
		// GNU time forks (no vfork): the peak it reports is the
		// command's own, not this test process's, which the kernel would
		// carry over to a child started by os/exec's vfork and exec.
		rss := filepath.Join(t.TempDir(), "maxrss")
		cmd := exec.Command(timeCmd, append([]string{"-f", "%M", "-o", rss, bin, "-r"}, append(args, dirs[:files/perDir]...)...)...)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
		got := strings.Count(out.String(), "pages in cache") - 1 // and a total
		if len(args) > 0 {
			got = strings.Count(out.String(), `"path"`)
		}
		if got != files {
			t.Fatalf("%v: %d results for %d files", cmd.Args, got, files)
		}
		b, err := os.ReadFile(rss)
		if err != nil {
			t.Fatal(err)
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatalf("time -f %%M wrote %q", b)
		}
		return kib
	}
	for _, args := range [][]string{{}, {"--json"}} {
		small := peak(n, args...)
		large := peak(4*n, args...) // the same N files and 3N more
		// The bound is the N run's own peak plus a half: a per-file
		// cost of even 200 bytes would add 2.4 MB to the larger run.
		if large > small+small/2 {
			t.Errorf("cachestats %v -r: peak RSS %d KiB over %d files, %d KiB over %d: grows with the file count", args, small, n, large, 4*n)
		}
		t.Logf("cachestats %v -r: peak RSS %d KiB over %d files, %d KiB over %d", args, small, n, large, 4*n)
	}
}

// TestWalkOrder compares the files -r reports, and their order, with
// filepath.WalkDir's on a tree of names that sort in tricky ways, with a
// symbolic link and a FIFO that are skipped.
func TestWalkOrder(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"b/x", "B", "a.b", "a/z", "a-", "a/y/1", ".hidden", "é", "a0/q"} {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte{1}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "a", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var want []string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			want = append(want, path)
		}
		return nil
	})
	out, errOut, code := runCLI(t, "--json", "-r", root)
	var js jsonSample
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 0 || errOut != "" {
		t.Fatalf("exit %d, %v, stderr %q", code, err, errOut)
	}
	var got []string
	for _, f := range js.Files {
		got = append(got, f.Path)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("-r visits\n%s\nfilepath.WalkDir\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestJSONErrorsOnDisk runs --json -r over a directory of files that all
// fail to measure, with the errors kept in memory and then moved to disk
// after every one: the output is the same, and the temporary file is gone.
func TestJSONErrorsOnDisk(t *testing.T) {
	dir := t.TempDir()
	for i := range 50 {
		if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func() string {
		var stdout, stderr bytes.Buffer
		r := &runner{config: config{json: true, recursive: true, paths: []string{dir}}, stdout: &stdout, stderr: &stderr, now: time.Now}
		r.measure = func(path string) (pagecache.Stat, *pagecache.PageMap, error) {
			return pagecache.Stat{}, nil, &os.PathError{Op: "cachestat", Path: path, Err: pagecache.ErrNotPermitted}
		}
		if code := r.run(context.Background()); code != 1 || strings.Count(stderr.String(), "\n") != 50 {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
		return stdout.String()
	}
	inMemory := run()
	defer func(n int) { spillAt = n }(spillAt)
	spillAt = 1
	onDisk := run()
	if onDisk != inMemory || strings.Count(onDisk, `"error"`) != 50 {
		t.Errorf("errors on disk:\n%s\nin memory:\n%s", onDisk, inMemory)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "cachestats-errors-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
