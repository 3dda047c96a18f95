//go:build wasip1

// Command echo is a well-behaved test plugin that needs no permissions.
package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"gatehouse.dev/gatehouse/pdk"
)

type echoIO struct {
	Message string `json:"message"`
}

//go:wasmexport echo
func echo() int32 {
	return pdk.Handle(func(in echoIO) (echoIO, error) {
		return in, nil
	})
}

//go:wasmexport fail
func fail() int32 {
	return pdk.Handle(func(in echoIO) (echoIO, error) {
		return echoIO{}, errors.New("refusing: " + in.Message)
	})
}

//go:wasmexport log
func log() int32 {
	return pdk.Handle(func(in echoIO) (echoIO, error) {
		pdk.Log(pdk.LevelInfo, in.Message)
		fmt.Println("stdout:", in.Message)
		return in, nil
	})
}

// memory grows the heap by the given number of MiB and keeps it.
//
//go:wasmexport grow
func grow() int32 {
	return pdk.Handle(func(in struct{ MiB int }) (struct{ Len int }, error) {
		b := make([]byte, in.MiB<<20)
		for i := range b {
			b[i] = 1
		}
		return struct{ Len int }{len(b)}, nil
	})
}

// leak writes a marker into a global the first time and reports whether it
// was already there: a fresh instance per call must always say false.
var marker string

//go:wasmexport leak
func leak() int32 {
	return pdk.Handle(func(in echoIO) (echoIO, error) {
		prev := marker
		marker = in.Message
		return echoIO{Message: prev}, nil
	})
}

// nonce returns the clock: a different output on every call.
//
//go:wasmexport nonce
func nonce() int32 {
	return pdk.Handle(func(in echoIO) (echoIO, error) {
		return echoIO{Message: fmt.Sprint(time.Now().UnixNano())}, nil
	})
}

// seed returns a number the Go runtime drew at random when the plugin
// started: the same on every call from one initialisation's state, and
// different after another initialisation.
//
//go:wasmexport seed
func seed() int32 {
	return pdk.Handle(func(in echoIO) (echoIO, error) {
		return echoIO{Message: fmt.Sprint(rand.Uint64())}, nil
	})
}

func main() {}
