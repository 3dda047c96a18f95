//go:build wasip1

// Command panic panics in its export.
package main

//go:wasmexport run
func run() int32 {
	var m map[string]int
	m["boom"] = 1 // assignment to a nil map panics
	return 0
}

func main() {}
