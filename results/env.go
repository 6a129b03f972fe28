package results

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pagecache-suite/wcache/pagecache"
)

// Env describes the machine and software a sweep ran on. Fields the system
// would not tell are left empty.
type Env struct {
	Hostname  string            `json:"hostname"`
	Kernel    string            `json:"kernel"`
	GOOS      string            `json:"goos"`
	GOARCH    string            `json:"goarch"`
	CPU       string            `json:"cpu"`
	CPUs      int               `json:"cpus"`
	MemBytes  int64             `json:"mem_bytes"`
	PageSize  int               `json:"page_size"`
	Root      bool              `json:"root"`
	Disk      Disk              `json:"disk"`
	VM        map[string]string `json:"vm"`    // vm.dirty_* sysctls
	Tools     map[string]string `json:"tools"` // name -> first line of its version
	GoVersion string            `json:"go_version"`
	Commit    string            `json:"commit,omitempty"` // git commit of the suite, "+dirty" when modified
}

// Disk is the block device holding the sweep's files and its queue settings.
type Disk struct {
	Dir        string            `json:"dir"`
	Device     string            `json:"device"`     // e.g. vda
	Model      string            `json:"model"`      // device/model when present
	Filesystem string            `json:"filesystem"` // from /proc/self/mounts
	Queue      map[string]string `json:"queue"`      // /sys/block/DEV/queue/*
}

// queueKeys are the queue settings that shape write-back throughput.
var queueKeys = []string{
	"scheduler", "nr_requests", "max_sectors_kb", "max_hw_sectors_kb",
	"read_ahead_kb", "rotational", "write_cache", "logical_block_size",
}

// CaptureEnv describes this machine, with the disk that holds dir.
func CaptureEnv(dir string) Env {
	e := Env{
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		CPUs:      runtime.NumCPU(),
		PageSize:  os.Getpagesize(),
		Root:      os.Geteuid() == 0,
		GoVersion: runtime.Version(),
		VM:        map[string]string{},
		Tools:     map[string]string{},
	}
	e.Hostname, _ = os.Hostname()
	e.Kernel = kernelRelease()
	e.CPU = cpuModel()
	e.MemBytes = memTotal()
	matches, _ := filepath.Glob("/proc/sys/vm/dirty_*")
	for _, m := range matches {
		if v := readTrim(m); v != "" {
			e.VM["vm."+filepath.Base(m)] = v
		}
	}
	e.Disk = diskOf(dir)
	for name, args := range map[string][]string{
		"nbdcopy":  {"--version"},
		"nbdkit":   {"--version"},
		"qemu-nbd": {"--version"},
		"go":       {"version"},
	} {
		if v := toolVersion(name, args...); v != "" {
			e.Tools[name] = v
		}
	}
	e.Commit = gitCommit()
	return e
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotal() int64 {
	m, err := pagecache.ReadMeminfo("/proc")
	if err != nil {
		return 0
	}
	return int64(m.MemTotal)
}

func mountFS(dir string) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	best, fs := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, fs = mp, f[2]
		}
	}
	return fs
}

// toolVersion runs name with args and returns the first line of its output,
// "" when it is not installed.
func toolVersion(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	return strings.TrimSpace(string(line))
}

func gitCommit() string {
	c := toolVersion("git", "rev-parse", "--short=12", "HEAD")
	if c == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(bytes.TrimSpace(out)) > 0 {
		c += "+dirty"
	}
	return c
}
