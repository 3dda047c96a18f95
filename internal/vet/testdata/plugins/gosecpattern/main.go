//go:build wasip1

// Command gosecpattern is a plugin for the vetting tests that makes two
// mistakes gosec catches in source: it derives a session token from
// math/rand, which anyone who sees a few tokens can predict, and it
// fingerprints the token with MD5. The source analyzer must report both at
// the lines below; the module itself is otherwise unremarkable.
package main

import (
	"crypto/md5"
	"encoding/hex"
	"math/rand"
	"strconv"

	"gatehouse.dev/gatehouse/pdk"
)

type Input struct {
	User string `json:"user"`
}

type Output struct {
	Token       string `json:"token"`
	Fingerprint string `json:"fingerprint"`
}

//go:wasmexport session
func session() int32 {
	return pdk.Handle(func(in Input) (Output, error) {
		token := strconv.FormatUint(rand.Uint64(), 16)
		sum := md5.Sum([]byte(in.User + token))
		return Output{Token: token, Fingerprint: hex.EncodeToString(sum[:])}, nil
	})
}

func main() {}
