package libnbd

/*
#include <stdlib.h>
*/
import "C"

import (
	"bytes"
	"unsafe"
)

// AioBuffer is memory allocated by C for the asynchronous calls: libnbd
// uses it after AioPread or AioPwrite return, which cgo forbids for Go
// memory. Free it once no command uses it any more.
type AioBuffer struct {
	P    unsafe.Pointer
	Size uint
}

// MakeAioBuffer allocates an uninitialised buffer of size bytes.
func MakeAioBuffer(size uint) AioBuffer {
	return AioBuffer{P: C.malloc(C.size_t(max(size, 1))), Size: size}
}

// MakeAioBufferZero allocates a zeroed buffer of size bytes.
func MakeAioBufferZero(size uint) AioBuffer {
	return AioBuffer{P: C.calloc(1, C.size_t(max(size, 1))), Size: size}
}

// FromBytes allocates a buffer holding a copy of buf.
func FromBytes(buf []byte) AioBuffer {
	b := MakeAioBuffer(uint(len(buf)))
	copy(b.Slice(), buf)
	return b
}

// Free releases the memory. Freeing twice, or a zero AioBuffer, is harmless;
// using the buffer afterwards is not.
func (b *AioBuffer) Free() {
	if b.P != nil {
		C.free(b.P)
		b.P = nil
	}
}

// Bytes returns a Go copy of the contents.
func (b *AioBuffer) Bytes() []byte {
	return bytes.Clone(b.Slice())
}

// Slice returns the contents as a slice over the C memory itself: writing
// it changes the buffer. It must not be used after Free.
func (b *AioBuffer) Slice() []byte {
	return unsafe.Slice((*byte)(b.P), b.Size)
}

// Get returns a pointer to byte i of the buffer.
func (b *AioBuffer) Get(i uint) *byte {
	return &b.Slice()[i]
}
