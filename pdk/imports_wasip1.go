//go:build wasip1

package pdk

import "unsafe"

// ptr returns the linear-memory address of b's first byte. Host calls are
// synchronous and no Go code (so no garbage collection) runs during them,
// so b stays where it is for the duration of the call.
func ptr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmimport gatehouse_v1 input_size
func inputSize() int32

//go:wasmimport gatehouse_v1 input_read
func inputRead(p uint32)

//go:wasmimport gatehouse_v1 output_set
func outputSet(p, n uint32)

//go:wasmimport gatehouse_v1 error_set
func errorSet(p, n uint32)

//go:wasmimport gatehouse_v1 result_read
func resultRead(p uint32)

//go:wasmimport gatehouse_v1 result_size
func lastResultSize() int32

//go:wasmimport gatehouse_v1 log
func logMsg(level, p, n uint32)

//go:wasmimport gatehouse_v1 kv_get
func kvGet(p, n uint32) int64

//go:wasmimport gatehouse_v1 kv_set
func kvSet(kp, kn, vp, vn uint32) int32

//go:wasmimport gatehouse_v1 kv_delete
func kvDelete(p, n uint32) int32

//go:wasmimport gatehouse_v1 http_fetch
func httpFetch(p, n uint32) int64

//go:wasmimport gatehouse_v1 fs_read
func fsRead(p, n uint32) int64

//go:wasmimport gatehouse_v1 secret_get
func secretGet(p, n uint32) int64

//go:wasmimport gatehouse_v1 data_read
func dataRead(p, n uint32) int64

//go:wasmimport gatehouse_v1 data_write
func dataWrite(p, n uint32) int64
