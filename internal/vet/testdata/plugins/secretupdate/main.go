//go:build wasip1

// Command secretupdate is a plugin for the secrets analyzer's tests of an
// update that changes one string: the tests build it more than once with
// another banner (plugintest.BuildEdited), as an author's update changes
// one string constant, and check that scanning the new module
// after the old one finds what scanning the new one alone finds. Its
// constants hold fake credentials of several rules, one of them base64
// encoded, each assembled from parts so that this file holds nothing
// key-shaped for repository scanners, while the module holds them whole.
package main

import "gatehouse.dev/gatehouse/pdk"

// banner is the string an update changes.
const banner = "Greetings from the update plugin, build 1.0.0"

// Go's linker lays out string data by length, so the constants' lengths
// put secrets on both sides of the banner, whichever banner a test sets.
const (
	awsKeyID    = "AKIA" + "ZQ4MPN7HHHFPZAM2"
	githubToken = "ghp_" + "Tb5Wm9Qe2Rn7Kx4Ly8Pz1Hd6Jc3Fv0Ga5Su7\n"
	stripeKey   = "stripe = sk_" + "live_" + "51Hq8vTLk3Jz0wXyR9pQmN2sD\n"
	slackToken  = "xoxb-" + "263594206564-" + "2343594206574-" + "FGqddMF8t08v8N7Oq4i57vs1"
	credentials = "[default]\naws_access_key_id = " + awsKeyID + "\nregion = eu-west-1\n"
	// encoded is base64 of "aws_access_key_id=" + awsKeyID, in parts.
	encoded = " YXdzX2FjY2Vzc19r" + "ZXlfaWQ9QUtJQVpR" + "NE1QTjdISEhGUFpBTTI=\n"
	// notes is longer than any banner.
	notes = "Release notes kept in the module for the operators of this plugin, who asked for them, " +
		"with the deploy token that should never have been pasted here: ghp_" + "Qz3Vn8Kt1Rw6Yp4Lm9Bx2Cd7Hf5Gj0Ns3Ea1\n"
)

type Output struct {
	Banner string   `json:"banner"`
	Values []string `json:"values"`
}

//go:wasmexport describe
func describe() int32 {
	return pdk.Handle(func(struct{}) (Output, error) {
		return Output{Banner: banner, Values: []string{awsKeyID, githubToken, slackToken, stripeKey, credentials, encoded, notes}}, nil
	})
}

func main() {}
