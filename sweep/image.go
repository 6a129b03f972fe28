package sweep

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The generated source image repeats a stripe: data, then written zeroes,
// then a hole, so that a copy exercises WRITE, WRITE_ZEROES of explicit
// zeroes and WRITE_ZEROES of holes, as a real disk image does.
const (
	stripeSize  = 4 << 20
	stripeData  = 3 << 20 // pseudo-random, incompressible bytes
	stripeZeros = 512 << 10
	// The remaining 512 KiB of each stripe is a hole.

	// imageVersion changes whenever the layout or the generator does, so
	// that a cached image of another layout is regenerated.
	imageVersion = 1
	imageSeed    = 0x7763616368652d31
)

// Image is a source image and what is known of its content.
type Image struct {
	Path      string
	Size      int64  // bytes
	DataBytes int64  // bytes that are not zero, in 4 KiB blocks
	Sum       string // hex SHA-256 of the whole image
}

// imageLayout returns the data bytes of a generated image of size bytes.
func imageLayout(size int64) (data int64) {
	full := size / stripeSize
	rest := size % stripeSize
	return full*stripeData + min(rest, stripeData)
}

// GenerateImage returns the deterministic source image of size bytes in
// dir, creating it only when no valid copy exists: the same size always
// gives the same bytes, so sweeps on different machines copy the same data.
// The checksum is kept beside it in PATH.sum. It stops within a chunk
// (1 MiB) of ctx ending, returning ctx's error and leaving no file behind.
func GenerateImage(ctx context.Context, dir string, size int64) (Image, error) {
	if size <= 0 || size%4096 != 0 {
		return Image{}, fmt.Errorf("image size %d: want a positive multiple of 4096", size)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	path := filepath.Join(dir, imageName(size))
	img := Image{Path: path, Size: size, DataBytes: imageLayout(size)}
	if sum, err := readSum(path, size); err == nil {
		img.Sum = sum
		return img, nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	defer os.Remove(tmp)
	h := sha256.New()
	if err := writeImage(ctx, f, h, size); err != nil {
		f.Close()
		return Image{}, fmt.Errorf("image %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return Image{}, fmt.Errorf("image %s: %w", tmp, err)
	}
	// The generator wrote through the page cache; a sweep starts cold.
	dropFile(f)
	if err := f.Close(); err != nil {
		return Image{}, fmt.Errorf("image %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	img.Sum = hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(path+".sum", []byte(fmt.Sprintf("%s %d\n", img.Sum, size)), 0o644); err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

// imageName is the file name of the generated image of size bytes.
func imageName(size int64) string {
	return fmt.Sprintf("source-v%d-%d.img", imageVersion, size)
}

// readSum returns the checksum recorded for path when the file still has
// the recorded size and is not newer than the record.
func readSum(path string, size int64) (string, error) {
	b, err := os.ReadFile(path + ".sum")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return "", errors.New("malformed sum file")
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n != size {
		return "", errors.New("sum file for another size")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != size {
		return "", errors.New("image missing or resized")
	}
	si, err := os.Stat(path + ".sum")
	if err != nil || fi.ModTime().After(si.ModTime()) {
		return "", errors.New("image newer than its sum")
	}
	return f[0], nil
}

// writeImage writes the stripes of a size-byte image to f, skipping holes,
// and feeds every byte (holes as zeroes) to h. It checks ctx before every
// chunk it writes.
func writeImage(ctx context.Context, f *os.File, h io.Writer, size int64) error {
	rng := rand.New(rand.NewPCG(imageSeed, imageVersion))
	buf := make([]byte, 1<<20)
	zeros := make([]byte, 1<<20)
	if err := f.Truncate(size); err != nil {
		return err
	}
	for off := int64(0); off < size; off += stripeSize {
		// Data.
		for d := int64(0); d < stripeData && off+d < size; d += int64(len(buf)) {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(int64(len(buf)), stripeData-d, size-off-d)
			for i := 0; i+8 <= int(n); i += 8 {
				binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
			}
			if _, err := f.WriteAt(buf[:n], off+d); err != nil {
				return err
			}
			h.Write(buf[:n])
		}
		// Written zeroes, then the hole: both read back as zeroes.
		zoff := off + stripeData
		if zoff >= size {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		zn := min(int64(stripeZeros), size-zoff)
		if _, err := f.WriteAt(zeros[:zn], zoff); err != nil {
			return err
		}
		for rest := min(int64(stripeSize-stripeData), size-zoff); rest > 0; rest -= int64(len(zeros)) {
			h.Write(zeros[:min(rest, int64(len(zeros)))])
		}
	}
	return nil
}

// OpenImage describes an existing image given with --image, a regular file
// or a block device: its size, its non-zero 4 KiB blocks and its
// checksum, read once. Anything else (a FIFO, a character device, a
// directory, a socket) is refused from stat before it is opened, since
// opening a FIFO waits for a writer. Reading stops within a chunk (1 MiB)
// of ctx ending, with ctx's error.
func OpenImage(ctx context.Context, path string) (Image, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	if err := imageType(path, fi); err != nil {
		return Image{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	if err := imageType(path, fi); err != nil { // replaced since the stat
		return Image{}, err
	}
	size, err := f.Seek(0, io.SeekEnd) // a block device's size too
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", path, err)
	}
	sum, data, err := checksum(ctx, f)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", path, err)
	}
	dropFile(f)
	return Image{Path: path, Size: size, DataBytes: data, Sum: sum}, nil
}

// ErrNotImage is returned for an --image that is neither a regular file
// nor a block device.
var ErrNotImage = errors.New("not an image: want a regular file or a block device")

// imageType refuses what OpenImage cannot read as an image.
func imageType(path string, fi os.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() || m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0 {
		return nil
	}
	kind := "a " + strings.TrimPrefix(m.Type().String(), "-")
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&os.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m&os.ModeCharDevice != 0:
		kind = "a character device"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Errorf("image %s is %s: %w", path, kind, ErrNotImage)
}

// checksum returns the hex SHA-256 of f and how many bytes of it lie in
// 4 KiB blocks that are not all zero.
func checksum(ctx context.Context, f *os.File) (string, int64, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	zero := make([]byte, 4096)
	var data int64
	for off := int64(0); ; {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		n, err := f.ReadAt(buf, off)
		h.Write(buf[:n])
		for i := 0; i < n; i += 4096 {
			blk := buf[i:min(i+4096, n)]
			if !bytes.Equal(blk, zero[:len(blk)]) {
				data += int64(len(blk))
			}
		}
		off += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), data, nil
}
