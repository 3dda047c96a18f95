//go:build !linux

package sandbox

import "github.com/tetratelabs/wazero/experimental"

// Outside Linux there is no copy-on-write reset: instances are reset by
// copying the snapshot back (see memimage_linux.go).

type memImage struct{}

func newMemImage([]byte) *memImage               { return nil }
func (*memImage) close()                         {}
func (*memImage) mapOver(*mappedMemory) bool     { return false }
func (*memImage) dropWritten(*mappedMemory) bool { return false }

type mappedMemory struct{}

type mappedAllocator struct {
	img  *memImage
	made *mappedMemory
}

func (a *mappedAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	return &linearMemory{buf: make([]byte, 0, capacity)}
}

const copyOnWrite = false
