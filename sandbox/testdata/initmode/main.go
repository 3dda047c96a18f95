//go:build wasip1

// Command initmode is a test plugin whose initialisation does what the
// key "init" of its key-value store says: nothing more than reading it
// and logging (missing or "ok"), spin for ever ("spin"), panic ("panic")
// or allocate without bound ("grow"). It needs kv:read.
package main

import "gatehouse.dev/gatehouse/pdk"

var mode string

var kept [][]byte

func init() {
	pdk.Log(pdk.LevelInfo, "initialising")
	if b, err := pdk.KVGet("init"); err == nil {
		mode = string(b)
	}
	switch mode {
	case "spin":
		n := 0
		for {
			n++
		}
	case "panic":
		panic("initmode refuses to start")
	case "grow":
		for {
			kept = append(kept, make([]byte, 8<<20))
		}
	}
}

type modeOut struct {
	Mode string `json:"mode"`
}

// mode reports the mode the plugin initialised in.
//
//go:wasmexport mode
func modeExport() int32 {
	return pdk.Handle(func(struct{}) (modeOut, error) {
		return modeOut{Mode: mode}, nil
	})
}

func main() {}
