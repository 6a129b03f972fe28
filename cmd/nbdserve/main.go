// Command nbdserve serves a file over NBD, as `nbdkit file` does, with
// nbdkit's cache=none and other eviction policies. See nbdserve --help.
package main

import (
	"os"

	"github.com/pagecache-suite/wcache/nbdserve/cli"
)

func main() {
	os.Exit(cli.Main(os.Stdout, os.Stderr, os.Args[1:]))
}
