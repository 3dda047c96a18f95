//go:build wasip1

// Command loop never returns from its export.
package main

//go:wasmexport run
func run() int32 {
	n := 0
	for {
		n++
	}
}

func main() {}
