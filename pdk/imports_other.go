//go:build !wasip1

package pdk

// Outside wasip1 there is no host to call: the kit type-checks (so tools and
// editors work on plugin code) but every host call panics with a message
// that says how to build a plugin.

const notWasm = "pdk: plugins run inside a Gatehouse host; build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared (gatehouse plugin build)"

func ptr(b []byte) uint32               { panic(notWasm) }
func inputSize() int32                  { panic(notWasm) }
func inputRead(p uint32)                { panic(notWasm) }
func outputSet(p, n uint32)             { panic(notWasm) }
func errorSet(p, n uint32)              { panic(notWasm) }
func resultRead(p uint32)               { panic(notWasm) }
func lastResultSize() int32             { panic(notWasm) }
func logMsg(level, p, n uint32)         { panic(notWasm) }
func kvGet(p, n uint32) int64           { panic(notWasm) }
func kvSet(kp, kn, vp, vn uint32) int32 { panic(notWasm) }
func kvDelete(p, n uint32) int32        { panic(notWasm) }
func httpFetch(p, n uint32) int64       { panic(notWasm) }
func fsRead(p, n uint32) int64          { panic(notWasm) }
func secretGet(p, n uint32) int64       { panic(notWasm) }
func dataRead(p, n uint32) int64        { panic(notWasm) }
func dataWrite(p, n uint32) int64       { panic(notWasm) }
