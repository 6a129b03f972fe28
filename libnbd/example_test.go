package libnbd_test

import (
	"fmt"
	"log"
	"os"
	"slices"

	"github.com/pagecache-suite/wcache/libnbd"
)

// A benchmark writes a file to a server in random order, 64 requests of
// 256 KiB in flight, and reads the per-request latencies.
func ExampleWriteStream() {
	h, err := libnbd.Create()
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if err := h.ConnectUri("nbd+unix:///?socket=/tmp/nbd.sock"); err != nil {
		log.Fatal(err)
	}
	src, err := os.Open("src.img")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	res, err := libnbd.WriteStream(h, src, libnbd.StreamConfig{
		RequestSize: 256 << 10,
		InFlight:    64,
		Random:      true,
		Seed:        1,
	})
	if err != nil {
		log.Fatal(err)
	}
	slices.Sort(res.Latencies)
	fmt.Printf("%d bytes durable in %v, median request %v\n",
		res.Bytes, res.Elapsed, res.Latencies[len(res.Latencies)/2])
	if err := h.Shutdown(nil); err != nil {
		log.Fatal(err)
	}
}

// Pread beyond the end of the export fails in the client with EINVAL.
func ExampleLibnbdError() {
	h, err := libnbd.Create()
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if err := h.ConnectUnix("/tmp/nbd.sock"); err != nil {
		log.Fatal(err)
	}
	size, err := h.GetSize()
	if err != nil {
		log.Fatal(err)
	}
	err = h.Pread(make([]byte, 512), size, nil)
	if le, ok := err.(*libnbd.LibnbdError); ok {
		fmt.Println(le.Op, le.Errno)
	}
}
