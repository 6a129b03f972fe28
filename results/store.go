package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SamplesFile is the line-per-sample log of a sweep directory: one JSON
// Sample per line, appended as each run ends, so that an interrupted,
// failed or crashed sweep keeps every run it finished.
const SamplesFile = "samples.jsonl"

// Store is a sweep being recorded: sweep.json, marked partial, holds the
// environment, settings and configurations from the start; samples.jsonl
// grows by one line per run.
type Store struct {
	dir string
	f   *os.File
}

// CheckDir creates dir and checks that files can be written in it, so
// that a sweep fails before measuring rather than after.
func CheckDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".probe-")
	if err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// CreateStore starts recording s in dir: it writes sweep.json marked
// partial, without samples, and opens samples.jsonl for appending. A
// resumed sweep (s.Partial with samples) keeps the lines already there.
func CreateStore(dir string, s *Sweep) (*Store, error) {
	s.Partial = true
	head := *s
	head.Samples = nil
	if err := Save(dir, &head); err != nil {
		return nil, err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if len(s.Samples) == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(dir, SamplesFile), flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store samples: %w", err)
	}
	return &Store{dir: dir, f: f}, nil
}

// Append writes x as one line and syncs it to disk.
func (st *Store) Append(x Sample) error {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Errorf("store sample: %w", err)
	}
	if _, err := st.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("store sample: %w", err)
	}
	if err := st.f.Sync(); err != nil {
		return fmt.Errorf("store sample: %w", err)
	}
	return nil
}

// Close closes the samples file.
func (st *Store) Close() error { return st.f.Close() }

// readSamples reads samples.jsonl in dir. A last line cut short by a
// crash is dropped; any other bad line is an error.
func readSamples(dir string) ([]Sample, error) {
	b, err := os.ReadFile(filepath.Join(dir, SamplesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Sample
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		var x Sample
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			if !bytes.HasSuffix(b, []byte("\n")) && !sc.Scan() {
				break // the torn last line of a crash
			}
			return nil, fmt.Errorf("%s line %d: %w", SamplesFile, n, err)
		}
		out = append(out, x)
	}
	return out, sc.Err()
}
