//go:build wasip1

// Command caps is a well-behaved test plugin that uses every capability
// host function through the plugin kit; the tests grant it all of them.
package main

import (
	"errors"
	"fmt"
	"os"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/pdk"
)

type kvIn struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type kvOut struct {
	Before string `json:"before"`
	Found  bool   `json:"found"`
}

// kv reads key, then sets it to value.
//
//go:wasmexport kv
func kv() int32 {
	return pdk.Handle(func(in kvIn) (kvOut, error) {
		var out kvOut
		b, err := pdk.KVGet(in.Key)
		switch {
		case errors.Is(err, pdk.ErrNotFound):
		case err != nil:
			return out, err
		default:
			out.Before, out.Found = string(b), true
		}
		return out, pdk.KVSet(in.Key, []byte(in.Value))
	})
}

type fetchOut struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

//go:wasmexport fetch
func fetch() int32 {
	return pdk.Handle(func(in hostapi.FetchRequest) (fetchOut, error) {
		resp, err := pdk.Fetch(in)
		if err != nil {
			return fetchOut{}, err
		}
		return fetchOut{Status: resp.Status, Body: string(resp.Body)}, nil
	})
}

type pathIn struct {
	Path string `json:"path"`
}

type contentOut struct {
	Content string `json:"content"`
}

//go:wasmexport readfile
func readfile() int32 {
	return pdk.Handle(func(in pathIn) (contentOut, error) {
		b, err := pdk.ReadFile(in.Path)
		return contentOut{Content: string(b)}, err
	})
}

// readwasi reads through WASI (the read-only preopens) instead of fs_read.
//
//go:wasmexport readwasi
func readwasi() int32 {
	return pdk.Handle(func(in pathIn) (contentOut, error) {
		b, err := os.ReadFile(in.Path)
		return contentOut{Content: string(b)}, err
	})
}

type nameIn struct {
	Name string `json:"name"`
}

//go:wasmexport secret
func secret() int32 {
	return pdk.Handle(func(in nameIn) (contentOut, error) {
		v, err := pdk.Secret(in.Name)
		// A real plugin would use the secret, never return it; the test
		// checks that the right value arrived.
		return contentOut{Content: fmt.Sprintf("%d bytes, starts %.2s", len(v), v)}, err
	})
}

type dataIn struct {
	Write bool                `json:"write"`
	Req   hostapi.DataRequest `json:"req"`
}

//go:wasmexport data
func data() int32 {
	return pdk.Handle(func(in dataIn) (contentOut, error) {
		var b []byte
		var err error
		if in.Write {
			b, err = pdk.DataWrite(in.Req)
		} else {
			b, err = pdk.DataRead(in.Req)
		}
		return contentOut{Content: string(b)}, err
	})
}

func main() {}
