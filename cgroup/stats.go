package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrParse is wrapped by the errors of malformed cgroup files.
var ErrParse = errors.New("malformed cgroup file")

// Stats are a group's memory counters at one moment, named alike for both
// versions. A pointer field is nil when this kernel's version of the
// controller does not report it (for example v1 has no pgscan or pgsteal
// in memory.stat, and memory.peak needs Linux 5.19).
type Stats struct {
	Version Version `json:"version"`
	Limit   int64   `json:"limit"` // bytes, as the kernel rounded it
	Usage   int64   `json:"usage"` // bytes charged now
	Peak    *int64  `json:"peak"`  // highest Usage since the group was made

	// LimitHits counts the charges that hit the limit: v1 memory.failcnt,
	// v2 "max" of memory.events.
	LimitHits int64 `json:"limit_hits"`
	// OOMKills counts processes the group's OOM killer killed: v1
	// "oom_kill" of memory.oom_control, v2 "oom_kill" of memory.events.
	OOMKills *int64 `json:"oom_kills"`

	// From memory.stat (v1 names in brackets where they differ).
	File                  *int64 `json:"file"`      // page cache bytes (cache)
	Anon                  *int64 `json:"anon"`      // anonymous bytes (rss)
	Dirty                 *int64 `json:"dirty"`     // bytes
	Writeback             *int64 `json:"writeback"` // bytes
	ActiveFile            *int64 `json:"active_file"`
	InactiveFile          *int64 `json:"inactive_file"`
	PgScan                *int64 `json:"pgscan"`  // pages scanned by reclaim (v2)
	PgSteal               *int64 `json:"pgsteal"` // pages reclaimed (v2)
	WorkingsetRefaultFile *int64 `json:"workingset_refault_file"`
	PgFault               *int64 `json:"pgfault"`
	PgMajFault            *int64 `json:"pgmajfault"`

	// Raw is memory.stat as the kernel wrote it.
	Raw map[string]int64 `json:"raw"`
}

// statNames maps the fields of Stats to memory.stat keys: the v2 key and
// the v1 keys in order of preference.
var statNames = []struct {
	field func(*Stats) **int64
	v2    string
	v1    []string
}{
	{func(s *Stats) **int64 { return &s.File }, "file", []string{"cache"}},
	{func(s *Stats) **int64 { return &s.Anon }, "anon", []string{"rss"}},
	{func(s *Stats) **int64 { return &s.Dirty }, "file_dirty", []string{"dirty"}},
	{func(s *Stats) **int64 { return &s.Writeback }, "file_writeback", []string{"writeback"}},
	{func(s *Stats) **int64 { return &s.ActiveFile }, "active_file", []string{"active_file"}},
	{func(s *Stats) **int64 { return &s.InactiveFile }, "inactive_file", []string{"inactive_file"}},
	{func(s *Stats) **int64 { return &s.PgScan }, "pgscan", nil},
	{func(s *Stats) **int64 { return &s.PgSteal }, "pgsteal", nil},
	{func(s *Stats) **int64 { return &s.WorkingsetRefaultFile }, "workingset_refault_file", []string{"workingset_refault_file", "workingset_refault"}},
	{func(s *Stats) **int64 { return &s.PgFault }, "pgfault", []string{"pgfault"}},
	{func(s *Stats) **int64 { return &s.PgMajFault }, "pgmajfault", []string{"pgmajfault"}},
}

// Stats reads the group's counters.
func (g *Group) Stats() (Stats, error) {
	return readStats(g.Path, g.Root.Version)
}

func readStats(dir string, v Version) (Stats, error) {
	s := Stats{Version: v}
	var err error
	s.Raw, err = readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return s, err
	}
	for _, n := range statNames {
		keys := n.v1
		if v == V2 {
			keys = []string{n.v2}
		}
		for _, k := range keys {
			if x, ok := s.Raw[k]; ok {
				*n.field(&s) = &x
				break
			}
		}
	}
	if v == V2 {
		return s, readV2(dir, &s)
	}
	return s, readV1(dir, &s)
}

func readV1(dir string, s *Stats) error {
	var peak int64
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"memory.limit_in_bytes", &s.Limit},
		{"memory.usage_in_bytes", &s.Usage},
		{"memory.max_usage_in_bytes", &peak},
		{"memory.failcnt", &s.LimitHits},
	} {
		if err := readInt(filepath.Join(dir, f.name), f.dst); err != nil {
			return err
		}
	}
	s.Peak = &peak
	oc, err := readKeyed(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return err
	}
	if k, ok := oc["oom_kill"]; ok {
		s.OOMKills = &k
	}
	return nil
}

func readV2(dir string, s *Stats) error {
	if err := readInt(filepath.Join(dir, "memory.max"), &s.Limit); err != nil {
		return err
	}
	if err := readInt(filepath.Join(dir, "memory.current"), &s.Usage); err != nil {
		return err
	}
	var peak int64
	switch err := readInt(filepath.Join(dir, "memory.peak"), &peak); {
	case err == nil:
		s.Peak = &peak
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	ev, err := readKeyed(filepath.Join(dir, "memory.events"))
	if err != nil {
		return err
	}
	s.LimitHits = ev["max"]
	if k, ok := ev["oom_kill"]; ok {
		s.OOMKills = &k
	}
	return nil
}

// readInt reads a file holding one integer; "max" (v2, no limit) reads as
// -1.
func readInt(p string, dst *int64) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "max" {
		*dst = -1
		return nil
	}
	*dst, err = strconv.ParseInt(t, 10, 64)
	if err != nil {
		return fmt.Errorf("cgroup: %s: %q: %w", p, t, ErrParse)
	}
	return nil
}

func readKeyed(p string) (map[string]int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	defer f.Close()
	m, err := ParseKeyed(f)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %s: %w", p, err)
	}
	return m, nil
}

// ParseKeyed parses the "key value" lines of memory.stat, memory.events and
// memory.oom_control.
func ParseKeyed(r io.Reader) (map[string]int64, error) {
	m := make(map[string]int64)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %q: %w", sc.Text(), ErrParse)
		}
		x, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", sc.Text(), ErrParse)
		}
		m[f[0]] = x
	}
	return m, sc.Err()
}
