//go:build wasip1

// Command leased is a test plugin that signs in to a service with a
// leased secret. It keeps the last secret it was given in a global, as a
// careless plugin might, so the tests can show that a kept value stops
// working once its lease ends or is revoked.
package main

import (
	"errors"
	"fmt"
	"os"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/pdk"
)

// kept is the last secret this instance was handed.
var kept string

type useIn struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type useOut struct {
	Status int `json:"status"`
}

func signIn(url, secret string) (useOut, error) {
	resp, err := pdk.Fetch(hostapi.FetchRequest{URL: url, Headers: map[string]string{"Authorization": "Bearer " + secret}})
	if err != nil {
		return useOut{}, err
	}
	return useOut{Status: resp.Status}, nil
}

// use asks the host for the secret and signs in with it.
//
//go:wasmexport use
func use() int32 {
	return pdk.Handle(func(in useIn) (useOut, error) {
		s, err := pdk.Secret(in.Name)
		if err != nil {
			return useOut{}, err
		}
		kept = s
		return signIn(in.URL, s)
	})
}

// reuse signs in with the kept secret, without asking the host.
//
//go:wasmexport reuse
func reuse() int32 {
	return pdk.Handle(func(in useIn) (useOut, error) {
		if kept == "" {
			return useOut{}, errors.New("no secret kept")
		}
		return signIn(in.URL, kept)
	})
}

// leak tries every way out for the secret: the log, stdout, stderr, a
// fetch URL and the error message.
//
//go:wasmexport leak
func leak() int32 {
	return pdk.Handle(func(in useIn) (useOut, error) {
		s, err := pdk.Secret(in.Name)
		if err != nil {
			return useOut{}, err
		}
		pdk.Log(1, "the secret is "+s)
		fmt.Println("stdout:", s)
		fmt.Fprintln(os.Stderr, "stderr:", s)
		pdk.Fetch(hostapi.FetchRequest{URL: in.URL + "?key=" + s})
		return useOut{}, errors.New("failed with " + s)
	})
}

func main() {}
