package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// StateDir holds one JSON file per live set of resources. It is on disk
// rather than under /run so that backing files left by a crash are still
// found after a reboot.
var StateDir = "/var/tmp/wcache-testbed"

// state lists what one Testbed created. Each field is written to the state
// file before the resource it names is created, so a crash at any point
// leaves a file that lists everything that may exist.
type state struct {
	PID    int    `json:"pid"`
	Start  uint64 `json:"start"` // the owner's start time, see procStart
	BootID string `json:"boot_id"`
	// Backing is the loop device's backing file; loop devices are found by it.
	Backing string `json:"backing,omitempty"`
	// Zram is the number of the zram device, once hot_add has given it.
	Zram *int `json:"zram,omitempty"`
	// Brd is true once this set is about to load the brd module, the
	// fall-back when the kernel has no zram.
	Brd bool `json:"brd,omitempty"`
	// Throttle is the blkio root holding rules for MajMin.
	Throttle string `json:"throttle,omitempty"`
	MajMin   string `json:"majmin,omitempty"`
	// MountDir is the private mount point (a directory this package made).
	MountDir string `json:"mount_dir,omitempty"`

	path string // the state file itself
}

var stateSeq atomic.Int64

// newState creates the state file for a new Testbed of this process.
func newState() (*state, error) {
	start, err := procStart(os.Getpid())
	if err != nil {
		return nil, err
	}
	boot, err := bootID()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return nil, err
	}
	st := &state{PID: os.Getpid(), Start: start, BootID: boot,
		path: filepath.Join(StateDir, fmt.Sprintf("%d-%d.json", os.Getpid(), stateSeq.Add(1)))}
	return st, st.save()
}

// save writes the state file atomically and durably: what it lists must
// survive the crash it is for.
func (st *state) save() error {
	b, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return err
	}
	tmp := st.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, st.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state file %s: %w", st.path, err)
	}
	return nil
}

// teardown removes what st lists, in the order that keeps each step quick
// (the throttle goes first so that unmounting flushes at full speed), and
// reports each removal through say. It goes on after a failed step and
// returns all errors. Devices recorded under another boot are gone and are
// not touched; files are removed all the same. On success the state file
// is removed.
func (st *state) teardown(say func(string)) error {
	boot, err := bootID()
	if err != nil {
		return err
	}
	sameBoot := boot == st.BootID
	var errs []error
	if sameBoot && st.Throttle != "" && st.MajMin != "" && !st.deviceTaken() {
		r, w, err := throttleRules(st.Throttle, st.MajMin)
		if err == nil && (r != 0 || w != 0) {
			err = setThrottle(st.Throttle, st.MajMin, 0)
			if err == nil {
				say(fmt.Sprintf("removed throttle rule for %s (read %d, write %d bytes/s)", st.MajMin, r, w))
			}
		}
		errs = append(errs, err)
	}
	if sameBoot && st.MountDir != "" {
		m, err := isMounted(st.MountDir)
		if err == nil && m {
			err = unmount(st.MountDir)
			if err == nil {
				say("unmounted " + st.MountDir)
			}
		}
		errs = append(errs, err)
	}
	if sameBoot && st.Backing != "" {
		devs, err := loopsBackedBy(st.Backing)
		errs = append(errs, err)
		for _, d := range devs {
			err := loopDetach(d)
			if err == nil {
				say("detached loop device " + d)
			}
			errs = append(errs, err)
		}
	}
	if sameBoot && st.Zram != nil && zramExists(*st.Zram) {
		err := zramRemove(*st.Zram)
		if err == nil {
			say(fmt.Sprintf("reset and removed /dev/zram%d", *st.Zram))
		}
		errs = append(errs, err)
	}
	if sameBoot && st.Brd && brdLoaded() {
		err := brdUnload()
		if err == nil {
			say("unloaded brd (/dev/ram0)")
		}
		errs = append(errs, err)
	}
	if st.Backing != "" {
		err := os.Remove(st.Backing)
		if err == nil {
			say("removed backing file " + st.Backing)
		}
		if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if st.MountDir != "" {
		err := os.Remove(st.MountDir)
		if err == nil {
			say("removed directory " + st.MountDir)
		}
		if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.Remove(st.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// deviceTaken reports whether the loop device that was st's is now bound
// to another backing file: its throttle rule is then someone else's.
func (st *state) deviceTaken() bool {
	b, err := os.ReadFile("/sys/dev/block/" + st.MajMin + "/loop/backing_file")
	return err == nil && strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)") != st.Backing
}

// alive reports whether the process that wrote st still runs.
func (st *state) alive() bool {
	boot, err := bootID()
	if err != nil || boot != st.BootID {
		return false
	}
	start, err := procStart(st.PID)
	return err == nil && start == st.Start
}

// CleanStale removes the resources of every set whose owner is no longer
// running (killed, crashed, or from before a reboot), writing one line to w
// per item removed. Sets of live processes are left alone. Call it before
// creating new sets; it is quick when there is nothing to do.
func CleanStale(ctx context.Context, w io.Writer) error {
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return err
	}
	// Two cleaners at once would race over the same sets.
	lock, err := os.OpenFile(filepath.Join(StateDir, "clean.lock"), os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	files, err := filepath.Glob(filepath.Join(StateDir, "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	var errs []error
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		st := &state{path: f}
		if err := json.Unmarshal(b, st); err != nil || st.PID == 0 {
			errs = append(errs, fmt.Errorf("state file %s: unreadable (%v); remove it by hand once nothing it names exists", f, err))
			continue
		}
		if st.alive() {
			continue
		}
		say := func(s string) { fmt.Fprintf(w, "testbed: stale set of pid %d: %s\n", st.PID, s) }
		if err := st.teardown(say); err != nil {
			errs = append(errs, fmt.Errorf("stale set %s: %w", f, err))
			continue
		}
		say("removed state file " + f)
	}
	// A crash between writing a .tmp and renaming it leaves only the .tmp.
	tmps, _ := filepath.Glob(filepath.Join(StateDir, "*.json.tmp"))
	for _, t := range tmps {
		pid, _, _ := strings.Cut(filepath.Base(t), "-")
		if _, err := os.Stat("/proc/" + pid); errors.Is(err, os.ErrNotExist) {
			os.Remove(t)
		}
	}
	return errors.Join(errs...)
}
