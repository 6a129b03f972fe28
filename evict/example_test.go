//go:build linux

package evict_test

import (
	"fmt"
	"log"
	"os"

	"github.com/pagecache-suite/wcache/evict"
)

// A writer tells the policy about each write it made; the policy keeps the
// file's pages out of the cache.
func Example() {
	pol, err := evict.Parse("window:8")
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.CreateTemp("", "evict-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h, err := pol.Attach(f)
	if err != nil {
		log.Fatal(err)
	}
	s := h.Stream() // one per connection or worker
	buf := make([]byte, 256<<10)
	for off := int64(0); off < 4<<20; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf, off); err != nil {
			log.Fatal(err)
		}
		if err := s.AfterWrite(off, len(buf)); err != nil {
			log.Fatal(err) // the write failed: report EIO
		}
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	if err := h.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote 4 MiB under", pol)
	// Output: wrote 4 MiB under window:8
}

// Parse accepts options in any order after the count and prints the
// canonical name.
func ExampleParse() {
	for _, text := range []string{"window:8", "window:4,drain,merge=2M,bytes=16M", "none:read=fresh", "window:8,speed=max"} {
		pol, err := evict.Parse(text)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(pol)
	}
	// Output:
	// window:8
	// window:4,bytes=16M,merge=2M,drain
	// none:read=fresh
	// error: invalid eviction policy "window:8,speed=max": unknown option "speed"
}
