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

// hostloop spins calling only host functions (WASI clock_time_get).
//
//go:wasmexport hostloop
func hostloop() int32 {
	var last time.Time
	for {
		last = time.Now()
		_ = last
	}
}

func main() {}
