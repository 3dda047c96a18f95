//go:build wasip1

// Command plugin is the Gatehouse guest of the benchmark: the transform
// logic behind Gatehouse's calling convention (package pdk).
package main

import (
	"gatehouse.dev/gatehouse/bench/internal/transform"
	"gatehouse.dev/gatehouse/pdk"
)

//go:wasmexport noop
func noop() int32 { return 0 }

//go:wasmexport transform
func transformExport() int32 {
	return pdk.Handle(func(in transform.Input) (transform.Output, error) {
		return transform.Apply(in), nil
	})
}

func main() {}
