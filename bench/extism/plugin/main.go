//go:build wasip1

// Command plugin is the Extism guest of the benchmark: the transform logic
// behind Extism's calling convention (github.com/extism/go-pdk).
package main

import (
	"github.com/extism/go-pdk"

	"gatehouse.dev/gatehouse/bench/internal/transform"
)

//go:wasmexport noop
func noop() int32 { return 0 }

//go:wasmexport transform
func transformExport() int32 {
	out, err := transform.ApplyJSON(pdk.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}

func main() {}
