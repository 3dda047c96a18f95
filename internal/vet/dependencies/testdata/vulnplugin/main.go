//go:build wasip1

// Command vulnplugin is a test plugin whose only problem is a dependency
// with known vulnerabilities: golang.org/x/text v0.3.5, affected by
// GO-2021-0113 (CVE-2021-38561, fixed in v0.3.7) and GO-2022-1059
// (CVE-2022-32149, fixed in v0.3.8). It is its own module so that it can
// pin the old version without touching Gatehouse's go.mod.
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
