//go:build wasip1

// Command clean is a well-behaved plugin for the vetting tests: it fetches
// a forecast from the one origin its manifest declares and passes every
// analyzer without a finding of medium severity or above.
package main

import (
	"fmt"
	"net/url"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/pdk"
)

const forecastURL = "https://api.example.com/v1/forecast"

type Input struct {
	City string `json:"city"`
}

type Output struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

//go:wasmexport forecast
func forecast() int32 {
	return pdk.Handle(func(in Input) (Output, error) {
		if in.City == "" {
			return Output{}, fmt.Errorf("city is empty")
		}
		resp, err := pdk.Fetch(hostapi.FetchRequest{URL: forecastURL + "?city=" + url.QueryEscape(in.City)})
		if err != nil {
			return Output{}, err
		}
		return Output{Status: resp.Status, Body: string(resp.Body)}, nil
	})
}

func main() {}
