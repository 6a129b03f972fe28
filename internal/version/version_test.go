package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

func TestFormat(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/pagecache-suite/wcache", Version: "(devel)"}}
	if got, want := format("wbench", bi), "wbench github.com/pagecache-suite/wcache (devel), no VCS revision stamped (go run, go test, -buildvcs=false, or not built in a git checkout), go1.26.8\n"; got != want {
		t.Errorf("without VCS:\n got %q\nwant %q", got, want)
	}
	bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-30T01:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	if got, want := format("wbench", bi), "wbench github.com/pagecache-suite/wcache (devel), git revision 0123abcd (modified) of 2026-11-30T01:00:00Z, go1.26.8\n"; got != want {
		t.Errorf("with VCS:\n got %q\nwant %q", got, want)
	}
}

// TestBuiltBinary builds cachestats from this checkout with go build and
// checks that its --version names the commit git reports.
func TestBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a command")
	}
	testenv.NeedPrograms(t, "go", "git")
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	// The go command looks for a .git directory: a linked worktree, whose
	// .git is a file, is built without VCS information.
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		t.Skip("a linked git worktree: the go command stamps no revision here")
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := testenv.BuildCommand(t, t.TempDir(), "github.com/pagecache-suite/wcache/cmd/cachestats", "-buildvcs=true")
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("cachestats --version: %v", err)
	}
	want := "cachestats github.com/pagecache-suite/wcache "
	if !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), "git revision "+strings.TrimSpace(string(rev))) {
		t.Errorf("cachestats --version = %q; want %q... with git revision %s", out, want, rev)
	}
}
