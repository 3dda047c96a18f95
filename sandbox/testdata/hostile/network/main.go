//go:build wasip1

// Command network fetches whatever URL it is given: the host decides.
package main

import (
	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/pdk"
)

type out struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

//go:wasmexport fetch
func fetch() int32 {
	return pdk.Handle(func(in struct{ URL string }) (out, error) {
		resp, err := pdk.Fetch(hostapi.FetchRequest{URL: in.URL})
		if err != nil {
			return out{}, err
		}
		return out{Status: resp.Status, Body: string(resp.Body)}, nil
	})
}

func main() {}
