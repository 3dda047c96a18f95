//go:build wasip1

// Command recursion recurses without end.
package main

//go:noinline
func deeper(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return deeper(n+1) + int(pad[(n+1)%64])
}

//go:wasmexport run
func run() int32 {
	return int32(deeper(0))
}

func main() {}
