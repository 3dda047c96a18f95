//go:build wasip1

// Command loop never returns from its exports.
package main

import "time"

// sleep blocks in the host (WASI poll_oneoff) rather than spinning.
//
//go:wasmexport sleep
func sleep() int32 {
	time.Sleep(time.Hour)
	return 0
}

//go:wasmexport run
func run() int32 {
	n := 0
	for {
		n++
	}
}

func main() {}
