package libnbd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pagecache-suite/wcache/libnbd"
	"github.com/pagecache-suite/wcache/nbdserve"
)

// serve exports a new file of size bytes with the suite's own server
// (package nbdserve) on a private Unix socket, so that the examples run
// without an outside server. It returns the socket, the file's path and a
// function that stops the server and removes both.
func serve(size int64) (sock, path string, stop func()) {
	dir, err := os.MkdirTemp("", "libnbd-example-")
	if err != nil {
		log.Fatal(err)
	}
	path, sock = filepath.Join(dir, "disk.img"), filepath.Join(dir, "nbd.sock")
	f, err := nbdserve.OpenFile(path, nbdserve.FileOptions{Size: size})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	srv := nbdserve.NewServer(f, nbdserve.Config{})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	return sock, path, func() {
		srv.Shutdown(context.Background())
		if err := <-done; !errors.Is(err, nbdserve.ErrServerClosed) {
			log.Fatal(err)
		}
		f.Close()
		os.RemoveAll(dir)
	}
}

// A benchmark writes an image to a server in random order, 16 requests of
// 64 KiB in flight, and reads the per-request latencies.
func ExampleWriteStream() {
	sock, path, stop := serve(1 << 20)
	defer stop()

	h, err := libnbd.Create()
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if err := h.ConnectUri("nbd+unix:///?socket=" + sock); err != nil {
		log.Fatal(err)
	}
	src := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	res, err := libnbd.WriteStream(h, bytes.NewReader(src), libnbd.StreamConfig{
		RequestSize: 64 << 10,
		InFlight:    16,
		Random:      true,
		Seed:        1,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Shutdown(nil); err != nil {
		log.Fatal(err)
	}
	// res.Elapsed and res.Latencies vary from run to run.
	fmt.Printf("%d bytes durable in %d requests, %d latencies\n", res.Bytes, res.Requests, len(res.Latencies))
	got, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the export holds the source:", bytes.Equal(got, src))
	// Output:
	// 1048576 bytes durable in 16 requests, 16 latencies
	// the export holds the source: true
}

// Pread beyond the end of the export fails in the client with EINVAL.
func ExampleLibnbdError() {
	sock, _, stop := serve(64 << 10)
	defer stop()

	h, err := libnbd.Create()
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if err := h.ConnectUnix(sock); err != nil {
		log.Fatal(err)
	}
	size, err := h.GetSize()
	if err != nil {
		log.Fatal(err)
	}
	err = h.Pread(make([]byte, 512), size, nil)
	var le *libnbd.LibnbdError
	if errors.As(err, &le) {
		fmt.Println(le.Op, le.Errno == syscall.EINVAL)
	}
	// Output:
	// pread true
}
