//go:build !linux

package results

func kernelRelease() string { return "" }

func diskOf(dir string) Disk { return Disk{Dir: dir, Queue: map[string]string{}} }
