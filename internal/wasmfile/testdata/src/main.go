//go:build wasip1

// Command src is a tiny reactor module the wasmfile tests parse: one
// export, WASI imports from the Go runtime, and data segments that hold
// the greeting below.
package main

import "os"

const greeting = "wasmfile test greeting: https://example.test/hello"

//go:wasmexport answer
func answer(x int32) int32 {
	if x < 0 {
		os.Stdout.WriteString(greeting)
	}
	return x + 42
}

func main() {}
