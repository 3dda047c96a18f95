module plugins.local/acme/counter

go 1.26

// The plugin kit. No proxy serves this module: `gatehouse plugin build`
// (pluginkit.Build) supplies the copy embedded in the gatehouse binary
// through a Go workspace, so this needs no replace directive.
require gatehouse.dev/gatehouse v0.0.0
