//go:build wasip1

// Command secret is a plugin for the vetting tests that ships an AWS
// credential in a string constant, the mistake the secrets analyzer exists
// to catch. The key is fake; it is assembled from two halves so that this
// source file holds nothing key-shaped for repository scanners to flag,
// while the compiled module holds the whole key, as a real mistake would.
package main

import "gatehouse.dev/gatehouse/pdk"

const (
	keyID       = "AKIA" + "QYLPMN5HHHFPZAM2"
	credentials = "[default]\naws_access_key_id = " + keyID + "\nregion = eu-west-1\n"
)

type Output struct {
	Profile string `json:"profile"`
}

//go:wasmexport profile
func profile() int32 {
	return pdk.Handle(func(struct{}) (Output, error) {
		return Output{Profile: credentials}, nil
	})
}

func main() {}
