//go:build wasip1

// Command behaviourprobe is a plugin for the behaviour analyzer's tests.
// Each export does one thing the analyzer must notice when a scenario
// calls it: fetch a URL the caller names (an origin the manifest does not
// grant is denied; a granted one with no fake never reaches the network),
// spin past its time limit, or grow past its memory limit.
package main

import (
	"fmt"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/pdk"
)

type FetchInput struct {
	URL string `json:"url"`
}

type FetchOutput struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

//go:wasmexport fetch
func fetch() int32 {
	return pdk.Handle(func(in FetchInput) (FetchOutput, error) {
		resp, err := pdk.Fetch(hostapi.FetchRequest{URL: in.URL})
		if err != nil {
			return FetchOutput{}, fmt.Errorf("fetching %s: %w", in.URL, err)
		}
		return FetchOutput{Status: resp.Status, Body: string(resp.Body)}, nil
	})
}

//go:wasmexport spin
func spin() int32 {
	return pdk.Handle(func(struct{}) (struct{}, error) {
		n := 0
		for {
			n++
		}
	})
}

var sink [][]byte

//go:wasmexport grow
func grow() int32 {
	return pdk.Handle(func(struct{}) (struct{}, error) {
		for {
			sink = append(sink, make([]byte, 16<<20))
		}
	})
}

func main() {}
