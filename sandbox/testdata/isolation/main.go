//go:build wasip1

// Command isolation is a test plugin that tries to carry a secret from one
// call to the next, in a global variable and in a heap buffer:
//
//   - remember: stores the input in the global and copies it into the heap
//     buffer made at initialisation.
//   - recall: outputs {"global":...,"heap":...}, what the two hold now.
//   - grow: stores the input in the global and all over a new 16 MiB
//     buffer, growing the memory.
//   - zeroed: grows the memory by a new 16 MiB buffer and says whether it
//     reads as zeros.
//
// Under per-call isolation recall must see the values they had after
// initialisation, whatever an earlier remember stored.
package main

import (
	"encoding/json"

	"gatehouse.dev/gatehouse/pdk"
)

var (
	global = "initial"
	heap   = newHeap()
)

// newHeap allocates the buffer at initialisation, so it lives on the Go
// heap, not in the data segment.
func newHeap() []byte {
	b := make([]byte, 64)
	copy(b, "initial-heap")
	return b
}

//go:wasmexport remember
func remember() int32 {
	in := pdk.Input()
	global = string(in)
	clear(heap)
	copy(heap, in)
	return 0
}

//go:wasmexport recall
func recall() int32 {
	n := 0
	for n < len(heap) && heap[n] != 0 {
		n++
	}
	out, _ := json.Marshal(map[string]string{"global": global, "heap": string(heap[:n])})
	pdk.Output(out)
	return 0
}

// big is where grow keeps its buffer.
var big []byte

// grow stores the input in a new 16 MiB buffer, more than the memory
// held after initialisation, so the memory grows during the call.
//
//go:wasmexport grow
func grow() int32 {
	in := pdk.Input()
	big = make([]byte, 16<<20)
	for i := 0; i+len(in) <= len(big); i += 1 << 16 {
		copy(big[i:], in)
	}
	global = string(in)
	return 0
}

// zeroed allocates a new 16 MiB buffer, growing the memory, and outputs
// "zero" if all of it reads as zeros (as new memory must) or "dirty".
//
//go:wasmexport zeroed
func zeroed() int32 {
	b := make([]byte, 16<<20)
	for _, c := range b {
		if c != 0 {
			pdk.Output([]byte("dirty"))
			return 0
		}
	}
	pdk.Output([]byte("zero"))
	return 0
}

func main() {}
