package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagecache-suite/wcache/internal/golden"
	"github.com/pagecache-suite/wcache/internal/version"
	"github.com/pagecache-suite/wcache/pagecache"
)

// fakeFile is what the fake measurement reports for one path.
type fakeFile struct {
	stat     pagecache.Stat
	resident []int64 // map indexes of the resident pages, for -v
	err      error
}

// fakeFiles are the files of the golden tests; they exist (empty) in the
// test's directory so that the command finds them, but their page-cache
// state comes from here.
var fakeFiles = map[string]fakeFile{
	"out.img": {stat: pagecache.Stat{Size: 6442450944, PageSize: 4096, Pages: 1572864, Resident: 409, Extended: true, Dirty: 12, Writeback: 3, Evicted: 1572455, RecentlyEvicted: 7, Method: pagecache.MethodCachestat}},
	"small.dat": {stat: pagecache.Stat{Size: 286720 + 100, PageSize: 4096, Pages: 71, Resident: 9, Extended: true, Dirty: 2, Method: pagecache.MethodCachestat},
		resident: []int64{0, 1, 2, 31, 32, 33, 64, 69, 70}},
	"empty": {stat: pagecache.Stat{PageSize: 4096, Extended: true, Method: pagecache.MethodCachestat}},
	"old/base.img": {stat: pagecache.Stat{Size: 1 << 20, PageSize: 4096, Pages: 256, Resident: 256, Method: pagecache.MethodMincore},
		resident: []int64{}},
	"old/notes.txt": {err: &os.PathError{Op: "cachestat", Path: "old/notes.txt", Err: pagecache.ErrNotPermitted}},
}

// goldenRunner runs in a directory holding the fake files, with a clock
// that starts at a fixed time and advances only when the runner sleeps.
func goldenRunner(t *testing.T, c config, stdout, stderr *bytes.Buffer) *runner {
	t.Chdir(t.TempDir())
	for name := range fakeFiles {
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := &runner{config: c, stdout: stdout, stderr: stderr}
	r.now = func() time.Time { return clock }
	r.sleep = func(_ context.Context, d time.Duration) error {
		clock = clock.Add(d + 1500*time.Microsecond) // wake-ups are late
		return nil
	}
	r.measure = func(path string) (pagecache.Stat, *pagecache.PageMap, error) {
		f, ok := fakeFiles[path]
		if !ok {
			return pagecache.Stat{}, nil, fmt.Errorf("no fake for %s", path)
		}
		if f.err != nil {
			return pagecache.Stat{}, nil, f.err
		}
		var m *pagecache.PageMap
		if c.verbose && f.resident != nil {
			m = pagecache.NewPageMap(0, f.stat.Pages)
			if len(f.resident) == 0 { // all of it
				for i := range f.stat.Pages {
					m.Set(i)
				}
			}
			for _, i := range f.resident {
				m.Set(i)
			}
		}
		return f.stat, m, nil
	}
	return r
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		args string
	}{
		{"line", "out.img"},
		{"line-extended", "-x out.img"},
		{"empty", "empty"},
		{"map", "-v small.dat"},
		{"map-extended", "small.dat -v -x"},
		{"several", "out.img small.dat empty"},
		{"recursive", "-r -x . "},
		{"errors", "out.img old missing"},
		{"json", "--json -x out.img empty old/base.img"},
		{"json-map", "--json -v small.dat old/notes.txt"},
		{"watch", "--watch 2s --count 3 -x out.img"},
		{"watch-several", "--watch 500ms --for 1s out.img small.dat"},
		{"watch-json", "--watch 1s --count 2 --json small.dat"},
		{"watch-never", "--watch 1s --for 3s out.img never.img"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(strings.Fields(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := goldenRunner(t, c, &stdout, &stderr).run(context.Background())
			got := fmt.Sprintf("$ cachestats %s\n%s--- stderr\n%s--- exit %d\n", tt.args, stdout.String(), stderr.String(), code)
			checkGolden(t, tt.name, got)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), []string{arg}, &stdout, &stderr); code != 0 || stderr.Len() > 0 {
			t.Errorf("%s: exit %d, stderr %q", arg, code, stderr.String())
		}
		checkGolden(t, "help", stdout.String())
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"--version"}, &stdout, &stderr)
	if want := version.String("cachestats"); code != 0 || stderr.Len() > 0 || stdout.String() != want {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout.String(), stderr.String(), want)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct{ args, msg string }{
		{"", "no FILE given"},
		{"-v", "no FILE given"},
		{"--bogus f", "flag provided but not defined: -bogus"},
		{"--watch 0 f", "interval must be positive"},
		{"--watch soon f", `invalid value "soon" for flag -watch`},
		{"--count 3 f", "need --watch"},
		{"--watch 1s --count 3 --for 1m f", "not both"},
		{"--watch 1s --count -1 f", "must be positive"},
		{"-q -v f", "-q prints nothing"},
		{"-q --json f", "-q prints nothing"},
		{"--method fast f", `invalid value "fast" for flag -method: want auto, cachestat or mincore`},
		{"f --watch", "flag needs an argument: -watch"},
		{"-v=maybe f", `invalid boolean value "maybe" for -v`},
		{"--count=x --watch 1s f", `invalid value "x" for flag -count`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), strings.Fields(tt.args), &stdout, &stderr)
		if code != 2 || stdout.Len() > 0 || !strings.Contains(stderr.String(), tt.msg) || !strings.Contains(stderr.String(), "cachestats --help") {
			t.Errorf("cachestats %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, stdout.String(), stderr.String(), tt.msg)
		}
	}
}

func TestParseOperands(t *testing.T) {
	c, err := parse([]string{"a", "-x", "b", "-", "--watch=2s", "-json=false", "--count", "3", "--method=mincore", "--", "-v", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.extended || c.verbose || c.json || c.watch != 2*time.Second || c.count != 3 || c.method != pagecache.MethodMincore ||
		strings.Join(c.paths, " ") != "a b - -v --json" {
		t.Errorf("parsed %+v", c)
	}
}

// checkGolden compares got with testdata/name.golden (go test -update
// rewrites it).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join(goldenDir, name+".golden"), []byte(got))
}

// goldenDir is testdata as an absolute path: golden tests change directory.
var goldenDir = func() string {
	d, err := filepath.Abs("testdata")
	if err != nil {
		panic(err)
	}
	return d
}()
