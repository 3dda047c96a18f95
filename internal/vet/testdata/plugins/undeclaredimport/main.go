//go:build wasip1

// Command undeclaredimport is a plugin for the vetting tests that counts
// calls in its key-value store but whose manifest declares no kv:read or
// kv:write permission: the capabilities analyzer must flag the kv_get and
// kv_set imports.
package main

import (
	"strconv"

	"gatehouse.dev/gatehouse/pdk"
)

type Output struct {
	Count int `json:"count"`
}

//go:wasmexport count
func count() int32 {
	return pdk.Handle(func(struct{}) (Output, error) {
		n := 0
		if b, err := pdk.KVGet("count"); err == nil {
			n, _ = strconv.Atoi(string(b))
		}
		n++
		if err := pdk.KVSet("count", []byte(strconv.Itoa(n))); err != nil {
			return Output{}, err
		}
		return Output{Count: n}, nil
	})
}

func main() {}
