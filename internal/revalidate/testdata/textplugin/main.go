//go:build wasip1

// Command textplugin is the revalidation tests' plugin. Built against
// golang.org/x/text v0.3.5 (old.mod) it ships a component that the real
// advisory GO-2022-1059 (CVE-2022-32149, fixed in v0.3.8) affects; built
// against v0.43.0 (fixed.mod) it is the fixed version. The module
// information Go embeds in the WebAssembly module is what says which.
package main

import "golang.org/x/text/language"

// tag makes the linker keep golang.org/x/text/language: a dependency that
// is required but never called is not compiled in, and so not recorded in
// the module information either.
var tag = "en-GB"

//go:wasmexport run
func run() int32 {
	t, err := language.Parse(tag)
	if err != nil || t == language.Und {
		return 1
	}
	return 0
}

func main() {}
