//go:build wasip1

// Command escape tries to read outside its mount, through the host
// function and through WASI.
package main

import (
	"os"

	"gatehouse.dev/gatehouse/pdk"
)

type in struct {
	Path string `json:"path"`
}

type out struct {
	Content string `json:"content"`
}

//go:wasmexport hostread
func hostread() int32 {
	return pdk.Handle(func(i in) (out, error) {
		b, err := pdk.ReadFile(i.Path)
		return out{Content: string(b)}, err
	})
}

//go:wasmexport wasiread
func wasiread() int32 {
	return pdk.Handle(func(i in) (out, error) {
		b, err := os.ReadFile(i.Path)
		return out{Content: string(b)}, err
	})
}

func main() {}
