//go:build wasip1

// Command memory allocates without bound and keeps everything reachable.
package main

var keep [][]byte

//go:wasmexport run
func run() int32 {
	for {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
}

func main() {}
