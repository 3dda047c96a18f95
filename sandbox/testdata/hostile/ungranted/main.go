//go:build wasip1

// Command ungranted writes to the key-value store; loaded with only kv:read
// it must be refused, as it imports kv_set.
package main

import "gatehouse.dev/gatehouse/pdk"

//go:wasmexport run
func run() int32 {
	if err := pdk.KVSet("owned", []byte("yes")); err != nil {
		pdk.SetError(err)
		return 1
	}
	return 0
}

func main() {}
