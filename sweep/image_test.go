//go:build linux

package sweep

import (
	"os"
	"testing"
)

// TestGenerateImage checks the generated image against an independent
// reading of it: the data bytes the layout promises are the non-zero blocks
// found by scanning, the checksum is the scanned one, holes are holes, and a
// second call reuses the file.
func TestGenerateImage(t *testing.T) {
	dir := t.TempDir()
	const size = 10<<20 + 8192 // two full stripes and a partial one
	img, err := GenerateImage(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	if img.Size != size || img.DataBytes != 2*stripeData+2<<20+8192 {
		t.Fatalf("size %d data %d", img.Size, img.DataBytes)
	}
	scanned, err := OpenImage(img.Path)
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
	again, err := GenerateImage(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(img.Path)
	if again.Sum != img.Sum || !st2.ModTime().Equal(st.ModTime()) {
		t.Error("second GenerateImage did not reuse the image")
	}
	// The same size gives the same bytes anywhere.
	other, err := GenerateImage(t.TempDir(), size)
	if err != nil {
		t.Fatal(err)
	}
	if other.Sum != img.Sum {
		t.Error("generator is not deterministic")
	}
	if _, err := GenerateImage(dir, 1000); err == nil {
		t.Error("size not a multiple of 4096 accepted")
	}
}
