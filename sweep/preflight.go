package sweep

import (
	"github.com/pagecache-suite/wcache/internal/size"

	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrNoSpace is returned by Preflight when the work directory's
// filesystem cannot hold the source image and an output file.
var ErrNoSpace = errors.New("not enough free space")

// ErrNoEviction is returned by Preflight for a work directory on a
// filesystem whose page cache is the only copy of its files (tmpfs,
// ramfs): nothing written there can be evicted, so every configuration
// would end 100% cached and the sweep would measure nothing.
var ErrNoEviction = errors.New("the page cache is the only copy of files there, so no eviction can work and every configuration would end 100% cached; give --workdir a directory on the disk under test")

// Preflight checks, before anything is measured, what would otherwise
// fail only after the whole sweep, or fill the disk on the way:
//
//   - outDir can be created and written, so that the samples can be saved;
//   - an --image is a regular file or a block device (see OpenImage);
//   - the work directory can be created and written, is not on tmpfs or
//     ramfs (ErrNoEviction), and its filesystem has room for the source
//     image, unless a valid one is already there, and for one output file
//     of the image's size, the most a run writes (ErrNoSpace).
//
// Directories it creates to check them are removed again.
func Preflight(outDir string, o Options) error {
	o.setDefaults()
	if err := probeDir(outDir, nil); err != nil {
		return fmt.Errorf("output directory: %w (the results could not be saved)", err)
	}
	var imageSize, generate int64
	if o.Image != "" {
		n, err := imageBytes(o.Image)
		if err != nil {
			return err
		}
		imageSize = n
	} else {
		imageSize = o.Size
		if _, err := readSum(filepath.Join(o.WorkDir, imageName(o.Size)), o.Size); err != nil {
			generate = o.Size
		}
	}
	var fs fsInfo
	err := probeDir(o.WorkDir, func() (err error) {
		fs, err = statFS(o.WorkDir)
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("work directory: %w", err)
	case fs.noEviction != "":
		return fmt.Errorf("work directory %s is on %s: %w", o.WorkDir, fs.noEviction, ErrNoEviction)
	}
	if need := generate + imageSize; need > fs.avail {
		what := "an output file of the image's size"
		if generate > 0 {
			what = "the source image and " + what
		}
		return fmt.Errorf("work directory %s: %w: %d bytes (%s) needed for %s, %d bytes (%s) available",
			o.WorkDir, ErrNoSpace, need, size.Format(need), what, fs.avail, size.Format(fs.avail))
	}
	return nil
}

// probeDir creates dir (and its parents) if need be, writes and removes a
// file in it, and runs check (if not nil) while it exists. The directories
// it created are removed again: the check leaves nothing behind, and Run
// and the results writer make them when they need them.
func probeDir(dir string, check func() error) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) || d == filepath.Dir(d) {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer func() {
		for _, d := range created { // deepest first; only empty ones go
			os.Remove(d)
		}
	}()
	f, err := os.CreateTemp(dir, ".wbench-probe-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write([]byte("probe\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if check != nil {
		return check()
	}
	return nil
}

// imageBytes is the size of an --image, refused as OpenImage refuses it.
func imageBytes(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("image: %w", err)
	}
	if err := imageType(path, fi); err != nil {
		return 0, err
	}
	if fi.Mode().IsRegular() {
		return fi.Size(), nil
	}
	f, err := os.Open(path) // a block device: stat says 0 bytes
	if err != nil {
		return 0, fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("image %s: %w", path, err)
	}
	return n, nil
}

// fsInfo is what Preflight needs to know of a filesystem.
type fsInfo struct {
	avail      int64  // bytes an unprivileged writer may still use
	noEviction string // the filesystem's name when eviction cannot work there
}
