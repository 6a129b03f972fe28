//go:build !linux

package nbdserve

func memoryLimit() int64 { return 0 }

func maxOpenFiles() int64 { return 0 }
