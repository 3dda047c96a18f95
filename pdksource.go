// Package gatehouse is the root of the Gatehouse module. It holds only what
// must live at the root: the embedded source of the plugin kit.
package gatehouse

import "embed"

// PDKSource is the source of the plugin kit (package pdk) and the host API
// table it imports (package hostapi), as they are in this build of
// Gatehouse.
//
// A plugin author works outside this repository, and their plugin imports
// gatehouse.dev/gatehouse/pdk, a module path no proxy serves. So the
// gatehouse binary carries the kit and pluginkit.Build writes it out as a
// local module next to the author's plugin. The kit therefore always matches
// the host API of the binary that builds the plugin.
//
// The variable lives at the module root because a //go:embed pattern may
// only name files in the embedding package's folder or below it; it cannot
// reach up with "..". The patterns may also match _test.go files; whoever
// writes the kit out skips them. They name each package's own folder only:
// if pdk ever imports another package of this module, or grows a
// sub-package, add it here (pluginkit's build test fails until then).
//
//go:embed pdk/*.go hostapi/*.go
var PDKSource embed.FS
