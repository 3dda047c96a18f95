// Command crm is a test plugin for the data-flow proof (issue 20): it
// reads two data scopes, contacts and orders, and sends each to its own
// service, so a reviewer can approve one flow and refuse the other.
package main

import (
	"errors"
	"fmt"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/pdk"
)

// The two destinations, one per flow; their origins are the plugin's net:
// permissions and the manifest's flow destinations.
const (
	crmURL  = "https://crm.example.com/v1/contacts"
	shopURL = "https://shop.example.com/v1/orders"
)

// Input names the scope to read or push: contacts or orders.
type Input struct {
	Scope string `json:"scope"`
}

// Output is what was read, or the status the service answered.
type Output struct {
	Data   string `json:"data,omitempty"`
	Status int    `json:"status,omitempty"`
}

func destination(scope string) (string, error) {
	switch scope {
	case "contacts":
		return crmURL, nil
	case "orders":
		return shopURL, nil
	}
	return "", fmt.Errorf("scope %q is not contacts or orders", scope)
}

// read returns the records of a scope as the host serves them.
//
//go:wasmexport read
func read() int32 {
	return pdk.Handle(func(in Input) (Output, error) {
		if _, err := destination(in.Scope); err != nil {
			return Output{}, err
		}
		b, err := pdk.DataRead(hostapi.DataRequest{Scope: in.Scope})
		if err != nil {
			return Output{}, err
		}
		return Output{Data: string(b)}, nil
	})
}

// push sends a scope's records to its service.
//
//go:wasmexport push
func push() int32 {
	return pdk.Handle(func(in Input) (Output, error) {
		url, err := destination(in.Scope)
		if err != nil {
			return Output{}, err
		}
		resp, err := pdk.Fetch(hostapi.FetchRequest{Method: "POST", URL: url, Body: []byte(`{"sync":true}`)})
		if err != nil {
			return Output{}, err
		}
		if resp.Status >= 300 {
			return Output{}, errors.New("the service refused the sync")
		}
		return Output{Status: resp.Status}, nil
	})
}

func main() {}
