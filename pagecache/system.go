package pagecache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrParse is wrapped by every error about a malformed /proc file.
var ErrParse = errors.New("malformed /proc file")

// Meminfo holds the page-cache lines of /proc/meminfo and the memory
// they are part of, in bytes.
type Meminfo struct {
	MemTotal  uint64 `json:"mem_total"`
	Cached    uint64 `json:"cached"`
	Dirty     uint64 `json:"dirty"`
	Writeback uint64 `json:"writeback"`
}

// Vmstat holds the writeback counters of /proc/vmstat, in pages. NrDirty
// and NrWriteback are levels; NrDirtied and NrWritten only grow, so the
// difference of two readings is the traffic in between.
type Vmstat struct {
	NrDirty     uint64 `json:"nr_dirty"`
	NrWriteback uint64 `json:"nr_writeback"`
	NrDirtied   uint64 `json:"nr_dirtied"`
	NrWritten   uint64 `json:"nr_written"`
}

// System is one reading of the system-wide counters.
type System struct {
	Meminfo
	Vmstat
}

// ReadSystem reads meminfo and vmstat under root, normally "/proc".
func ReadSystem(root string) (System, error) {
	m, err := ReadMeminfo(root)
	if err != nil {
		return System{}, err
	}
	v, err := ReadVmstat(root)
	if err != nil {
		return System{}, err
	}
	return System{m, v}, nil
}

// ReadMeminfo reads root/meminfo; root is normally "/proc".
func ReadMeminfo(root string) (Meminfo, error) {
	var m Meminfo
	err := parseFile(filepath.Join(root, "meminfo"), func(r io.Reader) (err error) {
		m, err = ParseMeminfo(r)
		return err
	})
	return m, err
}

// ReadVmstat reads root/vmstat; root is normally "/proc".
func ReadVmstat(root string) (Vmstat, error) {
	var v Vmstat
	err := parseFile(filepath.Join(root, "vmstat"), func(r io.Reader) (err error) {
		v, err = ParseVmstat(r)
		return err
	})
	return v, err
}

func parseFile(path string, parse func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := parse(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ParseMeminfo parses the /proc/meminfo format ("Cached:  123 kB").
// Lines it does not need are skipped unread; a needed line that is
// malformed or missing is an error wrapping ErrParse.
func ParseMeminfo(r io.Reader) (Meminfo, error) {
	var m Meminfo
	want := map[string]*uint64{"MemTotal:": &m.MemTotal, "Cached:": &m.Cached, "Dirty:": &m.Dirty, "Writeback:": &m.Writeback}
	err := parseFields(r, want, func(f []string) (uint64, error) {
		if len(f) != 3 || f[2] != "kB" {
			return 0, fmt.Errorf("want \"NAME: VALUE kB\"")
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		return v * 1024, err
	})
	return m, err
}

// ParseVmstat parses the /proc/vmstat format ("nr_dirty 123"), with the
// same rules as ParseMeminfo.
func ParseVmstat(r io.Reader) (Vmstat, error) {
	var v Vmstat
	want := map[string]*uint64{
		"nr_dirty": &v.NrDirty, "nr_writeback": &v.NrWriteback,
		"nr_dirtied": &v.NrDirtied, "nr_written": &v.NrWritten,
	}
	err := parseFields(r, want, func(f []string) (uint64, error) {
		if len(f) != 2 {
			return 0, fmt.Errorf("want \"NAME VALUE\"")
		}
		return strconv.ParseUint(f[1], 10, 64)
	})
	return v, err
}

// parseFields scans r line by line and stores, for each line whose first
// field is a key of want, the value that value() reads from its fields.
func parseFields(r io.Reader, want map[string]*uint64, value func([]string) (uint64, error)) error {
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		p, ok := want[f[0]]
		if !ok {
			continue
		}
		v, err := value(f)
		if err != nil {
			return fmt.Errorf("%w: line %d %q: %v", ErrParse, line, sc.Text(), err)
		}
		*p = v
		delete(want, f[0])
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for k := range want {
			missing = append(missing, strings.TrimSuffix(k, ":"))
		}
		slices.Sort(missing)
		return fmt.Errorf("%w: missing %s", ErrParse, strings.Join(missing, ", "))
	}
	return nil
}
