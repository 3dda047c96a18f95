//go:build wasip1

// Command write tries to write into its read-only mount through WASI.
package main

import (
	"os"

	"gatehouse.dev/gatehouse/pdk"
)

//go:wasmexport run
func run() int32 {
	return pdk.Handle(func(in struct{ Path string }) (struct{}, error) {
		if err := os.WriteFile(in.Path, []byte("owned"), 0o644); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, nil
	})
}

// remove tries to delete a file in the mount.
//
//go:wasmexport remove
func remove() int32 {
	return pdk.Handle(func(in struct{ Path string }) (struct{}, error) {
		return struct{}{}, os.Remove(in.Path)
	})
}

func main() {}
