//go:build linux

package sweep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestGenerateImage checks the generated image against an independent
// reading of it: the data bytes the layout promises are the non-zero blocks
// found by scanning, the checksum is the scanned one, holes are holes, and a
// second call reuses the file.
func TestGenerateImage(t *testing.T) {
	dir := t.TempDir()
	const size = 10<<20 + 8192 // two full stripes and a partial one
	img, err := GenerateImage(context.Background(), dir, size)
	if err != nil {
		t.Fatal(err)
	}
	if img.Size != size || img.DataBytes != 2*stripeData+2<<20+8192 {
		t.Fatalf("size %d data %d", img.Size, img.DataBytes)
	}
	scanned, err := OpenImage(context.Background(), img.Path)
	if err != nil {
		t.Fatal(err)
	}
	if scanned.Sum != img.Sum || scanned.DataBytes != img.DataBytes {
		t.Errorf("scan: sum %s data %d; generator: sum %s data %d", scanned.Sum, scanned.DataBytes, img.Sum, img.DataBytes)
	}
	var st os.FileInfo
	if st, err = os.Stat(img.Path); err != nil {
		t.Fatal(err)
	}
	if alloc := allocated(t, img.Path); alloc >= st.Size() {
		t.Errorf("image is not sparse: %d bytes allocated of %d", alloc, st.Size())
	}
	again, err := GenerateImage(context.Background(), dir, size)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(img.Path)
	if again.Sum != img.Sum || !st2.ModTime().Equal(st.ModTime()) {
		t.Error("second GenerateImage did not reuse the image")
	}
	// The same size gives the same bytes anywhere.
	other, err := GenerateImage(context.Background(), t.TempDir(), size)
	if err != nil {
		t.Fatal(err)
	}
	if other.Sum != img.Sum {
		t.Error("generator is not deterministic")
	}
	if _, err := GenerateImage(context.Background(), dir, 1000); err == nil {
		t.Error("size not a multiple of 4096 accepted")
	}
}

// cancelAfter is a hash that cancels its context once it has been fed its
// first chunk, and counts every byte fed to it after.
type cancelAfter struct {
	cancel context.CancelFunc
	bytes  int64
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.cancel()
	return len(p), nil
}

// TestGenerateImageCancel cancels the generator after its first chunk: it
// must stop there with the context's error, not write the whole image.
// A sweep whose context is already cancelled leaves no image behind.
func TestGenerateImageCancel(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "partial.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	h := &cancelAfter{cancel: cancel}
	const size = 64 << 20
	if err := writeImage(ctx, f, h, size); !errors.Is(err, context.Canceled) {
		t.Fatalf("writeImage after cancel: %v, want context.Canceled", err)
	}
	const chunk = 1 << 20
	if h.bytes > chunk {
		t.Errorf("%d bytes generated after the first chunk cancelled it; want at most one chunk (%d)", h.bytes, chunk)
	}
	if alloc := allocated(t, f.Name()); alloc > chunk {
		t.Errorf("%d bytes allocated in the image after cancel; want at most %d", alloc, chunk)
	}

	work := t.TempDir()
	_, err = Run(ctx, Options{Windows: []int{1}, Count: 1, Size: size, Servers: []string{"builtin"}, WorkDir: work})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(work, "source-*"))
	if len(left) > 0 {
		t.Errorf("cancelled sweep left %v", left)
	}
}

// TestOpenImageRefuses gives OpenImage what is no image: a FIFO nobody
// writes to (whose open would wait for a writer), a directory and a
// character device. Each is refused from stat, at once.
func TestOpenImageRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a FIFO", dir: "a directory", "/dev/null": "a character device"} {
		done := make(chan error, 1)
		go func() {
			_, err := OpenImage(context.Background(), path)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute): // a failure detector, not a wait
			// Release a reader blocked in open(2), then fail.
			if fd, oerr := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); oerr == nil {
				unix.Close(fd)
			}
			t.Fatalf("OpenImage(%s) blocks", path)
		}
		if !errors.Is(err, ErrNotImage) || !strings.Contains(err.Error(), kind) {
			t.Errorf("OpenImage(%s) = %v, want ErrNotImage naming %s", path, err, kind)
		}
	}
}

// TestOpenImageCancel reads an image under a context that ends after the
// first chunk: OpenImage must stop with the context's error.
func TestOpenImageCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(path, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := &endsAfter{Context: context.Background(), checks: 1}
	if _, err := OpenImage(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("OpenImage: %v, want context.Canceled", err)
	}
	if ctx.checks > 0 || ctx.after > 1 {
		t.Errorf("context checked %d times after it ended; the read must stop at the first check", ctx.after)
	}
}

// endsAfter is a context that reports itself cancelled after checks calls
// of Err, and counts the calls after that.
type endsAfter struct {
	context.Context
	checks, after int
}

func (c *endsAfter) Err() error {
	if c.checks > 0 {
		c.checks--
		return nil
	}
	c.after++
	return context.Canceled
}
