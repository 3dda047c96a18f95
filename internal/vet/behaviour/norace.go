//go:build !race

package behaviour

// raceBuild is true in a binary built with the race detector (race.go).
const raceBuild = false
