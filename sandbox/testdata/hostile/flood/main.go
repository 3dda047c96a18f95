//go:build wasip1

// Command flood floods stdout, and the output.
package main

import (
	"os"
	"strings"

	"gatehouse.dev/gatehouse/pdk"
)

// stdout writes to standard output forever.
//
//go:wasmexport stdout
func stdout() int32 {
	line := []byte(strings.Repeat("flood ", 1000) + "\n")
	for {
		os.Stdout.Write(line)
	}
}

// output hands over a 4 MiB output.
//
//go:wasmexport output
func output() int32 {
	pdk.Output(make([]byte, 4<<20))
	return 0
}

func main() {}
