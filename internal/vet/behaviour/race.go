//go:build race

package behaviour

// raceBuild is true in a binary built with the race detector. wazero's
// interpreter is Go code, which the detector instruments instruction by
// instruction: the counter example's scenarios then take minutes, so a
// race build runs scenarios compiled only, as Options.CompiledOnly does.
const raceBuild = true
